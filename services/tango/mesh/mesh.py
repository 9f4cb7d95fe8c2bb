"""The local mesh: each service as its own process on loopback, started, probed and stopped by PID.

State lives in `<home>/mesh.json` (PIDs with their kernel start times, so `down` never signals a
recycled PID) and logs in `<home>/logs/<component>.log`.

Secure by default: the orchestrator admits only bearer tokens. On first start the mesh makes a development
API key for the tenant `local` (`<home>/auth/token`, mode 0600, which the CLI and `LocalMesh.channel` send)
and gives the orchestrator only its hash (`<home>/auth/api_keys`). With `tls=True` (`tango mesh up --tls`)
every member, Triton included, speaks mutual TLS with a throw-away CA made in `<home>/tls`
(`tango.runtime.tls.make_mesh_pki`); the choice is kept in `mesh.json` for the later callers of this home.

Supervised: `up` leaves a supervisor process (`tango.mesh.supervisor`) that restarts a member that died, with
back-off, and counts its restarts (`tango mesh status`); `down` stops it first. `up`, `down` and the
supervisor's restarts hold `<home>/mesh.lock`, so that two of them never start the same member.
"""
from __future__ import annotations

import fcntl
import functools
import json
import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterator

import grpc

from tango.mesh.components import (
    Component, available_components, default_components, member_environment, mesh_environment, with_replicas,
)
from tango.mesh.health import grpc_serving, triton_ready
from tango.runtime.auth import TOKEN_FILE, bearer_channel
from tango.runtime.errors import FailedPrecondition, Unavailable
from tango.runtime.tls import TlsFiles, make_mesh_pki, open_channel
from tango.runtime.tokens import api_key_line, new_api_key

DEVELOPMENT_TENANT = "local"
API_KEYS_FILE = Path("auth") / "api_keys"


@dataclass
class MemberState:
    name: str
    pid: int
    start_ticks: int
    address: str
    metrics_port: int
    is_triton: bool
    log: str
    component: str = ""  # the component this process is a replica of (its name when empty)

    @property
    def of(self) -> str:
        return self.component or self.name


class LocalMesh:
    def __init__(self, home: Path, base_port: int = 50050, data_uri: str | None = None, allowed_roots: str | None = None,
                 replicas: dict[str, int] | None = None, only: set[str] | None = None, tls: bool | None = None):
        """`replicas`: processes per component (`{"perception": 2}`); `only`: start just these components;
        `tls`: mutual TLS between every member (None: as the running mesh of this home, else off)."""
        self.home = home
        self.state_file = home / "mesh.json"
        self.spec = {"base_port": base_port, "replicas": replicas or {}, "only": sorted(only) if only else None}
        present = [c for c in available_components(default_components(base_port)) if only is None or c.name in only]
        self.components = with_replicas(present, replicas or {})
        self.data_uri = data_uri or (home / "data").as_uri()
        self.allowed_roots = allowed_roots if allowed_roots is not None else default_allowed_roots()
        self._tls = tls

    # ---- up -----------------------------------------------------------------------------------
    def up(self, timeout_s: float = 180.0, log=print, supervise: bool = True) -> list[MemberState]:
        """Starts every member that is not running (all of them the first time, the dead ones later), then
        the supervisor when `supervise` and it is not running."""
        with self._locked():
            members = self._start_members(timeout_s, log)
            if supervise and not _running(self._state().get("supervisor")):
                self._write(self.members(), supervisor=self._spawn_supervisor())
        return members

    def restart(self, name: str, timeout_s: float = 180.0, log=print) -> bool:
        """The supervisor's restart of one dead member: only while the mesh is up (False once it was taken down).
        One member at a time, so that one that cannot start keeps no other from starting."""
        with self._locked():
            if not self.state_file.exists():
                return False
            self._start_members(timeout_s, log, only_member=name)
            return True

    def _start_members(self, timeout_s: float, log, only_member: str | None = None) -> list[MemberState]:
        """Starts the members that are not running (with `only_member`, that one only; others stay as they are)."""
        known = self.members()
        alive = {m.name: m for m in known if self.alive(m) or (only_member and m.name != only_member)}
        if alive and self._tls is not None and self._tls != self._recorded_tls():
            raise FailedPrecondition("the running mesh was started with the other TLS setting; `tango mesh down` first",
                                     reason="MESH_TLS_MISMATCH")
        self._tls = bool(self._tls if self._tls is not None else alive and self._recorded_tls())
        if self._tls and not (self.home / "tls" / "ca.crt").exists():
            make_mesh_pki(self.home / "tls")  # once: restarted members keep the CA their peers trust
        # a member that just died may hold its ports for a moment (children of its process group exiting)
        restarting = any(m.name not in alive for m in known)
        _refuse_busy_ports([c for c in self.components if c.member not in alive], wait_s=15.0 if restarting else 0.0)
        (self.home / "logs").mkdir(parents=True, exist_ok=True)
        env = {**os.environ, **self.environment()}
        members: list[MemberState] = []
        try:
            for component in self.components:
                if component.member in alive:
                    members.append(alive[component.member])
                    continue
                member = self._spawn(component, env)
                members.append(member)
                self._write(members + [m for m in alive.values() if m not in members])
                self._wait_ready(member, timeout_s)
                log(f"{component.member:<13} ready on {member.address} (pid {member.pid}, metrics :{member.metrics_port})")
        except Exception:
            if not alive:
                self._stop_members()
            raise
        self._write(members + [m for m in alive.values() if m not in members])  # replicas no longer asked for stay known to `down`
        return members

    def _spawn_supervisor(self) -> dict:
        spec = self.spec | {"data_uri": self.data_uri, "allowed_roots": self.allowed_roots, "tls": bool(self._tls)}
        with open(self.home / "logs" / "supervisor.log", "ab") as log_file:
            process = subprocess.Popen([sys.executable, "-m", "tango.mesh.supervisor", str(self.home), json.dumps(spec)],
                                       stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True)
        return {"pid": process.pid, "start_ticks": _start_ticks(process.pid)}

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.home.mkdir(parents=True, exist_ok=True)
        with open(self.home / "mesh.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def environment(self) -> dict[str, str]:
        """What every member's process gets on top of the caller's environment."""
        tls = self.tls_files()
        return mesh_environment(self.components, self.data_uri, self.allowed_roots) | {
            "TANGO_ORCHESTRATOR_API_KEYS_FILE": str(self._development_key())} | (tls.environment() if tls else {})

    def tls_files(self) -> TlsFiles | None:
        """This mesh's certificate files when it speaks TLS (made by `up`)."""
        if not (self._tls if self._tls is not None else self._recorded_tls()):
            return None
        return TlsFiles(*(self.home / "tls" / name for name in ("tls.crt", "tls.key", "ca.crt")))

    def _development_key(self) -> Path:
        """The API keys file admitting the development token (both made on first start, then kept)."""
        keys, token = self.home / API_KEYS_FILE, self.home / TOKEN_FILE
        if not (keys.exists() and token.exists()):
            keys.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            key = new_api_key()
            _write_private(token, key + "\n")
            _write_private(keys, api_key_line(DEVELOPMENT_TENANT, key) + "\n")
        return keys

    def token(self) -> str:
        return (self.home / TOKEN_FILE).read_text().strip()

    def channel(self, name: str, options: list[tuple] | None = None) -> grpc.Channel:
        """A channel to a component of this mesh (over its TLS) that sends the development token."""
        return bearer_channel(open_channel(self.endpoint(name), self.tls_files(), options), self.token())

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        """Signals one member (its process group); the supervisor (or `up`) restarts it."""
        for member in self.members():
            if member.name == name and self.alive(member):
                os.killpg(member.pid, sig)
                deadline = time.monotonic() + 15.0
                while self.alive(member) and time.monotonic() < deadline:
                    time.sleep(0.05)
                return
        raise FailedPrecondition(f"{name} is not running", reason="MESH_NOT_RUNNING")

    def _spawn(self, component: Component, env: dict[str, str]) -> MemberState:
        log_path = self.home / "logs" / f"{component.member}.log"
        argv = [sys.executable, "-m", "tango.cli.main", "serve", component.name]
        with open(log_path, "ab") as log_file:
            process = subprocess.Popen(argv, env=env | member_environment(component), stdout=log_file,
                                       stderr=subprocess.STDOUT, start_new_session=True)
        return MemberState(component.member, process.pid, _start_ticks(process.pid), component.address,
                           component.metrics_port, component.is_triton, str(log_path), component.name)

    def _wait_ready(self, member: MemberState, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if not self.alive(member):
                raise Unavailable(f"{member.name} exited during start-up; see {member.log}:\n{_tail(member.log)}",
                                  reason="MESH_MEMBER_DIED")
            if self._ready(member):
                return
            time.sleep(0.25)
        raise Unavailable(f"{member.name} not ready after {timeout_s:.0f} s; see {member.log}", reason="MESH_START_TIMEOUT")

    # ---- status / down ------------------------------------------------------------------------
    def _recorded_tls(self) -> bool:
        return bool(self._state().get("tls", False))

    def _state(self) -> dict:
        return json.loads(self.state_file.read_text()) if self.state_file.exists() else {}

    def members(self) -> list[MemberState]:
        return [MemberState(**m) for m in self._state().get("members", [])]

    def status(self) -> list[dict]:
        """Each member, its health, and how often the supervisor restarted it (`supervised`: it is running)."""
        restarts = read_restarts(self.home)
        supervised = _running(self._state().get("supervisor"))
        return [
            {"name": m.name, "component": m.of, "pid": m.pid, "address": m.address, "metrics": f"http://127.0.0.1:{m.metrics_port}/metrics",
             "alive": self.alive(m), "ready": self.alive(m) and self._ready(m), "supervised": supervised,
             "restarts": restarts.get(m.name, {}).get("restarts", 0)}
            for m in self.members()
        ]

    def endpoint(self, name: str) -> str:
        """The gRPC target of a component: its address, or `ipv4:a,b` reaching each running replica."""
        addresses = [m.address for m in self.members() if m.of == name and self.alive(m)]
        if len(addresses) == 1:
            return addresses[0]
        if addresses:
            return "ipv4:" + ",".join(addresses)
        raise FailedPrecondition(f"no running {name} in the local mesh at {self.home}", reason="MESH_NOT_RUNNING")

    def down(self, grace_s: float = 15.0) -> list[str]:
        """Stops the supervisor and every member (`_stop_members`); returns once all are gone."""
        with self._locked():
            stopped = self._stop_members(grace_s, self._state().get("supervisor"))
            self.state_file.unlink(missing_ok=True)
            (self.home / RESTARTS_FILE).unlink(missing_ok=True)
        return stopped

    def _stop_members(self, grace_s: float = 15.0, supervisor: dict | None = None) -> list[str]:
        """SIGTERM to the supervisor (where one runs) and then to every member, the orchestrator first and Triton last;
        SIGKILL to whichever has not left within grace_s. Returns the members' names."""
        members = [m for m in self.members() if self.alive(m)]
        groups = [(m.pid, functools.partial(self.alive, m)) for m in reversed(members)]
        if _running(supervisor):
            groups.insert(0, (supervisor["pid"], functools.partial(_running, supervisor)))
        for pid, _ in groups:
            os.killpg(pid, signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        while any(alive() for _, alive in groups) and time.monotonic() < deadline:
            time.sleep(0.05)
        for pid, alive in groups:
            if alive():
                os.killpg(pid, signal.SIGKILL)
        return [m.name for m in members]

    # ---- helpers ------------------------------------------------------------------------------
    def _ready(self, member: MemberState) -> bool:
        tls = self.tls_files()
        return triton_ready(member.address, tls=tls) if member.is_triton else grpc_serving(member.address, tls=tls)

    @staticmethod
    def alive(member: MemberState) -> bool:
        return _start_ticks(member.pid) == member.start_ticks

    def _write(self, members: list[MemberState], supervisor: dict | None = None) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        supervisor = supervisor or self._state().get("supervisor")
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps({"members": [asdict(m) for m in members], "tls": bool(self._tls),
                                   "supervisor": supervisor}, indent=2))
        tmp.replace(self.state_file)


RESTARTS_FILE = "restarts.json"


def read_restarts(home: Path) -> dict[str, dict]:
    """{member: {"restarts": n, ...}} as the supervisor last wrote it."""
    path = home / RESTARTS_FILE
    return json.loads(path.read_text()) if path.exists() else {}


def _running(process: dict | None) -> bool:
    return bool(process) and _start_ticks(process["pid"]) == process["start_ticks"]


def _write_private(path: Path, text: str) -> None:
    """Written whole, readable by the owner only."""
    tmp = path.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as handle:
        handle.write(text)
    tmp.replace(path)


def _refuse_busy_ports(components: list[Component], wait_s: float) -> None:
    """A port someone else listens on (another mesh, from another folder) would answer our health probes.
    Ports still busy after `wait_s` are refused."""
    deadline = time.monotonic() + wait_s
    while busy := [f"{c.name} :{port}" for c in components for port in c.ports if _listening(port)]:
        if time.monotonic() < deadline:
            time.sleep(0.1)
            continue
        raise FailedPrecondition(
            f"ports in use by other processes: {', '.join(busy)}; another mesh may be running from another folder "
            f"(`tango mesh down` there) or choose other ports (`tango mesh up --base-port N`)",
            reason="MESH_PORT_IN_USE")


def _listening(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def default_allowed_roots() -> str:
    """Inputs may come from the user's home, the working directory's parent tree and /tmp."""
    roots = {str(Path.home()), str(Path.cwd().parent), "/tmp"}
    return os.environ.get("TANGO_ALLOWED_ROOTS", ":".join(sorted(roots)))


def default_home() -> Path:
    return Path(os.environ.get("TANGO_HOME", Path.cwd() / ".tango")).resolve()


def _start_ticks(pid: int) -> int:
    """The process start time in clock ticks since boot (0 when the PID does not exist or is a zombie)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return 0
    return 0 if fields[0] == "Z" else int(fields[19])


def _tail(path: str, lines: int = 15) -> str:
    try:
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return ""
