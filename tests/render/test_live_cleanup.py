"""A live render session that ends badly leaves nothing behind: a render (interpolator) error, garbage audio, an SRT
ingest that goes away mid-stream, an output whose close fails. Each runs a real session (x264 encoder, HLS folder,
SRT push to a real srt-live-transmit listener) and checks afterwards: no child process (ffmpeg reaped), no thread,
no open file descriptor, no hidden temporary file, the HLS playlist ended."""
from __future__ import annotations

import os
import time

import numpy as np
import pytest

from live_servers import SrtServer, child_pids, hidden_files, new_fds, open_fds, require_tool, thread_names
from tango.media.pcm import PcmFormat
from tango.render.frame_bank import FrameBank
from tango.render.live import FrameDrawer, LiveOptions, LiveRenderSession, LiveTimeline, Step
from tango.render.live_outputs import HlsWriter
from tango.render.live_srt import SrtPusher
from tango.runtime.errors import InvalidArgument, TangoError, Unavailable

FPS, RATE, NODES = 30, 16000, 80


class RenderFailure(TangoError):
    """What a failing interpolator (Triton down, a bad window) raises in the render loop."""


def _session(sinks, interpolate=None) -> LiveRenderSession:
    frames = np.stack([np.full((72, 128, 3), i % 256, np.uint8) for i in range(NODES * 4)])  # (F, H, W, 3)
    options = LiveOptions(height=72, segment_frames=15, transition_frames=4, max_transition_frames=4)
    timeline = LiveTimeline(np.zeros(NODES, np.int32), (np.arange(NODES) * 4).astype(np.int32),
                            (np.arange(NODES * 4, dtype=np.int32),), options)

    def blend(before, after, count, window):
        return np.repeat(before[-1:], count, axis=0)

    return LiveRenderSession(timeline, FrameDrawer(FrameBank((frames,)), interpolate or blend), PcmFormat(RATE, 1),
                             FPS, options, sinks)


def _path(steps: int, jump_every: int = 5) -> list[Step]:
    return [Step((7 * t) % NODES if t % jump_every == 0 and t else t % NODES, t % jump_every == 0 and t > 0, 1.0)
            for t in range(steps)]


def _feed(session: LiveRenderSession, seconds: float, pace_s: float = 0.0) -> None:
    """Audio and committed steps for `seconds`, a segment's worth at a time (as StreamRender receives them)."""
    path = _path(int(seconds * FPS / 4) + 4)
    for k in range(0, len(path), 4):  # 4 steps = 16 frames ~ 0.53 s
        session.add_audio(np.zeros(int(16 * RATE / FPS), "<i2").tobytes())
        session.add_steps(path[k:k + 4], 1.0)
        session.ready()
        time.sleep(pace_s)


@pytest.fixture
def before():
    """What the process holds before a test: its children, threads and open descriptors."""
    return child_pids(), thread_names(), open_fds()


def _nothing_left(before, *folders) -> None:
    children, threads, fds = before
    assert child_pids() - children == set()
    assert thread_names() - threads == set()
    assert new_fds(fds) == {}
    assert hidden_files(*folders) == []


def test_render_error_mid_stream_leaves_nothing(tmp_path, srt_server, before):
    calls = []

    def failing(before_frames, after, count, window):
        calls.append(window)
        if len(calls) > 2:
            raise RenderFailure("interpolator unavailable", reason="TRITON_UNAVAILABLE")
        return np.repeat(before_frames[-1:], count, axis=0)

    hls = HlsWriter(tmp_path / "hls", target_duration_s=0.5, parts_per_segment=4)
    session = _session([hls, SrtPusher(srt_server.url)], failing)
    with pytest.raises(RenderFailure):
        _feed(session, 6.0)
    session.close()
    assert (tmp_path / "hls" / "index.m3u8").read_text().rstrip().endswith("#EXT-X-ENDLIST")
    _nothing_left(before, tmp_path)
    srt_server.wait_recorded()  # the listener saw its caller leave cleanly


def test_garbage_audio_leaves_nothing(tmp_path, srt_server, before):
    session = _session([HlsWriter(tmp_path, target_duration_s=0.5), SrtPusher(srt_server.url)])
    _feed(session, 1.0)
    with pytest.raises(InvalidArgument) as torn:
        session.add_audio(b"\x01\x02\x03")  # half a sample
    assert torn.value.reason == "BAD_AUDIO_CHUNK"
    session.close()
    _nothing_left(before, tmp_path)


def test_srt_ingest_lost_mid_stream_ends_every_output(tmp_path, before):
    require_tool("ffmpeg", "ffmpeg")
    server = SrtServer().start()
    hls = HlsWriter(tmp_path, target_duration_s=0.5)
    session = _session([SrtPusher(server.url, rw_timeout_s=1.0), hls])  # SRT first: its failure must not skip HLS
    try:
        _feed(session, 1.0)
    finally:
        server.stop()
    with pytest.raises(Unavailable) as lost:
        _feed(session, 20.0, pace_s=0.1)
    assert lost.value.reason == "SRT_PUSH_FAILED"
    session.close()
    assert hls.playlist.read_text().rstrip().endswith("#EXT-X-ENDLIST")
    _nothing_left(before, tmp_path)


def test_a_failing_close_still_closes_the_other_outputs(tmp_path, before):
    """The listener vanishes between the last segment and the end: SRT's close fails (its child had died or is
    killed after the bounded wait), and the HLS output after it is still ended."""
    require_tool("ffmpeg", "ffmpeg")
    server = SrtServer().start()
    srt = SrtPusher(server.url, rw_timeout_s=1.0)
    hls = HlsWriter(tmp_path, target_duration_s=0.5)
    session = _session([srt, hls])
    _feed(session, 1.0)
    os.kill(srt.pid, 9)  # the relay dies (as when the kernel kills it)
    server.stop()
    with pytest.raises(Unavailable) as failed:
        session.close()
    assert failed.value.reason == "SRT_PUSH_FAILED"
    assert hls.playlist.read_text().rstrip().endswith("#EXT-X-ENDLIST")
    _nothing_left(before, tmp_path)


def test_a_failing_close_does_not_replace_the_streams_own_failure(tmp_path, before):
    """The interpolator fails mid-stream and the SRT relay has died too: the session, used as the render
    servicer uses it (`with session:`), raises the render failure, not the close's, and still ends every output."""
    require_tool("ffmpeg", "ffmpeg")
    server = SrtServer().start()
    srt = SrtPusher(server.url, rw_timeout_s=1.0)
    hls = HlsWriter(tmp_path, target_duration_s=0.5)
    relay_dead = []

    def failing(before_frames, after, count, window):
        if relay_dead:
            raise RenderFailure("interpolator unavailable", reason="TRITON_UNAVAILABLE")
        return np.repeat(before_frames[-1:], count, axis=0)

    with pytest.raises(RenderFailure) as failed:
        with _session([srt, hls], failing) as session:
            _feed(session, 1.0)
            os.kill(srt.pid, 9)
            server.stop()
            relay_dead.append(True)
            _feed(session, 6.0)
    assert failed.value.reason == "TRITON_UNAVAILABLE"
    assert hls.playlist.read_text().rstrip().endswith("#EXT-X-ENDLIST")
    _nothing_left(before, tmp_path)
