"""Input checks and the per-video clip table: which perception frames form which 4-frame clip, which clips
are usable, and their motion representation.

Clip k of a video covers its (possibly resampled) frames 4k..4k+3; a trailing partial clip is dropped.
With resampling, frame t of the common rate is the source frame whose timestamp is nearest to t / fps.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from tango.graph.inputs import PerceptionLike
from scipy.ndimage import gaussian_filter1d

from tango.graph.motion_repr import POSITION, mediapipe_motion, smplx_motion, time_derivative
from tango.runtime.errors import InputMismatch, NoPerson, WrongArtifactKind

CLIP_FRAMES = 4
FPS_TOLERANCE = 0.01  # relative difference under which two frame rates are the same


@dataclass(frozen=True)
class VideoClips:
    """One reference video cut into clips; C clips, F' frames at the common rate."""

    video: int
    frame_index: np.ndarray  # (F',) int64 perception frame used for each frame at the common rate
    motion: np.ndarray  # (F', J, 15) float32 motion representation at the common rate
    smooth_velocity: np.ndarray | None  # (F', J, 3) float32 velocity of the Gaussian-smoothed positions
    clip_frames: np.ndarray  # (C, 4) int64 positions into frame_index of each clip's frames
    no_person: np.ndarray  # (C,) bool some frame of the clip has no person
    blurry_hands: np.ndarray  # (C,) bool hand clarity far below the video's median

    @property
    def clips(self) -> int:
        return int(self.clip_frames.shape[0])


def check_inputs(artifacts: Sequence[PerceptionLike], resample: bool) -> tuple[str, float]:
    """Validates kinds, representations and frame rates -> (representation, common fps)."""
    if not artifacts:
        raise InputMismatch("no perception artifact given")
    representations, rates = [], []
    for number, artifact in enumerate(artifacts):
        kind = artifact.meta.get("kind")
        if kind != "perception":
            raise WrongArtifactKind(f"input {number} is a {kind!r} artifact, expected 'perception'",
                                    metadata={"input": number, "kind": kind})
        representations.append(str(artifact.meta.get("representation", "mediapipe")))
        rates.append(float(artifact.meta["fps"]))
        if not np.asarray(artifact.arrays["person_present"]).any():
            raise NoPerson(f"input {number} has no frame with a person", metadata={"input": number})
    if len(set(representations)) > 1:
        raise InputMismatch(f"inputs mix motion representations {sorted(set(representations))}; "
                            "build one graph per representation")
    common = rates[0]
    mismatched = [rate for rate in rates if abs(rate - common) > FPS_TOLERANCE * common]
    if mismatched and not resample:
        raise InputMismatch(f"inputs have different frame rates {sorted(set(rates))}; "
                            "pass resample=True to resample them to the first input's rate",
                            metadata={"fps": ",".join(f"{rate:g}" for rate in rates)})
    return representations[0], common


def resample_index(timestamps_s: np.ndarray, fps: float) -> np.ndarray:
    """Nearest-frame selection: (F,) source timestamps -> (F',) source indices for frames at `fps`."""
    start, end = float(timestamps_s[0]), float(timestamps_s[-1])
    wanted = start + np.arange(int(np.floor((end - start) * fps + 1e-6)) + 1) / fps  # (F',)
    right = np.clip(np.searchsorted(timestamps_s, wanted), 1, len(timestamps_s) - 1)
    left = right - 1
    nearer_left = np.abs(timestamps_s[left] - wanted) <= np.abs(timestamps_s[right] - wanted)
    return np.where(nearer_left, left, right).astype(np.int64)


def _motion(artifact: PerceptionLike, representation: str, frame_index: np.ndarray, fps: float) -> np.ndarray:
    arrays = artifact.arrays
    if representation == "smplx":
        joints = arrays["smplx_joints"][frame_index] if "smplx_joints" in arrays else None
        return smplx_motion(np.asarray(arrays["smplx_poses"])[frame_index], fps, joints)
    return mediapipe_motion(np.asarray(arrays["pose_world"])[frame_index], fps)


def _blurry_clips(clarity: np.ndarray, ratio: float) -> np.ndarray:
    """clarity (C, 4, 2) with NaN for absent hands -> (C,) clip mean clarity < ratio * video median."""
    present = ~np.isnan(clarity)
    count = present.sum(axis=(1, 2))
    clip_mean = np.where(count > 0, np.nansum(clarity, axis=(1, 2)) / np.maximum(count, 1), np.nan)
    if not np.isfinite(clip_mean).any():
        return np.zeros(clarity.shape[0], dtype=bool)
    median = np.nanmedian(clip_mean)
    return np.isfinite(clip_mean) & (clip_mean < ratio * median)


def smoothed_velocity(motion: np.ndarray, fps: float, sigma_frames: float) -> np.ndarray:
    """Velocity (F, J, 3) of the positions of `motion` (F, J, 15) after a Gaussian filter over time.

    Per-frame MediaPipe landmarks jitter: their raw frame-to-frame velocity is mostly noise (on the 22 s
    podium video, consecutive clips were barely closer in raw velocity than random pairs); sigma = 2
    frames makes the velocity term of D_pose discriminate again."""
    positions = gaussian_filter1d(motion[..., POSITION].astype(np.float64), sigma_frames, axis=0, mode="nearest")
    return time_derivative(positions, fps).astype(np.float32)


def prepare_video(video: int, artifact: PerceptionLike, representation: str, fps: float,
                  blurry_ratio: float, velocity_sigma: float = 0.0) -> VideoClips:
    """Cuts one artifact into clips at the common `fps` (resampling when its own rate differs)."""
    arrays = artifact.arrays
    own_fps = float(artifact.meta["fps"])
    frames = int(np.asarray(arrays["person_present"]).shape[0])
    if abs(own_fps - fps) > FPS_TOLERANCE * fps:
        frame_index = resample_index(np.asarray(arrays["timestamps_s"], dtype=np.float64), fps)
    else:
        frame_index = np.arange(frames, dtype=np.int64)
    clips = frame_index.shape[0] // CLIP_FRAMES
    clip_frames = np.arange(clips * CLIP_FRAMES, dtype=np.int64).reshape(clips, CLIP_FRAMES)  # (C, 4)
    present = np.asarray(arrays["person_present"], dtype=bool)[frame_index]
    no_person = ~present[clip_frames].all(axis=1)
    if "hand_clarity" in arrays:
        clarity = np.asarray(arrays["hand_clarity"], dtype=np.float64)[frame_index][clip_frames]  # (C, 4, 2)
        blurry = _blurry_clips(clarity, blurry_ratio)
    else:
        blurry = np.zeros(clips, dtype=bool)
    motion = _motion(artifact, representation, frame_index, fps)
    smooth = smoothed_velocity(motion, fps, velocity_sigma) if velocity_sigma > 0 and representation == "mediapipe" else None
    return VideoClips(video=video, frame_index=frame_index, motion=motion, smooth_velocity=smooth,
                      clip_frames=clip_frames, no_person=no_person, blurry_hands=blurry)
