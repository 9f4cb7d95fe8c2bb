"""Benchmark of the Triton layer: server start time, aumoclip_audio latency and throughput over gRPC.

Runs the real tritonserver on the model repository with a randomly initialised checkpoint of the given
AuMoCLIP config (default: the package default config), so it measures serving cost, not model quality.
"""
from __future__ import annotations

import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from tango.triton.client import TritonClient
from tango.triton.launcher import TritonServer, TritonServerConfig

CHECKPOINT_ID = "bench"


def _percentiles(seconds: list[float]) -> dict:
    values = np.asarray(seconds) * 1000.0
    return {"p50_ms": float(np.percentile(values, 50)), "p95_ms": float(np.percentile(values, 95)),
            "mean_ms": float(values.mean())}


def _save_random_checkpoint(directory: Path, config=None) -> None:
    import torch

    from tango.aumoclip.checkpoint import save_checkpoint
    from tango.aumoclip.config import AuMoCLIPConfig
    from tango.aumoclip.model import AuMoCLIP

    torch.manual_seed(0)
    save_checkpoint(AuMoCLIP(config or AuMoCLIPConfig()), directory)


def audio_latency(client: TritonClient, window_s: float = 4.0, requests: int = 50) -> dict:
    wave = np.random.default_rng(0).standard_normal(int(16000 * window_s)).astype(np.float32) * 0.1
    client.embed_audio(wave, CHECKPOINT_ID)  # warm-up
    seconds = []
    for _ in range(requests):
        began = time.perf_counter()
        client.embed_audio(wave, CHECKPOINT_ID)
        seconds.append(time.perf_counter() - began)
    return {"window_s": window_s, "requests": requests, **_percentiles(seconds)}


def audio_throughput(client: TritonClient, concurrency: int = 8, requests: int = 96, window_s: float = 4.0) -> dict:
    wave = np.random.default_rng(1).standard_normal(int(16000 * window_s)).astype(np.float32) * 0.1

    def one(_):
        began = time.perf_counter()
        client.embed_audio(wave, CHECKPOINT_ID)
        return time.perf_counter() - began

    began = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        seconds = list(pool.map(one, range(requests)))
    elapsed = time.perf_counter() - began
    return {"concurrency": concurrency, "requests": requests, "windows_per_s": requests / elapsed,
            **_percentiles(seconds)}


def triton_benchmark(aumoclip_config=None, latency_requests: int = 50, concurrency: int = 8,
                     throughput_requests: int = 96) -> dict:
    """{start_s, audio_batch1: {p50_ms, p95_ms}, audio_concurrent: {windows_per_s, p50_ms, p95_ms}}."""
    with tempfile.TemporaryDirectory(prefix="tango-triton-bench-") as tmp:
        root = Path(tmp) / "checkpoints"
        _save_random_checkpoint(root / CHECKPOINT_ID, aumoclip_config)
        config = TritonServerConfig(models=("aumoclip_audio",), checkpoint_root=root, default_checkpoint=CHECKPOINT_ID)
        began = time.perf_counter()
        with TritonServer(config) as server, TritonClient(server.urls.grpc, timeout_s=120) as client:
            start_s = time.perf_counter() - began
            return {
                "start_s": start_s,
                "audio_batch1": audio_latency(client, requests=latency_requests),
                "audio_concurrent": audio_throughput(client, concurrency, throughput_requests),
            }


if __name__ == "__main__":
    import json

    print(json.dumps(triton_benchmark(), indent=2))
