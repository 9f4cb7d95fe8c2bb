"""Paired audio-motion data for AuMoCLIP: loading, validation, time splits and clip windows.

A pair is one recording: mono 16 kHz audio and its motion representation (F, J, C) at 30 fps, optionally
per-frame transcript features (F, E) and raw prosody (F, 3) (pitch, periodicity, energy: prosody.py).
Sources: BEAT2-style SMPL-X files (`PREFIX.npz` with `poses` (N, 165) + `PREFIX.wav` + optional
`PREFIX.TextGrid`) and perception artifacts (MediaPipe `pose_world` or SMPL-X).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, replace
from math import gcd
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

from tango.graph.motion_repr import fill_missing, mediapipe_motion, smplx_motion
from tango.runtime.errors import CorruptMedia, InvalidArgument, NoPerson, SilentAudio, UnsupportedAudio

SAMPLE_RATE = 16000
FPS = 30
SILENCE_PEAK = 1e-4
SPLITS = ("all", "first80", "last20")

TextFeaturizer = Callable[[Path, int], np.ndarray]  # (transcript path, frames) -> (frames, E)
ProsodyFn = Callable[[np.ndarray, int], np.ndarray]  # (audio (S,), frames) -> (frames, 3) raw prosody


@dataclass(frozen=True)
class AudioMotionPair:
    name: str
    audio: np.ndarray  # (S,) float32, SAMPLE_RATE
    motion: np.ndarray  # (F, J, C) float32, FPS
    representation: str  # "smplx" | "mediapipe"
    text: np.ndarray | None = None  # (F, E) float32 transcript features, or None
    prosody: np.ndarray | None = None  # (F, 3) float32 raw pitch / periodicity / energy, or None

    @property
    def frames(self) -> int:
        return int(self.motion.shape[0])

    @property
    def duration_s(self) -> float:
        return self.frames / FPS

    def crop(self, start: int, stop: int) -> "AudioMotionPair":
        """Frames [start, stop) with the audio samples they cover."""
        first, last = frame_to_sample(start), frame_to_sample(stop)
        text = None if self.text is None else self.text[start:stop]
        prosody = None if self.prosody is None else self.prosody[start:stop]
        return replace(self, audio=self.audio[first:last], motion=self.motion[start:stop], text=text,
                       prosody=prosody)


def frame_to_sample(frame: int) -> int:
    return int(round(frame * SAMPLE_RATE / FPS))


def prepare_audio(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """Any (S,), (S, ch) or (ch, S) float/int audio at `sample_rate` -> (S',) float32 mono at 16 kHz."""
    audio = np.asarray(audio)
    if audio.ndim == 2:  # channels on the short axis
        audio = audio.mean(axis=1 if audio.shape[1] <= audio.shape[0] else 0)
    if audio.ndim != 1 or audio.size == 0:
        raise UnsupportedAudio(f"audio must be mono or multi-channel samples, got shape {audio.shape}")
    if np.issubdtype(audio.dtype, np.integer):
        audio = audio / float(np.iinfo(audio.dtype).max)
    audio = audio.astype(np.float64)
    if not np.all(np.isfinite(audio)):
        raise CorruptMedia("audio contains NaN or infinite samples")
    if sample_rate <= 0:
        raise UnsupportedAudio(f"invalid sample rate {sample_rate}")
    if sample_rate != SAMPLE_RATE:
        common = gcd(int(sample_rate), SAMPLE_RATE)
        audio = resample_poly(audio, SAMPLE_RATE // common, int(sample_rate) // common)
    return audio.astype(np.float32)


def check_audio(audio: np.ndarray, min_seconds: float) -> None:
    """Raises InvalidArgument(AUDIO_TOO_SHORT) below `min_seconds`, SilentAudio when there is no signal."""
    if audio.shape[0] < int(round(min_seconds * SAMPLE_RATE)):
        raise InvalidArgument(f"audio lasts {audio.shape[0] / SAMPLE_RATE:.2f} s, at least {min_seconds:.2f} s "
                              f"(one clip) is needed", reason="AUDIO_TOO_SHORT",
                              metadata={"seconds": f"{audio.shape[0] / SAMPLE_RATE:.3f}"})
    if float(np.max(np.abs(audio))) < SILENCE_PEAK:
        raise SilentAudio("the audio is silent (peak amplitude below 1e-4)")


def _paired(name: str, audio: np.ndarray, motion: np.ndarray, representation: str,
            text: np.ndarray | None, min_seconds: float) -> AudioMotionPair:
    """Trims audio and motion to their common length and validates the audio."""
    frames = min(motion.shape[0], (audio.shape[0] * FPS) // SAMPLE_RATE)
    audio = audio[: frame_to_sample(frames)]
    check_audio(audio, min_seconds)
    text = None if text is None else text[:frames].astype(np.float32)
    return AudioMotionPair(name, audio, motion[:frames].astype(np.float32), representation, text)


def resample_frames(values: np.ndarray, times_s: np.ndarray, fps: float) -> np.ndarray:
    """values (F, ...) sampled at `times_s` -> (F', ...) at `fps` from t=0, linear, clamped at the ends."""
    target = np.arange(int(np.floor(times_s[-1] * fps + 1e-6)) + 1) / fps  # (F',)
    upper = np.clip(np.searchsorted(times_s, target), 1, len(times_s) - 1)
    lower = upper - 1
    span = np.maximum(times_s[upper] - times_s[lower], 1e-9)
    weight = np.clip((target - times_s[lower]) / span, 0.0, 1.0)
    weight = weight.reshape((-1,) + (1,) * (values.ndim - 1))
    return values[lower] * (1.0 - weight) + values[upper] * weight


def load_pairs(prefix: str | Path, text_featurizer: TextFeaturizer | None = None,
               min_seconds: float = 4.0) -> list[AudioMotionPair]:
    """BEAT2-style PREFIX.npz (`poses` (N, 165), `mocap_frame_rate`) + PREFIX.wav [+ PREFIX.TextGrid]."""
    prefix = Path(prefix)
    npz_path, wav_path = prefix.with_suffix(".npz"), prefix.with_suffix(".wav")
    for path in (npz_path, wav_path):
        if not path.is_file():
            raise InvalidArgument(f"missing {path}", reason="PAIR_FILE_MISSING")
    with np.load(npz_path, allow_pickle=False) as data:
        if "poses" not in data or data["poses"].ndim != 2 or data["poses"].shape[1] != 165:
            raise CorruptMedia(f"{npz_path} needs `poses` (N, 165) axis-angle")
        poses = data["poses"].astype(np.float64).reshape(-1, 55, 3)  # (N, 55, 3)
        fps = float(data["mocap_frame_rate"]) if "mocap_frame_rate" in data else float(FPS)
    if np.all(np.isnan(poses)):
        raise CorruptMedia(f"{npz_path}: every pose is NaN")
    if fps != FPS:
        poses = resample_frames(fill_missing(poses), np.arange(poses.shape[0]) / fps, FPS)
    motion = smplx_motion(poses, FPS)
    audio, sample_rate = sf.read(str(wav_path), dtype="float32", always_2d=False)
    audio = prepare_audio(audio, sample_rate)
    transcript = prefix.with_suffix(".TextGrid")
    text = text_featurizer(transcript, motion.shape[0]) if text_featurizer and transcript.is_file() else None
    return [_paired(prefix.name, audio, motion, "smplx", text, min_seconds)]


def pairs_from_perception(arrays: dict, meta: dict, audio: np.ndarray, sample_rate: int = SAMPLE_RATE,
                          min_seconds: float = 4.0, name: str = "perception") -> list[AudioMotionPair]:
    """Perception artifact (arrays.npz as a dict, meta.json as a dict) + its audio -> one pair at 30 fps.

    MediaPipe `pose_world` (F, 33, 3) (NaN where no person; filled) or SMPL-X `smplx_poses` (F, 55, 3)
    [+ `smplx_joints`]. Motion is resampled to 30 fps from `timestamps_s` (or meta `fps`) when needed.
    """
    representation = meta.get("representation", "mediapipe")
    fps = float(meta.get("fps") or 0.0)
    if representation == "smplx":
        raw = np.asarray(arrays["smplx_poses"], dtype=np.float64)
        joints = arrays.get("smplx_joints")
        stacked = raw if joints is None else np.concatenate([raw, np.asarray(joints, np.float64)], axis=1)
    elif representation == "mediapipe":
        stacked = np.asarray(arrays["pose_world"], dtype=np.float64)  # (F, 33, 3)
        if stacked.ndim != 3 or stacked.shape[1:] != (33, 3):
            raise CorruptMedia(f"pose_world must be (F, 33, 3), got {stacked.shape}")
    else:
        raise InvalidArgument(f"unknown representation {representation!r}", reason="UNKNOWN_REPRESENTATION")
    if stacked.shape[0] == 0 or np.all(np.isnan(stacked)):
        raise NoPerson("no frame of the perception artifact has a pose")
    times = np.asarray(arrays["timestamps_s"], np.float64) if "timestamps_s" in arrays else None
    if times is None:
        if fps <= 0:
            raise InvalidArgument("perception meta has no fps and arrays have no timestamps_s",
                                  reason="MISSING_FPS")
        times = np.arange(stacked.shape[0]) / fps
    stacked = fill_missing(stacked)
    if stacked.shape[0] > 1 and not np.allclose(np.diff(times), 1.0 / FPS, atol=1e-3):
        stacked = resample_frames(stacked, times - times[0], FPS)
    if representation == "smplx":
        motion = smplx_motion(stacked[:, :55], FPS, stacked[:, 55:] if stacked.shape[1] > 55 else None)
    else:
        motion = mediapipe_motion(stacked, FPS)
    audio = prepare_audio(audio, sample_rate)
    return [_paired(name, audio, motion, representation, None, min_seconds)]


def split_pair(pair: AudioMotionPair, split: str) -> AudioMotionPair:
    """'all', 'first80' (first 80 % of the frames) or 'last20' (the rest), by time."""
    if split not in SPLITS:
        raise InvalidArgument(f"unknown split {split!r}; one of {SPLITS}", reason="UNKNOWN_SPLIT")
    cut = int(round(0.8 * pair.frames))
    if split == "first80":
        return pair.crop(0, cut)
    if split == "last20":
        return pair.crop(cut, pair.frames)
    return pair


def with_prosody(pairs: Sequence[AudioMotionPair], prosody_of: ProsodyFn) -> list[AudioMotionPair]:
    """Pairs with their raw prosody (F, 3) computed over the whole recording where they lack it."""
    return [pair if pair.prosody is not None else
            replace(pair, prosody=np.asarray(prosody_of(pair.audio, pair.frames), np.float32)[: pair.frames])
            for pair in pairs]


def window_starts(frames: int, window: int, stride: int) -> np.ndarray:
    """Start frames of every full window of `window` frames with `stride` (empty when frames < window)."""
    if frames < window:
        return np.zeros(0, dtype=np.int64)
    return np.arange(0, frames - window + 1, max(1, stride), dtype=np.int64)


@dataclass(frozen=True)
class ClipBatch:
    wave: np.ndarray  # (B, clip_samples) float32
    motion: np.ndarray  # (B, clip_frames, J, C) float32
    text: np.ndarray | None  # (B, clip_frames, E) float32 or None
    prosody: np.ndarray | None = None  # (B, clip_frames, 3) float32 or None


def gather_clips(pairs: Sequence[AudioMotionPair], pair_index: np.ndarray, starts: np.ndarray,
                 clip_frames: int) -> ClipBatch:
    """Clips of `clip_frames` frames starting at `starts[b]` of pair `pair_index[b]` -> one batch."""
    samples = frame_to_sample(clip_frames)
    waves, motions, texts, prosodies = [], [], [], []
    for pair_id, start in zip(pair_index.tolist(), starts.tolist()):  # one slice per clip of the batch
        pair = pairs[pair_id]
        first = frame_to_sample(start)
        wave = pair.audio[first:first + samples]
        waves.append(np.pad(wave, (0, samples - wave.shape[0])))
        motions.append(pair.motion[start:start + clip_frames])
        texts.append(None if pair.text is None else pair.text[start:start + clip_frames])
        prosodies.append(None if pair.prosody is None else pair.prosody[start:start + clip_frames])
    text = None if any(t is None for t in texts) else np.stack(texts)
    prosody = None if any(p is None for p in prosodies) else np.stack(prosodies)
    return ClipBatch(np.stack(waves), np.stack(motions), text, prosody)


def describe(pairs: Sequence[AudioMotionPair]) -> str:
    return json.dumps([{"name": p.name, "frames": p.frames, "representation": p.representation,
                        "has_text": p.text is not None, "has_prosody": p.prosody is not None} for p in pairs])
