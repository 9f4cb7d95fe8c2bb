"""Mutual TLS in the shared runtime: a served port admits only clients holding a certificate of its CA, and
picks up rotated files for new connections without a restart."""
from __future__ import annotations

import shutil

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tango.runtime.config import ServiceConfig
from tango.runtime.metrics import ServiceMetrics
from tango.runtime.server import GrpcService
from tango.runtime.tls import TlsFiles, make_mesh_pki, open_channel


def _serving(port: int, tls: TlsFiles | None) -> bool:
    try:
        with open_channel(f"127.0.0.1:{port}", tls) as channel:
            reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
            return reply.status == health_pb2.HealthCheckResponse.SERVING
    except grpc.RpcError as error:
        assert error.code() == grpc.StatusCode.UNAVAILABLE  # the handshake failed: no call reached the service
        return False


@pytest.fixture()
def pki(tmp_path):
    return make_mesh_pki(tmp_path / "ours"), make_mesh_pki(tmp_path / "theirs"), tmp_path / "served"


def test_only_clients_of_the_same_ca_get_in_and_rotation_needs_no_restart(pki):
    ours, theirs, served_dir = pki
    shutil.copytree(ours.cert.parent, served_dir)
    served = TlsFiles(served_dir / "tls.crt", served_dir / "tls.key", served_dir / "ca.crt")
    assert oct(served.key.stat().st_mode & 0o777) == "0o600"
    config = ServiceConfig(service="tls", port=0, metrics_port=-1, grace_s=1, **{
        "tls_cert_file": str(served.cert), "tls_key_file": str(served.key), "tls_ca_file": str(served.ca)})
    service = GrpcService(config, [], ServiceMetrics("tls"))
    service.start()
    service.mark_ready()
    try:
        assert _serving(service.port, ours)
        assert not _serving(service.port, None)  # plaintext
        assert not _serving(service.port, theirs)  # a certificate of another CA
        for name in ("tls.crt", "tls.key", "ca.crt"):  # the Secret rotates to the other CA
            shutil.copyfile(theirs.cert.parent / name, served_dir / name)
        assert _serving(service.port, theirs)
        assert not _serving(service.port, ours)
    finally:
        service.stop()


def test_tls_files_come_together_or_not_at_all(tmp_path):
    assert TlsFiles.from_env({}) is None
    with pytest.raises(Exception) as caught:
        TlsFiles.from_env({"TANGO_TLS_CERT_FILE": "a.crt", "TANGO_TLS_KEY_FILE": "a.key"})
    assert getattr(caught.value, "reason", "") == "BAD_TLS_CONFIG"
