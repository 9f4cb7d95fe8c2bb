"""Input poses of a transition clip: detected at the real frames, LINEAR blends in between, drawn as skeletons.

MediaPipe pose image landmarks (33 points, normalised x, y + visibility) come from
`tango.perception.models.FrameAnalyzer` (the legacy solutions bundled in the mediapipe wheel), run as a
video over the k frames before the jump and, separately, over the k frames after it. Generated frame i of
n gets blend(P_before_last, P_after_first, tau = i / (n + 1)) for both positions and visibilities; the real
frames keep their own poses. A frame without a detected person - or a generated frame when either end has
none - gets an empty (black) pose image.
"""
from __future__ import annotations

import colorsys
import dataclasses
from typing import Callable, Sequence

import cv2
import numpy as np

from tango.acinterp.config import PoseSettings
from tango.perception.models import POSE_LANDMARKS, FrameObservation

# mediapipe.solutions.pose.POSE_CONNECTIONS (fixed by the 33-landmark topology), sorted
POSE_CONNECTIONS: tuple[tuple[int, int], ...] = (
    (0, 1), (0, 4), (1, 2), (2, 3), (3, 7), (4, 5), (5, 6), (6, 8), (9, 10), (11, 12), (11, 13), (11, 23),
    (12, 14), (12, 24), (13, 15), (14, 16), (15, 17), (15, 19), (15, 21), (16, 18), (16, 20), (16, 22),
    (17, 19), (18, 20), (23, 24), (23, 25), (24, 26), (25, 27), (26, 28), (27, 29), (27, 31), (28, 30),
    (28, 32), (29, 31), (30, 32),
)
# one distinct colour per limb (RGB), so the guider can tell left from right and arm from leg
LIMB_COLOURS: tuple[tuple[int, int, int], ...] = tuple(
    tuple(int(round(255 * c)) for c in colorsys.hsv_to_rgb(i / len(POSE_CONNECTIONS), 0.9, 1.0))
    for i in range(len(POSE_CONNECTIONS))
)


@dataclasses.dataclass(frozen=True)
class Pose2D:
    xy: np.ndarray  # (33, 2) float32, normalised image x, y
    visibility: np.ndarray  # (33,) float32 in [0, 1]

    def __post_init__(self) -> None:
        if self.xy.shape != (POSE_LANDMARKS, 2) or self.visibility.shape != (POSE_LANDMARKS,):
            raise ValueError(f"a pose has {POSE_LANDMARKS} points, got {self.xy.shape} / {self.visibility.shape}")


def pose_of(observation: FrameObservation) -> Pose2D | None:
    if observation.pose is None:
        return None
    pose = observation.pose
    return Pose2D(xy=pose.image.astype(np.float32), visibility=pose.visibility.astype(np.float32))


def blend_poses(first: Pose2D | None, last: Pose2D | None, tau: float) -> Pose2D | None:
    """(1 - tau) * first + tau * last for positions and visibilities; None when either end is missing."""
    if first is None or last is None:
        return None
    xy = (1.0 - tau) * first.xy + tau * last.xy  # (33, 2)
    visibility = (1.0 - tau) * first.visibility + tau * last.visibility  # (33,)
    return Pose2D(xy=xy.astype(np.float32), visibility=visibility.astype(np.float32))


def transition_poses(before: Sequence[Pose2D | None], after: Sequence[Pose2D | None],
                     num_frames: int) -> list[Pose2D | None]:
    """Poses of the whole clip: len(before) real, num_frames blended, len(after) real."""
    first, last = before[-1], after[0]
    blended = [blend_poses(first, last, i / (num_frames + 1)) for i in range(1, num_frames + 1)]
    return [*before, *blended, *after]


def render_pose(pose: Pose2D | None, height: int, width: int, settings: PoseSettings = PoseSettings()) -> np.ndarray:
    """(height, width, 3) uint8 skeleton on black; all black when there is no pose."""
    canvas = np.zeros((height, width, 3), np.uint8)
    if pose is None:
        return canvas
    thickness = max(1, int(round(settings.line_px * max(height, width))))
    points = np.round(pose.xy * np.array([width, height], np.float32)).astype(np.int32)  # (33, 2) pixels
    shown = pose.visibility >= settings.min_visibility
    for (a, b), colour in zip(POSE_CONNECTIONS, LIMB_COLOURS):
        if shown[a] and shown[b]:
            cv2.line(canvas, tuple(int(v) for v in points[a]), tuple(int(v) for v in points[b]), colour, thickness,
                     lineType=cv2.LINE_AA)
    for index in np.flatnonzero(shown):
        cv2.circle(canvas, tuple(int(v) for v in points[index]), thickness, (255, 255, 255), -1, lineType=cv2.LINE_AA)
    return canvas


def render_poses(poses: Sequence[Pose2D | None], height: int, width: int,
                 settings: PoseSettings = PoseSettings()) -> np.ndarray:
    """(T, height, width, 3) uint8."""
    return np.stack([render_pose(pose, height, width, settings) for pose in poses])


Observer = Callable[[np.ndarray], list[FrameObservation]]


def observe_video(frames: np.ndarray) -> list[FrameObservation]:
    """MediaPipe pose + selfie segmentation of consecutive frames (T, H, W, 3) uint8, in video mode."""
    from tango.perception.models import FrameAnalyzer

    with FrameAnalyzer() as analyzer:
        return [analyzer.analyze(np.ascontiguousarray(frame)) for frame in frames]
