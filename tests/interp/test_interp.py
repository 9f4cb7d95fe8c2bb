"""Transition interpolators (flow, crossfade), their metrics and the gap evaluation on real video."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from support import shared_media

from tango.interp.crossfade import crossfade
from tango.interp.evaluate import evaluate_interpolation, gap_starts
from tango.interp.flow import FlowInterpolator, FlowInterpolatorConfig
from tango.interp.metrics import PSNR_CAP_DB, l1, psnr, ssim
from tango.interp.transition import TransitionInterpolator
from tango.runtime.errors import InvalidArgument


def female_video() -> Path:
    return shared_media("video/tango_female_test_V1_22s.mp4")


def textured_scene(shift_x: float, size=(144, 192)) -> np.ndarray:
    """(H, W, 3) uint8: a smooth random texture with a textured 48x48 patch at x = 40 + shift_x."""
    rng = np.random.default_rng(7)
    noise = cv2.GaussianBlur(rng.uniform(0, 255, size).astype(np.float32), (0, 0), 3)
    image = np.repeat(cv2.normalize(noise, None, 30, 200, cv2.NORM_MINMAX)[..., None], 3, axis=2)
    patch = cv2.GaussianBlur(rng.uniform(0, 255, (48, 48)).astype(np.float32), (0, 0), 2)
    patch = cv2.normalize(patch, None, 0, 255, cv2.NORM_MINMAX)
    x0 = 40 + int(round(shift_x))
    image[48:96, x0:x0 + 48] = np.stack([patch, 255 - patch, patch * 0.5], axis=-1)
    return image.astype(np.uint8)


@pytest.mark.parametrize("method", ["flow", "crossfade"])
def test_shapes_and_dtype(method):
    before = np.stack([textured_scene(0), textured_scene(4)])
    after = np.stack([textured_scene(20), textured_scene(24)])
    frames = TransitionInterpolator().interpolate(before, after, 5, method)
    assert frames.shape == (5, 144, 192, 3) and frames.dtype == np.uint8


@pytest.mark.parametrize("method", ["flow", "crossfade"])
def test_identical_ends_give_identical_frames(method):
    frame = textured_scene(0)
    before, after = np.stack([textured_scene(-3), frame]), np.stack([frame, textured_scene(3)])
    frames = TransitionInterpolator().interpolate(before, after, 4, method)
    assert all(np.array_equal(f, frame) for f in frames)


def test_flow_engine_on_identical_images_is_the_identity():
    # bypass the exact-equality shortcut: one grey level of difference keeps the flow path
    frame = textured_scene(0)
    nudged = frame.copy()
    nudged[0, 0, 0] ^= 1
    frames = FlowInterpolator(FlowInterpolatorConfig())(frame[None], nudged[None], 3)
    assert np.abs(frames.astype(int) - frame.astype(int)).max() <= 1


def test_flow_tracks_a_moving_object_better_than_crossfade():
    # 8 px in 192 (as 53 px in a 1280-wide frame); far larger steps exceed DIS's pyramid at this size
    before, after = textured_scene(0)[None], textured_scene(8)[None]
    truth = textured_scene(4)
    flow = TransitionInterpolator().interpolate(before, after, 1, "flow")[0]
    fade = crossfade(before, after, 1)[0]
    assert psnr(truth, flow) > psnr(truth, fade) + 3.0
    assert ssim(truth, flow) > ssim(truth, fade)


def test_crossfade_values_are_linear():
    before = np.zeros((1, 8, 8, 3), np.uint8)
    after = np.full((1, 8, 8, 3), 255, np.uint8)
    frames = crossfade(before, after, 3)
    assert frames[:, 0, 0, 0].tolist() == [64, 128, 191]


@pytest.mark.parametrize("change", ["dtype", "size", "num_frames", "method", "channels"])
def test_bad_inputs_are_rejected(change):
    before, after = np.zeros((2, 16, 16, 3), np.uint8), np.zeros((2, 16, 16, 3), np.uint8)
    num_frames, method = 4, "flow"
    if change == "dtype":
        before = before.astype(np.float32)
    elif change == "size":
        after = np.zeros((2, 16, 20, 3), np.uint8)
    elif change == "num_frames":
        num_frames = 0
    elif change == "method":
        method = "magic"
    else:
        before = np.zeros((2, 16, 16, 4), np.uint8)
    with pytest.raises(InvalidArgument):
        TransitionInterpolator().interpolate(before, after, num_frames, method)


def test_metrics_on_known_images():
    image = textured_scene(0)
    assert psnr(image, image) == PSNR_CAP_DB and ssim(image, image) == pytest.approx(1.0) and l1(image, image) == 0
    brighter = np.clip(image.astype(int) + 10, 0, 255).astype(np.uint8)
    assert 25 < psnr(image, brighter) < 30.2  # MSE <= 100 -> PSNR >= 28.1
    assert l1(image, brighter) == pytest.approx(10 / 255, abs=2e-3)
    assert ssim(image, textured_scene(30)) < ssim(image, brighter) < 1.0


def test_gap_windows_do_not_overlap():
    starts = gap_starts(665, gaps=30, gap_len=8, k=2, seed=0)
    assert starts.shape == (30,) and np.all(np.diff(starts) >= 12)
    assert starts[0] >= 2 and starts[-1] + 8 + 2 <= 665
    with pytest.raises(InvalidArgument):
        gap_starts(100, gaps=30, gap_len=8, k=2, seed=0)


def test_flow_beats_crossfade_on_real_gaps():
    video = female_video()
    flow = evaluate_interpolation(video, "flow", gaps=6, max_side=320)
    fade = evaluate_interpolation(video, "crossfade", gaps=6, max_side=320)
    assert flow["frames_generated"] == 48 and flow["width"] == 320
    assert flow["psnr"] > fade["psnr"] and flow["ssim"] > fade["ssim"] and flow["l1"] < fade["l1"]
    assert 20 < fade["psnr"] < 60 and 0.5 < fade["ssim"] < 1.0


@pytest.mark.slow
def test_flow_beats_crossfade_on_30_real_gaps():
    video = female_video()
    flow = evaluate_interpolation(video, "flow", gaps=30, max_side=640)
    fade = evaluate_interpolation(video, "crossfade", gaps=30, max_side=640)
    assert flow["frames_generated"] == 240
    assert flow["psnr"] > fade["psnr"] + 0.5 and flow["ssim"] > fade["ssim"]
