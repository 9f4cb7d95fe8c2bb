"""Face and mouth of each reference frame: MediaPipe face mesh on a full-resolution crop around the head.

The pose landmarks of a frame give the head (nose, eyes, ears, mouth corners); a square crop around it is
cut from the FULL-resolution frame and resized to `crop_px`, so a face that is 70 px wide in the analysis
frame is meshed at ~crop_px/2.5 px. Face mesh runs in video mode (tracking between frames) with refined
landmarks (better lips). Only a subset of the 478 mesh points is kept (`FACE_POINTS`, 95 points): the
outer and inner lip contours, the face oval, stable points for alignment (eye corners, nose bridge and
base) and inner cheeks — about 1.1 KB per frame.

Stored per frame (perception schema 2): `face_present` (F,) bool, `face_landmarks` (F, 95, 3) float32 in
normalised source coordinates (x / W, y / H, z / W; NaN where no face) and `head_pose` (F, 3) float32
yaw, pitch, roll in degrees (0, 0, 0 = facing the camera upright; NaN where no face).
"""
from __future__ import annotations

import dataclasses
from typing import Any

import cv2
import numpy as np

# Mesh indices, each contour in drawing order (MediaPipe's canonical face mesh topology).
LIPS_OUTER = (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 409, 270, 269, 267, 0, 37, 39, 40, 185)
LIPS_INNER = (78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308, 415, 310, 311, 312, 13, 82, 81, 80, 191)
FACE_OVAL = (10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377, 152,
             148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109)
STABLE = (33, 133, 362, 263, 168, 6, 1, 4, 2, 98, 327)  # eye corners, nose bridge, tip and base
CHEEKS = (50, 280, 205, 425, 187, 411, 207, 427)
FACE_POINTS = LIPS_OUTER + LIPS_INNER + FACE_OVAL + STABLE + CHEEKS


def point_rows(mesh_indices: tuple[int, ...]) -> np.ndarray:
    """Rows of `FACE_POINTS` (the stored subset) holding these mesh indices, in their order."""
    where = {index: row for row, index in enumerate(FACE_POINTS)}
    return np.array([where[i] for i in mesh_indices], dtype=np.int64)


OUTER_ROWS, INNER_ROWS, OVAL_ROWS = point_rows(LIPS_OUTER), point_rows(LIPS_INNER), point_rows(FACE_OVAL)
EYE_CORNER_ROWS = point_rows((33, 133, 362, 263))  # outer left, inner left, inner right, outer right
ALIGN_ROWS = point_rows((33, 133, 362, 263, 168, 6, 1, 4, 2, 98, 327))  # rigid part of the face
CHIN_ROW = int(point_rows((152,))[0])
UPPER_LIP_ROW, LOWER_LIP_ROW = int(point_rows((13,))[0]), int(point_rows((14,))[0])  # inner lip midpoints
LEFT_CORNER_ROW, RIGHT_CORNER_ROW = int(point_rows((61,))[0]), int(point_rows((291,))[0])
_HEAD_POSE_LANDMARKS = (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10)  # pose: nose, eyes, ears, mouth corners


@dataclasses.dataclass(frozen=True)
class FaceOptions:
    crop_scale: float = 2.6  # crop side = this x the head's width (ear to ear, or eyes x 2)
    crop_px: int = 256  # the crop is meshed at this size
    min_detection: float = 0.5
    min_tracking: float = 0.5
    min_head_px: float = 24.0  # heads narrower than this in the source are not meshed (too small)


@dataclasses.dataclass(frozen=True)
class FaceObservation:
    landmarks: np.ndarray  # (95, 3) float32 normalised source x, y and z (x's units)
    head_pose: np.ndarray  # (3,) float32 yaw, pitch, roll degrees


def head_box(pose_image: np.ndarray, width: int, height: int, scale: float) -> tuple[int, int, int] | None:
    """(x0, y0, side) in source pixels of a square crop around the head, from pose landmarks 0-10.

    pose_image (33, 2) normalised; None when the head landmarks are missing.
    """
    head = pose_image[list(_HEAD_POSE_LANDMARKS)] * np.array([width, height], np.float32)  # (11, 2) px
    if not np.isfinite(head).all():
        return None
    ears = float(np.linalg.norm(head[7] - head[8]))
    eyes = float(np.linalg.norm(head[2] - head[5]))
    size = max(ears, 2.0 * eyes, 1.0)
    centre = head.mean(axis=0)
    side = int(round(size * scale))
    return int(round(centre[0] - side / 2)), int(round(centre[1] - side / 2)), side


def crop_square(rgb: np.ndarray, x0: int, y0: int, side: int, out_px: int) -> np.ndarray:
    """(out_px, out_px, 3) crop of rgb (H, W, 3) at [y0, y0+side) x [x0, x0+side), borders replicated."""
    scale = out_px / side
    matrix = np.array([[scale, 0, -x0 * scale], [0, scale, -y0 * scale]], np.float32)
    return cv2.warpAffine(rgb, matrix, (out_px, out_px), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE)


def head_pose_from_landmarks(points_px: np.ndarray) -> np.ndarray:
    """(3,) yaw, pitch, roll in degrees from mesh points (95, 3) in pixels (z in x's units).

    Yaw: the eye line's turn out of the image plane; roll: its tilt in the plane; pitch: the forehead-chin
    axis' turn out of the plane (sign: positive = looking down).
    """
    left, right = points_px[EYE_CORNER_ROWS[0]], points_px[EYE_CORNER_ROWS[3]]  # (3,)
    eye = right - left
    yaw = np.degrees(np.arctan2(-eye[2], eye[0]))
    roll = np.degrees(np.arctan2(eye[1], eye[0]))
    top, chin = points_px[point_rows((10,))[0]], points_px[CHIN_ROW]
    axis = chin - top
    pitch = np.degrees(np.arctan2(axis[2], axis[1]))
    return np.array([yaw, pitch, roll], np.float32)


def _solutions() -> Any:
    import mediapipe as mp  # imported lazily: it pulls matplotlib and jax on import

    return mp.solutions


def still_face_mesh(options: FaceOptions = FaceOptions()) -> Any:
    """MediaPipe face mesh for single images (refined landmarks, one face): FaceAnalyzer's mesher for a frame that is
    not part of a video (a generated transition frame); `process(crop)` as MediaPipe's, `close()` when done."""
    return _solutions().face_mesh.FaceMesh(static_image_mode=True, max_num_faces=1, refine_landmarks=True,
                                           min_detection_confidence=options.min_detection)


class FaceAnalyzer:
    """Face mesh of successive frames of ONE video, cropped around the head (a context manager)."""

    def __init__(self, options: FaceOptions = FaceOptions()) -> None:
        self.options = options
        self._mesh = _solutions().face_mesh.FaceMesh(
            static_image_mode=False, max_num_faces=1, refine_landmarks=True,
            min_detection_confidence=options.min_detection, min_tracking_confidence=options.min_tracking,
        )
        self._indices = np.asarray(FACE_POINTS, dtype=np.int64)

    def analyze(self, full_rgb: np.ndarray, pose_image: np.ndarray | None) -> FaceObservation | None:
        """full_rgb (H, W, 3) uint8 at source resolution; pose_image (33, 2) normalised, or None."""
        if pose_image is None:
            return None
        height, width = full_rgb.shape[:2]
        box = head_box(pose_image, width, height, self.options.crop_scale)
        if box is None or box[2] < self.options.min_head_px * self.options.crop_scale:
            return None
        x0, y0, side = box
        crop = crop_square(full_rgb, x0, y0, side, self.options.crop_px)
        result = self._mesh.process(crop)
        if not result.multi_face_landmarks:
            return None
        mesh = result.multi_face_landmarks[0].landmark
        points = np.array([(mesh[i].x, mesh[i].y, mesh[i].z) for i in self._indices], np.float32)  # (95, 3)
        points_px = points * side + np.array([x0, y0, 0.0], np.float32)  # (95, 3) source pixels (z in px)
        normalised = points_px / np.array([width, height, width], np.float32)
        return FaceObservation(landmarks=normalised, head_pose=head_pose_from_landmarks(points_px))

    def close(self) -> None:
        self._mesh.close()

    def __enter__(self) -> "FaceAnalyzer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
