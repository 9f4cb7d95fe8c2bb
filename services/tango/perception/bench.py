"""Perception benchmark through the real gRPC service: frames/s and peak memory of a cold analysis,
and the time of a cached re-analysis of the same video."""
from __future__ import annotations

import resource
import tempfile
import time
from pathlib import Path

import grpc

from tango.perception.config import PerceptionConfig
from tango.perception.server import build
from tango.perception.v1 import perception_service_pb2 as pb
from tango.perception.v1 import perception_service_pb2_grpc as pb_grpc


def _analyze(stub, video: Path) -> tuple[pb.PerceptionResult, float]:
    started = time.perf_counter()
    result = None
    for reply in stub.AnalyzeVideo(pb.AnalyzeVideoRequest(video_uri=str(video)), timeout=3600):
        if reply.HasField("result"):
            result = reply.result
    return result, time.perf_counter() - started


def perception_benchmark(video: Path) -> dict:
    with tempfile.TemporaryDirectory(prefix="tango-bench-perception-") as tmp:
        config = PerceptionConfig(service="perception", port=0, metrics_port=-1, data_uri=Path(tmp).as_uri(),
                                  allowed_roots=str(video.parent))
        service = build(config)
        service.start()
        service.mark_ready()
        try:
            stub = pb_grpc.PerceptionServiceStub(grpc.insecure_channel(f"127.0.0.1:{service.port}"))
            cold, cold_s = _analyze(stub, video)
            cached, cached_s = _analyze(stub, video)
        finally:
            service.stop(grace_s=1)
    return {
        "video": video.name, "frames": cold.summary.frames, "cold_seconds": round(cold_s, 2),
        "frames_per_second": round(cold.summary.frames / cold_s, 1), "cached_seconds": round(cached_s, 3),
        "cache_hit": cached.cache_hit, "pose_ratio": round(cold.summary.pose_ratio, 3),
        "hands_ratio": round(cold.summary.hands_ratio, 3),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
