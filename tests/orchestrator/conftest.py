"""Fixtures of the orchestrator's tests: a real PostgreSQL job store; an orchestrator behind its auth door."""
from __future__ import annotations

import grpc
import pytest

from postgres_cluster import PostgresCluster
from support import allowed_roots
from tango.orchestrator.config import OrchestratorConfig
from tango.orchestrator.server import build
from tango.runtime.auth import bearer_channel
from tango.runtime.tokens import api_key_line, new_api_key

UNREACHABLE = "127.0.0.1:9"  # accepted jobs retry their first stage; nothing here needs a stage to answer


@pytest.fixture(scope="session")
def postgres():
    """The DSN of a throw-away PostgreSQL cluster, shared by the session."""
    cluster = PostgresCluster().start()
    yield cluster.dsn
    cluster.stop()


@pytest.fixture(scope="module")
def door(tmp_path_factory):
    """An orchestrator admitting one API key, its channel with that key, and a folder inside its allowed roots."""
    home = tmp_path_factory.mktemp("hostile")
    inputs = home / "inputs"
    inputs.mkdir()
    key = new_api_key()
    (home / "api_keys").write_text(api_key_line("newsroom", key) + "\n")
    config = OrchestratorConfig(service="orchestrator", port=0, metrics_port=-1, data_uri=(home / "data").as_uri(),
                                allowed_roots=allowed_roots(inputs), max_workers=8, grace_s=1,
                                api_keys_file=str(home / "api_keys"), perception_addr=UNREACHABLE,
                                graph_addr=UNREACHABLE, retrieval_addr=UNREACHABLE, render_addr=UNREACHABLE,
                                trainer_addr=UNREACHABLE, live_streams=1, upload_idle_s=2.0, upload_max_s=5.0)
    service = build(config)
    service.start()
    service.warm_up()
    service.mark_ready()
    raw = grpc.insecure_channel(f"127.0.0.1:{service.port}")
    yield {"raw": raw, "channel": bearer_channel(raw, key), "inputs": inputs, "key": key}
    service.stop(grace_s=1)
