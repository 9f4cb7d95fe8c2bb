"""A throw-away PostgreSQL cluster for tests: Debian's `postgresql` binaries, a temp directory, a Unix socket
only (no TCP port), run as the `postgres` user when the tests run as root (initdb refuses root)."""
from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

PORT = 5432  # only names the socket file inside the cluster's own directory


def postgres_bin() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        if os.environ.get("CI"):
            raise AssertionError("PostgreSQL is not installed; .ci/run installs Debian's postgresql")
        pytest.skip("PostgreSQL binaries (Debian's postgresql) are absent")
    return Path(found[-1]).parent


class PostgresCluster:
    """In its own directory under /tmp: the `postgres` user must reach it, and pytest's temp folders are
    private to root."""

    def __init__(self):
        self.bin = postgres_bin()
        self.directory = Path(tempfile.mkdtemp(prefix="tango-pg-"))
        self.data = self.directory / "data"
        self._as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    @property
    def dsn(self) -> str:
        return f"postgresql://tango@/postgres?host={self.directory}&port={PORT}"

    def start(self) -> "PostgresCluster":
        if self._as_user:
            shutil.chown(self.directory, "postgres", "postgres")
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "tango", "--no-sync")
        options = f"-k {self.directory} -p {PORT} -c listen_addresses='' -c fsync=off"
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.directory / "server.log"), "-w", "start")
        return self

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.directory, ignore_errors=True)

    def _run(self, tool: str, *args: str) -> None:
        done = subprocess.run([*self._as_user, str(self.bin / tool), *args], capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"{tool} failed ({done.returncode}): {done.stderr or done.stdout}")
