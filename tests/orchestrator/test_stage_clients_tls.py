"""The orchestrator's stage channels follow a certificate rotation: a channel presents the certificate it was
opened with, so after the TLS files change the clients open new channels (a real perception stage over mutual
TLS, restarted on the rotated CA as a pod would be)."""
from __future__ import annotations

import shutil

import pytest
from support import allowed_roots, shared_media

from tango.orchestrator.stage_clients import StageAddresses, StageClients
from tango.perception.config import PerceptionConfig
from tango.perception.server import build
from tango.runtime.errors import Unavailable
from tango.runtime.tls import TlsFiles, make_mesh_pki

UNUSED = "127.0.0.1:9"


def _copy(files: TlsFiles, folder) -> TlsFiles:
    folder.mkdir(exist_ok=True)
    for path in (files.cert, files.key, files.ca):
        shutil.copyfile(path, folder / path.name)
    return TlsFiles(folder / files.cert.name, folder / files.key.name, folder / files.ca.name)


def _perception(tmp_path, port: int, tls: TlsFiles):
    config = PerceptionConfig(service="perception", port=port, metrics_port=-1, grace_s=0,
                              data_uri=(tmp_path / "data").as_uri(), allowed_roots=allowed_roots(tmp_path),
                              tls_cert_file=str(tls.cert), tls_key_file=str(tls.key), tls_ca_file=str(tls.ca))
    service = build(config)
    service.start()
    return service


def test_stage_channels_present_the_rotated_certificate(tmp_path):
    video = str(shared_media("video/tango_speaker8.mp4"))
    ours, theirs = make_mesh_pki(tmp_path / "ours"), make_mesh_pki(tmp_path / "theirs")
    served, held = _copy(ours, tmp_path / "served"), _copy(ours, tmp_path / "held")
    service = _perception(tmp_path, 0, served)
    port = service.port
    clients = StageClients(StageAddresses(f"127.0.0.1:{port}", UNUSED, UNUSED, UNUSED, UNUSED), deadline_s=20,
                           tls=held)
    try:
        assert clients.plan_analysis(video, 60.0, 1, 2.0, lambda: False)
        for name in ("tls.crt", "tls.key", "ca.crt"):  # both Secrets rotate to a new CA; the stage restarts
            shutil.copyfile(theirs.cert.parent / name, served.cert.parent / name)
            shutil.copyfile(theirs.cert.parent / name, held.cert.parent / name)
        service.stop(grace_s=0)
        service = _perception(tmp_path, port, served)
        assert clients.plan_analysis(video, 60.0, 1, 2.0, lambda: False)
        shutil.copytree(ours.cert.parent, held.cert.parent, dirs_exist_ok=True)  # a client of the old CA
        with pytest.raises(Unavailable):
            clients.plan_analysis(video, 60.0, 1, 2.0, lambda: False)
    finally:
        clients.close()
        service.stop(grace_s=0)
