"""Downloads serve what callers made or sent (renders, sidecars, uploads), nothing else of the store."""
from __future__ import annotations

import pytest

from tango.artifacts.store import ArtifactStore
from tango.orchestrator.uploads import UploadArea
from tango.runtime import errors


def test_downloads_serve_renders_and_uploads_only(tmp_path):
    store = ArtifactStore(tmp_path.as_uri())
    area = UploadArea(store, max_bytes=1 << 20)
    uploaded, _sha, size = area.save("speech.wav", [b"RIFF", b"data"])
    assert b"".join(area.read(uploaded)) == b"RIFFdata" and size == 8
    render = store.create("render", "a" * 64, lambda tmp: (tmp / "video.mp4").write_bytes(b"mp4"))
    video = store.local_dir(render.uri, "render") / "video.mp4"
    assert b"".join(area.read(video.as_uri())) == b"mp4"
    (tmp_path / "orchestrator.sqlite").write_bytes(b"every caller's requests")
    checkpoint = store.create("checkpoint", "b" * 64, lambda tmp: (tmp / "model.safetensors").write_bytes(b"w"))
    refused = [tmp_path / "orchestrator.sqlite", store.local_dir(checkpoint.uri, "checkpoint") / "model.safetensors",
               store.local_dir(render.uri, "render") / "_COMPLETE", video.parent / ".." / ".." / "orchestrator.sqlite",
               "/etc/passwd", "x" * 5000]
    for uri in refused:
        with pytest.raises(errors.UriNotAllowed) as caught:
            list(area.read(str(uri)))
        assert len(caught.value.message) < 400  # a long name is not echoed whole
    with pytest.raises(errors.NotFound):
        list(area.read(str(video.parent / "missing.mp4")))
