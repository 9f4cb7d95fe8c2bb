"""Downloads serve what callers made or sent (renders, sidecars, uploads), nothing else of the store, and only to
the tenant that made or sent it; another tenant's media is NOT_FOUND, as a download or as a job's input."""
from __future__ import annotations

import pytest

from tango.artifacts.store import ArtifactStore
from tango.orchestrator.jobs import JobStore
from tango.orchestrator.tenancy import Tenancy
from tango.orchestrator.uploads import UploadArea
from tango.runtime import errors


@pytest.fixture()
def area(tmp_path):
    jobs = JobStore.open(tmp_path / "jobs" / "orchestrator.sqlite")
    yield UploadArea(ArtifactStore(tmp_path.as_uri()), max_bytes=1 << 20, tenancy=Tenancy(jobs.db))
    jobs.close()


def test_downloads_serve_renders_and_uploads_only(tmp_path, area):
    store = area.store
    uploaded, _sha, size = area.save("speech.wav", [b"RIFF", b"data"], "newsroom")
    assert b"".join(area.read(uploaded, "newsroom")) == b"RIFFdata" and size == 8
    render = store.create("render", "a" * 64, lambda tmp: (tmp / "video.mp4").write_bytes(b"mp4"))
    video = store.local_dir(render.uri, "render") / "video.mp4"
    area.grant("newsroom", video.as_uri())
    assert b"".join(area.read(video.as_uri(), "newsroom")) == b"mp4"
    (tmp_path / "orchestrator.sqlite").write_bytes(b"every caller's requests")
    checkpoint = store.create("checkpoint", "b" * 64, lambda tmp: (tmp / "model.safetensors").write_bytes(b"w"))
    refused = [tmp_path / "orchestrator.sqlite", store.local_dir(checkpoint.uri, "checkpoint") / "model.safetensors",
               store.local_dir(render.uri, "render") / "_COMPLETE", video.parent / ".." / ".." / "orchestrator.sqlite",
               "/etc/passwd"]
    for uri in refused:
        with pytest.raises(errors.UriNotAllowed):
            list(area.read(str(uri), "newsroom"))
    for uri, reason in (("x" * 5000, "URI_TOO_LONG"), ("/tmp/a\x00b", "BAD_URI")):
        with pytest.raises(errors.InvalidArgument) as caught:
            list(area.read(uri, "newsroom"))
        assert caught.value.reason == reason and len(caught.value.message) < 400  # not echoed whole
    with pytest.raises(errors.NotFound):
        list(area.read(str(video.parent / "missing.mp4"), "newsroom"))


def test_another_tenants_media_does_not_exist(area):
    uploaded, _sha, _size = area.save("speech.wav", [b"RIFFdata"], "newsroom")
    for tenant in ("sports", ""):
        with pytest.raises(errors.NotFound) as caught:
            list(area.read(uploaded, tenant))
        assert caught.value.reason == "FILE_NOT_FOUND"  # the answer of a file that does not exist
        with pytest.raises(errors.NotFound) as caught:
            area.check_inputs(tenant, ["/tmp/elsewhere.wav", uploaded])
        assert caught.value.reason == "INPUT_NOT_FOUND"
    area.check_inputs("newsroom", ["/tmp/elsewhere.wav", uploaded, ""])  # outside the store: the input checks decide
    again, _sha, _size = area.save("same.wav", [b"RIFFdata"], "sports")  # the same bytes, sent by another tenant
    assert b"".join(area.read(again, "sports")) == b"RIFFdata"
