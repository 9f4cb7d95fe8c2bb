"""The no-reference measures of jump windows on synthetic frames whose right answer is known."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from tango.interp.crossfade import crossfade
from tango.interp.jump_measures import (
    FlowProbe, WindowContext, bleed, face_sharpness, ghosting, hand_clarity_ratio, warp_error,
)

SIZE = (144, 192)  # (H, W)


def backdrop(seed: int = 3) -> np.ndarray:
    """(H, W, 3) uint8 smooth random texture."""
    rng = np.random.default_rng(seed)
    noise = cv2.GaussianBlur(rng.uniform(0, 255, SIZE).astype(np.float32), (0, 0), 3)
    grey = cv2.normalize(noise, None, 40, 120, cv2.NORM_MINMAX)
    return np.stack([grey, grey * 0.8, grey * 1.2], axis=-1).clip(0, 255).astype(np.uint8)


def figure_patch(seed: int = 5) -> np.ndarray:
    rng = np.random.default_rng(seed)
    patch = cv2.normalize(cv2.GaussianBlur(rng.uniform(0, 255, (48, 40)).astype(np.float32), (0, 0), 2),
                          None, 120, 255, cv2.NORM_MINMAX)
    return np.stack([patch, 255 - patch * 0.5, patch * 0.7], axis=-1).astype(np.uint8)  # (48, 40, 3)


def scene(x: float) -> tuple[np.ndarray, np.ndarray]:
    """(frame (H, W, 3) uint8, mask (H, W) float32): the textured figure at column x over the backdrop."""
    frame, mask = backdrop(), np.zeros(SIZE, np.float32)
    x0 = int(round(x))
    frame[48:96, x0:x0 + 40] = figure_patch()
    mask[48:96, x0:x0 + 40] = 1.0
    return frame, mask


def context(mask0, mask1, plate=None, pose=None, hands=None) -> WindowContext:
    nan_pose = np.full((33, 2), np.nan, np.float32) if pose is None else pose
    nan_hands = np.full((2, 4), np.nan, np.float32) if hands is None else hands
    return WindowContext(mask0, mask1, plate, nan_pose, nan_pose, nan_hands, nan_hands)


def test_a_crossfade_of_shifted_frames_ghosts_more_than_the_true_middle_frame():
    (first, _), (last, _) = scene(40), scene(52)
    truth = scene(46)[0][None]  # (1, H, W, 3)
    fade = crossfade(first[None], last[None], 1)
    probe = FlowProbe()
    clean, _ = ghosting(truth, first, last, probe)
    doubled, ghost_map = ghosting(fade, first, last, probe)
    # flow errors at the figure's edges leave even the true frame ~0.25 here: the measure ranks, it is no oracle
    assert doubled > 0.3 and doubled > clean + 0.1
    assert ghost_map.shape == SIZE and ghost_map[44:100, 30:102].sum() > 0.8 * ghost_map.sum()


def test_ghosting_is_zero_when_the_ends_are_the_same_image():
    frame, _ = scene(40)
    value, _ = ghosting(np.repeat(frame[None], 3, axis=0), frame, frame, FlowProbe())
    assert value == 0.0


def test_warp_error_prefers_moving_content_over_fading_it():
    xs = np.linspace(40, 56, 6)
    moving = np.stack([scene(x)[0] for x in xs])  # (6, H, W, 3)
    fading = np.concatenate([moving[:1], crossfade(moving[:1], moving[-1:], 4), moving[-1:]])
    probe = FlowProbe()
    assert warp_error(moving, probe) < 0.5 * warp_error(fading, probe)


def test_bleed_is_zero_for_an_untouched_person_and_one_where_the_plate_shows_through():
    frame, mask = scene(40)
    plate = backdrop()
    window = context(mask, mask, plate)
    untouched = np.repeat(frame[None], 4, axis=0)
    assert bleed(untouched, frame, frame, window) == pytest.approx(0.0, abs=1e-3)
    assert bleed(np.repeat(plate[None], 4, axis=0), frame, frame, window) == pytest.approx(1.0, abs=1e-3)
    half = ((frame.astype(np.float32) + plate) / 2).round().astype(np.uint8)
    assert bleed(half[None], frame, frame, window) == pytest.approx(0.5, abs=0.02)
    assert np.isnan(bleed(untouched, frame, frame, context(mask, mask, None)))


def face_pose() -> np.ndarray:
    pose = np.full((33, 2), np.nan, np.float32)
    pose[:11] = np.array([[70, 60], [90, 80]], np.float32)[np.arange(11) % 2] / np.array([SIZE[1], SIZE[0]])
    return pose


def sharp_frame() -> tuple[np.ndarray, np.ndarray]:
    """(frame, mask): pixel-level noise, so that any blur lowers the Laplacian everywhere."""
    frame = np.random.default_rng(11).integers(0, 256, (*SIZE, 3), dtype=np.uint8)
    return frame, np.ones(SIZE, np.float32)


def test_face_sharpness_is_one_for_the_real_frame_and_lower_when_blurred():
    frame, mask = sharp_frame()
    window = context(mask, mask, pose=face_pose())
    assert face_sharpness(frame[None], frame, frame, window) == pytest.approx(1.0)
    blurred = cv2.GaussianBlur(frame, (0, 0), 2.0)[None]
    assert face_sharpness(blurred, frame, frame, window) < 0.5
    assert np.isnan(face_sharpness(frame[None], frame, frame, context(mask, mask)))


def test_hand_clarity_ratio_uses_hands_present_at_both_ends():
    frame, mask = sharp_frame()
    hands = np.array([[60 / 192, 48 / 144, 100 / 192, 96 / 144], [np.nan] * 4], np.float32)
    window = context(mask, mask, hands=hands)
    assert hand_clarity_ratio(frame[None], frame, frame, window) == pytest.approx(1.0)
    blurred = cv2.GaussianBlur(frame, (0, 0), 2.0)[None]
    assert hand_clarity_ratio(blurred, frame, frame, window) < 0.5
    assert np.isnan(hand_clarity_ratio(frame[None], frame, frame, context(mask, mask)))
