"""gRPC translation for MotionGraphService."""
from __future__ import annotations

import json

import grpc
from google.protobuf import empty_pb2, timestamp_pb2

from tango.graph.options import GraphOptions
from tango.runtime.errors import InvalidArgument
from tango.graph.core import GraphCore, GraphRecord
from tango.graph.v1 import graph_service_pb2 as pb
from tango.graph.v1 import graph_service_pb2_grpc as pb_grpc
from tango.runtime.grpc_util import progress_message, should_stop_for
from tango.runtime.progress import Finished, run_with_progress
from tango.type.v1 import types_pb2

STAT_FIELDS = ("nodes", "edges", "continue_edges", "jump_edges", "kept_nodes", "kept_nodes_largest_scc",
               "dead_end_rate_10s_before", "dead_end_rate_30s_before", "dead_end_rate_10s_after",
               "dead_end_rate_30s_after", "build_seconds")


class MotionGraphServicer(pb_grpc.MotionGraphServiceServicer):
    def __init__(self, core: GraphCore):
        self.core = core

    def BuildGraph(self, request: pb.BuildGraphRequest, context: grpc.ServicerContext):
        options = options_from_message(request.options)

        def work(on_progress, should_stop):
            return self.core.build(list(request.perception_uris), options, on_progress, should_stop)

        for event in run_with_progress(work, should_stop_for(context)):
            if isinstance(event, Finished):
                yield pb.BuildGraphResponse(graph=graph_message(event.value))
            else:
                yield pb.BuildGraphResponse(progress=progress_message(event))

    def GetGraph(self, request: pb.GetGraphRequest, context: grpc.ServicerContext):
        return graph_message(self.core.get(request.name))

    def ListGraphs(self, request: pb.ListGraphsRequest, context: grpc.ServicerContext):
        records, next_token = self.core.list(request.page_size, request.page_token)
        return pb.ListGraphsResponse(graphs=[graph_message(r) for r in records], next_page_token=next_token)

    def DeleteGraph(self, request: pb.DeleteGraphRequest, context: grpc.ServicerContext):
        self.core.delete(request.name)
        return empty_pb2.Empty()


def options_from_message(message: pb.GraphOptions) -> GraphOptions:
    defaults = GraphOptions()
    try:
        return GraphOptions(
            pose_weight=message.pose_weight or defaults.pose_weight,
            iou_weight=message.iou_weight or defaults.iou_weight,
            keep_no_person=message.keep_no_person,
            exclude_blurry_hands=message.exclude_blurry_hands,
            pruning="largest_scc" if message.pruning == pb.PRUNING_LARGEST_SCC else defaults.pruning,
            resample=message.resample,
        )
    except ValueError as error:
        raise InvalidArgument(str(error), reason="INVALID_GRAPH_OPTION") from error


def graph_message(record: GraphRecord) -> pb.Graph:
    stats = record.stats
    created = timestamp_pb2.Timestamp()
    created.FromDatetime(record.create_time)
    return pb.Graph(
        name=record.name,
        artifact=types_pb2.ArtifactRef(uri=record.artifact.uri, sha256=record.artifact.sha256, kind=record.artifact.kind),
        stats=pb.GraphStats(**{f: stats[f] for f in STAT_FIELDS if f in stats}, stats_json=json.dumps(stats)),
        create_time=created,
        perception_uris=[v.get("perception", "") for v in record.meta.get("videos", [])],
        cache_hit=record.cache_hit,
    )
