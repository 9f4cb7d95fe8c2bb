"""Entry point of the trainer service (`tango serve trainer`)."""
from __future__ import annotations

import functools
from pathlib import Path

from tango.artifacts.store import ArtifactStore
from tango.cluster.jobs import JobPoolConfig
from tango.runtime.errors import InvalidArgument
from tango.runtime.server import GrpcService, ServiceBinding
from tango.trainer.config import EXECUTORS, TrainerConfig
from tango.trainer.core import Executor, LocalExecutor, TrainerCore
from tango.trainer.job_executor import KubernetesJobExecutor, kubernetes_api_client
from tango.trainer.metrics import TrainerMetrics
from tango.trainer.servicer import TrainerServicer
from tango.trainer.v1 import trainer_service_pb2, trainer_service_pb2_grpc

SERVICE_NAME = trainer_service_pb2.DESCRIPTOR.services_by_name["TrainerService"].full_name


def build(config: TrainerConfig, pool: JobPoolConfig | None = None) -> GrpcService:
    store = ArtifactStore(config.data_uri)
    metrics = TrainerMetrics()
    core = TrainerCore(config, store, make_executor(config, store, pool), metrics)
    servicer = TrainerServicer(core)
    binding = ServiceBinding(SERVICE_NAME, lambda server: trainer_service_pb2_grpc.add_TrainerServiceServicer_to_server(servicer, server))
    return GrpcService(config, [binding], metrics)


def make_executor(config: TrainerConfig, store: ArtifactStore, pool: JobPoolConfig | None = None) -> Executor:
    if config.executor not in EXECUTORS:
        raise InvalidArgument(f"TANGO_TRAINER_EXECUTOR={config.executor!r}: one of {list(EXECUTORS)}",
                              reason="BAD_CONFIG")
    if config.executor == "local":
        work_root = Path(config.work_dir) if config.work_dir else Path(store.cache_dir) / "training"
        return LocalExecutor(store, work_root, config.device)
    pool = pool or JobPoolConfig.from_env()
    if not pool.enabled:
        raise InvalidArgument("TANGO_TRAINER_EXECUTOR=kubernetes needs a job image (TANGO_JOBS_IMAGE)",
                              reason="BAD_CONFIG")
    return KubernetesJobExecutor(pool, functools.partial(kubernetes_api_client, config.kubeconfig), config.job_poll_s)


def load_config() -> TrainerConfig:
    return TrainerConfig.from_env("trainer")
