"""Entry point of the perception service (`tango serve perception`)."""
from __future__ import annotations

from pathlib import Path

from tango.artifacts.inputs import InputResolver
from tango.artifacts.store import ArtifactStore
from tango.perception.config import PerceptionConfig
from tango.perception.core import PerceptionCore
from tango.perception.metrics import PerceptionMetrics
from tango.perception.models import FrameAnalyzer, ModelOptions
from tango.perception.servicer import PerceptionServicer
from tango.perception.v1 import perception_service_pb2, perception_service_pb2_grpc
from tango.runtime.server import GrpcService, ServiceBinding

SERVICE_NAME = perception_service_pb2.DESCRIPTOR.services_by_name["PerceptionService"].full_name


def build(config: PerceptionConfig) -> GrpcService:
    store = ArtifactStore(config.data_uri)
    inputs = InputResolver(config.allowed_root_list + store.local_roots(), download_dir=Path(store.cache_dir) / "inputs",
                           max_bytes=config.max_input_bytes)
    metrics = PerceptionMetrics()
    core = PerceptionCore(config, store, inputs, metrics)
    servicer = PerceptionServicer(core)
    binding = ServiceBinding(SERVICE_NAME, lambda server: perception_service_pb2_grpc.add_PerceptionServiceServicer_to_server(servicer, server))
    return GrpcService(config, [binding], metrics, warm_up=load_models)


def load_models() -> None:
    """SERVING only once MediaPipe's bundled models load on this machine."""
    FrameAnalyzer(ModelOptions()).close()


def load_config() -> PerceptionConfig:
    return PerceptionConfig.from_env("perception")
