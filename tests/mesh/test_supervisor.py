"""The local mesh's supervisor: a killed member comes back by itself (its restarts counted in the status), a
caller's own `up` at the same moment never starts it twice, and `down` stops the supervisor first."""
from __future__ import annotations

import os
import signal
import socket
import time

from tango.mesh.mesh import LocalMesh, _start_ticks

BASE_PORT = 56450


def _wait(condition, timeout_s: float, what: str):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_killed_member_is_restarted_and_counted(tmp_path):
    mesh = LocalMesh(tmp_path, base_port=BASE_PORT, only={"graph"})
    mesh.up(log=lambda _line: None)
    try:
        supervisor = mesh._state()["supervisor"]
        first = mesh.members()[0]
        mesh.kill("graph")
        mesh.up(log=lambda _line: None)  # a caller restarting it too: one of the two does, under the lock
        _wait(lambda: all(m["ready"] for m in mesh.status()), 120, "graph to be back")
        again = mesh.members()[0]
        assert again.pid != first.pid and len(mesh.members()) == 1
        mesh.kill("graph")  # this time only the supervisor brings it back
        status = _wait(lambda: (s := mesh.status()) and s[0]["ready"] and s[0]["restarts"] >= 1 and s, 120,
                       "the supervisor's restart")
        assert status[0]["supervised"] and mesh.members()[0].pid not in (first.pid, again.pid)
    finally:
        stopped = mesh.down()
    assert stopped == ["graph"] and mesh.members() == []
    assert _start_ticks(supervisor["pid"]) == 0  # the supervisor is gone too
    time.sleep(2.5)  # and nothing restarted the member after `down`
    assert mesh.status() == []
    with socket.socket() as probe:
        probe.settimeout(0.5)
        assert probe.connect_ex(("127.0.0.1", BASE_PORT + 2)) != 0  # graph's port is free


def test_triton_killed_alone_leaves_no_orphan_and_comes_back(tmp_path):
    """SIGKILL of Triton's launcher process only (not its group): tritonserver dies with it (its parent-death
    signal), so its ports are free and the supervisor's restart can bind them."""
    mesh = LocalMesh(tmp_path, base_port=BASE_PORT + 20, only={"triton"})
    mesh.up(log=lambda _line: None)
    try:
        launcher = mesh.members()[0]
        servers = [int(p) for p in os.listdir("/proc") if p.isdigit() and _parent(int(p)) == launcher.pid]
        assert servers, "tritonserver runs as the launcher's child"
        os.kill(launcher.pid, signal.SIGKILL)
        _wait(lambda: all(_start_ticks(pid) == 0 for pid in servers), 30, "tritonserver to die with its launcher")
        status = _wait(lambda: (s := mesh.status()) and s[0]["ready"] and s[0]["restarts"] >= 1 and s, 240,
                       "the supervisor's restart of Triton")
        assert status[0]["pid"] != launcher.pid
    finally:
        mesh.down()


def _parent(pid: int) -> int:
    try:
        return int(open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[1])
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return -1
