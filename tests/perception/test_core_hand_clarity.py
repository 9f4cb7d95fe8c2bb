"""tango.perception.clarity and frame records: sharp crops score higher; boxes, slots, masks."""
from __future__ import annotations

import cv2
import numpy as np

from tango.perception.clarity import hand_clarity, laplacian_std
from tango.perception.frame_records import assign_hand_slots, hand_box, mask_shape_for
from tango.perception.models import HandObservation


def _checkerboard(size: int = 400, cell: int = 8) -> np.ndarray:
    ys, xs = np.mgrid[0:size, 0:size]
    grey = (((ys // cell) + (xs // cell)) % 2 * 255).astype(np.uint8)
    return np.repeat(grey[:, :, None], 3, axis=2)  # (H, W, 3)


def test_sharp_beats_blurred():
    sharp = _checkerboard()
    blurred = cv2.GaussianBlur(sharp, (0, 0), 3.0)
    box = np.array([[0.25, 0.25, 0.75, 0.75]], np.float32)
    assert hand_clarity(sharp, box)[0] > 3 * hand_clarity(blurred, box)[0] > 0


def test_laplacian_std_of_flat_image_is_zero():
    assert laplacian_std(np.full((20, 20), 128, np.uint8)) == 0.0


def test_absent_and_tiny_boxes_are_nan():
    rgb = _checkerboard(100)
    boxes = np.array([[np.nan] * 4, [0.5, 0.5, 0.51, 0.51], [0.0, 0.0, 1.0, 1.0]], np.float32)
    scores = hand_clarity(rgb, boxes)
    assert np.isnan(scores[0]) and np.isnan(scores[1]) and scores[2] > 0


def test_hand_box_has_margin_and_is_clipped():
    landmarks = np.array([[0.2, 0.3], [0.4, 0.5], [0.98, 0.4]], np.float32)
    box = hand_box(landmarks, margin=0.1)
    np.testing.assert_allclose(box, [0.2 - 0.078, 0.3 - 0.02, 1.0, 0.5 + 0.02], atol=1e-6)


def test_hand_slots_follow_labels_and_resolve_duplicates():
    points = np.zeros((21, 2), np.float32)
    left, right = HandObservation("Left", 0.9, points), HandObservation("Right", 0.8, points)
    assert assign_hand_slots((right, left)) == [left, right]
    weaker_left = HandObservation("Left", 0.6, points)
    assert assign_hand_slots((weaker_left, left)) == [left, weaker_left]
    assert assign_hand_slots(()) == [None, None]


def test_mask_shape_keeps_aspect():
    assert mask_shape_for(1280, 948, 96) == (71, 96)
    assert mask_shape_for(512, 512, 96) == (96, 96)
    assert mask_shape_for(480, 640, 96) == (96, 72)
