"""The local mesh refuses to start over ports that another process listens on (e.g. a mesh from another
folder), instead of taking that process's health answers for its own."""
from __future__ import annotations

import socket

import pytest

from tango.mesh.mesh import LocalMesh
from tango.runtime.errors import FailedPrecondition


def test_up_refuses_busy_ports_before_starting_anything(tmp_path):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        mesh = LocalMesh(tmp_path, base_port=port)  # the orchestrator's gRPC port is the base port
        with pytest.raises(FailedPrecondition) as caught:
            mesh.up(log=lambda _line: None)
    assert caught.value.reason == "MESH_PORT_IN_USE"
    assert f"orchestrator :{port}" in caught.value.message
    assert mesh.members() == [] and not (tmp_path / "logs").exists()
