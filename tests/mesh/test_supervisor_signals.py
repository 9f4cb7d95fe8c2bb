"""The mesh supervisor stops on SIGTERM, however many arrive: its handler takes no lock (an Event's set() in the handler
once hung a supervisor for good, after a test mesh's `down`)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

from tango.mesh.mesh import LocalMesh


def test_supervisor_stops_on_a_burst_of_sigterms(tmp_path):
    (tmp_path / "mesh.json").write_text(json.dumps({"members": [], "tls": False, "supervisor": None}))
    spec = {"base_port": 53950, "replicas": {}, "only": None, "data_uri": f"file://{tmp_path}/data",
            "allowed_roots": str(tmp_path), "tls": False}
    assert LocalMesh(tmp_path, base_port=53950).members() == []
    process = subprocess.Popen([sys.executable, "-m", "tango.mesh.supervisor", str(tmp_path), json.dumps(spec)],
                               stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout.readline().startswith("supervising")
        for _ in range(100):
            try:
                os.kill(process.pid, signal.SIGTERM)
            except ProcessLookupError:
                break
        assert process.wait(timeout=10) == 0
    finally:
        process.kill()
        process.wait()
