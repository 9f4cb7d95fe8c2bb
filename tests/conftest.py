"""Fixtures shared by the whole suite: the shared media folder and in-process services on port 0."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from support import MEDIA_DIR, REPO_ROOT

os.environ.setdefault("NUMBA_CACHE_DIR", str(REPO_ROOT / ".numba-cache"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture(scope="session")
def media_dir() -> Path:
    if not MEDIA_DIR.is_dir():
        pytest.skip("../shared/media is absent")
    return MEDIA_DIR


@pytest.fixture(scope="session")
def female_video(media_dir) -> Path:
    return media_dir / "video" / "tango_female_test_V1_22s.mp4"


@pytest.fixture(scope="session")
def store_root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("store")


@pytest.fixture(scope="session")
def inputs_root(tmp_path_factory) -> Path:
    """A writable folder inside the services' allowed roots, for inputs the tests make."""
    return tmp_path_factory.mktemp("inputs")



@pytest.fixture(scope="session")
def rtmp_server():
    """A throw-away nginx-rtmp server on 127.0.0.1 recording what it receives (the live mode's RTMP ingest);
    skipped where nginx or its RTMP module is not installed (`apt-get install nginx libnginx-mod-rtmp`)."""
    from live_servers import RtmpServer

    server = RtmpServer().start()
    yield server
    server.stop()


@pytest.fixture
def srt_server():
    """A throw-away SRT listener (Debian's srt-live-transmit) recording what it receives (the live mode's SRT
    ingest); skipped where it or ffmpeg (the SRT output's relay) is not installed."""
    from live_servers import SrtServer, require_tool

    require_tool("ffmpeg", "ffmpeg")
    server = SrtServer().start()
    yield server
    server.stop()
