"""SRT output: a ~6 s stream pushed to a real SRT listener (srt-live-transmit, not FFmpeg) and probed from what it
received; clear, fast errors for a bad URL, an unreachable listener and a listener that goes away mid-stream; and
no child process, thread or open file left on any of these paths."""
from __future__ import annotations

import os
import socket
import time

import pytest

from live_servers import SrtServer, child_pids, ffprobe, free_port, new_fds, open_fds, require_tool, thread_names
from test_live_outputs import synthetic_stream
from tango.render.live_srt import SrtPusher, check_srt_listener, parse_srt_url
from tango.runtime.errors import InvalidArgument, Unavailable


@pytest.fixture(scope="module")
def stream():
    return synthetic_stream(6.0)


def _left_behind(children: set[int], threads: set[str], fds: dict[str, str]) -> tuple[set[int], set[str], dict]:
    return child_pids() - children, thread_names() - threads, new_fds(fds)


def test_srt_push_is_received_by_a_real_listener_with_the_right_duration(srt_server, stream):
    init, segments = stream
    before = (child_pids(), thread_names(), open_fds())
    pusher = SrtPusher(srt_server.url + "?latency=120000")
    assert pusher.pid in child_pids()
    started = time.monotonic()
    for segment in segments:
        pusher.write(segment, init)
    assert time.monotonic() - started < 2.0  # writes only queue bytes
    pusher.close()
    assert _left_behind(*before) == (set(), set(), {})  # ffmpeg reaped, writer thread ended, no fd open
    info = ffprobe(str(srt_server.wait_recorded()))
    streams = {s["codec_name"]: int(s["nb_read_packets"]) for s in info["streams"]}
    assert streams["h264"] == 180 and streams["aac"] > 0
    assert float(info["format"]["duration"]) == pytest.approx(6.0, abs=0.2)


@pytest.mark.parametrize("url", [
    "udp://127.0.0.1:9000", "srt://127.0.0.1", "srt://:9000", "srt://127.0.0.1:9000/live/key",
    "srt://127.0.0.1:9000?mode=listener", "srt://127.0.0.1:9000?bogus=1", "srt://127.0.0.1:99999",
])
def test_bad_srt_urls_are_invalid_arguments(url):
    with pytest.raises(InvalidArgument) as bad:
        SrtPusher(url)
    assert bad.value.reason == "BAD_SRT_URL" and bad.value.code == "INVALID_ARGUMENT"


def test_srt_url_options_pass_through():
    assert parse_srt_url("srt://ingest.example:9000?streamid=a/b&latency=200000") == (
        "ingest.example", 9000, {"streamid": "a/b", "latency": "200000"})


def test_unreachable_srt_listener_fails_fast_and_clearly():
    require_tool("ffmpeg", "ffmpeg")
    children = child_pids()
    started = time.monotonic()
    with pytest.raises(Unavailable) as refused:  # nothing on the port: ICMP port unreachable
        SrtPusher(f"srt://127.0.0.1:{free_port(socket.SOCK_DGRAM)}", connect_timeout_s=1.0)
    assert refused.value.reason == "SRT_UNREACHABLE" and refused.value.code == "UNAVAILABLE"
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:  # bound, never answers
        silent.bind(("127.0.0.1", 0))
        with pytest.raises(Unavailable) as timed_out:
            check_srt_listener("127.0.0.1", silent.getsockname()[1], 0.5)
    assert timed_out.value.reason == "SRT_UNREACHABLE"
    assert time.monotonic() - started < 3.0
    assert child_pids() == children  # no ffmpeg started for an unreachable listener


def test_listener_lost_mid_stream_raises_and_leaves_nothing(stream):
    init, segments = stream
    require_tool("ffmpeg", "ffmpeg")
    before = (child_pids(), thread_names(), open_fds())
    server = SrtServer().start()
    try:
        pusher = SrtPusher(server.url, rw_timeout_s=1.0)
        pusher.write(segments[0], init)
        time.sleep(1.0)
    finally:
        server.stop()
    started = time.monotonic()
    with pytest.raises(Unavailable) as lost:
        for segment in segments[1:] * 40:  # a live stream going on: SRT finds the peer gone (peer idle timeout)
            pusher.write(segment, init)
            time.sleep(0.1)
        pusher.close()
    assert lost.value.reason == "SRT_PUSH_FAILED"
    assert time.monotonic() - started < 12.0
    pusher.close()  # already closed by the failure: a no-op
    assert _left_behind(*before) == (set(), set(), {})


def test_stalled_ingest_fails_the_output_not_the_render_loop(srt_server, stream):
    """A child that cannot take the bytes (stopped with SIGSTOP): `write` keeps returning at once until the
    bounded queue is full, then raises SRT_PUSH_FAILED; close() kills and reaps the child."""
    init, segments = stream
    before = (child_pids(), thread_names(), open_fds())
    pusher = SrtPusher(srt_server.url, rw_timeout_s=1.0, queue_segments=4)
    pusher.write(segments[0], init)
    os.kill(pusher.pid, 19)  # SIGSTOP: the pipe fills up, as it does when the network stalls
    slowest = 0.0
    with pytest.raises(Unavailable) as stalled:
        for segment in segments[1:] * 200:
            began = time.monotonic()
            pusher.write(segment, init)
            slowest = max(slowest, time.monotonic() - began)
    assert stalled.value.reason == "SRT_PUSH_FAILED" and slowest < 0.5
    assert _left_behind(*before) == (set(), set(), {})


def test_a_stream_closed_before_its_first_segment_ends_quietly(srt_server):
    before = (child_pids(), thread_names(), open_fds())
    SrtPusher(srt_server.url).close()  # e.g. the caller hung up while the frame bank was built
    assert _left_behind(*before) == (set(), set(), {})
