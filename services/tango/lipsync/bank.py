"""The speaker's mouths: every reference frame's mouth, its shape, head pose and sound, ready to search.

Built from the speaker's perception artifacts (face mesh landmarks, head pose, the reference audio):
- a rigid-face template and pose-free lip shapes (`mouth_shape`), a PCA basis of those shapes and each
  frame's whitened coefficients;
- the speaker mouth model (`mouth_model`) trained on the reference's own (audio, lips) frames;
- optionally each frame's viseme, from the phones recognised in the reference audio (`visemes`), and a
  second speaker mouth model that hears those phones too (`phone_model`, used by the "both" source).
Frames of all reference videos are concatenated (state r = frame `local[r]` of video `video[r]`);
`next_frame` links each frame to the next one of the same video.
"""
from __future__ import annotations

import dataclasses
from typing import Callable

import numpy as np

from tango.lipsync.mouth_model import (
    MouthModel, MouthModelConfig, fit_mouth_model, frame_features, viseme_features,
)
from tango.lipsync.mouth_search import MouthBank
from tango.lipsync.mouth_shape import MouthShapes, ShapeBasis, mouth_shapes, rigid_template
from tango.lipsync.visemes import frame_visemes
from tango.perception.artifact_io import PerceptionArtifact
from tango.runtime.errors import FailedPrecondition

MIN_FACE_FRAMES = 50

# speech (S,) float32 16 kHz, n_frames, fps -> (n_frames,) int viseme per video frame
VisemeFn = Callable[[np.ndarray, int, float], np.ndarray]


@dataclasses.dataclass(frozen=True)
class SpeakerMouths:
    template: np.ndarray  # (A, 3) rigid-face template
    basis: ShapeBasis
    bank: MouthBank  # (R,) states over all reference frames
    landmarks: np.ndarray  # (R, 95, 3) normalised landmarks of each state's frame
    video: np.ndarray  # (R,) int32 reference video of each state
    local: np.ndarray  # (R,) int64 perception frame within that video
    offsets: np.ndarray  # (V,) first state of each video
    model: MouthModel | None  # None when the references have no audio
    face_ratio: float
    phone_model: MouthModel | None = None  # audio and visemes in (None without a phone recogniser)
    lips: np.ndarray | None = None  # (R, 40, 2) each state's own lips in the template frame (NaN: no face)

    def state(self, video: np.ndarray, local: np.ndarray) -> np.ndarray:
        """(N,) states of (video, perception frame) pairs."""
        return self.offsets[np.asarray(video, np.int64)] + np.asarray(local, np.int64)


def has_faces(perceptions: list[PerceptionArtifact]) -> bool:
    return all("face_present" in p.arrays for p in perceptions)


def build_speaker_mouths(perceptions: list[PerceptionArtifact], visemes: VisemeFn | None = None,
                         exclude: np.ndarray | None = None,
                         model_config: MouthModelConfig = MouthModelConfig()) -> SpeakerMouths:
    """The mouth bank of a speaker. `exclude` (R,) bool marks states that may not be chosen (evaluation's
    held-out span: it is also kept out of the template, the basis and the mouth model's training)."""
    if not has_faces(perceptions):
        raise FailedPrecondition("the perception artifacts have no face mesh (imported motion?)", reason="NO_FACE")
    landmarks = np.concatenate([p.arrays["face_landmarks"] for p in perceptions])  # (R, 95, 3)
    present = np.concatenate([p.arrays["face_present"] for p in perceptions])
    head_pose = np.concatenate([p.arrays["head_pose"] for p in perceptions])
    lengths = np.array([p.frames for p in perceptions], np.int64)
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    video = np.repeat(np.arange(len(perceptions), dtype=np.int32), lengths)
    local = np.arange(len(video)) - offsets[video]
    allowed = present if exclude is None else present & ~exclude
    if allowed.sum() < MIN_FACE_FRAMES:
        raise FailedPrecondition(f"a face was meshed in {int(allowed.sum())} reference frames; lip sync needs "
                                 f"{MIN_FACE_FRAMES}", reason="TOO_FEW_FACES")
    points = _pixels_per_video(landmarks, video, perceptions)
    template = rigid_template(points[allowed])
    shapes = _shapes_per_video(perceptions, template)
    basis = ShapeBasis.fit(shapes.vectors()[allowed])
    coefficients = basis.coefficients(shapes.vectors()).astype(np.float32)  # (R, K)
    model, phone_model, bank_visemes = None, None, None
    audio = [p.audio() for p in perceptions]
    if all(a is not None for a in audio):
        features = np.concatenate([frame_features(a, p.frames, p.fps, model_config, slow=True)
                                   for a, p in zip(audio, perceptions)])
        trained = np.where(allowed[:, None], coefficients, np.nan)
        lip_variance = basis.scale**2  # what each whitened coefficient carries of the lips
        model = fit_mouth_model(features, trained, model_config, weights=lip_variance)
        if visemes is not None:
            per_video = [_reference_visemes(p, a, visemes) for a, p in zip(audio, perceptions)]
            bank_visemes = np.concatenate(per_video)
            heard = np.concatenate([viseme_features(v, model_config) for v in per_video])  # context within a video
            phone_model = fit_mouth_model(features, trained, model_config, weights=lip_variance, visemes=heard)
    next_frame = np.arange(1, len(video) + 1, dtype=np.int64)
    next_frame[offsets[1:] - 1] = -1
    next_frame[-1] = -1
    bank = MouthBank(coefficients=coefficients, visemes=bank_visemes, head_pose=head_pose, usable=allowed,
                     next_frame=next_frame, lips=basis.points(coefficients))
    return SpeakerMouths(template=template, basis=basis, bank=bank, landmarks=landmarks, video=video, local=local,
                         offsets=offsets, model=model, face_ratio=float(present.mean()),
                         phone_model=phone_model, lips=shapes.lips[..., :2])


def _reference_visemes(perception: PerceptionArtifact, audio: np.ndarray, visemes: VisemeFn) -> np.ndarray:
    """(F,) viseme of each reference frame: from the phones ingest heard (the artifact's speech.json), else heard now."""
    heard = perception.speech()
    if heard is not None and heard.phones is not None:
        return frame_visemes(heard.phones, perception.frames, perception.fps)
    return visemes(audio, perception.frames, perception.fps)


def _pixels_per_video(landmarks: np.ndarray, video: np.ndarray, perceptions: list[PerceptionArtifact]) -> np.ndarray:
    sizes = np.array([[p.meta["width"], p.meta["height"], p.meta["width"]] for p in perceptions], np.float64)
    return landmarks.astype(np.float64) * sizes[video][:, None, :]


def _shapes_per_video(perceptions: list[PerceptionArtifact], template: np.ndarray) -> MouthShapes:
    parts = [mouth_shapes(p.arrays["face_landmarks"], p.arrays["face_present"], int(p.meta["width"]),
                          int(p.meta["height"]), template) for p in perceptions]
    return dataclasses.replace(parts[0], **{name: np.concatenate([getattr(s, name) for s in parts])
                                            for name in ("lips", "opening", "width", "present")})

