"""The real tritonserver (from the nvidia-pytriton wheel) on model_repository/, reached over gRPC."""
from __future__ import annotations

import shutil
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from tango.runtime.errors import InvalidArgument, ModelNotReady, NotFound, Unavailable
from tango.triton.client import TritonClient
from tango.triton.launcher import DEFAULT_MODEL_REPOSITORY, TritonServer, TritonServerConfig

torch = pytest.importorskip("torch")
pytest.importorskip("pytriton")

CHECKPOINT_ID = "tiny01"


def save_tiny_checkpoint(directory: Path) -> Path:
    """A randomly initialised (0 training steps) small AuMoCLIP saved with save_checkpoint."""
    from tango.aumoclip.checkpoint import save_checkpoint
    from tango.aumoclip.config import AuMoCLIPConfig
    from tango.aumoclip.model import AuMoCLIP

    torch.manual_seed(0)
    config = AuMoCLIPConfig(embed_dim=16, motion_hidden=32, motion_layers=2, motion_low_layers=1,
                            transformer_dim=32, transformer_ff=64, audio_conv_channels=(16,) * 7)
    return save_checkpoint(AuMoCLIP(config), directory)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("checkpoints")
    save_tiny_checkpoint(root / CHECKPOINT_ID)
    config = TritonServerConfig(checkpoint_root=root, startup_timeout_s=180,
                                backend_cache_dir=tmp_path_factory.mktemp("backends"))
    with TritonServer(config) as running:
        yield running


@pytest.fixture(scope="module")
def client(server):
    with TritonClient(server.urls.grpc, timeout_s=60) as triton:
        yield triton


def test_all_models_ready(server, client):
    assert server.startup_seconds is not None and server.startup_seconds < 180
    assert client.is_server_ready()
    for model in ("aumoclip_audio", "aumoclip_motion", "interp_flow"):
        assert client.is_model_ready(model)


def test_audio_embedding_of_a_4s_window(client):
    wave = np.random.default_rng(0).standard_normal(64000).astype(np.float32) * 0.1
    low, high = client.embed_audio(wave, checkpoint=CHECKPOINT_ID)
    assert low.shape == (120, 16) and high.shape == (16,) and low.dtype == np.float32
    assert np.allclose(np.linalg.norm(low, axis=-1), 1.0, atol=1e-4)
    assert np.linalg.norm(high) == pytest.approx(1.0, abs=1e-4)
    batch_low, batch_high = client.embed_audio(np.stack([wave, wave[::-1].copy()]), checkpoint=CHECKPOINT_ID)
    assert batch_low.shape == (2, 120, 16) and batch_high.shape == (2, 16)
    assert np.allclose(batch_high[0], high, atol=1e-5)  # same weights, same answer (loaded once, eval mode)


def test_motion_embedding(client):
    motion = np.random.default_rng(1).standard_normal((3, 8, 55, 15)).astype(np.float32)
    low, high = client.embed_motion(motion, checkpoint=CHECKPOINT_ID)
    assert low.shape == (3, 8, 16) and high.shape == (3, 16)
    assert np.allclose(np.linalg.norm(high, axis=-1), 1.0, atol=1e-4)


def test_unknown_checkpoint_is_not_found(client):
    with pytest.raises(NotFound) as caught:
        client.embed_audio(np.zeros(16000, np.float32), checkpoint="deadbeef")
    assert caught.value.reason == "CHECKPOINT_NOT_FOUND"


def test_path_like_checkpoint_is_rejected(client):
    with pytest.raises(InvalidArgument) as caught:
        client.embed_motion(np.zeros((4, 55, 15), np.float32), checkpoint="../" + CHECKPOINT_ID)
    assert caught.value.reason == "BAD_CHECKPOINT_ID"


def test_wrong_motion_layout_is_invalid(client):
    with pytest.raises(InvalidArgument):
        client.embed_motion(np.zeros((4, 33, 15), np.float32), checkpoint=CHECKPOINT_ID)


def test_interpolated_frames(client):
    rng = np.random.default_rng(2)
    before = rng.integers(0, 255, (2, 48, 64, 3), dtype=np.uint8)
    after = rng.integers(0, 255, (2, 48, 64, 3), dtype=np.uint8)
    frames = client.interpolate(before, after, 5)
    assert frames.shape == (5, 48, 64, 3) and frames.dtype == np.uint8
    same = client.interpolate(before, np.stack([before[-1], after[1]]), 3, method="crossfade")
    assert all(np.array_equal(frame, before[-1]) for frame in same)
    with pytest.raises(InvalidArgument) as caught:
        client.interpolate(before, after, 3, method="morph")
    assert caught.value.reason == "UNKNOWN_METHOD"


def test_layered_frames_keep_the_plate_where_no_person_is(client):
    """The layered method over Triton: low-resolution masks refined in the model, background from the plate."""
    rng = np.random.default_rng(3)
    plate = rng.integers(0, 255, (96, 128, 3), dtype=np.uint8)
    before, after = np.repeat(plate[None], 2, axis=0), np.repeat(plate[None], 2, axis=0)
    before[:, 30:60, 20:50] = 250  # a bright "person" on the left, moved right after the jump
    after[:, 30:60, 70:100] = 250
    masks_before = np.zeros((2, 24, 32), np.uint8)
    masks_after = np.zeros((2, 24, 32), np.uint8)
    masks_before[:, 7:15, 5:13], masks_after[:, 7:15, 17:25] = 1, 1
    frames = client.interpolate(before, after, 4, method="layered", layers=(masks_before, masks_after, plate))
    assert frames.shape == (4, 96, 128, 3) and frames.dtype == np.uint8
    far = np.ones((96, 128), bool)
    far[20:70, 10:110] = False  # well away from either person
    error = np.abs(frames[:, far].astype(int) - plate[far])
    assert error.mean() < 1.0 and error.max() <= 8
    with pytest.raises(InvalidArgument) as caught:
        client.interpolate(before, after, 3, method="layered")
    assert caught.value.reason == "MASKS_REQUIRED"
    no_face = np.full((2, 95, 3), np.nan, np.float32)  # face landmarks travel too; no face: drawn as without them
    same = client.interpolate(before, after, 4, method="layered",
                              layers=(masks_before, masks_after, plate, no_face, no_face))
    assert np.array_equal(same, frames)
    with pytest.raises(InvalidArgument) as caught:
        client.interpolate(before, after, 3, method="layered",
                           layers=(masks_before, masks_after, plate, no_face[:, :68], no_face[:, :68]))
    assert caught.value.reason == "BAD_TRANSITION_INPUT"


def test_metrics_endpoint_serves_triton_and_model_metrics(server, client):
    client.interpolate(np.zeros((1, 16, 16, 3), np.uint8), np.full((1, 16, 16, 3), 9, np.uint8), 2)
    text = urllib.request.urlopen(server.urls.metrics, timeout=10).read().decode()
    assert "nv_inference_request_success" in text
    assert "tango_interp_frames_generated_total" in text and "tango_aumoclip_checkpoint_loads_total" in text
    # each AuMoCLIP instance runs one intra-op thread (config.pbtxt's torch_threads), applied in its stub process
    assert 'tango_aumoclip_torch_threads{model="aumoclip_audio"} 1' in text


def test_model_without_required_default_checkpoint_is_not_ready(tmp_path):
    repository = tmp_path / "repository"
    shutil.copytree(DEFAULT_MODEL_REPOSITORY / "aumoclip_audio", repository / "aumoclip_audio")
    config_file = repository / "aumoclip_audio" / "config.pbtxt"
    text = config_file.read_text()
    assert 'key: "require_default_checkpoint" value: { string_value: "false" }' in text
    config_file.write_text(text.replace('string_value: "false" } }', 'string_value: "true" } }', 1))
    config = TritonServerConfig(model_repository=repository, checkpoint_root=tmp_path / "empty",
                                default_checkpoint="missing", require_all_models_ready=False,
                                startup_timeout_s=180, backend_cache_dir=tmp_path / "backends")
    with TritonServer(config) as server, TritonClient(server.urls.grpc, timeout_s=30) as client:
        assert not client.is_model_ready("aumoclip_audio")
        assert not client.is_server_ready()  # --strict-readiness: the pod stays out of the Service
        with pytest.raises(ModelNotReady) as caught:
            client.embed_audio(np.zeros(16000, np.float32))
        assert "CHECKPOINT_NOT_FOUND" in str(caught.value)
        url = server.urls.grpc
    with pytest.raises(Unavailable) as down:
        TritonClient(url, timeout_s=5).is_server_ready()
    assert down.value.reason == "TRITON_UNAVAILABLE"
