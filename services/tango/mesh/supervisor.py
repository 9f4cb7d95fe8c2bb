"""The local mesh's supervisor: restarts a member that died, with back-off, and counts the restarts.

`python -m tango.mesh.supervisor HOME SPEC` is started by `LocalMesh.up` (SPEC: the JSON of how the mesh was
built) and runs until SIGTERM (`LocalMesh.down`) or until the mesh's state file is gone. Every `poll_s` it
looks for dead members; each is restarted on its own by `LocalMesh.restart` (under the mesh's lock, so never
at the same time as a caller's `up` or `down`; one that cannot start keeps no other from starting) once its
back-off has passed: 1 s after its first death, then
doubling up to `max_backoff_s` while it keeps dying within `stable_s` of its restart. Restarts and the last
failure are written to `<home>/restarts.json` (read by `tango mesh status`).
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Callable

from tango.mesh.mesh import RESTARTS_FILE, LocalMesh, read_restarts
from tango.runtime.errors import TangoError
from tango.runtime.signals import sleep_until, stop_signals


class Supervisor:
    def __init__(self, mesh: LocalMesh, poll_s: float = 1.0, max_backoff_s: float = 30.0, stable_s: float = 60.0):
        self.mesh, self.poll_s, self.max_backoff_s, self.stable_s = mesh, poll_s, max_backoff_s, stable_s
        self.restarts = read_restarts(mesh.home)  # {member: {"restarts", "failures", "next_s", "last_s", "error"}}

    def run(self, stopped: Callable[[], bool]) -> None:
        """Until `stopped()` or the mesh's state file is gone."""
        while not stopped() and self.mesh.state_file.exists():
            if sleep_until(stopped, self.poll_s, self.poll_s / 10):  # a signal is seen within a tenth of poll_s
                return
            if self.mesh.state_file.exists():
                self.tick(time.time())

    def tick(self, now: float) -> None:
        dead = [m.name for m in self.mesh.members() if not self.mesh.alive(m)]
        due = [name for name in dead if self.restarts.get(name, {}).get("next_s", 0.0) <= now]
        if not due:
            return
        for name in due:
            record = self.restarts.setdefault(name, {"restarts": 0, "failures": 0})
            recent = now - record.get("last_s", 0.0) < self.stable_s
            record["failures"] = record["failures"] + 1 if recent else 1
            record["next_s"] = now + min(self.max_backoff_s, 2.0 ** (record["failures"] - 1))
        for name in due:
            try:
                if not self.mesh.restart(name, log=lambda line: print(f"restarted {line}", flush=True)):
                    return  # the mesh was taken down meanwhile
                self.restarts[name].update(restarts=self.restarts[name]["restarts"] + 1, last_s=time.time(), error="")
            except TangoError as error:
                print(f"restart of {name} failed: {error.message}", flush=True)
                self.restarts[name].update(last_s=time.time(), error=f"{error.reason}: {error.message}"[:500])
            self._save()

    def _save(self) -> None:
        path = self.mesh.home / RESTARTS_FILE
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.restarts, indent=2))
        tmp.replace(path)


def main(argv: list[str] | None = None) -> int:
    home, spec = (argv if argv is not None else sys.argv[1:])[:2]
    spec = json.loads(spec)
    mesh = LocalMesh(Path(home), base_port=spec["base_port"], data_uri=spec["data_uri"],
                     allowed_roots=spec["allowed_roots"], replicas=spec["replicas"],
                     only=set(spec["only"]) if spec["only"] else None, tls=spec["tls"])
    stopped = stop_signals()
    print(f"supervising the mesh in {home}", flush=True)
    Supervisor(mesh).run(stopped)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
