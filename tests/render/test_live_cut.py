"""A transition window across a segment's end does not hold the whole segment back: the segment ends where the
window starts as soon as everything before it is final, and the next segment takes the window. The frames are
those of the uncut stream; only where the segments are cut differs."""
from __future__ import annotations

import numpy as np

from tango.media.pcm import PcmFormat
from tango.render.frame_bank import FrameBank
from tango.render.live import FrameDrawer, LiveOptions, LiveRenderSession, LiveTimeline, Step

FPS, RATE, NODES, SOURCE = 30, 16000, 40, (72, 96)
# a jump at step 4: junction at frame 16, a 4-frame window [14, 18) across the first segment's end (15), drawn
# from 2 context frames on each side: it is final once the horizon (committed frames - 3) reaches 20
PATH = [Step(t, False, 0.0) for t in range(4)] + [Step(20 + t, t == 0, 1.0 if t == 0 else 0.0) for t in range(12)]


def _session() -> tuple[LiveRenderSession, list]:
    rng = np.random.default_rng(5)
    frames = rng.integers(0, 256, (NODES * 4, *SOURCE, 3), dtype=np.uint8)
    options = LiveOptions(height=SOURCE[0], segment_frames=15, transition_frames=4, max_transition_frames=4,
                          context_frames=2, min_cut_frames=5)
    timeline = LiveTimeline(np.zeros(NODES, np.int32), (np.arange(NODES) * 4).astype(np.int32),
                            (np.arange(NODES * 4, dtype=np.int32),), options)
    windows = []

    def hold(before, after, count, window):
        windows.append((window.start, window.end))
        return np.repeat(before[-1:], count, axis=0)

    session = LiveRenderSession(timeline, FrameDrawer(FrameBank((frames,)), hold), PcmFormat(RATE, 1), FPS, options, [])
    for _ in range(4):  # 2 s: the speech runs ahead of the committed path
        session.add_audio(np.zeros(RATE // 2, "<i2").tobytes())
    return session, windows


def _spans(segments) -> list[tuple[int, int]]:
    return [(round(s.media.start_s * FPS), round(s.media.start_s * FPS) + s.media.frames) for s in segments]


def test_a_segment_ends_where_an_open_window_starts_and_the_next_takes_the_window():
    session, windows = _session()
    with session:
        session.add_steps(PATH[:5], 1.0)  # 20 frames committed: the horizon (17) covers the first segment
        first = session.ready()
        assert _spans(first) == [(0, 14)] and windows == []  # cut before the window, which is still open
        session.add_steps(PATH[5:6], 1.0)  # horizon 21: the window is final
        assert session.ready() == [] and windows == [(14, 18)]  # drawn ahead; its segment waits for 14 + 15 frames
        session.add_steps(PATH[6:9], 1.0)  # 36 committed, horizon 33
        second = session.ready()
        assert _spans(second) == [(14, 29)] and second[0].generated_frames == 4


def test_a_stream_whose_steps_arrive_together_is_cut_on_the_whole_segment_grid():
    session, _ = _session()
    with session:
        session.add_steps(PATH, 1.0)
        assert _spans(session.ready()) == [(0, 15), (15, 30), (30, 45), (45, 60)]  # the window was final: nothing to cut
