"""A live stream that falls behind draws its frames a rung lower and scales them up to its picture: the encoded
stream keeps one size from its first frame to its last (a player or an RTMP ingest never sees it change), the
segments say the rows they were drawn at, and a segment drawn at the picture's own height is untouched."""
from __future__ import annotations

import json
import subprocess

import numpy as np

from tango.media.pcm import PcmFormat
from tango.render.frame_bank import FrameBank
from tango.render.live import FrameDrawer, LiveOptions, LiveRenderSession, LiveTimeline, Step
from tango.render.live_ladder import HeightLadder

FPS, RATE, NODES, SOURCE = 30, 16000, 120, (144, 256)


def _session(clock=lambda: 0.0) -> tuple[LiveRenderSession, np.ndarray]:
    rng = np.random.default_rng(3)
    frames = rng.integers(0, 256, (NODES * 4, *SOURCE, 3), dtype=np.uint8)  # (F, H, W, 3)
    options = LiveOptions(height=SOURCE[0], segment_frames=15, transition_frames=4, max_transition_frames=4)
    timeline = LiveTimeline(np.zeros(NODES, np.int32), (np.arange(NODES) * 4).astype(np.int32),
                            (np.arange(NODES * 4, dtype=np.int32),), options)
    _, load = HeightLadder((144,), budget=0.45, floor=72).open(*SOURCE)

    def hold(before, after, count, window):
        return np.repeat(before[-1:], count, axis=0)

    drawer = FrameDrawer(FrameBank((frames,)), hold)
    return LiveRenderSession(timeline, drawer, PcmFormat(RATE, 1), FPS, options, [], load, clock=clock), frames


def _late(session: LiveRenderSession, now: list[float]) -> list:
    """4 s of speech and its steps arrive at once (`now` says when the segments are drawn), then the end."""
    for _ in range(8):
        session.add_audio(np.zeros(RATE // 2, "<i2").tobytes())
    session.add_steps([Step(t, False, 0.0) for t in range(NODES)], 1.0)
    now[0] = 3.0
    return session.ready() + session.finish()


def test_a_late_stream_draws_lower_and_keeps_its_picture_size(tmp_path):
    now = [0.0]
    session, frames = _session(lambda: now[0])
    with session:
        segments = _late(session, now)  # 3 s after the first audio: a backlog of segments already due
        init = session.init_segment
    drawn = [s.drawn_height for s in segments]
    assert drawn[0] == 72 and 144 not in drawn[:3]  # behind from the first segment on: the floor
    out = tmp_path / "live.mp4"
    out.write_bytes(init + b"".join(s.media.data for s in segments))
    probe = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "frame=width,height",
                            "-of", "json", str(out)], capture_output=True, text=True, check=True)
    sizes = {(f["width"], f["height"]) for f in json.loads(probe.stdout)["frames"]}
    assert sizes == {(256, 144)}
    assert sum(s.media.frames for s in segments) == 4 * FPS


def test_frames_drawn_on_a_lower_rung_are_scaled_up_and_those_at_the_picture_height_are_the_banks_own():
    session, frames = _session()
    session.add_steps([Step(t, False, 0.0) for t in range(4)], 1.0)
    schedule = session.timeline.schedule()
    session.drawer.draw_at(144)
    own = session.drawer.frames(schedule, 0, 3)
    assert np.array_equal(own, frames[:3])
    session.drawer.draw_at(72)
    low = session.drawer.frames(schedule, 0, 3)
    assert low.shape == (3, 72, 128, 3)
    assert session._to_picture(low).shape == (3, 144, 256, 3)
    session.close()


def test_a_source_faster_than_real_time_is_not_behind():
    now = [0.0]
    session, _ = _session(lambda: now[0])
    with session:
        for _ in range(8):
            session.add_audio(np.zeros(RATE // 2, "<i2").tobytes())
        session.add_steps([Step(t, False, 0.0) for t in range(NODES)], 1.0)
        segments = session.ready()  # 4 s of speech in no time: ahead of real time, nothing is due yet
    assert {s.drawn_height for s in segments} == {144}
