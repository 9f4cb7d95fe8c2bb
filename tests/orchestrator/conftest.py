"""Fixtures of the orchestrator's tests: a real PostgreSQL job store."""
from __future__ import annotations

import pytest

from postgres_cluster import PostgresCluster


@pytest.fixture(scope="session")
def postgres():
    """The DSN of a throw-away PostgreSQL cluster, shared by the session."""
    cluster = PostgresCluster().start()
    yield cluster.dsn
    cluster.stop()
