"""Broadcast outputs of the live mode, fed with `SegmentEncoder`'s CMAF segments (never re-encoding).

- `HlsWriter`: an HLS (version 7, fMP4) folder: `init.mp4`, `segment_00000.m4s`, ... and `index.m3u8`, every
  file written to a hidden temporary name then renamed, so a player or a CDN never reads half a file. With
  `window` > 0 the playlist is a sliding live window of that many segments; a segment file is deleted once
  it has been out of the playlist for another `window` segments (players still downloading it keep it).
  EXTINF is the segment's video duration; an audio-only last segment (`SegmentEncoder.close()`) gets the
  length of its audio, never 0 (end the stream with `encode_segment(..., final=True)` to have none).
  Low-latency mode (`parts_per_segment` > 0, LL-HLS of RFC 8216bis): each live segment (one CMAF fragment that
  starts with an IDR) is published at once as a partial segment (`segment_00003.2.m4s`, `#EXT-X-PART` with
  INDEPENDENT=YES, `#EXT-X-PART-INF:PART-TARGET` = the live segment's length) and every `parts_per_segment` of
  them, concatenated, make one HLS segment (a CMAF segment of several fragments): LL clients play the parts as
  soon as they exist, others the longer segments. Part tags are listed for the segments of the last three
  target durations (and the open one); their files are deleted once unlisted for as long. Files only: no
  blocking playlist reload and no preload hints (both need an origin that holds requests open), so
  `#EXT-X-SERVER-CONTROL` carries PART-HOLD-BACK (3 part targets) and leaves CAN-BLOCK-RELOAD at its NO.
- `SegmentRemuxer`: the segments' packets muxed, never re-encoded, into another container (RTMP's FLV here,
  the SRT output's MPEG-TS in `live_srt`).
- `RtmpPusher`: FLV over rtmp:// (an ingest such as nginx-rtmp, YouTube, Twitch). Each segment is demuxed
  from `init + segment` in memory and its packets are remuxed into FFmpeg's `fifo` muxer wrapping `flv`: the
  network I/O runs on FFmpeg's own thread, so `write` only queues packets (the render loop never waits on
  the network), and `rw_timeout` bounds every socket operation of that thread. Since that thread swallows
  a failed connection, the constructor first checks that the ingest answers an RTMP handshake within
  `connect_timeout_s`. Failures surface as `Unavailable` with reason RTMP_UNREACHABLE (at construction) or
  RTMP_PUSH_FAILED (later `write` / `close`).
"""
from __future__ import annotations

import io
import math
import os
import socket
import ssl
import uuid
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable
from urllib.parse import urlsplit

import av

from tango.media.live_encode import MediaSegment
from tango.runtime.errors import FailedPrecondition, InvalidArgument, Unavailable

INIT_NAME = "init.mp4"
PLAYLIST_NAME = "index.m3u8"
RTMP_DEFAULT_PORTS = {"rtmp": 1935, "rtmps": 443}
_RTMP_HANDSHAKE = 1 + 1536  # C0/S0 version byte + C1/S1


def segment_name(index: int) -> str:
    return f"segment_{index:05d}.m4s"


def part_name(segment: int, part: int) -> str:
    return f"segment_{segment:05d}.{part}.m4s"


def write_atomic(path: Path, data: bytes) -> None:
    """Writes a hidden temporary file beside `path`, then renames it onto `path`."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.part")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


@dataclass
class _HlsSegment:
    name: str
    duration: float
    parts: list[tuple[str, float]] = field(default_factory=list)  # (file name, duration); [] without parts


class HlsWriter:
    """`write(segment, init)` per segment, `close()` once: an HLS v7 fMP4 playlist in `directory`
    (LL-HLS partial segments with `parts_per_segment` > 0)."""

    def __init__(self, directory: Path | str, target_duration_s: float, window: int = 0, parts_per_segment: int = 0):
        if not target_duration_s > 0 or window < 0 or parts_per_segment < 0:
            raise InvalidArgument(f"HLS needs target_duration_s > 0, window >= 0 and parts_per_segment >= 0, got "
                                  f"{target_duration_s}, {window}, {parts_per_segment}")
        self.directory = Path(directory)
        self.parts_per_segment = int(parts_per_segment)
        self.part_target = float(target_duration_s)  # a live segment's length: PART-TARGET in LL mode
        span = target_duration_s * max(1, self.parts_per_segment)
        self.target_duration = math.ceil(span - 1e-9)  # EXT-X-TARGETDURATION is an integer
        self.window = int(window)
        self.directory.mkdir(parents=True, exist_ok=True)
        self._init: bytes | None = None
        self._entries: deque[_HlsSegment] = deque()  # in the playlist
        self._expired: deque[str] = deque()  # out of the playlist, not yet deleted
        self._open: list[tuple[str, float, bytes]] = []  # parts of the segment being built
        self._unlisted_parts: deque[list[str]] = deque()  # part files out of the playlist, not yet deleted
        self._next_segment = 0
        self._first_sequence = 0  # EXT-X-MEDIA-SEQUENCE
        self._closed = False

    @property
    def playlist(self) -> Path:
        return self.directory / PLAYLIST_NAME

    def write(self, segment: MediaSegment, init: bytes) -> None:
        if self._closed:
            raise FailedPrecondition("HlsWriter.write called after close()")
        if self._init is None:
            write_atomic(self.directory / INIT_NAME, init)
            self._init = init
        elif init is not self._init and init != self._init:
            raise FailedPrecondition("the init segment changed in the middle of an HLS stream")
        duration = segment.duration_s if segment.frames else segment.audio_end_s - segment.audio_start_s
        if self.parts_per_segment:
            self._write_part(segment, duration)
        else:
            if round(duration) > self.target_duration:
                raise InvalidArgument(f"segment {segment.index} lasts {duration:.3f} s, above the HLS target "
                                      f"duration {self.target_duration} s", metadata={"segment": segment.index})
            self._add(_HlsSegment(segment_name(self._next_segment), duration), segment.data)
        self._write_playlist(ended=False)
        self._delete_expired()

    def close(self) -> None:
        """Ends the playlist (EXT-X-ENDLIST, part tags dropped); the segment files stay."""
        if self._closed:
            return
        self._closed = True
        if self._open:
            self._complete_segment()
        if self._init is not None:
            self._write_playlist(ended=True)

    def _write_part(self, segment: MediaSegment, duration: float) -> None:
        if duration > self.part_target + 1e-3:
            raise InvalidArgument(f"segment {segment.index} lasts {duration:.3f} s, above the LL-HLS part target "
                                  f"{self.part_target:.3f} s", metadata={"segment": segment.index})
        name = part_name(self._next_segment, len(self._open))
        write_atomic(self.directory / name, segment.data)
        self._open.append((name, duration, segment.data))
        if len(self._open) == self.parts_per_segment or segment.final:
            self._complete_segment()

    def _complete_segment(self) -> None:
        parts, self._open = self._open, []
        entry = _HlsSegment(segment_name(self._next_segment), sum(d for _, d, _ in parts),
                            [(name, d) for name, d, _ in parts])
        self._add(entry, b"".join(data for _, _, data in parts))

    def _add(self, entry: _HlsSegment, data: bytes) -> None:
        write_atomic(self.directory / entry.name, data)
        self._entries.append(entry)
        self._next_segment += 1
        while self.window and len(self._entries) > self.window:
            gone = self._entries.popleft()
            self._expired.append(gone.name)
            if gone.parts:
                self._unlisted_parts.append([name for name, _ in gone.parts])
                gone.parts = []
            self._first_sequence += 1
        self._unlist_old_parts()

    def _unlist_old_parts(self) -> None:
        """Part tags only for the segments of the last three target durations (RFC 8216bis 6.2.2)."""
        recent = 0.0
        for entry in reversed(self._entries):
            if recent > 3 * self.target_duration and entry.parts:
                self._unlisted_parts.append([name for name, _ in entry.parts])
                entry.parts = []
            recent += entry.duration

    def _delete_expired(self) -> None:
        while len(self._expired) > self.window:
            (self.directory / self._expired.popleft()).unlink(missing_ok=True)
        listed = sum(1 for entry in self._entries if entry.parts) + 1
        while len(self._unlisted_parts) > listed:
            for name in self._unlisted_parts.popleft():
                (self.directory / name).unlink(missing_ok=True)

    def _write_playlist(self, ended: bool) -> None:
        lines = ["#EXTM3U", "#EXT-X-VERSION:7", f"#EXT-X-TARGETDURATION:{self.target_duration}"]
        parts = self.parts_per_segment and not ended
        if parts:
            lines += [f"#EXT-X-SERVER-CONTROL:PART-HOLD-BACK={3 * self.part_target:.3f}",
                      f"#EXT-X-PART-INF:PART-TARGET={self.part_target:.3f}"]
        lines += [f"#EXT-X-MEDIA-SEQUENCE:{self._first_sequence}", "#EXT-X-INDEPENDENT-SEGMENTS"]
        if not self.window:
            lines.append("#EXT-X-PLAYLIST-TYPE:EVENT")
        lines.append(f'#EXT-X-MAP:URI="{INIT_NAME}"')
        for entry in self._entries:
            if parts:
                lines += [_part_tag(name, duration) for name, duration in entry.parts]
            lines += [f"#EXTINF:{entry.duration:.3f},", entry.name]
        if parts:
            lines += [_part_tag(name, duration) for name, duration, _ in self._open]
        if ended:
            lines.append("#EXT-X-ENDLIST")
        write_atomic(self.playlist, ("\n".join(lines) + "\n").encode())


def _part_tag(name: str, duration: float) -> str:
    return f'#EXT-X-PART:DURATION={duration:.3f},URI="{name}",INDEPENDENT=YES'  # every part starts with an IDR


class SegmentRemuxer:
    """The packets of CMAF segments (`init + segment`, demuxed in memory; never re-encoded) muxed into one output
    container, which `open_output()` opens on the first segment; the init segment may not change afterwards.
    Muxer failures (av.FFmpegError, OSError) reach the caller, which names them for its output."""

    def __init__(self, open_output: Callable[[], av.container.OutputContainer], what: str):
        self._open_output, self.what = open_output, what
        self.output: av.container.OutputContainer | None = None
        self._streams: list = []
        self._init: bytes | None = None

    @property
    def started(self) -> bool:
        return self._init is not None

    def remux(self, segment: MediaSegment, init: bytes) -> None:
        if self._init is not None and init is not self._init and init != self._init:
            raise FailedPrecondition(f"the init segment changed in the middle of {self.what}")
        with av.open(io.BytesIO(init + segment.data), format="mp4") as source:
            if self.output is None:
                self.output = self._open_output()
                self._streams = [self.output.add_stream_from_template(stream) for stream in source.streams]
                self._init = init
            for packet in source.demux():
                if packet.dts is None:  # the demuxer's end-of-stream flush packets
                    continue
                packet.stream = self._streams[packet.stream.index]
                self.output.mux(packet)

    def close(self) -> None:
        """Ends the output (the muxer's last packets); muxer failures reach the caller."""
        output, self.output = self.output, None
        if output is not None:
            output.close()

    def abort(self) -> None:
        """After a failure: frees the muxer and reports nothing (the failure being reported is the one that matters)."""
        try:
            self.close()
        except (av.FFmpegError, OSError):
            pass


class RtmpPusher:
    """`write(segment, init)` per segment, `close()` once: the stream remuxed to FLV and published to `url`."""

    def __init__(self, url: str, connect_timeout_s: float = 3.0, rw_timeout_s: float = 5.0,
                 queue_packets: int = 2048):
        parts = urlsplit(url)
        if parts.scheme not in RTMP_DEFAULT_PORTS or not parts.hostname or len(parts.path.strip("/").split("/")) < 2:
            raise InvalidArgument(f"not an rtmp[s]://host[:port]/app/stream URL: {url[:200]}", reason="BAD_RTMP_URL")
        self.url = url
        self._host, self._port = parts.hostname, parts.port or RTMP_DEFAULT_PORTS[parts.scheme]
        options = {"fifo_format": "flv", "format_opts": f"rw_timeout={int(rw_timeout_s * 1e6)}",
                   # ~25 s of 30 fps video + 48 kHz AAC: write blocks beyond
                   "queue_size": str(int(queue_packets)), "drop_pkts_on_overflow": "0", "attempt_recovery": "0"}
        self._remux = SegmentRemuxer(lambda: av.open(url, mode="w", format="fifo", options=options), "an RTMP stream")
        self._closed = False
        check_rtmp_ingest(self._host, self._port, connect_timeout_s, tls=parts.scheme == "rtmps")

    def write(self, segment: MediaSegment, init: bytes) -> None:
        if self._closed:
            raise FailedPrecondition("RtmpPusher.write called after close()")
        try:
            self._remux.remux(segment, init)
        except (av.FFmpegError, OSError) as exc:
            self._closed = True  # the muxer's thread has stopped or stops within rw_timeout
            self._remux.abort()
            raise Unavailable(f"pushing segment {segment.index} to {self.url} failed: {exc}",
                              reason="RTMP_PUSH_FAILED", metadata={"segment": segment.index}) from exc

    def close(self) -> None:
        """Sends what is queued and ends the stream; waits at most about `rw_timeout_s` on a stalled network."""
        if self._closed:
            return
        self._closed = True
        try:
            self._remux.close()
        except (av.FFmpegError, OSError) as exc:
            raise Unavailable(f"ending the RTMP stream {self.url} failed: {exc}", reason="RTMP_PUSH_FAILED") from exc

    def __enter__(self) -> "RtmpPusher":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def check_rtmp_ingest(host: str, port: int, timeout_s: float, tls: bool = False) -> None:
    """Connects and exchanges the first RTMP handshake packets (C0+C1 -> S0+S1) within `timeout_s`, then hangs up.
    Raises Unavailable(RTMP_UNREACHABLE) for a refused / silent / non-RTMP endpoint. With `tls` (rtmps) the
    handshake goes over TLS without verifying the certificate, as FFmpeg's own rtmps does by default: this
    checks reachability only."""
    try:
        with _connect(host, port, timeout_s, tls) as conn:
            conn.sendall(b"\x03" + bytes(_RTMP_HANDSHAKE - 1))  # version 3, time 0, zero + random (zeros)
            received = b""
            while len(received) < _RTMP_HANDSHAKE:
                chunk = conn.recv(_RTMP_HANDSHAKE - len(received))
                if not chunk:
                    raise ConnectionError("the server closed the connection during the handshake")
                received += chunk
    except OSError as exc:
        raise Unavailable(f"RTMP ingest {host}:{port} unreachable: {exc or type(exc).__name__}",
                          reason="RTMP_UNREACHABLE", metadata={"host": host, "port": port}) from exc
    if received[0] != 3:
        raise Unavailable(f"{host}:{port} is not an RTMP server (handshake version {received[0]})",
                          reason="RTMP_UNREACHABLE", metadata={"host": host, "port": port})


def _connect(host: str, port: int, timeout_s: float, tls: bool) -> socket.socket:
    conn = socket.create_connection((host, port), timeout=timeout_s)
    conn.settimeout(timeout_s)
    if not tls:
        return conn
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    try:
        return context.wrap_socket(conn, server_hostname=host)
    except BaseException:
        conn.close()
        raise
