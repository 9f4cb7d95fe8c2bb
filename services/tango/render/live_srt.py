"""SRT output of the live mode: the CMAF segments remuxed (never re-encoded) to MPEG-TS and pushed, as an SRT
caller, to an `srt://host:port` listener (a broadcast ingest: a contribution encoder's decoder, an SRT gateway,
a cloud ingest).

Why a child process: PyAV's bundled FFmpeg is built without libsrt (opening an srt:// output raises
ProtocolNotFoundError), while Debian's `ffmpeg` is built with it (`ffmpeg -protocols` lists srt). So:

1. In process, each segment is demuxed from `init + segment` in memory and its packets are remuxed by PyAV's
   `mpegts` muxer into bytes (MPEG-TS is what SRT ingests expect; no decoding, no encoding).
2. A writer thread feeds those bytes through a pipe to `ffmpeg -f mpegts -i pipe:0 -c copy -f mpegts srt://...`,
   which only relays them (its own remux is a copy) over libsrt. `write` only queues (a bounded queue of
   `queue_segments` segments): the render loop never waits on the pipe, the child or the network; a queue
   that fills up means the ingest does not keep up and fails the output rather than the stream's pace.
3. Lifetime: the child reads its stdin to the end, so it ends when the pipe closes, whoever closes it (close(),
   a failure, or this process dying: the kernel closes the pipe). `close()` ends the stream and waits for the
   child at most about `rw_timeout_s`, then kills it; every path reaps it (no zombie) and joins the thread.
   Its stderr goes to an anonymous temporary file (no name on disk), read back for the error message.
4. Before anything, the listener is asked for an SRT handshake (induction, the first step of a connection,
   which a listener answers statelessly with a SYN cookie) within `connect_timeout_s`, because the child
   only connects once its input has started. `timeout` (socket I/O) and `connect_timeout` are set on the
   child's SRT socket, and `linger` (live mode's default, 0, drops what is still unsent when the stream ends);
   an ingest that goes away is found by SRT's peer-idle timeout (5 s in libsrt).

Failures surface as `Unavailable` with reason SRT_UNREACHABLE (at construction), SRT_PUSH_FAILED (later
`write` / `close`), FFMPEG_MISSING when the system ffmpeg is absent; a bad URL is InvalidArgument(BAD_SRT_URL).
"""
from __future__ import annotations

import io
import math
import os
import queue
import shutil
import socket
import struct
import subprocess
import tempfile
import threading
import time
from urllib.parse import parse_qsl, urlencode, urlsplit

import av

from tango.media.live_encode import MediaSegment
from tango.render.live_outputs import SegmentRemuxer
from tango.runtime.errors import FailedPrecondition, InvalidArgument, Unavailable

# options a caller may put in the URL's query (passed on to libsrt); `mode` may only be `caller`
SRT_URL_OPTIONS = frozenset({"mode", "latency", "passphrase", "pbkeylen", "streamid", "srt_streamid", "maxbw",
                             "payload_size", "pkt_size", "connect_timeout", "timeout", "linger"})
_STOP = object()


def parse_srt_url(url: str) -> tuple[str, int, dict[str, str]]:
    """(host, port, query options) of `srt://host:port[?option=value&...]`, or InvalidArgument(BAD_SRT_URL)."""
    def bad(why: str) -> InvalidArgument:
        return InvalidArgument(f"not an srt://host:port[?options] caller URL ({why}): {url[:200]}",
                               reason="BAD_SRT_URL")

    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise bad(str(exc)) from exc
    if parts.scheme != "srt" or not parts.hostname or port is None or port == 0:
        raise bad("scheme srt, a host and a port are needed")
    if parts.path not in ("", "/") or parts.fragment or parts.username:
        raise bad("no path, fragment or user")
    options = dict(parse_qsl(parts.query, keep_blank_values=True))
    unknown = sorted(set(options) - SRT_URL_OPTIONS)
    if unknown:
        raise bad(f"unknown options {unknown}; known: {sorted(SRT_URL_OPTIONS)}")
    if options.get("mode", "caller") != "caller":
        raise bad("the render stage pushes as an SRT caller: mode must be caller")
    return parts.hostname, port, options


class SrtPusher:
    """`write(segment, init)` per segment, `close()` once: the stream remuxed to MPEG-TS and pushed to `url`."""

    def __init__(self, url: str, connect_timeout_s: float = 3.0, rw_timeout_s: float = 5.0,
                 queue_segments: int = 64, ffmpeg: str = "ffmpeg"):
        self._host, self._port, options = parse_srt_url(url)
        self.url = url
        self.rw_timeout_s = float(rw_timeout_s)
        binary = shutil.which(ffmpeg)
        if binary is None:
            raise Unavailable(f"the SRT output needs the system ffmpeg (built with libsrt); {ffmpeg!r} is not on "
                              "PATH", reason="FFMPEG_MISSING")
        check_srt_listener(self._host, self._port, connect_timeout_s)
        options.setdefault("connect_timeout", str(int(connect_timeout_s * 1000)))  # ms
        options.setdefault("timeout", str(int(rw_timeout_s * 1e6)))  # us, every socket operation
        options.setdefault("linger", str(math.ceil(rw_timeout_s)))  # s; live mode's 0 drops the unsent tail
        target = f"srt://{_host_port(self._host, self._port)}?{urlencode(options)}"
        self._queue: queue.Queue = queue.Queue(maxsize=int(queue_segments))
        self._ts = io.BytesIO()  # what the MPEG-TS muxer wrote and was not queued yet
        self._remux = SegmentRemuxer(lambda: av.open(self._ts, mode="w", format="mpegts", options={"flush_packets": "1"}),
                                     "an SRT stream")
        self._closed = False
        self._failure: BaseException | None = None
        self._errors = ""  # the child's stderr, once it has ended
        self._stderr = tempfile.TemporaryFile()  # anonymous: nothing to clean on disk
        argv = [binary, "-hide_banner", "-nostdin", "-loglevel", "error",
                "-probesize", "500000", "-analyzeduration", "500000", "-f", "mpegts", "-i", "pipe:0",
                "-map", "0", "-c", "copy", "-f", "mpegts", target]
        try:
            self._process = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                             stderr=self._stderr, bufsize=0)
        except OSError as exc:
            self._stderr.close()
            raise Unavailable(f"cannot start {binary}: {exc}", reason="FFMPEG_MISSING") from exc
        self._writer = threading.Thread(target=self._feed, name=f"srt-push-{self._port}", daemon=True)
        self._writer.start()

    @property
    def pid(self) -> int:
        return self._process.pid

    def write(self, segment: MediaSegment, init: bytes) -> None:
        if self._closed:
            raise FailedPrecondition("SrtPusher.write called after close()")
        self._raise_if_failed(segment.index)
        try:
            self._remux.remux(segment, init)
        except (av.FFmpegError, OSError) as exc:
            self._abort()
            raise Unavailable(f"remuxing segment {segment.index} for {self.url} failed: {exc}",
                              reason="SRT_PUSH_FAILED", metadata={"segment": segment.index}) from exc
        self._enqueue(self._take_ts(), segment.index)

    def close(self) -> None:
        """Sends what is queued, ends the stream and the child; waits at most about 3 x `rw_timeout_s` on a stalled
        ingest (then kills the child and raises SRT_PUSH_FAILED). A stream that never had a segment just ends
        the child (it had not connected yet)."""
        if self._closed:
            return
        self._closed = True
        if not self._remux.started:
            self._end_child()
            return
        try:
            if self._failure is None:
                self._remux.close()  # the muxer's last packets
                self._enqueue(self._take_ts(), None)
            self._queue.put(_STOP, timeout=self.rw_timeout_s)  # a slot frees up unless the thread is stuck or gone
        except Unavailable:
            pass  # reported below from the child's state
        except (av.FFmpegError, OSError, queue.Full) as exc:
            self._failure = self._failure or exc
        deadline = time.monotonic() + 2 * self.rw_timeout_s + 2.0  # the queue's last write, then the linger
        self._writer.join(max(0.0, deadline - time.monotonic()))
        try:
            code = self._process.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            code = None
        self._end_child()
        if code != 0 or self._failure is not None:
            why = "did not finish in time" if code is None else f"ffmpeg exited with {code}"
            raise Unavailable(f"ending the SRT stream to {self.url} failed ({why}): {self._error_text()}",
                              reason="SRT_PUSH_FAILED")

    def __enter__(self) -> "SrtPusher":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    # ---- steps ---------------------------------------------------------------------------------------------
    def _take_ts(self) -> bytes:
        data = self._ts.getvalue()
        self._ts.seek(0)
        self._ts.truncate()
        return data

    def _enqueue(self, data: bytes, index: int | None) -> None:
        if not data:
            return
        try:
            self._queue.put_nowait(data)
        except queue.Full:
            self._abort()
            raise Unavailable(f"the SRT ingest {self.url} does not keep up: {self._queue.maxsize} segments queued",
                              reason="SRT_PUSH_FAILED", metadata={"segment": index}) from None

    def _feed(self) -> None:
        """Writer thread: queued bytes -> the child's stdin, until _STOP or a broken pipe; closes stdin."""
        stdin = self._process.stdin
        try:
            while (data := self._queue.get()) is not _STOP:
                view = memoryview(data)
                while view:
                    view = view[stdin.write(view):]
        except (OSError, ValueError) as exc:  # the child died (broken pipe) or was killed
            self._failure = exc
        finally:
            try:
                stdin.close()
            except OSError:
                pass

    def _raise_if_failed(self, index: int) -> None:
        code = self._process.poll()
        if self._failure is None and code is None:
            return
        self._abort()  # ends the child: its stderr is read
        raise Unavailable(f"pushing segment {index} to {self.url} failed: {self._error_text()}",
                          reason="SRT_PUSH_FAILED", metadata={"segment": index})

    def _abort(self) -> None:
        """After a failure: kill and reap the child, end the thread, free the muxer; reports nothing."""
        self._closed = True
        self._end_child()
        self._remux.abort()

    def _end_child(self) -> None:
        if self._process.poll() is None:
            self._process.kill()
        self._process.wait()
        while True:  # the thread may wait on an empty queue: wake it
            try:
                self._queue.put_nowait(_STOP)
                break
            except queue.Full:
                try:
                    self._queue.get_nowait()
                except queue.Empty:
                    pass
        self._writer.join()
        if not self._stderr.closed:
            self._stderr.seek(0)
            self._errors = self._stderr.read()[-2000:].decode(errors="replace").strip()
            self._stderr.close()

    def _error_text(self) -> str:
        return self._errors or (repr(self._failure) if self._failure else "no message")


def check_srt_listener(host: str, port: int, timeout_s: float) -> None:
    """Sends an SRT induction handshake (what a caller sends first) and waits `timeout_s` for the listener's
    answer; a listener answers statelessly (a SYN cookie), so nothing is left open. Unavailable(SRT_UNREACHABLE)
    for a refused / silent / non-SRT endpoint."""
    try:
        family, _, _, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)[0]
        with socket.socket(family, socket.SOCK_DGRAM) as conn:
            conn.connect(address)
            deadline = time.monotonic() + timeout_s
            while True:  # resent every 250 ms, as SRT callers do (UDP may lose it; a listener may not be up yet)
                conn.send(_induction(address[0], family))
                resend = min(deadline, time.monotonic() + 0.25)
                while (left := resend - time.monotonic()) > 0:
                    conn.settimeout(left)
                    try:
                        if _is_induction_reply(conn.recv(2048)):
                            return
                    except TimeoutError:
                        break
                if time.monotonic() >= deadline:
                    raise TimeoutError(f"no SRT handshake answer in {timeout_s} s")
    except OSError as exc:
        raise Unavailable(f"SRT listener {host}:{port} unreachable: {exc or type(exc).__name__}",
                          reason="SRT_UNREACHABLE", metadata={"host": host, "port": port}) from exc


def _induction(ip: str, family: int) -> bytes:
    """The caller's first handshake packet (SRT RFC draft, 3.2.1): a control packet (type 0 = handshake) with
    version 4, extension field 2, MTU 1500, flow window 8192, handshake type 1 (induction), a socket id."""
    socket_id = int.from_bytes(os.urandom(4), "big") & 0x3FFFFFFF or 1
    sequence = int.from_bytes(os.urandom(4), "big") & 0x7FFFFFFF
    header = struct.pack(">IIII", 0x80000000, 0, 0, 0)
    peer = socket.inet_pton(family, ip).ljust(16, b"\x00")
    return header + struct.pack(">IHHIIIIII", 4, 0, 2, sequence, 1500, 8192, 1, socket_id, 0) + peer


def _is_induction_reply(reply: bytes) -> bool:
    if len(reply) < 48 or struct.unpack(">I", reply[:4])[0] != 0x80000000:
        return False
    version, handshake_type = struct.unpack(">I", reply[16:20])[0], struct.unpack(">I", reply[36:40])[0]
    return version in (4, 5) and handshake_type == 1


def _host_port(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
