"""BackgroundGuider: the homography offset flow with the person masked out."""
from __future__ import annotations

import cv2
import numpy as np
import torch
from acinterp_testkit import texture

from tango.acinterp.background_guider import (
    BackgroundGuider,
    background_mask,
    estimate_background_homography,
    flow_images,
    offset_at,
)
from tango.acinterp.config import BackgroundSettings
from tango.acinterp.guider import GuiderConfig

SIZE = 160
PERSON = (slice(40, 130), slice(55, 105))  # rows, cols of the "person" in both frames


def camera_move() -> np.ndarray:
    """A small zoom about the centre plus a pan of (6, -4) px: first-frame pixels -> last-frame pixels."""
    centre = SIZE / 2
    zoom = np.array([[1.03, 0.01, 0], [-0.01, 1.03, 0], [0, 0, 1]])
    to_centre = np.array([[1, 0, -centre], [0, 1, -centre], [0, 0, 1]])
    back = np.array([[1, 0, centre + 6], [0, 1, centre - 4], [0, 0, 1]])
    return back @ zoom @ to_centre


def person_probability(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A person region with its own (different per frame) texture and its selfie-segmentation probability."""
    probability = np.zeros((SIZE, SIZE), np.float32)
    probability[PERSON] = 1.0
    return texture(SIZE, SIZE, seed), probability


def test_recovers_a_known_camera_move_despite_a_moving_person():
    truth = camera_move()
    first = texture(SIZE, SIZE, seed=1)
    last = cv2.warpPerspective(first, truth, (SIZE, SIZE), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    person0, probability = person_probability(2)
    person1, _ = person_probability(3)
    first[PERSON], last[PERSON] = person0[PERSON], person1[PERSON]  # the person changes: no match there
    settings = BackgroundSettings()
    mask0 = background_mask(probability, SIZE, SIZE, settings)
    mask1 = background_mask(probability, SIZE, SIZE, settings)
    assert mask0[PERSON].max() == 0 and mask0[0, 0] == 255  # person (dilated) excluded
    homography, inliers = estimate_background_homography(first, last, mask0, mask1, settings)
    assert inliers >= settings.min_matches
    grid = np.stack(np.meshgrid(np.linspace(5, SIZE - 5, 9), np.linspace(5, SIZE - 5, 9)), -1).reshape(-1, 2)
    error = np.abs(offset_at(homography, grid) - offset_at(truth, grid)).max()
    assert error < 1.0, f"offsets off by {error:.2f} px"


def test_too_few_matches_is_the_identity():
    flat = np.full((64, 64, 3), 128, np.uint8)
    homography, inliers = estimate_background_homography(flat, flat, np.full((64, 64), 255, np.uint8),
                                                         np.full((64, 64), 255, np.uint8))
    assert inliers == 0 and np.array_equal(homography, np.eye(3))
    first = texture(64, 64, seed=4)
    everything_masked = np.zeros((64, 64), np.uint8)
    homography, inliers = estimate_background_homography(first, first, everything_masked, everything_masked)
    assert inliers == 0 and np.array_equal(homography, np.eye(3))
    assert not flow_images(homography, np.array([0.5, 1.0]), 16, 16).any()


def test_flow_images_scale_with_tau_and_clip_outside_the_gap():
    pan = np.array([[1, 0, 8.0], [0, 1, -4.0], [0, 0, 1]])
    images = flow_images(pan, np.array([-0.5, 0.0, 0.25, 1.0, 1.5], np.float32), 20, 40)
    assert images.shape == (5, 2, 20, 40) and images.dtype == np.float32
    np.testing.assert_allclose(images[3, 0], 8.0 / 40)  # x offset normalised by the width
    np.testing.assert_allclose(images[3, 1], -4.0 / 20)  # y by the height
    np.testing.assert_allclose(images[2], 0.25 * images[3], atol=1e-7)
    assert not images[0].any() and not images[1].any() and np.array_equal(images[4], images[3])


def test_background_guider_is_zero_at_start_and_downsamples_like_the_vae():
    guider = BackgroundGuider(GuiderConfig(in_channels=2, channels=(8, 16, 16), out_channels=32))
    flow = torch.randn(3, 2, 24, 40)
    out = guider(flow)
    assert out.shape == (3, 32, 6, 10) and not out.any()
    torch.nn.init.normal_(guider.conv_out.weight)
    assert guider(flow).abs().sum() > 0


def test_no_segmentation_means_everything_is_background():
    assert (background_mask(None, 10, 12) == 255).all()
