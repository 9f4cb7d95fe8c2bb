"""The in-memory result of a perception run: the artifact's arrays, meta.json dict and audio."""
from __future__ import annotations

import dataclasses

import numpy as np

ARTIFACT_KIND = "perception"
SCHEMA_VERSION = 3  # 2: face mesh (face_present, face_landmarks, head_pose); 3: the audio's transcript (speech.json)
AUDIO_SAMPLE_RATE = 16000

# The arrays of a MediaPipe perception artifact (CONTRACTS.md), in contract order.
MEDIAPIPE_FIELDS = (
    "timestamps_s", "source_frame", "person_present", "pose_world", "pose_visibility", "pose_image",
    "mask_bits", "mask_shape", "hand_boxes", "hand_clarity", "face_present", "face_landmarks", "head_pose",
)
# The arrays of an imported SMPL-X motion; `smplx_joints` only with an SMPL-X model directory.
SMPLX_FIELDS = ("timestamps_s", "source_frame", "person_present", "smplx_poses", "smplx_trans", "smplx_betas")


@dataclasses.dataclass
class PerceptionResult:
    arrays: dict[str, np.ndarray]
    meta: dict
    audio: np.ndarray | None  # (S,) float32 mono at 16 kHz, or None when the source has no audio
    speech: dict | None = None  # the audio's transcript (`SpeechTranscript.to_dict()`, words and phones), or None
