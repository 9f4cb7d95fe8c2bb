"""The real tritonserver serving `interp_acinterp` from model_repository/, reached over gRPC, and the
orchestrator's choice of transition model (`TransitionModel`) against it: ACInterp where it serves, the
weight-free `interp_flow` where it cannot."""
from __future__ import annotations

import urllib.request

import numpy as np
import pytest
from acinterp_testkit import free_port_outside_mesh, moving_scene

from tango.render.transitions import TransitionModel
from tango.render.renderer import Window
from tango.runtime.errors import InvalidArgument, ModelNotReady
from tango.triton.client import TritonClient
from tango.triton.launcher import TritonServer, TritonServerConfig

pytest.importorskip("pytriton")

MODEL, FLOW = "interp_acinterp", "interp_flow"


def window(count: int, context: int = 2) -> Window:
    """A window of `count` generated frames after `context` real ones (positions only)."""
    return Window(context, context + count, np.arange(context), np.arange(context + count, 2 * context + count))


def server_config(weights_dir, backends, **overrides) -> TritonServerConfig:
    ports = {name: free_port_outside_mesh() for name in ("http_port", "grpc_port", "metrics_port")}
    env = {"TANGO_ACINTERP_WEIGHTS": str(weights_dir)}
    return TritonServerConfig(models=(MODEL, FLOW), extra_env=env, backend_cache_dir=backends,
                              startup_timeout_s=180, **ports, **overrides)


def test_frames_over_grpc(tiny_weights_dir, tiny_pipeline, tmp_path):
    before, after = moving_scene(2, 48, 64, start=0), moving_scene(2, 48, 64, start=12)
    with TritonServer(server_config(tiny_weights_dir, tmp_path / "backends")) as server, \
            TritonClient(server.urls.grpc, timeout_s=120) as client:
        assert client.is_model_ready(MODEL)
        frames = client.interpolate(before, after, 8, model=MODEL)  # METHOD "flow" is sent and ignored
        assert frames.shape == (8, 48, 64, 3) and frames.dtype == np.uint8
        assert np.array_equal(frames, client.interpolate(before, after, 8, model=MODEL))  # seeded: same frames
        local = tiny_pipeline(before, after, 8)  # the same weights in this process (thread count may differ)
        assert np.abs(frames.astype(int) - local.astype(int)).mean() < 1.0
        with pytest.raises(InvalidArgument) as caught:
            client.interpolate(before, after, 40, model=MODEL)  # 2 + 40 + 2 > the motion module's 32
        assert caught.value.reason == "BAD_TRANSITION_INPUT"
        metrics = urllib.request.urlopen(server.urls.metrics, timeout=10).read().decode()
        assert 'tango_acinterp_frames_generated_total{device="cpu"} 16' in metrics  # the failed request adds none

        transitions = TransitionModel(client, MODEL, FLOW)
        assert np.array_equal(transitions(before, after, 8, window(8)), frames)  # ACInterp draws what it can hold
        long_window = transitions(before, after, 40, window(40))  # too long for its motion module: the flow draws it
        assert np.array_equal(long_window, client.interpolate(before, after, 40, model=FLOW))
        report = transitions.report()
        assert (report["model"], report["windows"], report["fallback"]) == (MODEL, 2, FLOW)
        assert report["fallback_windows"] == 1
        assert "BAD_TRANSITION_INPUT" in report["fallback_reason"]


def test_without_weights_the_model_is_not_ready_with_the_reason(tmp_path):
    config = server_config(tmp_path / "no-weights", tmp_path / "backends", require_all_models_ready=False)
    with TritonServer(config) as server, TritonClient(server.urls.grpc, timeout_s=30) as client:
        assert not client.is_model_ready(MODEL)
        state, reason = client.model_state(MODEL)
        assert state == "UNAVAILABLE" and "ACINTERP_WEIGHTS_NOT_FOUND" in reason
        with pytest.raises(ModelNotReady) as caught:
            client.interpolate(np.zeros((1, 16, 16, 3), np.uint8), np.zeros((1, 16, 16, 3), np.uint8), 2, model=MODEL)
        assert "ACINTERP_WEIGHTS_NOT_FOUND" in str(caught.value) and "no-weights" in str(caught.value)

        transitions = TransitionModel(client, MODEL, FLOW)  # the orchestrator's view: flow draws every window
        frames = transitions(np.zeros((2, 16, 16, 3), np.uint8), np.full((2, 16, 16, 3), 200, np.uint8), 4, window(4))
        assert frames.shape == (4, 16, 16, 3) and 0 < frames.mean() < 200
        report = transitions.report()
        assert (report["windows"], report["fallback_windows"]) == (1, 1)
        assert "UNAVAILABLE" in report["fallback_reason"] and "ACINTERP_WEIGHTS_NOT_FOUND" in report["fallback_reason"]
        with pytest.raises(ModelNotReady):
            TransitionModel(client, MODEL)(np.zeros((1, 16, 16, 3), np.uint8), np.zeros((1, 16, 16, 3), np.uint8), 2,
                                          window(2))
