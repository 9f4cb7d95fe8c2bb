"""Compact per-frame perception records, accumulated into preallocated contract arrays.

Only these small records outlive a frame (about 1.7 KB per frame at a 96-px mask): the decoded image and
MediaPipe's outputs are dropped as soon as a frame is recorded.
"""
from __future__ import annotations

import math

import cv2
import numpy as np

from tango.perception.clarity import hand_clarity
from tango.perception.face import FACE_POINTS, FaceObservation
from tango.perception.models import HAND_SLOTS, POSE_LANDMARKS, FrameObservation, HandObservation

MASK_THRESHOLD = 0.5


def mask_shape_for(width: int, height: int, long_side: int) -> tuple[int, int]:
    """(Hm, Wm): the frame's aspect ratio with its long side at `long_side` px."""
    scale = long_side / max(width, height)
    return max(1, int(round(height * scale))), max(1, int(round(width * scale)))


def hand_box(landmarks: np.ndarray, margin: float) -> np.ndarray:
    """(4,) normalised [x0, y0, x1, y1] around (21, 2) landmarks, grown by `margin` x size, clipped to [0, 1]."""
    low, high = landmarks.min(axis=0), landmarks.max(axis=0)  # (2,), (2,)
    pad = (high - low) * margin
    return np.clip(np.concatenate([low - pad, high + pad]), 0.0, 1.0).astype(np.float32)


def assign_hand_slots(hands: tuple[HandObservation, ...]) -> list[HandObservation | None]:
    """Slot 0 = MediaPipe label "Left", 1 = "Right"; a second hand with a taken label gets the free slot."""
    slots: list[HandObservation | None] = [None, None]
    for hand in sorted(hands, key=lambda h: -h.score):
        preferred = HAND_SLOTS.get(hand.label, 0)
        slot = preferred if slots[preferred] is None else 1 - preferred
        if slots[slot] is None:
            slots[slot] = hand
    return slots


class FrameRecords:
    """Preallocated (capacity, ...) arrays; `add` fills one row, `arrays` returns the filled rows."""

    def __init__(self, capacity: int, width: int, height: int, mask_long_side: int, hand_box_margin: float):
        self.mask_shape = mask_shape_for(width, height, mask_long_side)  # (Hm, Wm)
        mask_bytes = math.ceil(self.mask_shape[0] * self.mask_shape[1] / 8)
        self._margin = hand_box_margin
        self.count = 0
        self._timestamps = np.zeros(capacity, np.float64)  # (F,)
        self._source = np.zeros(capacity, np.int32)  # (F,)
        self._present = np.zeros(capacity, bool)  # (F,)
        self._world = np.full((capacity, POSE_LANDMARKS, 3), np.nan, np.float32)  # (F, 33, 3)
        self._visibility = np.zeros((capacity, POSE_LANDMARKS), np.float32)  # (F, 33)
        self._image = np.full((capacity, POSE_LANDMARKS, 2), np.nan, np.float32)  # (F, 33, 2)
        self._mask_bits = np.zeros((capacity, mask_bytes), np.uint8)  # (F, ceil(Hm*Wm/8))
        self._hand_boxes = np.full((capacity, 2, 4), np.nan, np.float32)  # (F, 2, 4)
        self._hand_clarity = np.full((capacity, 2), np.nan, np.float32)  # (F, 2)
        self._face_present = np.zeros(capacity, bool)  # (F,)
        self._face = np.full((capacity, len(FACE_POINTS), 3), np.nan, np.float32)  # (F, 95, 3)
        self._head_pose = np.full((capacity, 3), np.nan, np.float32)  # (F, 3) yaw, pitch, roll degrees

    @property
    def person_frames(self) -> int:
        return int(self._present[: self.count].sum())

    def add(self, pts_s: float, source_index: int, observation: FrameObservation, full_rgb: np.ndarray,
            face: FaceObservation | None = None) -> None:
        """Record one analysed frame; `full_rgb` (H, W, 3) is the full-resolution frame for hand clarity."""
        row = self.count
        if row >= self._timestamps.shape[0]:
            raise IndexError(f"more frames than the {row} announced")
        self._timestamps[row], self._source[row] = pts_s, source_index
        if observation.pose is not None:
            self._present[row] = True
            self._world[row] = observation.pose.world
            self._visibility[row] = observation.pose.visibility
            self._image[row] = observation.pose.image
        self._mask_bits[row] = self._pack_mask(observation.body_probability)
        for slot, hand in enumerate(assign_hand_slots(observation.hands)):
            if hand is not None:
                self._hand_boxes[row, slot] = hand_box(hand.landmarks, self._margin)
        self._hand_clarity[row] = hand_clarity(full_rgb, self._hand_boxes[row])
        if face is not None:
            self._face_present[row] = True
            self._face[row], self._head_pose[row] = face.landmarks, face.head_pose
        self.count += 1

    def _pack_mask(self, probability: np.ndarray) -> np.ndarray:
        height, width = self.mask_shape
        small = cv2.resize(probability, (width, height), interpolation=cv2.INTER_AREA)  # (Hm, Wm)
        return np.packbits((small > MASK_THRESHOLD).reshape(-1))

    def arrays(self) -> dict[str, np.ndarray]:
        """The contract arrays of the frames recorded so far (copies trimmed to `count` rows)."""
        rows = slice(0, self.count)
        return {
            "timestamps_s": self._timestamps[rows].copy(),
            "source_frame": self._source[rows].copy(),
            "person_present": self._present[rows].copy(),
            "pose_world": self._world[rows].copy(),
            "pose_visibility": self._visibility[rows].copy(),
            "pose_image": self._image[rows].copy(),
            "mask_bits": self._mask_bits[rows].copy(),
            "mask_shape": np.asarray(self.mask_shape, np.int32),
            "hand_boxes": self._hand_boxes[rows].copy(),
            "hand_clarity": self._hand_clarity[rows].copy(),
            "face_present": self._face_present[rows].copy(),
            "face_landmarks": self._face[rows].copy(),
            "head_pose": self._head_pose[rows].copy(),
        }
