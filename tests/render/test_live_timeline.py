"""Live rendering's timeline: a frame declared final while the path is still growing is exactly the frame of the
whole path's schedule (same source frame, same window, same context), whatever batches the steps arrive in."""
from __future__ import annotations

import numpy as np
import pytest

from tango.render.frame_bank import FrameBank
from tango.render.live import FrameDrawer, LiveOptions, LiveTimeline, Step
from tango.render.renderer import Window
from tango.render.schedule import FrameSchedule

NODES, FRAMES_PER_VIDEO = 60, 400


def _timeline(options: LiveOptions) -> LiveTimeline:
    node_video = np.zeros(NODES, np.int32)
    node_start = (np.arange(NODES) * 4).astype(np.int32)
    return LiveTimeline(node_video, node_start, (np.arange(FRAMES_PER_VIDEO, dtype=np.int32),), options)


def _random_path(rng: np.random.Generator, steps: int) -> list[Step]:
    path, node = [], int(rng.integers(NODES))
    for t in range(steps):
        jump = t > 0 and (rng.random() < 0.2 or node + 1 >= NODES)
        node = int(rng.integers(NODES)) if jump else (node + 1 if t else node)
        path.append(Step(node, jump, float(rng.uniform(0.2, 3.0)) if jump else 0.0))
    return path


def _window_at(schedule: FrameSchedule, n: int) -> tuple[int, int, int] | None:
    index = int(np.searchsorted(schedule.windows[:, 1], n, side="right"))
    if index < len(schedule.windows) and schedule.windows[index, 0] <= n:
        return tuple(int(v) for v in schedule.windows[index]) + (int(schedule.context[index]),)
    return None


@pytest.mark.parametrize("seed", range(6))
def test_final_frames_never_change_as_steps_arrive(seed):
    rng = np.random.default_rng(seed)
    options = LiveOptions(transition_frames=6, max_transition_frames=8, context_frames=2)
    path = _random_path(rng, 120)
    whole = _timeline(options)
    whole.commit(path, typical_difficulty=1.0)
    full = whole.schedule()
    growing, committed, final_before = _timeline(options), 0, 0
    while committed < len(path):
        batch = int(rng.integers(1, 6))
        growing.commit(path[committed:committed + batch], typical_difficulty=1.0)
        committed += batch
        partial, final = growing.schedule(), growing.final_frames()
        assert final >= final_before  # what was final stays final
        final_before = final
        for n in range(final):
            assert (partial.video[n], partial.source[n], partial.generated[n]) == \
                   (full.video[n], full.source[n], full.generated[n]), n
            assert _window_at(partial, n) == _window_at(full, n), n
    assert final_before >= 4 * len(path) - options.max_transition_frames - options.context_frames - 4


def test_drawer_draws_each_window_once_from_its_context():
    frames = np.stack([np.full((8, 10, 3), i % 256, np.uint8) for i in range(FRAMES_PER_VIDEO)])
    calls = []

    def interpolate(before, after, count, window: Window):
        calls.append((window.start, window.end, before[:, 0, 0, 0].tolist(), after[:, 0, 0, 0].tolist()))
        return np.full((count, *before.shape[1:]), 255, np.uint8)

    options = LiveOptions(transition_frames=4, max_transition_frames=4, context_frames=2)
    timeline = _timeline(options)
    timeline.commit([Step(0, False, 0.0), Step(1, False, 0.0), Step(10, True, 1.0), Step(11, False, 0.0),
                     Step(12, False, 0.0)], typical_difficulty=1.0)
    drawer = FrameDrawer(FrameBank((frames,)), interpolate)
    schedule = timeline.schedule()
    out = np.concatenate([drawer.frames(schedule, 0, 7), drawer.frames(schedule, 7, 20)])  # a window split by a cut
    shown = out[:, 0, 0, 0].tolist()
    assert calls == [(6, 10, [4, 5], [42, 43])]  # junction at frame 8: window [6, 10), context 2 each side
    assert shown[:6] == [0, 1, 2, 3, 4, 5] and shown[6:10] == [255] * 4 and shown[10:12] == [42, 43]
    assert drawer.generated == 4
