"""MotionGraphService end to end over gRPC: graphs from real perception artifacts, storage, bad input."""
from __future__ import annotations

import json

import av
import grpc
import pytest

from support import allowed_roots
from tango.graph.config import GraphConfig
from tango.graph.server import build as build_graph_service
from tango.graph.v1 import graph_service_pb2 as pb
from tango.graph.v1 import graph_service_pb2_grpc as pb_grpc
from tango.perception.config import PerceptionConfig
from tango.perception.server import build as build_perception_service
from tango.perception.v1 import perception_service_pb2 as perception_pb
from tango.perception.v1 import perception_service_pb2_grpc as perception_grpc


@pytest.fixture(scope="module")
def services(store_root, inputs_root):
    common = dict(port=0, metrics_port=-1, data_uri=store_root.as_uri(), allowed_roots=allowed_roots(inputs_root), grace_s=1)
    perception = build_perception_service(PerceptionConfig(service="perception", **common))
    graph = build_graph_service(GraphConfig(service="graph", **common))
    for service in (perception, graph):
        service.start()
        service.mark_ready()
    yield (perception_grpc.PerceptionServiceStub(grpc.insecure_channel(f"127.0.0.1:{perception.port}")),
           pb_grpc.MotionGraphServiceStub(grpc.insecure_channel(f"127.0.0.1:{graph.port}")))
    for service in (perception, graph):
        service.stop()


def perceive(stub, path, seconds: float = 0.0) -> str:
    request = perception_pb.AnalyzeVideoRequest(video_uri=str(path), options=perception_pb.AnalysisOptions(max_seconds=seconds))
    replies = list(stub.AnalyzeVideo(request, timeout=600))
    return replies[-1].result.artifact.uri


def build(stub, uris, **options) -> tuple[list, pb.Graph]:
    replies = list(stub.BuildGraph(pb.BuildGraphRequest(perception_uris=uris, options=pb.GraphOptions(**options)),
                                   timeout=600))
    return [r.progress for r in replies if r.HasField("progress")], replies[-1].graph


def cut_video(source, target, start_s: float, end_s: float) -> None:
    """Re-encodes [start_s, end_s) of `source` into `target` (video only)."""
    with av.open(str(source)) as src, av.open(str(target), "w") as dst:
        stream_in = src.streams.video[0]
        stream_out = dst.add_stream("libx264", rate=30)
        stream_out.width, stream_out.height, stream_out.pix_fmt = 640, 474, "yuv420p"
        for frame in src.decode(stream_in):
            if start_s <= frame.time < end_s:
                image = frame.to_image().resize((640, 474))
                for packet in stream_out.encode(av.VideoFrame.from_image(image)):
                    dst.mux(packet)
        for packet in stream_out.encode():
            dst.mux(packet)


def test_graph_of_female_speaker_has_jumps_and_no_dead_ends(services, female_video):
    perception, graphs = services
    uri = perceive(perception, female_video, seconds=8.0)
    progress, graph = build(graphs, [uri])
    stats = json.loads(graph.stats.stats_json)
    assert progress and graph.name.startswith("graphs/")
    assert graph.stats.jump_edges > 0 and graph.stats.continue_edges > 0
    assert graph.stats.edges == graph.stats.jump_edges + graph.stats.continue_edges
    assert graph.stats.dead_end_rate_10s_after == 0 and graph.stats.dead_end_rate_30s_after == 0
    assert 0 < graph.stats.kept_nodes <= graph.stats.nodes and graph.stats.kept_nodes >= graph.stats.kept_nodes_largest_scc
    assert "dropped" in stats and list(graph.perception_uris) == [uri]
    again = build(graphs, [uri])[1]
    assert again.cache_hit and again.name == graph.name
    assert graphs.GetGraph(pb.GetGraphRequest(name=graph.name), timeout=10).stats.kept_nodes == graph.stats.kept_nodes
    assert graph.name in [g.name for g in graphs.ListGraphs(pb.ListGraphsRequest(), timeout=10).graphs]
    largest = build(graphs, [uri], pruning=pb.PRUNING_LARGEST_SCC)[1]
    assert largest.name != graph.name and largest.stats.kept_nodes == graph.stats.kept_nodes_largest_scc


def test_two_videos_make_one_graph_with_cross_video_jumps(services, female_video, inputs_root):
    perception, graphs = services
    first, second = inputs_root / "part1.mp4", inputs_root / "part2.mp4"
    cut_video(female_video, first, 0.0, 6.0)
    cut_video(female_video, second, 6.0, 12.0)
    _, graph = build(graphs, [perceive(perception, first), perceive(perception, second)])
    stats = json.loads(graph.stats.stats_json)
    assert len(graph.perception_uris) == 2
    assert stats["cross_video_jump_edges"] > 0
    assert graph.stats.dead_end_rate_30s_after == 0


def test_delete_and_unknown_graphs(services, female_video):
    perception, graphs = services
    _, graph = build(graphs, [perceive(perception, female_video, seconds=8.0)], pose_weight=2.0)
    graphs.DeleteGraph(pb.DeleteGraphRequest(name=graph.name), timeout=10)
    for call in (lambda: graphs.GetGraph(pb.GetGraphRequest(name=graph.name), timeout=10),
                 lambda: graphs.DeleteGraph(pb.DeleteGraphRequest(name="graphs/nope"), timeout=10)):
        with pytest.raises(grpc.RpcError) as caught:
            call()
        assert caught.value.code() == grpc.StatusCode.NOT_FOUND


def test_bad_inputs(services, store_root):
    _, graphs = services
    cases = [
        ([], grpc.StatusCode.INVALID_ARGUMENT),
        ([f"{store_root.as_uri()}/graph/{'a' * 64}"], grpc.StatusCode.INVALID_ARGUMENT),  # not a perception artifact
        ([f"{store_root.as_uri()}/perception/{'b' * 64}"], grpc.StatusCode.NOT_FOUND),
        (["file:///etc/perception/x"], grpc.StatusCode.NOT_FOUND),
    ]
    for uris, code in cases:
        with pytest.raises(grpc.RpcError) as caught:
            build(graphs, uris)
        assert caught.value.code() == code, uris
