"""Throw-away ingests for tests, children of the test process (so `stop()` always ends them), and leak probes.

- `RtmpServer`: Debian's nginx with libnginx-mod-rtmp, its own config in a temp directory under /tmp, on a free
  TCP port of 127.0.0.1, recording every published stream to `<record>/<name>.flv`. nginx runs in the foreground
  (`daemon off`); as root, its worker runs as `www-data` (nginx's default `nobody` may lack a group), which owns
  the recording folder.
- `SrtServer`: Debian's `srt-live-transmit` (srt-tools, the SRT project's own tool, not FFmpeg) as an SRT
  listener on a free UDP port of 127.0.0.1, writing the bytes it receives (MPEG-TS) to a file; it exits when
  its caller disconnects (`-a no`).
- `child_pids()` / `thread_names()` / `hidden_files()`: what a live stream must not leave behind."""
from __future__ import annotations

import json
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

NGINX = Path("/usr/sbin/nginx")
SRT_LIVE_TRANSMIT = "srt-live-transmit"
RTMP_MODULE = Path("/usr/lib/nginx/modules/ngx_rtmp_module.so")
RESERVED_PORTS = (range(50050, 50091), range(51050, 54301))  # used by a running mesh
WORKER_USER = "www-data"

CONFIG = """\
load_module {module};
daemon off;
master_process on;
worker_processes 1;
pid {directory}/nginx.pid;
error_log {directory}/error.log info;
{user}
events {{ worker_connections 64; }}
rtmp {{
    server {{
        listen 127.0.0.1:{port};
        chunk_size 4096;
        application live {{
            live on;
            record all;
            record_path {record};
            record_unique off;
        }}
    }}
}}
"""


def require_nginx_rtmp() -> None:
    """Skips the test (fails it under CI) when nginx or its RTMP module is not installed."""
    missing = [str(p) for p in (NGINX, RTMP_MODULE) if not p.exists()]
    if missing:
        message = (f"nginx with the RTMP module is absent ({', '.join(missing)}); "
                   "apt-get install nginx libnginx-mod-rtmp")
        if os.environ.get("CI"):
            raise AssertionError(message + " (.ci/run installs them)")
        pytest.skip(message)


def require_tool(name: str, package: str) -> str:
    """The tool's path; skips the test (fails it under CI) when it is absent."""
    path = shutil.which(name)
    if path is None:
        message = f"{name} is absent; apt-get install {package}"
        if os.environ.get("CI"):
            raise AssertionError(message + " (.ci/run installs it)")
        pytest.skip(message)
    return path


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    """A TCP (or UDP) port of 127.0.0.1 free right now, outside the ports a running mesh uses."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, kind) as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        if not any(port in reserved for reserved in RESERVED_PORTS):
            return port
    raise RuntimeError("no free TCP port outside the reserved ranges")


class RtmpServer:
    """`url(name)` publishes to / plays from the `live` application; `recording(name)` is what it recorded."""

    def __init__(self):
        require_nginx_rtmp()
        self.directory = Path(tempfile.mkdtemp(prefix="tango-rtmp-"))
        self.record = self.directory / "record"
        self.record.mkdir()
        self.port = free_port()
        self._process: subprocess.Popen | None = None

    def url(self, name: str) -> str:
        return f"rtmp://127.0.0.1:{self.port}/live/{name}"

    def recording(self, name: str) -> Path:
        return self.record / f"{name}.flv"

    def start(self) -> "RtmpServer":
        user = ""
        if os.geteuid() == 0:
            user = f"user {WORKER_USER};"
            entry = pwd.getpwnam(WORKER_USER)
            os.chown(self.record, entry.pw_uid, entry.pw_gid)
            self.directory.chmod(0o711)  # mkdtemp's 0700 would keep the worker out of its recording folder
        config = self.directory / "nginx.conf"
        config.write_text(CONFIG.format(module=RTMP_MODULE, directory=self.directory, user=user, port=self.port,
                                        record=self.record))
        argv = [str(NGINX), "-p", f"{self.directory}/", "-c", str(config), "-e", str(self.directory / "error.log")]
        self._process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self._wait_listening(timeout_s=10.0)
        return self

    def wait_recorded(self, name: str, timeout_s: float = 10.0) -> Path:
        """The recording once nginx has closed it (the publisher gone, the file no longer growing)."""
        path, deadline, last = self.recording(name), time.monotonic() + timeout_s, -1
        while time.monotonic() < deadline:
            size = path.stat().st_size if path.exists() else -1
            log = self.log()
            published = log.rfind(f"publish: name='{name}'")
            if size > 0 and size == last and published >= 0 and "disconnect" in log[published:]:
                return path
            last = size
            time.sleep(0.2)
        raise AssertionError(f"nginx did not finish recording {path} in {timeout_s} s:\n{self.log()[-2000:]}")

    def log(self) -> str:
        log = self.directory / "error.log"
        return log.read_text(errors="replace") if log.exists() else ""

    def stop(self) -> None:
        _stop(self._process)
        self._process = None
        shutil.rmtree(self.directory, ignore_errors=True)

    def _wait_listening(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                stderr, log = self._process.stderr.read().decode(errors="replace"), self.log()
                self.stop()
                raise RuntimeError(f"nginx exited ({stderr.strip()}): {log[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"nginx did not listen on 127.0.0.1:{self.port} within {timeout_s} s")


class SrtServer:
    """An SRT listener recording one caller's stream: `url` to push to, `wait_recorded()` once the caller left."""

    def __init__(self):
        self.binary = require_tool(SRT_LIVE_TRANSMIT, "srt-tools")
        self.directory = Path(tempfile.mkdtemp(prefix="tango-srt-"))
        self.recording = self.directory / "received.ts"
        self.port = free_port(socket.SOCK_DGRAM)
        self._process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"srt://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def start(self) -> "SrtServer":
        argv = [self.binary, "-a", "no", "-q", f"srt://127.0.0.1:{self.port}?mode=listener", "file://con"]
        with self.recording.open("wb") as sink:
            self._process = subprocess.Popen(argv, stdout=sink, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 10.0
        while not _udp_bound(self.port):
            if self._process.poll() is not None or time.monotonic() > deadline:
                stderr = self._process.stderr.read().decode(errors="replace") if self._process.poll() is not None else ""
                self.stop()
                raise RuntimeError(f"srt-live-transmit did not listen on UDP {self.port}: {stderr}")
            time.sleep(0.05)
        return self

    def wait_recorded(self, timeout_s: float = 15.0) -> Path:
        """The recording once the listener has exited (its caller disconnected)."""
        try:
            self._process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"srt-live-transmit still receiving after {timeout_s} s") from None
        return self.recording

    def stop(self) -> None:
        _stop(self._process)
        self._process = None
        shutil.rmtree(self.directory, ignore_errors=True)


def _stop(process: subprocess.Popen | None) -> None:
    """Terminates a server process (killed after 10 s) and closes its stderr pipe."""
    if process is None:
        return
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
    process.stderr.close()


def _udp_bound(port: int) -> bool:
    """Whether a UDP socket is bound to `port` (the listener is up), from /proc/net/udp."""
    wanted = f":{port:04X}"
    for table in (Path("/proc/net/udp"), Path("/proc/net/udp6")):
        if table.exists() and any(line.split()[1].endswith(wanted) for line in table.read_text().splitlines()[1:]):
            return True
    return False


def child_pids(parent: int | None = None) -> set[int]:
    """Live (or zombie, not reaped) child processes of `parent` (this process), from /proc (no psutil)."""
    parent = os.getpid() if parent is None else parent
    children = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # ended meanwhile
        fields = stat[stat.rfind(")") + 2:].split()  # after "pid (comm) ": state, ppid, ...
        if int(fields[1]) == parent:
            children.add(int(entry.name))
    return children


def thread_names() -> set[str]:
    import threading

    return {t.name for t in threading.enumerate()}


def open_fds() -> dict[str, str]:
    """This process's open descriptors: {fd: what it points at}."""
    fds = {}
    for fd in os.listdir("/proc/self/fd"):
        try:
            fds[fd] = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:  # the listing's own descriptor, closed by now
            pass
    return fds


def new_fds(before: dict[str, str]) -> dict[str, str]:
    """Descriptors opened since `before` (`open_fds`) and still open: a leak. Descriptors that something else
    closed meanwhile (an earlier test's objects collected) do not hide one, as a count would."""
    return {fd: target for fd, target in open_fds().items() if before.get(fd) != target}


def hidden_files(*folders: Path) -> list[Path]:
    """Files and folders whose name starts with a dot (HlsWriter's and the store's temporary names)."""
    return sorted(p for folder in folders if folder.exists() for p in folder.rglob(".*"))


def ffprobe(target: str) -> dict:
    """ffprobe's streams (with packet counts) and format of a file or URL, as JSON."""
    if shutil.which("ffprobe") is None:
        if os.environ.get("CI"):
            raise AssertionError("ffprobe is absent; .ci/run installs Debian's ffmpeg")
        pytest.skip("ffprobe (Debian's ffmpeg) is absent")
    argv = ["ffprobe", "-v", "error", "-count_packets", "-show_entries",
            "format=duration:stream=codec_name,nb_read_packets", "-of", "json", target]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)
