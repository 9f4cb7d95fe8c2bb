"""The artifact store: immutable, content-addressed artifact directories under an fsspec root.

Layout: `<root>/<kind>/<sha256>/...files...`. An artifact is written into a private temporary directory
and published in one step (a rename on local disk; upload + a `_COMPLETE` marker written last on remote
filesystems), so a reader never sees half an artifact and a failed write leaves nothing behind.
Remote artifacts are materialised in a local cache directory before use.
"""
from __future__ import annotations

import json
import re
import shutil
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import fsspec

from tango.runtime.errors import ArtifactNotFound, InvalidArgument, WrongArtifactKind

COMPLETE_MARKER = "_COMPLETE"
_SHA = re.compile(r"^[0-9a-f]{64}$")
_KIND = re.compile(r"^[a-z_]{1,40}$")


@dataclass(frozen=True)
class ArtifactInfo:
    kind: str
    sha256: str
    uri: str


class ArtifactStore:
    def __init__(self, root_uri: str, cache_dir: Path | None = None):
        self.root_uri = root_uri.rstrip("/")
        self.fs, self.root_path = fsspec.core.url_to_fs(self.root_uri)
        self.is_local = self.fs.protocol in ("file", ("file", "local")) or "file" in self.fs.protocol
        if self.is_local:
            Path(self.root_path).mkdir(parents=True, exist_ok=True)
        self.cache_dir = cache_dir or Path(tempfile.gettempdir()) / "tango-artifact-cache"

    # ---- naming -------------------------------------------------------------------------------
    def uri(self, kind: str, sha256: str) -> str:
        _check_name(kind, sha256)
        return f"{self.root_uri}/{kind}/{sha256}"

    def parse(self, uri: str, expected_kind: str | None = None) -> ArtifactInfo:
        """Validates that `uri` names an artifact of this store (no traversal) and returns its parts."""
        root = self.root_uri + "/"
        if not uri.startswith(root):
            raise ArtifactNotFound(f"{uri!r} is not an artifact of this store ({self.root_uri})", metadata={"uri": uri})
        parts = uri[len(root):].strip("/").split("/")
        if len(parts) != 2 or not _KIND.match(parts[0]) or not _SHA.match(parts[1]):
            raise ArtifactNotFound(f"{uri!r} is not an artifact URI (<root>/<kind>/<sha256>)", metadata={"uri": uri})
        if expected_kind is not None and parts[0] != expected_kind:
            raise WrongArtifactKind(f"{uri!r} is a {parts[0]} artifact, expected {expected_kind}", metadata={"uri": uri})
        return ArtifactInfo(parts[0], parts[1], uri)

    def local_roots(self) -> list[str]:
        """Directories of this store that services may read inputs from (uploads, renders)."""
        return [self.root_path] if self.is_local else []

    # ---- reading ------------------------------------------------------------------------------
    def exists(self, kind: str, sha256: str) -> bool:
        path = self._path(kind, sha256)
        if self.is_local:
            return Path(path).is_dir()
        return self.fs.exists(f"{path}/{COMPLETE_MARKER}")

    def local_dir(self, uri: str, expected_kind: str | None = None) -> Path:
        """A local directory holding the artifact's files (the artifact itself on local disk)."""
        info = self.parse(uri, expected_kind)
        if not self.exists(info.kind, info.sha256):
            raise ArtifactNotFound(f"artifact {uri} does not exist", metadata={"uri": uri})
        if self.is_local:
            return Path(self._path(info.kind, info.sha256))
        local = self.cache_dir / info.kind / info.sha256
        if not (local / COMPLETE_MARKER).exists():
            staging = local.with_name(f".{info.sha256}.{uuid.uuid4().hex}")
            self.fs.get(self._path(info.kind, info.sha256) + "/", str(staging), recursive=True)
            staging.rename(local)
        return local

    def list(self, kind: str) -> list[ArtifactInfo]:
        base = f"{self.root_path}/{kind}"
        if not self.fs.exists(base):
            return []
        names = sorted(Path(p).name for p in self.fs.ls(base, detail=False))
        return [ArtifactInfo(kind, n, self.uri(kind, n)) for n in names if _SHA.match(n) and self.exists(kind, n)]

    def read_json(self, uri: str, name: str = "meta.json") -> dict:
        return json.loads((self.local_dir(uri) / name).read_text())

    # ---- writing ------------------------------------------------------------------------------
    def create(self, kind: str, sha256: str, write: Callable[[Path], None]) -> ArtifactInfo:
        """Runs `write(tmp_dir)` and publishes the directory atomically. Idempotent for an existing artifact."""
        _check_name(kind, sha256)
        if self.exists(kind, sha256):
            return ArtifactInfo(kind, sha256, self.uri(kind, sha256))
        if self.is_local:
            final = Path(self._path(kind, sha256))
            final.parent.mkdir(parents=True, exist_ok=True)
            staging = Path(tempfile.mkdtemp(prefix=f".{sha256[:12]}.", dir=final.parent))
        else:
            staging = Path(tempfile.mkdtemp(prefix="tango-upload-"))
        try:
            write(staging)
            (staging / COMPLETE_MARKER).write_text("")
            if self.is_local:
                try:
                    staging.rename(final)
                except OSError:  # a concurrent writer published the same content first
                    if not final.is_dir():
                        raise
            else:
                self._upload(staging, kind, sha256)
        finally:
            if staging.exists():
                shutil.rmtree(staging, ignore_errors=True)
        return ArtifactInfo(kind, sha256, self.uri(kind, sha256))

    def delete(self, kind: str, sha256: str) -> None:
        if not self.exists(kind, sha256):
            raise ArtifactNotFound(f"artifact {kind}/{sha256} does not exist")
        path = self._path(kind, sha256)
        if self.is_local:  # move aside first so readers never see a half-deleted artifact
            doomed = Path(path).with_name(f".deleted.{sha256}.{uuid.uuid4().hex}")
            Path(path).rename(doomed)
            shutil.rmtree(doomed, ignore_errors=True)
        else:
            self.fs.rm(f"{path}/{COMPLETE_MARKER}")
            self.fs.rm(path, recursive=True)

    def _upload(self, staging: Path, kind: str, sha256: str) -> None:
        target = self._path(kind, sha256)
        for file in sorted(staging.rglob("*")):
            if file.is_file() and file.name != COMPLETE_MARKER:
                self.fs.put_file(str(file), f"{target}/{file.relative_to(staging).as_posix()}")
        self.fs.put_file(str(staging / COMPLETE_MARKER), f"{target}/{COMPLETE_MARKER}")

    def _path(self, kind: str, sha256: str) -> str:
        _check_name(kind, sha256)
        return f"{self.root_path}/{kind}/{sha256}"


def _check_name(kind: str, sha256: str) -> None:
    if not _KIND.match(kind) or not _SHA.match(sha256):
        raise InvalidArgument(f"bad artifact name {kind}/{sha256}", reason="BAD_ARTIFACT_NAME")

