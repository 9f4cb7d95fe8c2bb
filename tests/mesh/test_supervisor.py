"""The local mesh's supervisor: a killed member comes back by itself (its restarts counted in the status), a
caller's own `up` at the same moment never starts it twice, and `down` stops the supervisor first."""
from __future__ import annotations

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
