"""tango.lipsync.crossfade and the jitter measure: a new run of mouths fades in from the previous run's
continuation, only inside the mouth; the eval's jitter sees pops and nothing else."""
from __future__ import annotations

import numpy as np
from test_composite import _face_3d
from test_mouth_plan import _speakers

from tango.lipsync.composite import composite_mouth
from tango.lipsync.crossfade import blend_mouths, fade_schedule
from tango.lipsync.evaluate import jitter
from tango.lipsync.mouths import MouthCompositor, MouthPlan

NEXT = np.r_[np.arange(1, 10), -1, np.arange(11, 20), -1]  # two videos of 10 frames: states 0-9, 10-19


def test_fade_schedule_blends_the_previous_runs_continuation():
    path = np.array([0, 1, 2, 15, 16, 17, 17, 18, 5, 12])
    usable = np.ones(20, bool)
    state, weight = fade_schedule(path, NEXT, usable, frames=2)
    # jump 2 -> 15 at 3: frames 3, 4 show 15, 16 with 3, 4 (the continuation of 0, 1, 2) at 2/3, 1/3;
    # the hold 17, 17 is no jump; jump 18 -> 5 at 8 (run of one frame), then 5 -> 12 at 9 restarts the fade
    np.testing.assert_array_equal(state, [-1, -1, -1, 3, 4, -1, -1, -1, 19, 6])
    np.testing.assert_allclose(weight, [0, 0, 0, 2 / 3, 1 / 3, 0, 0, 0, 2 / 3, 2 / 3], atol=1e-6)
    one, w_one = fade_schedule(path, NEXT, usable, frames=1)
    np.testing.assert_array_equal(one, [-1, -1, -1, 3, -1, -1, -1, -1, 19, 6])
    np.testing.assert_allclose(w_one[one >= 0], 0.5)
    assert (fade_schedule(path, NEXT, usable, frames=0)[0] == -1).all()


def test_fade_stops_at_a_videos_end_and_at_unusable_frames():
    path = np.array([8, 9, 3, 4, 5])  # 9 is the end of video 0: its continuation does not exist
    state, _ = fade_schedule(path, NEXT, np.ones(20, bool), frames=2)
    assert (state == -1).all()
    usable = np.ones(20, bool)
    usable[13] = False
    state, _ = fade_schedule(np.array([11, 12, 4, 5, 6]), NEXT, usable, frames=2)
    np.testing.assert_array_equal(state, [-1, -1, -1, 14, -1])


def test_blend_changes_only_what_either_composite_changed():
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 256, (40, 50, 3), dtype=np.uint8)
    primary, secondary = frame.copy(), frame.copy()
    primary[10:20, 10:30] = 200
    secondary[15:25, 20:40] = 100
    out = blend_mouths(frame, primary, secondary, 0.25)
    touched = np.zeros((40, 50), bool)
    touched[10:20, 10:30] = touched[15:25, 20:40] = True
    np.testing.assert_array_equal(out[~touched], frame[~touched])
    assert (out[17, 25] == 175).all()  # both: 0.75 * 200 + 0.25 * 100
    np.testing.assert_array_equal(out[12, 12], np.rint(0.75 * 200 + 0.25 * frame[12, 12].astype(float)))


def test_compositor_crossfades_inside_the_mouth_only():
    speakers = _speakers(4)
    width, height = 320, 240
    size = np.array([width, height, width], np.float32)
    face = _face_3d() + np.array([160.0, 110.0, 0.0])
    speakers.landmarks[:] = (face / size).astype(np.float32)
    frame = np.full((height, width, 3), 90, np.uint8)
    frame[::7] = 60  # texture, so that "unchanged" means bit-identical, not merely equal to a flat grey
    bright, dark = frame.copy(), frame.copy()
    bright[130:150, 140:180], dark[130:150, 140:180] = 250, 20
    mouths = {1: bright, 2: dark}
    plan = MouthPlan(mouth=np.array([2]), frame_state=np.array([0]), face=speakers.landmarks[:1].copy(),
                     head_pose=speakers.bank.head_pose[:1].copy(), left={}, source="model", jumps=0, seconds=0.0,
                     fade_state=np.array([1]), fade_weight=np.array([0.5], np.float32))
    compositor = MouthCompositor(speakers, plan, lambda video, wanted: {i: mouths[i] for i in wanted},
                                 [np.arange(4)])
    out = compositor(0, frame)
    only_dark = composite_mouth(frame, face, dark, face)
    only_bright = composite_mouth(frame, face, bright, face)
    inside = np.any((only_dark != frame) | (only_bright != frame), axis=-1)
    np.testing.assert_array_equal(out[~inside], frame[~inside])
    np.testing.assert_array_equal(out, blend_mouths(frame, only_dark, only_bright, 0.5))
    low, high, mid = int(only_dark[140, 160, 0]), int(only_bright[140, 160, 0]), int(out[140, 160, 0])
    assert high - low > 100 and abs(mid - (low + high) / 2) <= 1  # half way between the two mouths
    assert compositor.changed == 1 and compositor.report()["frames_crossfaded"] == 1


def test_jitter_sees_pops_not_steady_motion():
    lips = np.zeros((12, 40, 3))
    follows = np.r_[False, np.ones(11, bool)]
    assert jitter(lips, follows) == 0.0
    steady = lips + np.arange(12)[:, None, None] * np.array([0.01, 0.02, 0.0])
    assert abs(jitter(steady, follows)) < 1e-12 and abs(jitter(steady, follows, order=1) - np.hypot(0.01, 0.02)) < 1e-12
    popping = lips.copy()
    popping[::2, :, 1] = 0.05  # open, closed, open, ...
    assert abs(jitter(popping, follows) - 0.1) < 1e-12
    # a cut between shots is no pop: only stretches of following frames count
    cut = np.concatenate([np.zeros((6, 40, 3)), np.full((6, 40, 3), 1.0)])
    assert jitter(cut, follows) > 0.1 and jitter(cut, np.r_[False, np.ones(5, bool), False, np.ones(5, bool)]) == 0.0
