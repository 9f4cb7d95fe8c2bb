"""Entry point of the retrieval service (`tango serve retrieval`)."""
from __future__ import annotations

from pathlib import Path

from tango.artifacts.inputs import InputResolver
from tango.artifacts.store import ArtifactStore
from tango.retrieval.config import RetrievalConfig
from tango.retrieval.core import RetrievalCore
from tango.retrieval.metrics import RetrievalMetrics
from tango.retrieval.servicer import RetrievalServicer
from tango.retrieval.v1 import retrieval_service_pb2, retrieval_service_pb2_grpc
from tango.runtime.server import GrpcService, ServiceBinding
from tango.runtime.tls import TlsFiles
from tango.triton.client import TritonClient

SERVICE_NAME = retrieval_service_pb2.DESCRIPTOR.services_by_name["RetrievalService"].full_name


def build(config: RetrievalConfig) -> GrpcService:
    store = ArtifactStore(config.data_uri)
    inputs = InputResolver(config.allowed_root_list + store.local_roots(), download_dir=Path(store.cache_dir) / "inputs")
    metrics = RetrievalMetrics()
    triton = TritonClient(config.embed_url, timeout_s=config.triton_timeout_s, tls=TlsFiles.from_config(config))
    core = RetrievalCore(config, store, inputs, triton, metrics)
    servicer = RetrievalServicer(core)
    binding = ServiceBinding(SERVICE_NAME, lambda server: retrieval_service_pb2_grpc.add_RetrievalServiceServicer_to_server(servicer, server))
    return GrpcService(config, [binding], metrics)


def load_config() -> RetrievalConfig:
    return RetrievalConfig.from_env("retrieval")
