"""Thin wrappers around MediaPipe's legacy `mp.solutions` graphs (the models bundled in the wheel).

Each analysis creates its own graphs (video mode: `static_image_mode=False`, so landmarks are tracked
from frame to frame) and closes them at the end; nothing is shared between analyses. Pose uses
`model_complexity=1`, the only pose model bundled in mediapipe 0.10.21.
"""
from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

POSE_LANDMARKS = 33
HAND_LANDMARKS = 21
HAND_SLOTS = {"Left": 0, "Right": 1}  # MediaPipe handedness label -> slot in (F, 2, ...) arrays


@dataclasses.dataclass(frozen=True)
class ModelOptions:
    pose_min_detection: float = 0.5
    pose_min_tracking: float = 0.5
    hands_min_detection: float = 0.5
    hands_min_tracking: float = 0.5
    hands_model_complexity: int = 1  # 0 = lite, 1 = full (both bundled)
    face_min_detection: float = 0.5


@dataclasses.dataclass(frozen=True)
class PoseObservation:
    world: np.ndarray  # (33, 3) float32 metres, hip-centred
    visibility: np.ndarray  # (33,) float32
    image: np.ndarray  # (33, 2) float32 normalised x, y


@dataclasses.dataclass(frozen=True)
class HandObservation:
    label: str  # MediaPipe handedness label, "Left" or "Right"
    score: float
    landmarks: np.ndarray  # (21, 2) float32 normalised x, y


@dataclasses.dataclass(frozen=True)
class FrameObservation:
    pose: PoseObservation | None
    hands: tuple[HandObservation, ...]
    body_probability: np.ndarray  # (h, w) float32 selfie-segmentation foreground probability


def _solutions() -> Any:
    import mediapipe as mp  # imported lazily: it pulls matplotlib and jax on import

    return mp.solutions


def _pose_observation(result: Any) -> PoseObservation | None:
    if result.pose_world_landmarks is None or result.pose_landmarks is None:
        return None
    world = np.array([(p.x, p.y, p.z) for p in result.pose_world_landmarks.landmark], np.float32)  # (33, 3)
    image = np.array([(p.x, p.y, p.visibility) for p in result.pose_landmarks.landmark], np.float32)  # (33, 3)
    return PoseObservation(world=world, visibility=image[:, 2].copy(), image=image[:, :2].copy())


def _hand_observations(result: Any) -> tuple[HandObservation, ...]:
    if not result.multi_hand_landmarks:
        return ()
    hands = []
    for landmarks, handedness in zip(result.multi_hand_landmarks, result.multi_handedness):
        best = handedness.classification[0]
        points = np.array([(p.x, p.y) for p in landmarks.landmark], np.float32)  # (21, 2)
        hands.append(HandObservation(label=best.label, score=float(best.score), landmarks=points))
    return tuple(hands)


class FrameAnalyzer:
    """Pose + hands + selfie segmentation of successive frames of ONE video (a context manager)."""

    def __init__(self, options: ModelOptions = ModelOptions()) -> None:
        solutions = _solutions()
        self._pose = solutions.pose.Pose(
            static_image_mode=False, model_complexity=1, smooth_landmarks=True, enable_segmentation=False,
            min_detection_confidence=options.pose_min_detection, min_tracking_confidence=options.pose_min_tracking,
        )
        self._hands = solutions.hands.Hands(
            static_image_mode=False, max_num_hands=2, model_complexity=options.hands_model_complexity,
            min_detection_confidence=options.hands_min_detection, min_tracking_confidence=options.hands_min_tracking,
        )
        self._segmentation = solutions.selfie_segmentation.SelfieSegmentation(model_selection=0)

    def analyze(self, rgb: np.ndarray) -> FrameObservation:
        """rgb: (h, w, 3) uint8, C-contiguous. Frames must come in video order."""
        pose = _pose_observation(self._pose.process(rgb))
        hands = _hand_observations(self._hands.process(rgb))
        probability = self._segmentation.process(rgb).segmentation_mask  # (h, w) float32
        return FrameObservation(pose=pose, hands=hands, body_probability=probability)

    def close(self) -> None:
        for graph in (self._pose, self._hands, self._segmentation):
            graph.close()

    def __enter__(self) -> "FrameAnalyzer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class FaceCounter:
    """Counts faces in independent still frames (full-range face detection; a context manager)."""

    def __init__(self, options: ModelOptions = ModelOptions()) -> None:
        self._detector = _solutions().face_detection.FaceDetection(
            model_selection=1, min_detection_confidence=options.face_min_detection,
        )

    def count(self, rgb: np.ndarray) -> int:
        detections = self._detector.process(rgb).detections
        return len(detections) if detections else 0

    def close(self) -> None:
        self._detector.close()

    def __enter__(self) -> "FaceCounter":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
