"""Content hashes: of files (streamed) and of canonical JSON descriptions of inputs + options.

Artifact keys are the tenant's: `key_sha256` mixes in the tenant whose work is being done (`tenant_scope`), so
the same footage ingested by two tenants gives two artifacts with their own paths, and the content-hash cache
never hands one tenant's artifact (or the fact that it exists, by a fast answer) to another. Work done for no
tenant (local tools, a mesh without authentication) keeps the plain keys.
"""
from __future__ import annotations

import contextvars
import hashlib
import json
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

_tenant: contextvars.ContextVar[str] = contextvars.ContextVar("tango_artifact_tenant", default="")


def artifact_tenant() -> str:
    """The tenant whose artifacts this thread makes and finds ("" for none)."""
    return _tenant.get()


@contextmanager
def tenant_scope(tenant: str) -> Iterator[None]:
    """Inside the block, artifact keys are `tenant`'s."""
    token = _tenant.set(tenant)
    try:
        yield
    finally:
        _tenant.reset(token)


def file_sha256(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def key_sha256(description: dict[str, Any]) -> str:
    """sha256 of the canonical JSON of `description` (sorted keys, no whitespace), with the scope's tenant."""
    if tenant := artifact_tenant():
        description = {**description, "_tenant": tenant}
    canonical = json.dumps(description, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


class FileHashCache:
    """Remembers file hashes by (path, size, mtime) so a re-analysis does not re-read the file."""

    def __init__(self) -> None:
        self._known: dict[tuple[str, int, int], str] = {}

    def sha256(self, path: Path) -> str:
        stat = path.stat()
        key = (str(path), stat.st_size, stat.st_mtime_ns)
        if key not in self._known:
            self._known[key] = file_sha256(path)
        return self._known[key]
