"""Entry point of the motion graph service (`tango serve graph`)."""
from __future__ import annotations

from tango.artifacts.store import ArtifactStore
from tango.graph.config import GraphConfig
from tango.graph.core import GraphCore
from tango.graph.metrics import GraphMetrics
from tango.graph.servicer import MotionGraphServicer
from tango.graph.v1 import graph_service_pb2, graph_service_pb2_grpc
from tango.runtime.server import GrpcService, ServiceBinding

SERVICE_NAME = graph_service_pb2.DESCRIPTOR.services_by_name["MotionGraphService"].full_name


def build(config: GraphConfig) -> GrpcService:
    metrics = GraphMetrics()
    core = GraphCore(config, ArtifactStore(config.data_uri), metrics)
    servicer = MotionGraphServicer(core)
    binding = ServiceBinding(SERVICE_NAME, lambda server: graph_service_pb2_grpc.add_MotionGraphServiceServicer_to_server(servicer, server))
    return GrpcService(config, [binding], metrics)


def load_config() -> GraphConfig:
    return GraphConfig.from_env("graph")
