"""Live outputs: an HLS v7 fMP4 folder read back by PyAV and ffprobe, a sliding window, a ~6 s stream pushed to a real
nginx-rtmp ingest and probed from its recording, and clear, fast errors for an unreachable or failing ingest."""
from __future__ import annotations

import socket
import time

import av
import numpy as np
import pytest

from live_servers import RtmpServer, ffprobe, free_port, new_fds, open_fds
from tango.media.live_encode import MediaSegment, SegmentEncoder
from tango.render.live_outputs import HlsWriter, RtmpPusher
from tango.runtime.errors import InvalidArgument, Unavailable

FPS, RATE, SEGMENT = 30, 44100, 30  # 1 s segments


def synthetic_stream(seconds: float, width: int = 128, height: int = 72) -> tuple[bytes, list[MediaSegment]]:
    """(init, segments) of a gradient with a moving box and a 440 Hz tone, cut into 1 s segments."""
    yy, xx = np.mgrid[0:height, 0:width]
    base = np.stack([xx * 255 // width, yy * 255 // height, np.full_like(xx, 96)], axis=-1).astype(np.uint8)
    encoder = SegmentEncoder(width, height, FPS, RATE, 2, SEGMENT)
    total, segments = round(seconds * FPS), []
    for first in range(0, total, SEGMENT):
        frames = np.repeat(base[None], min(SEGMENT, total - first), axis=0)  # (n, H, W, 3)
        for i in range(len(frames)):
            x = 2 * (first + i) % (width - 12)
            frames[i, 20:32, x: x + 12] = 255
        start, end = first * RATE // FPS, (first + len(frames)) * RATE // FPS
        wave = np.sin(2 * np.pi * 440 * np.arange(start, end) / RATE) * 10000  # (m,)
        pcm = np.repeat(wave.astype(np.int16)[:, None], 2, axis=1)  # (m, 2)
        segments.append(encoder.encode_segment(frames, pcm, final=first + SEGMENT >= total))
    assert encoder.close() is None
    return encoder.init_segment, segments


@pytest.fixture(scope="module")
def stream() -> tuple[bytes, list[MediaSegment]]:
    return synthetic_stream(6.0)


def playlist_lines(path) -> list[str]:
    return path.read_text().splitlines()


def test_hls_playlist_reads_back_with_pyav_and_ffprobe(tmp_path, stream):
    init, segments = stream
    writer = HlsWriter(tmp_path / "hls", target_duration_s=1.0)
    for segment in segments:
        writer.write(segment, init)
    assert "#EXT-X-ENDLIST" not in playlist_lines(writer.playlist)
    writer.close()
    lines = playlist_lines(writer.playlist)
    assert lines[:2] == ["#EXTM3U", "#EXT-X-VERSION:7"] and lines[-1] == "#EXT-X-ENDLIST"
    assert "#EXT-X-TARGETDURATION:1" in lines and '#EXT-X-MAP:URI="init.mp4"' in lines
    durations = [float(line[len("#EXTINF:"):].rstrip(",")) for line in lines if line.startswith("#EXTINF:")]
    names = [line for line in lines if line.endswith(".m4s")]
    assert len(durations) == len(names) == len(segments) and names[0] == "segment_00000.m4s"
    assert len(segments) == 6 and sum(durations) == pytest.approx(6.0)
    assert sorted(p.name for p in writer.directory.iterdir()) == sorted(["init.mp4", "index.m3u8", *names])
    with av.open(str(writer.playlist)) as container:
        assert {s.type for s in container.streams} == {"video", "audio"}
        video_packets = sum(1 for p in container.demux(video=0) if p.size)
    assert video_packets == 180
    info = ffprobe(str(writer.playlist))
    assert sorted(s["codec_name"] for s in info["streams"]) == ["aac", "h264"]
    assert float(info["format"]["duration"]) == pytest.approx(6.0, abs=0.2)


def test_hls_sliding_window_deletes_old_segments(tmp_path, stream):
    init, segments = stream
    writer = HlsWriter(tmp_path, target_duration_s=1.0, window=2)
    for segment in segments[:6]:
        writer.write(segment, init)
    lines = playlist_lines(writer.playlist)
    assert "#EXT-X-MEDIA-SEQUENCE:4" in lines
    assert [line for line in lines if line.endswith(".m4s")] == ["segment_00004.m4s", "segment_00005.m4s"]
    kept = sorted(p.name for p in tmp_path.glob("*.m4s"))  # two more, out of the playlist, for late readers
    assert kept == [f"segment_0000{i}.m4s" for i in range(2, 6)]
    writer.close()
    assert playlist_lines(writer.playlist)[-1] == "#EXT-X-ENDLIST"
    assert not list(tmp_path.glob(".*"))  # no temporary file left


def test_rtmp_push_is_recorded_by_nginx_with_the_right_duration(rtmp_server, stream):
    init, segments = stream
    fds = open_fds()
    pusher = RtmpPusher(rtmp_server.url("synthetic"))
    started = time.monotonic()
    for segment in segments:
        pusher.write(segment, init)
    assert time.monotonic() - started < 2.0  # writes only queue packets
    pusher.close()
    assert new_fds(fds) == {}  # no socket or file left open
    info = ffprobe(str(rtmp_server.wait_recorded("synthetic")))
    streams = {s["codec_name"]: int(s["nb_read_packets"]) for s in info["streams"]}
    assert streams["h264"] == 180 and streams["aac"] > 0
    assert float(info["format"]["duration"]) == pytest.approx(6.0, abs=0.2)


def test_unreachable_rtmp_ingest_fails_fast_and_clearly():
    started = time.monotonic()
    with pytest.raises(Unavailable) as refused:
        RtmpPusher(f"rtmp://127.0.0.1:{free_port()}/live/nobody", connect_timeout_s=1.0)
    assert refused.value.reason == "RTMP_UNREACHABLE" and refused.value.code == "UNAVAILABLE"
    with socket.create_server(("127.0.0.1", 0)) as silent:  # accepts connections, never answers
        with pytest.raises(Unavailable) as timed_out:
            RtmpPusher(f"rtmp://127.0.0.1:{silent.getsockname()[1]}/live/nobody", connect_timeout_s=0.5)
    assert timed_out.value.reason == "RTMP_UNREACHABLE"
    with pytest.raises(Unavailable) as tls_refused:
        RtmpPusher(f"rtmps://127.0.0.1:{free_port()}/live/nobody", connect_timeout_s=1.0)
    assert tls_refused.value.reason == "RTMP_UNREACHABLE"
    with pytest.raises(InvalidArgument):
        RtmpPusher("http://127.0.0.1/live/nobody")
    assert time.monotonic() - started < 3.0


def test_ingest_lost_mid_stream_raises_instead_of_hanging(stream):
    init, segments = stream
    server = RtmpServer().start()
    try:
        pusher = RtmpPusher(server.url("lost"), rw_timeout_s=1.0)
        pusher.write(segments[0], init)
        time.sleep(0.3)
    finally:
        server.stop()
    started = time.monotonic()
    with pytest.raises(Unavailable) as lost:
        for segment in segments[1:] * 20:
            pusher.write(segment, init)
            time.sleep(0.05)
        pusher.close()
    assert lost.value.reason == "RTMP_PUSH_FAILED"
    assert time.monotonic() - started < 5.0
    pusher.close()  # already closed by the failure: a no-op


def parse_media_playlist(text: str) -> dict:
    """A small RFC 8216bis media playlist reader: header tags, then segments, each with its EXT-X-PART tags."""
    header, segments, parts = {}, [], []
    for line in text.splitlines():
        if line.startswith("#EXT-X-PART:"):
            parts.append(_attributes(line.split(":", 1)[1]))
        elif line.startswith("#EXTINF:"):
            extinf = float(line[len("#EXTINF:"):].rstrip(","))
        elif line and not line.startswith("#"):
            segments.append({"uri": line, "duration": extinf, "parts": parts})
            parts = []
        elif line.startswith("#EXT") and ":" in line:
            tag, value = line[1:].split(":", 1)
            header[tag] = _attributes(value) if "=" in value and not value.startswith("URI") else value
        elif line.startswith("#EXT"):
            header[line[1:]] = True
    return {"header": header, "segments": segments, "open_parts": parts}


def _attributes(text: str) -> dict[str, str]:
    out = {}
    for item in text.split(","):
        key, value = item.split("=", 1)
        out[key] = value.strip('"')
    return out


def check_ll_hls_rules(playlist: dict, directory) -> None:
    """What RFC 8216bis asks of a playlist with partial segments, and that every URI it names exists."""
    header = playlist["header"]
    part_target = float(header["EXT-X-PART-INF"]["PART-TARGET"])
    assert float(header["EXT-X-SERVER-CONTROL"]["PART-HOLD-BACK"]) >= 3 * part_target - 1e-9  # MUST >= 2x, SHOULD 3x
    assert "CAN-BLOCK-RELOAD" not in header["EXT-X-SERVER-CONTROL"]  # files only: no blocking reload to offer
    target = int(header["EXT-X-TARGETDURATION"])
    all_parts = [p for s in playlist["segments"] for p in s["parts"]] + playlist["open_parts"]
    assert all_parts, "no partial segment listed"
    for part in all_parts:
        assert float(part["DURATION"]) <= part_target + 1e-9 and part["INDEPENDENT"] == "YES"
        assert (directory / part["URI"]).is_file()
    for segment in playlist["segments"]:
        assert round(segment["duration"]) <= target and (directory / segment["uri"]).is_file()
        if segment["parts"]:
            assert sum(float(p["DURATION"]) for p in segment["parts"]) == pytest.approx(segment["duration"], abs=2e-3)
            joined = b"".join((directory / p["URI"]).read_bytes() for p in segment["parts"])
            assert joined == (directory / segment["uri"]).read_bytes()  # a segment is its parts, concatenated
    listed = [s for s in playlist["segments"] if s["parts"]]  # parts only for the last three target durations
    assert playlist["segments"][len(playlist["segments"]) - len(listed):] == listed  # the newest ones
    assert sum(s["duration"] for s in listed[1:]) <= 3 * target + 1e-9


def test_ll_hls_parts_are_published_per_live_segment_and_read_back(tmp_path):
    init, segments = synthetic_stream(12.0)  # 12 live segments of 1 s: 12 parts, 6 HLS segments of 2 parts
    writer = HlsWriter(tmp_path, target_duration_s=1.0, parts_per_segment=2)
    for k, segment in enumerate(segments[:-1]):
        writer.write(segment, init)
        playlist = parse_media_playlist(writer.playlist.read_text())
        check_ll_hls_rules(playlist, tmp_path)
        newest = (playlist["open_parts"] or playlist["segments"][-1]["parts"])[-1]
        assert newest["URI"] == f"segment_{k // 2:05d}.{k % 2}.m4s"  # listed as soon as it is written
        info = ffprobe_bytes(tmp_path, init + (tmp_path / newest["URI"]).read_bytes())  # a part plays on its own
        assert {s["codec_name"]: int(s["nb_read_packets"]) for s in info["streams"]}["h264"] == 30
        assert {s["codec_name"] for s in info["streams"]} == {"aac", "h264"}
    assert playlist["header"]["EXT-X-TARGETDURATION"] == "2"
    assert [s["uri"] for s in playlist["segments"] if not s["parts"]] == ["segment_00000.m4s"]  # > 3 TDs back
    writer.write(segments[-1], init)
    writer.close()
    lines = playlist_lines(writer.playlist)
    assert lines[-1] == "#EXT-X-ENDLIST" and not any(line.startswith("#EXT-X-PART") for line in lines)
    info = ffprobe(str(writer.playlist))  # FFmpeg's HLS demuxer reads the 2 s segments
    assert {s["codec_name"]: int(s["nb_read_packets"]) for s in info["streams"]}["h264"] == 360
    assert float(info["format"]["duration"]) == pytest.approx(12.0, abs=0.2)
    with av.open(str(writer.playlist)) as container:
        assert sum(1 for p in container.demux(video=0) if p.size) == 360
    assert not list(tmp_path.glob(".*"))  # no temporary file left


def ffprobe_bytes(directory, data: bytes) -> dict:
    probe = directory / "probe.mp4"
    probe.write_bytes(data)
    try:
        return ffprobe(str(probe))
    finally:
        probe.unlink()


def test_ll_hls_sliding_window_deletes_unlisted_parts(tmp_path):
    init, segments = synthetic_stream(12.0)
    writer = HlsWriter(tmp_path, target_duration_s=1.0, window=2, parts_per_segment=2)
    for segment in segments:
        writer.write(segment, init)
    playlist = parse_media_playlist(writer.playlist.read_text())
    check_ll_hls_rules(playlist, tmp_path)
    assert [s["uri"] for s in playlist["segments"]] == ["segment_00004.m4s", "segment_00005.m4s"]
    assert playlist["header"]["EXT-X-MEDIA-SEQUENCE"] == "4"
    parts = sorted(p.name for p in tmp_path.glob("segment_*.*.m4s"))
    # listed (4, 5) and, for as long again (+ the open segment), unlisted ones (1-3); 0 deleted
    assert parts == [f"segment_0000{s}.{p}.m4s" for s in range(1, 6) for p in range(2)]
    writer.close()
    assert not list(tmp_path.glob(".*"))
