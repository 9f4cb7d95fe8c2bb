"""Ingest in parallel: a reference perceived in planned ranges on two perception replicas (real gRPC, round
robin over both) and merged is the artifact of one whole analysis, array for array and meta for meta."""
from __future__ import annotations

import grpc
import numpy as np
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from support import allowed_roots, shared_media
from tango.orchestrator.parallel_ingest import ParallelIngest
from tango.orchestrator.stage_clients import StageAddresses, StageClients, listed_replicas
from tango.perception.artifact_io import PerceptionArtifact
from tango.perception.config import PerceptionConfig
from tango.perception.server import build
from tango.perception.v1 import perception_service_pb2 as pb
from tango.perception.v1 import perception_service_pb2_grpc as pb_grpc

SECONDS = 8.0  # 240 frames at 30 fps: four tracker segments of 2 s
TIMING = ("analysis_seconds", "analysis_frames_per_second")  # wall-clock stats: differ between any two runs
FRAMES_ANALYZED = "tango_perception_frames_analyzed_total"


def _service(root, inputs_root):
    config = PerceptionConfig(service="perception", port=0, metrics_port=-1, data_uri=root.as_uri(),
                              allowed_roots=allowed_roots(inputs_root), grace_s=1, segment_s=2.0)
    service = build(config)
    service.start()
    service.mark_ready()
    return service


@pytest.fixture(scope="module")
def mesh(tmp_path_factory, inputs_root):
    """One perception service with its own store, and two replicas sharing another store."""
    single_root, shared_root = tmp_path_factory.mktemp("single-store"), tmp_path_factory.mktemp("replicated-store")
    single = _service(single_root, inputs_root)
    replicas = [_service(shared_root, inputs_root) for _ in range(2)]
    yield single, single_root, replicas, shared_root
    for service in (single, *replicas):
        service.stop()


def _clients(perception_target: str) -> StageClients:
    unused = "127.0.0.1:9"  # graph, retrieval, render, trainer: not called here
    return StageClients(StageAddresses(perception_target, unused, unused, unused, unused), deadline_s=300)


def _artifact(store_root, uri: str) -> PerceptionArtifact:
    return PerceptionArtifact.load(store_root / "perception" / uri.rstrip("/").rsplit("/", 1)[-1])


def _without_timing(meta: dict) -> dict:
    return meta | {"stats": {k: v for k, v in meta["stats"].items() if k not in TIMING}}


def test_merged_ranges_equal_one_whole_analysis(mesh):
    video = str(shared_media("video/tango_female_test_V1_22s.mp4"))
    single, single_root, replicas, shared_root = mesh
    whole_clients = _clients(f"127.0.0.1:{single.port}")
    whole = whole_clients.analyze_video(video, SECONDS, lambda *_: None, lambda: False)

    target = "ipv4:" + ",".join(f"127.0.0.1:{r.port}" for r in replicas)
    assert listed_replicas(target) == 2
    clients = _clients(target)
    ranges = clients.plan_analysis(video, SECONDS, 2, 2.0, lambda: False)
    assert ranges == [(0, 120), (120, 240)]
    progress = []
    merged = ParallelIngest.from_config(clients, _Config(target)).analyze(
        video, SECONDS, lambda done, total: progress.append((done, total)), lambda: False)

    assert merged.sha256 == whole.sha256  # the same content-addressed key as the whole analysis
    assert progress[-1] == (240, 240)
    per_replica = [r.metrics.registry.get_sample_value(FRAMES_ANALYZED) for r in replicas]
    assert per_replica == [120, 120]  # round robin put one range on each replica
    a, b = _artifact(single_root, whole.uri), _artifact(shared_root, merged.uri)
    assert sorted(a.arrays) == sorted(b.arrays)
    for name in a.arrays:  # byte-identical: NaNs where the same landmarks are missing
        assert a.arrays[name].dtype == b.arrays[name].dtype and a.arrays[name].tobytes() == b.arrays[name].tobytes(), name
    assert _without_timing(a.meta) == _without_timing(b.meta)
    assert np.array_equal(a.audio(), b.audio())
    cached = ParallelIngest.from_config(clients, _Config(target)).analyze(video, SECONDS, lambda *_: None, lambda: False)
    assert cached.uri == merged.uri  # planned as cached: one AnalyzeVideo, a cache hit


class _Config:
    def __init__(self, target: str):
        self.perception_addr, self.ingest_ranges, self.ingest_chunk_s = target, 0, 2.0


def _reason(error: grpc.RpcError) -> str:
    info = error_details_pb2.ErrorInfo()
    rpc_status.from_call(error).details[0].Unpack(info)
    return info.reason


def test_misaligned_range_and_missing_part_are_refused(mesh):
    video = str(shared_media("video/tango_female_test_V1_22s.mp4"))
    stub = pb_grpc.PerceptionServiceStub(grpc.insecure_channel(f"127.0.0.1:{mesh[2][0].port}"))
    options = pb.AnalysisOptions(max_seconds=SECONDS, frame_range=pb.FrameRange(start_frame=30, end_frame=120))
    with pytest.raises(grpc.RpcError) as caught:
        list(stub.AnalyzeVideo(pb.AnalyzeVideoRequest(video_uri=video, options=options), timeout=60))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT and _reason(caught.value) == "FRAME_RANGE_INVALID"
    options = pb.AnalysisOptions(max_seconds=4.0, frame_range=pb.FrameRange(start_frame=0, end_frame=60), skip_cache=True)
    part = [r.result for r in stub.AnalyzeVideo(pb.AnalyzeVideoRequest(video_uri=video, options=options), timeout=120)
            if r.HasField("result")][0]
    assert part.summary.frames == 60
    merge = pb.MergeAnalysesRequest(video_uri=video, options=pb.AnalysisOptions(max_seconds=4.0, skip_cache=True),
                                    parts=[part.artifact])
    with pytest.raises(grpc.RpcError) as caught:
        stub.MergeAnalyses(merge, timeout=60)
    assert _reason(caught.value) == "PARTS_DO_NOT_TILE"
    other = pb.MergeAnalysesRequest(video_uri=video, options=pb.AnalysisOptions(max_seconds=3.0, skip_cache=True),
                                    parts=[part.artifact])
    with pytest.raises(grpc.RpcError) as caught:
        stub.MergeAnalyses(other, timeout=60)
    assert _reason(caught.value) == "PART_MISMATCH"


