"""ACInterp on a CUDA device: the pipeline in-process (float32 and the GPU's default bfloat16) against the CPU,
and the real tritonserver serving `interp_acinterp` from its configs/gpu.pbtxt (KIND_GPU). Skipped without a
GPU; the device check (`pytest -m gpu`) runs them on one."""
from __future__ import annotations

import urllib.request

import numpy as np
import pytest
import torch
from acinterp_testkit import free_port_outside_mesh, moving_scene

from tango.acinterp.weights import random_acinterp

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")]
MODEL, FLOW = "interp_acinterp", "interp_flow"


def scene() -> tuple[np.ndarray, np.ndarray]:
    return moving_scene(2, 48, 64, start=0), moving_scene(2, 48, 64, start=12)


def mean_difference(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(int) - b.astype(int)).mean())


def test_the_gpu_draws_what_the_cpu_draws(tiny_config, tiny_pipeline):
    before, after = scene()
    reference = tiny_pipeline(before, after, 8)  # CPU, float32
    full = random_acinterp(tiny_config, seed=0, device="cuda", precision="float32")
    half = random_acinterp(tiny_config, seed=0, device="cuda")  # auto: bfloat16 on a GPU
    assert full.dtype == torch.float32 and half.dtype == torch.bfloat16
    differences = mean_difference(full(before, after, 8), reference), mean_difference(half(before, after, 8), reference)
    print("mean |gpu - cpu| (float32, bfloat16):", differences)
    assert differences[0] < 1.0 and differences[1] < 3.0


def test_triton_serves_acinterp_on_the_gpu(tiny_weights_dir, tiny_pipeline, tmp_path):
    from tango.triton.client import TritonClient
    from tango.triton.launcher import TritonServer, TritonServerConfig

    ports = {name: free_port_outside_mesh() for name in ("http_port", "grpc_port", "metrics_port")}
    config = TritonServerConfig(models=(MODEL, FLOW), model_config_name="gpu", startup_timeout_s=150,
                                extra_env={"TANGO_ACINTERP_WEIGHTS": str(tiny_weights_dir)},
                                backend_cache_dir=tmp_path / "backends", **ports)
    before, after = scene()
    with TritonServer(config) as server, TritonClient(server.urls.grpc, timeout_s=120) as client:
        frames = client.interpolate(before, after, 8, model=MODEL)
        assert frames.shape == (8, 48, 64, 3) and frames.dtype == np.uint8
        difference = mean_difference(frames, tiny_pipeline(before, after, 8))
        print("mean |triton gpu (bfloat16) - cpu (float32)|:", difference)
        assert difference < 3.0
        assert client.interpolate(before, after, 8, model=FLOW).shape == (8, 48, 64, 3)  # config.pbtxt: CPU
        metrics = urllib.request.urlopen(server.urls.metrics, timeout=10).read().decode()
        assert 'tango_acinterp_frames_generated_total{device="cuda:0"} 8' in metrics
