"""Entry point of the render service (`tango serve render`)."""
from __future__ import annotations

from pathlib import Path

from tango.artifacts.inputs import InputResolver
from tango.artifacts.store import ArtifactStore
from tango.lipsync.mouth_model import warm_up as warm_up_lipsync
from tango.render.config import RenderConfig
from tango.render.core import RenderCore
from tango.render.service_metrics import RenderServiceMetrics
from tango.render.servicer import RenderServicer
from tango.render.v1 import render_service_pb2, render_service_pb2_grpc
from tango.runtime.server import GrpcService, ServiceBinding
from tango.runtime.tls import TlsFiles
from tango.triton.client import TritonClient

SERVICE_NAME = render_service_pb2.DESCRIPTOR.services_by_name["RenderService"].full_name


def build(config: RenderConfig, interp: TritonClient | None = None) -> GrpcService:
    """The render service; `interp` replaces the Triton client of `config.interp_url` (tests)."""
    store = ArtifactStore(config.data_uri)
    inputs = InputResolver(config.allowed_root_list + store.local_roots(), download_dir=Path(store.cache_dir) / "inputs")
    metrics = RenderServiceMetrics()
    interp = interp or TritonClient(config.interp_url, timeout_s=config.interp_timeout_s, tls=TlsFiles.from_config(config))
    core = RenderCore(config, store, inputs, interp, metrics)
    servicer = RenderServicer(core)
    binding = ServiceBinding(SERVICE_NAME, lambda server: render_service_pb2_grpc.add_RenderServiceServicer_to_server(servicer, server))
    return GrpcService(config, [binding], metrics, warm_up=warm_up_lipsync)  # before it reports SERVING


def load_config() -> RenderConfig:
    return RenderConfig.from_env("render")
