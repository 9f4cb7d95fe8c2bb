"""Input poses: linear blends between the boundary poses, skeleton rasterisation, MediaPipe detection."""
from __future__ import annotations

import numpy as np
import pytest
from acinterp_testkit import moving_scene
from support import shared_media

from tango.acinterp.config import PoseSettings
from tango.acinterp.pose_render import (
    POSE_CONNECTIONS,
    Pose2D,
    blend_poses,
    observe_video,
    pose_of,
    render_pose,
    render_poses,
    transition_poses,
)


def random_pose(seed: int, visible: bool = True) -> Pose2D:
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0.1, 0.9, (33, 2)).astype(np.float32)
    return Pose2D(xy=xy, visibility=np.full(33, 1.0 if visible else 0.0, np.float32))


def test_blend_at_half_is_the_midpoint_and_ends_are_exact():
    first, last = random_pose(0), random_pose(1)
    middle = blend_poses(first, last, 0.5)
    np.testing.assert_allclose(middle.xy, (first.xy + last.xy) / 2, atol=1e-6)
    np.testing.assert_array_equal(blend_poses(first, last, 0.0).xy, first.xy)
    np.testing.assert_allclose(blend_poses(first, last, 1.0).xy, last.xy, atol=1e-7)
    quarter = blend_poses(first, random_pose(1, visible=False), 0.25)
    np.testing.assert_allclose(quarter.visibility, 0.75)
    assert blend_poses(first, None, 0.5) is None and blend_poses(None, last, 0.5) is None


def test_transition_poses_keep_real_poses_and_blend_between():
    before = [random_pose(10), random_pose(11)]
    after = [random_pose(20), None]
    poses = transition_poses(before, after, 3)
    assert len(poses) == 2 + 3 + 2
    assert poses[0] is before[0] and poses[1] is before[1] and poses[5] is after[0] and poses[6] is None
    for i in (1, 2, 3):  # generated frame i at tau = i / 4 between before[-1] and after[0]
        tau = i / 4
        np.testing.assert_allclose(poses[1 + i].xy, (1 - tau) * before[1].xy + tau * after[0].xy, atol=1e-6)
    assert transition_poses([None], after, 2)[1:3] == [None, None]  # no person at one end: empty images


def test_render_draws_visible_limbs_only():
    xy = np.full((33, 2), 0.5, np.float32)
    xy[11], xy[12] = (0.2, 0.5), (0.8, 0.5)  # shoulders: a horizontal line across the middle
    visibility = np.zeros(33, np.float32)
    visibility[[11, 12]] = 1.0
    image = render_pose(Pose2D(xy=xy, visibility=visibility), 40, 60, PoseSettings(line_px=0.03))
    assert image.shape == (40, 60, 3) and image.dtype == np.uint8
    lit = image.max(axis=-1) > 0
    assert lit[20, 15:45].all()  # along the shoulder line
    assert not lit[:10].any() and not lit[30:].any()  # nothing else drawn
    visibility[12] = 0.2  # below min_visibility: the limb disappears, the left joint stays a dot
    dot = render_pose(Pose2D(xy=xy, visibility=visibility), 40, 60, PoseSettings(line_px=0.03)).max(axis=-1) > 0
    assert dot[20, 12] and not dot[20, 30:].any()


def test_no_person_gives_an_empty_image():
    images = render_poses([None, random_pose(3)], 32, 32)
    assert images.shape == (2, 32, 32, 3) and not images[0].any() and images[1].any()


def test_connections_are_mediapipes():
    mp_pose = pytest.importorskip("mediapipe.python.solutions.pose")
    assert set(POSE_CONNECTIONS) == {tuple(sorted(edge)) for edge in mp_pose.POSE_CONNECTIONS}
    assert len(POSE_CONNECTIONS) == 35


def test_mediapipe_finds_the_speaker_and_not_a_pattern():
    from tango.media.video import read_frames

    frames = read_frames(shared_media("video/tango_speaker7.mp4"), [0, 1])
    speaker = np.stack([frames[0], frames[1]])
    observations = observe_video(speaker)
    pose = pose_of(observations[-1])
    assert pose is not None and pose.xy.shape == (33, 2)
    assert 0.0 < pose.xy[0, 1] < pose.xy[11, 1] < 1.0  # nose above the shoulder, inside the frame
    assert observations[-1].body_probability.shape == speaker.shape[1:3]
    height, width = speaker.shape[1:3]
    assert render_pose(pose, height, width).any()
    empty = [pose_of(o) for o in observe_video(moving_scene(2))]
    assert empty == [None, None]
