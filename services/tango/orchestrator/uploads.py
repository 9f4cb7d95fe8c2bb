"""Media uploaded by callers without shared storage, and downloads of produced files, each the tenant's that
uploaded or rendered it: another tenant can neither download it nor name it as a job's input (NOT_FOUND), and
an identical upload of another tenant is stored apart."""
from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path
from typing import Iterable, Iterator

from tango.artifacts.hashing import key_sha256, tenant_scope
from tango.artifacts.store import ArtifactStore
from tango.orchestrator.request_checks import check_uris
from tango.orchestrator.tenancy import MEDIA, Tenancy
from tango.runtime.errors import InvalidArgument, MediaTooLarge, NotFound, UriNotAllowed

KIND = "upload"
CHUNK = 1 << 20
# what a caller may download: rendered videos with their sidecars, and uploads; never the job database,
# checkpoints, perception arrays or anything else of the store
DOWNLOADABLE = ("render", KIND)


class UploadArea:
    def __init__(self, store: ArtifactStore, max_bytes: int, tenancy: Tenancy, idle_s: float = 30.0,
                 max_s: float = 3600.0):
        self.store = store
        self.max_bytes = max_bytes
        self.tenancy = tenancy
        self.idle_s, self.max_s = idle_s, max_s  # how long a caller may pause, and take, sending an upload

    def grant(self, tenant: str, *uris: str) -> None:
        """These produced files (a render's video and sidecar) are now also `tenant`'s."""
        self.tenancy.grant(tenant, MEDIA, *(str(self._path(uri)) for uri in uris if uri))

    def check_inputs(self, tenant: str, uris: Iterable[str]) -> None:
        """A job's input inside the artifact store must be the tenant's own media; else it does not exist."""
        root = Path(self.store.root_path).resolve()
        for uri in uris:
            path = self._path(uri)
            if uri and root in path.parents and not self.tenancy.owns(tenant, MEDIA, str(path)):
                raise NotFound(f"input {_shown(uri)!r} does not exist", reason="INPUT_NOT_FOUND")

    def save(self, filename: str, chunks: Iterable[bytes], tenant: str) -> tuple[str, str, int]:
        """Stores an uploaded file content-addressed, as `tenant`'s; returns (path URI, sha256, size)."""
        name = re.sub(r"[^A-Za-z0-9._-]", "_", Path(filename).name)[:100]
        if not name or name.startswith((".", "_")):  # hidden, or the store's own markers (_COMPLETE)
            raise InvalidArgument(f"bad upload file name {filename[:200]!r}", reason="BAD_FILENAME")
        digest, size = hashlib.sha256(), 0
        handle, spool = tempfile.mkstemp(suffix=".part")
        spooled = Path(spool)
        try:
            with os.fdopen(handle, "wb") as sink:
                for chunk in chunks:  # a caller's stream: it may fail (idle, gone) at any chunk
                    size += len(chunk)
                    if size > self.max_bytes:
                        raise MediaTooLarge(f"upload exceeds {self.max_bytes} bytes")
                    digest.update(chunk)
                    sink.write(chunk)
            if size == 0:
                raise InvalidArgument("the upload is empty", reason="EMPTY_MEDIA")
            sha = digest.hexdigest()
            # the tenant's own copy: the same file uploaded by two tenants is two artifacts, neither found by the other
            with tenant_scope(tenant):
                folder = key_sha256({"upload": sha}) if tenant else sha
            info = self.store.create(KIND, folder, lambda tmp: spooled.replace(tmp / name))
        finally:
            spooled.unlink(missing_ok=True)
        stored = next(p for p in self.store.local_dir(info.uri, KIND).iterdir() if not p.name.startswith("_"))
        self.tenancy.grant(tenant, MEDIA, str(stored.resolve()))
        return str(stored), sha, size

    def read(self, uri: str, tenant: str) -> Iterator[bytes]:
        """Streams a rendered video, its sidecar or an upload of `tenant`: <store>/<kind>/<sha256>/<file>."""
        root = Path(self.store.root_path).resolve()
        path = self._path(uri)
        parts = path.relative_to(root).parts if root in path.parents else ()
        if len(parts) != 3 or parts[0] not in DOWNLOADABLE or parts[2].startswith(("_", ".")):
            raise UriNotAllowed(f"{_shown(uri)!r} is not a rendered video, sidecar or upload of the artifact store")
        if not self.tenancy.owns(tenant, MEDIA, str(path)) or not path.is_file():
            raise NotFound(f"{_shown(uri)!r} does not exist", reason="FILE_NOT_FOUND")
        with open(path, "rb") as handle:
            while block := handle.read(CHUNK):
                yield block

    @staticmethod
    def _path(uri: str) -> Path:
        check_uris(uri)  # a NUL cannot name a file (os.path raises), nor can 5 000 characters
        return Path(uri.removeprefix("file://")).resolve()


def _shown(uri: str) -> str:
    return uri if len(uri) <= 200 else uri[:200] + "..."
