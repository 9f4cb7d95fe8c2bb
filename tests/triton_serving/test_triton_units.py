"""Launcher, error encoding and AuMoCLIP serving logic without a running server."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tango.runtime.errors import (CheckpointMismatch, FailedPrecondition, InvalidArgument, NotFound, TangoError,
                                  Unavailable)
from tango.triton.aumoclip_serving import AuMoCLIPServing, AuMoCLIPServingConfig, EmbedRequest
from tango.triton.environment import BundledTriton, prepare_backend_directory
from tango.triton.launcher import TritonServer, TritonServerConfig, config_from_env, resolve_ports, server_command
from tango.triton.model_support import checkpoint_id, decode_error, encode_error
from tango.triton.repository import model_parameters, servable_models


def test_server_command_binds_loopback_with_strict_readiness(tmp_path):
    config = resolve_ports(TritonServerConfig(model_repository=tmp_path, models=("interp_flow",)))
    assert len({config.http_port, config.grpc_port, config.metrics_port}) == 3 and config.grpc_port > 0
    argv = server_command(config, Path("/bin/tritonserver"), tmp_path / "b", tmp_path / "c")
    assert f"--grpc-port={config.grpc_port}" in argv and "--grpc-address=127.0.0.1" in argv
    assert "--http-address=127.0.0.1" in argv and "--strict-readiness=true" in argv
    assert "--model-control-mode=explicit" in argv and "--load-model=interp_flow" in argv
    assert not any(a.startswith("--model-config-name") for a in argv)  # each model's config.pbtxt
    gpu = server_command(config_from_env({"TANGO_TRITON_MODEL_CONFIG_NAME": "gpu"}), Path("/bin/tritonserver"),
                         tmp_path / "b", tmp_path / "c")
    assert "--model-config-name=gpu" in gpu  # interp_acinterp's configs/gpu.pbtxt (KIND_GPU)


def test_config_from_env():
    env = {"TANGO_TRITON_PORT": "8001", "TANGO_TRITON_HTTP_PORT": "8000", "TANGO_TRITON_MODELS": "a,b",
           "TANGO_CHECKPOINT_ROOT": "/ckpt", "TANGO_TRITON_HOST": "0.0.0.0"}
    config = config_from_env(env)
    assert (config.grpc_port, config.http_port, config.metrics_port) == (8001, 8000, 0)
    assert config.models == ("a", "b") and config.checkpoint_root == Path("/ckpt") and config.host == "0.0.0.0"
    with pytest.raises(InvalidArgument):
        config_from_env({"TANGO_TRITON_PORT": "eighty"})


def test_acinterp_is_served_only_where_its_weights_are_installed(tmp_path, monkeypatch):
    monkeypatch.delenv("TANGO_ACINTERP_WEIGHTS", raising=False)
    repository = Path(__file__).resolve().parents[2] / "model_repository"
    assert model_parameters(repository / "interp_acinterp")["weights_dir"] == "weights"
    models, skipped = servable_models(repository, {})
    assert models == ("aumoclip_audio", "aumoclip_motion", "interp_flow")
    assert "interp_acinterp" in skipped and "TANGO_ACINTERP_WEIGHTS" in skipped["interp_acinterp"]
    (tmp_path / "acinterp.json").write_text("{}")  # the weights' config marks an install
    models, skipped = servable_models(repository, {"TANGO_ACINTERP_WEIGHTS": str(tmp_path)})
    assert "interp_acinterp" in models and skipped == {}
    server = TritonServer(TritonServerConfig(model_repository=repository))  # no model list: the servable ones
    assert server.config.models == ("aumoclip_audio", "aumoclip_motion", "interp_flow")
    assert set(server.skipped_models) == {"interp_acinterp"}


def test_missing_repository_is_rejected(tmp_path):
    with pytest.raises(InvalidArgument):
        TritonServer(TritonServerConfig(model_repository=tmp_path / "absent"))


def test_backend_directory_holds_the_stub(tmp_path):
    source = tmp_path / "tritonserver"
    (source / "backends" / "python").mkdir(parents=True)
    (source / "backends" / "python" / "libtriton_python.so").write_bytes(b"lib")
    (source / "backends" / "python" / "triton_python_backend_utils.py").write_text("utils")
    import sys

    stub_dir = source / "python_backend_stubs" / f"{sys.version_info.major}.{sys.version_info.minor}"
    stub_dir.mkdir(parents=True)
    (stub_dir / "triton_python_backend_stub").write_bytes(b"stub")
    bundled = BundledTriton(root=source, libs=tmp_path / "libs")
    backend = prepare_backend_directory(bundled, tmp_path / "cache")
    assert sorted(p.name for p in (backend / "python").iterdir()) == [
        "libtriton_python.so", "triton_python_backend_stub", "triton_python_backend_utils.py"]
    assert prepare_backend_directory(bundled, tmp_path / "cache") == backend  # reused


@pytest.mark.parametrize("error", [NotFound("x", reason="CHECKPOINT_NOT_FOUND"), CheckpointMismatch("bad weights"),
                                   InvalidArgument("no", reason="BAD_EMBED_INPUT"), Unavailable("down")])
def test_error_encoding_round_trip(error):
    decoded = decode_error("Failed to process the request: " + encode_error(error))
    assert type(decoded) is type(error) and decoded.reason == error.reason and decoded.message == error.message
    assert decode_error("plain failure") is None


@pytest.mark.parametrize("value", ["../a", "a/b", "", ".hidden", "a..b", "x" * 200])
def test_checkpoint_ids_must_be_plain_names(value):
    with pytest.raises(InvalidArgument):
        checkpoint_id(value)
    assert checkpoint_id("3fa9c1_v2.1") == "3fa9c1_v2.1"


class _FakeModel:
    """Stands in for AuMoCLIP in the serving logic: low = per-frame mean, high = mean over frames."""

    def __init__(self, scale: float):
        self.scale = scale

    def to(self, _device):
        return self

    def eval(self):
        return self

    def embed_audio(self, wave):  # (B, S) -> (B, T, 1), (B, 1)
        low = wave.reshape(wave.shape[0], -1, 160).mean(-1, keepdim=True) * self.scale
        return low, low.mean(1)

    def embed_motion(self, motion):  # (B, T, J, C) -> (B, T, 1), (B, 1)
        low = motion.mean((-1, -2))[..., None] * self.scale
        return low, low.mean(1)


def _serving(tmp_path, **overrides):
    for name in ("one", "two", "three"):
        (tmp_path / name).mkdir(exist_ok=True)
    loads = []

    def loader(directory: Path):
        loads.append(directory.name)
        return _FakeModel(scale={"one": 1.0, "two": 2.0, "three": 3.0}[directory.name])

    config = AuMoCLIPServingConfig(kind="audio", checkpoint_root=tmp_path, **overrides)
    return AuMoCLIPServing(config, loader), loads


def test_serving_batches_per_checkpoint_and_shape(tmp_path):
    serving, loads = _serving(tmp_path, default_checkpoint="one")
    assert loads == ["one"]  # the default is loaded at initialise
    ones = np.ones((1, 320), np.float32)
    results = serving.embed_many([EmbedRequest("", ones), EmbedRequest("two", ones), EmbedRequest("two", ones * 3),
                                  EmbedRequest("nope", ones), EmbedRequest("one", np.ones((1, 0), np.float32))])
    assert results[0][1].tolist() == [[1.0]] and results[1][1].tolist() == [[2.0]] and results[2][1].tolist() == [[6.0]]
    assert isinstance(results[3], NotFound) and results[3].reason == "CHECKPOINT_NOT_FOUND"
    assert isinstance(results[4], InvalidArgument)
    serving.embed_many([EmbedRequest("two", ones)])
    assert loads == ["one", "two"]  # loaded once per checkpoint, not per request


def test_serving_cache_evicts_least_recently_used(tmp_path):
    serving, loads = _serving(tmp_path, cache_size=2)
    ones = np.ones((1, 160), np.float32)
    for name in ("one", "two", "one", "three", "one", "two"):
        serving.embed_many([EmbedRequest(name, ones)])
    assert loads == ["one", "two", "three", "two"]


def test_required_default_checkpoint(tmp_path):
    with pytest.raises(NotFound):
        _serving(tmp_path, default_checkpoint="missing", require_default_checkpoint=True)
    with pytest.raises(FailedPrecondition):
        _serving(tmp_path, require_default_checkpoint=True)
    serving, _ = _serving(tmp_path, default_checkpoint="missing")  # not required: starts, fails per request
    result = serving.embed_many([EmbedRequest("", np.ones((1, 160), np.float32))])[0]
    assert isinstance(result, TangoError) and result.reason == "CHECKPOINT_NOT_FOUND"
