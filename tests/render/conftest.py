"""Fixtures of the render tests: a real RTMP ingest (nginx + libnginx-mod-rtmp) for the live outputs."""
from __future__ import annotations

import pytest

from live_servers import RtmpServer


@pytest.fixture(scope="session")
def rtmp_server():
    """A throw-away nginx-rtmp server on 127.0.0.1 recording what it receives; skipped where nginx or its RTMP
    module is not installed (`apt-get install nginx libnginx-mod-rtmp`)."""
    server = RtmpServer().start()
    yield server
    server.stop()
