"""The content-addressed artifact store and input resolution."""
from __future__ import annotations

import os

import pytest

from tango.artifacts.hashing import key_sha256
from tango.artifacts.inputs import InputResolver
from tango.artifacts.store import ArtifactStore
from tango.runtime import errors


def _write(payload: str):
    def write(tmp):
        (tmp / "meta.json").write_text(payload)

    return write


def test_create_is_atomic_idempotent_and_listable(tmp_path):
    store = ArtifactStore(tmp_path.as_uri())
    key = key_sha256({"video": "abc", "options": {"x": 1}})
    assert key == key_sha256({"options": {"x": 1}, "video": "abc"})  # canonical JSON
    info = store.create("perception", key, _write('{"a": 1}'))
    assert info.uri == f"{tmp_path.as_uri()}/perception/{key}"
    assert store.read_json(info.uri) == {"a": 1}
    assert store.create("perception", key, _write('{"a": 2}')).uri == info.uri  # cache hit, not overwritten
    assert store.read_json(info.uri) == {"a": 1}
    assert [a.sha256 for a in store.list("perception")] == [key]
    store.delete("perception", key)
    assert store.list("perception") == []
    with pytest.raises(errors.ArtifactNotFound):
        store.local_dir(info.uri)


def test_failed_write_leaves_nothing(tmp_path):
    store = ArtifactStore(tmp_path.as_uri())
    key = key_sha256({"k": 1})

    def broken(tmp):
        (tmp / "half.npz").write_bytes(b"x")
        raise errors.CorruptMedia("decoder gave up")

    with pytest.raises(errors.CorruptMedia):
        store.create("graph", key, broken)
    assert not store.exists("graph", key)
    assert list((tmp_path / "graph").iterdir()) == []


def test_parse_refuses_foreign_and_malformed_uris(tmp_path):
    store = ArtifactStore(tmp_path.as_uri())
    with pytest.raises(errors.ArtifactNotFound):
        store.parse("file:///etc/passwd")
    with pytest.raises(errors.ArtifactNotFound):
        store.parse(f"{tmp_path.as_uri()}/graph/../../etc")
    with pytest.raises(errors.WrongArtifactKind):
        store.parse(f"{tmp_path.as_uri()}/graph/{'a' * 64}", expected_kind="perception")


def test_memory_filesystem_store_round_trip():
    store = ArtifactStore("memory://tango-test-store")
    key = key_sha256({"remote": True})
    info = store.create("graph", key, _write('{"remote": true}'))
    assert store.exists("graph", key)
    assert store.read_json(info.uri) == {"remote": True}


def test_input_resolver_blocks_traversal_and_symlinks(tmp_path):
    allowed = tmp_path / "allowed"
    allowed.mkdir()
    good = allowed / "clip.mp4"
    good.write_bytes(b"\x00" * 10)
    outside = tmp_path / "secret.mp4"
    outside.write_bytes(b"\x00" * 10)
    os.symlink(outside, allowed / "link.mp4")
    resolver = InputResolver([str(allowed)], download_dir=tmp_path / "dl")
    assert resolver.resolve(str(good)) == good
    assert resolver.resolve(good.as_uri()) == good
    for bad in (str(allowed / ".." / "secret.mp4"), str(allowed / "link.mp4"), "/etc/passwd", "s3://bucket/x.mp4"):
        with pytest.raises(errors.UriNotAllowed):
            resolver.resolve(bad)
    (allowed / "empty.mp4").write_bytes(b"")
    with pytest.raises(errors.EmptyMedia):
        resolver.resolve(str(allowed / "empty.mp4"))
    with pytest.raises(errors.NotFound):
        resolver.resolve(str(allowed / "missing.mp4"))
