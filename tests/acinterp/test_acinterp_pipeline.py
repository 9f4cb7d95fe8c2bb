"""ACInterpPipeline end to end on a tiny random model."""
from __future__ import annotations

import dataclasses
import time

import numpy as np
import pytest
import torch
from acinterp_testkit import moving_scene

from tango.acinterp.pipeline import ACInterpPipeline, clip_pixels, resize_frames
from tango.runtime.errors import InvalidArgument


@pytest.fixture(scope="module")
def ends():
    """Two 48x64 (non-square) boundary stretches of a panning scene, 10 frames apart."""
    return moving_scene(4, 48, 64, start=0), moving_scene(4, 48, 64, start=14)


def test_generates_n_frames_at_the_input_size_deterministically(tiny_pipeline, ends):
    before, after = ends[0][-2:], ends[1][:2]
    began = time.process_time()
    frames = tiny_pipeline(before, after, 8)
    per_frame = (time.process_time() - began) / 8
    assert frames.shape == (8, 48, 64, 3) and frames.dtype == np.uint8
    assert frames.std() > 1.0  # an image, not a constant
    assert np.array_equal(frames, tiny_pipeline(before, after, 8))  # same seed, same frames
    assert not np.array_equal(frames, tiny_pipeline(before, after, 8, seed=1))
    print(f"tiny ACInterp: {per_frame * 1000:.0f} ms CPU per generated frame")


def test_keeps_the_last_and_first_k_context_frames(tiny_pipeline, ends):
    before, after = ends
    assert tiny_pipeline.config.context_frames == 2
    trimmed = tiny_pipeline(before[-2:], after[:2], 3)
    assert np.array_equal(tiny_pipeline(before, after, 3), trimmed)  # extra context beyond k is ignored
    single = tiny_pipeline(before[-1:], after[:1], 3)  # fewer than k still works (clip start / end)
    assert single.shape == (3, 48, 64, 3)


def test_guidance_and_steps_change_the_result(tiny_pipeline, ends):
    before, after = ends[0][-2:], ends[1][:2]
    base = tiny_pipeline(before, after, 2)
    assert not np.array_equal(base, tiny_pipeline(before, after, 2, guidance_scale=1.0))
    assert not np.array_equal(base, tiny_pipeline(before, after, 2, num_inference_steps=3))


def test_pose_features_reach_the_unet(tiny_config, ends):
    """A trained (non-zero) PoseGuider changes the frames; the random one's zero conv_out does not."""
    from tango.acinterp.networks import random_networks

    networks = random_networks(tiny_config, seed=0)
    pipeline = ACInterpPipeline(tiny_config, networks, observe=lambda frames: fake_observations(frames, person=True))
    before, after = ends[0][-2:], ends[1][:2]
    plain = pipeline(before, after, 2)
    torch.nn.init.normal_(networks.pose_guider.conv_out.weight, std=0.5)
    assert not np.array_equal(plain, pipeline(before, after, 2))


def fake_observations(frames, person: bool):
    from tango.perception.models import FrameObservation, PoseObservation

    rng = np.random.default_rng(len(frames))
    pose = PoseObservation(world=np.zeros((33, 3), np.float32), visibility=np.ones(33, np.float32),
                           image=rng.uniform(0.2, 0.8, (33, 2)).astype(np.float32)) if person else None
    return [FrameObservation(pose=pose, hands=(), body_probability=np.zeros(f.shape[:2], np.float32)) for f in frames]


def test_rejects_bad_input(tiny_pipeline, ends):
    before, after = ends
    with pytest.raises(InvalidArgument) as too_long:
        tiny_pipeline(before, after, tiny_pipeline.config.max_clip_frames)  # 2 + n + 2 > 32 positions
    assert too_long.value.reason == "BAD_TRANSITION_INPUT"
    with pytest.raises(InvalidArgument):
        tiny_pipeline(before, after[:, :40], 4)  # sizes differ
    with pytest.raises(InvalidArgument):
        tiny_pipeline(before.astype(np.float32), after, 4)
    with pytest.raises(InvalidArgument):
        tiny_pipeline(before, after, 0)


def test_image_helpers():
    frames = moving_scene(2, 48, 64)
    assert resize_frames(frames, 24, 32).shape == (2, 24, 32, 3)
    assert resize_frames(frames, 48, 64) is not None and np.array_equal(resize_frames(frames, 48, 64), frames)
    pixels = clip_pixels(frames, 32, torch.device("cpu"), torch.float32)
    assert pixels.shape == (2, 3, 32, 32) and -2.0 < float(pixels.min()) < float(pixels.max()) < 2.7


def test_config_seed_is_the_default_seed(tiny_config, tiny_pipeline, ends):
    before, after = ends[0][-2:], ends[1][:2]
    other = ACInterpPipeline(dataclasses.replace(tiny_config, seed=1), tiny_pipeline.networks)
    assert np.array_equal(other(before, after, 2), tiny_pipeline(before, after, 2, seed=1))
