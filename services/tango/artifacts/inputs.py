"""Resolution of caller-given input URIs (videos, audio, motion files) inside the allowed roots."""
from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlparse

import fsspec

from tango.artifacts.hashing import key_sha256
from tango.runtime.errors import ArtifactNotFound, EmptyMedia, InvalidArgument, MediaTooLarge, UriNotAllowed


class InputResolver:
    """Turns a URI into a readable local file, refusing anything outside the allowed roots.

    Local paths are resolved (symlinks and `..` included) before the check, so traversal cannot escape.
    Remote URIs (s3://, gs://, http(s)://...) must start with an allowed root URI and are downloaded into
    `download_dir` (named by the URI's hash).
    """

    def __init__(self, allowed_roots: list[str], download_dir: Path, max_bytes: int = 8 << 30):
        self.local_roots = [Path(os.path.realpath(local_root_path(r))) for r in allowed_roots if _is_local(r)]
        self.remote_roots = [r.rstrip("/") + "/" for r in allowed_roots if not _is_local(r)]
        self.download_dir = download_dir
        self.max_bytes = max_bytes

    def resolve(self, uri: str) -> Path:
        if not uri:
            raise InvalidArgument("no input URI given", reason="MISSING_URI")
        if _is_local(uri):
            return self._resolve_local(Path(local_root_path(uri)))
        if not any(uri.startswith(root) for root in self.remote_roots):
            raise UriNotAllowed(f"{uri!r} is outside the allowed roots", metadata={"uri": uri})
        return self._download(uri)

    def inside_roots(self, path: Path | str) -> Path:
        """The real path of a local `path` (symlinks and `..` resolved), refused unless it lies in an allowed root."""
        real = Path(os.path.realpath(path))
        if not any(real == root or root in real.parents for root in self.local_roots):
            raise UriNotAllowed(f"{str(path)[:200]} is outside the allowed roots", metadata={"uri": str(path)[:200]})
        return real

    def _resolve_local(self, path: Path) -> Path:
        real = self.inside_roots(path)
        if not real.is_file():
            raise ArtifactNotFound(f"{path} does not exist or is not a file", reason="INPUT_NOT_FOUND")
        size = real.stat().st_size
        if size == 0:
            raise EmptyMedia(f"{path} is empty (0 bytes)")
        if size > self.max_bytes:
            raise MediaTooLarge(f"{path} is {size} bytes, above the limit of {self.max_bytes}")
        return real

    def _download(self, uri: str) -> Path:
        target = self.download_dir / key_sha256({"uri": uri}) / Path(urlparse(uri).path).name
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.with_suffix(target.suffix + ".part")
            with fsspec.open(uri, "rb") as src, open(partial, "wb") as dst:
                while block := src.read(1 << 20):
                    dst.write(block)
            partial.rename(target)
        return target


def _is_local(uri: str) -> bool:
    scheme = urlparse(uri).scheme
    return scheme in ("", "file") or len(scheme) == 1  # a Windows drive letter is not a scheme


def local_root_path(uri: str) -> str:
    parsed = urlparse(uri)
    return parsed.path if parsed.scheme == "file" else uri
