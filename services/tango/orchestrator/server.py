"""Entry point of the orchestrator (`tango serve orchestrator`)."""
from __future__ import annotations

from pathlib import Path

from google.longrunning import operations_pb2_grpc

from tango.artifacts.inputs import InputResolver
from tango.artifacts.store import ArtifactStore
from tango.orchestrator.config import OrchestratorConfig
from tango.orchestrator.core import OrchestratorCore
from tango.orchestrator.jobs import JobStore
from tango.orchestrator.live import LiveConductor
from tango.orchestrator.metrics import OrchestratorMetrics
from tango.orchestrator.reenact_pipeline import ReenactmentPipeline
from tango.orchestrator.runner import JobRunner, Leasing
from tango.orchestrator.servicer import OperationsServicer, OrchestratorServicer, wait_slots
from tango.orchestrator.speaker_pipeline import SpeakerPipeline
from tango.orchestrator.speakers import SpeakerCatalogue
from tango.orchestrator.stage_clients import StageAddresses, StageClients
from tango.orchestrator.tenancy import Tenancy
from tango.orchestrator.uploads import UploadArea
from tango.orchestrator.v1 import orchestrator_service_pb2, orchestrator_service_pb2_grpc
from tango.runtime.server import GrpcService, ServiceBinding
from tango.runtime.tls import TlsFiles

SERVICE_NAME = orchestrator_service_pb2.DESCRIPTOR.services_by_name["OrchestratorService"].full_name
OPERATIONS_NAME = "google.longrunning.Operations"
MAX_UPLOAD_BYTES = 8 << 30


class OrchestratorService(GrpcService):
    """The gRPC server plus the job runner: it claims jobs from the shared store once started, and releases
    those it holds when it stops."""

    def __init__(self, config: OrchestratorConfig, core: OrchestratorCore, clients: StageClients, bindings, metrics):
        super().__init__(config, bindings, metrics)
        self.core = core
        self.clients = clients

    def warm_up(self) -> None:
        self.core.runner.start()

    def stop(self, grace_s: float | None = None) -> None:
        super().stop(grace_s)
        self.core.runner.shutdown()
        self.core.jobs.close()
        self.clients.close()


def build(config: OrchestratorConfig) -> OrchestratorService:
    store = ArtifactStore(config.data_uri)
    inputs = InputResolver(config.allowed_root_list + store.local_roots(), download_dir=Path(store.cache_dir) / "inputs")
    jobs = JobStore.open(config.database or Path(store.root_path) / "orchestrator.sqlite", config.database_pool)
    addresses = StageAddresses(config.perception_addr, config.graph_addr, config.retrieval_addr, config.render_addr,
                               config.trainer_addr)
    clients = StageClients(addresses, config.stage_deadline_s, TlsFiles.from_config(config))
    tenancy = Tenancy(jobs.db)
    speakers = SpeakerCatalogue(store, tenancy)
    media = UploadArea(store, MAX_UPLOAD_BYTES, tenancy, config.upload_idle_s, config.upload_max_s)
    speaker_pipeline = SpeakerPipeline(config, clients, speakers)
    reenactment_pipeline = ReenactmentPipeline(config, clients, speakers, speaker_pipeline, inputs, media)
    metrics = OrchestratorMetrics()
    runner = JobRunner(jobs, {"speaker": speaker_pipeline, "reenactment": reenactment_pipeline},
                       workers=config.job_workers, max_unfinished=config.max_jobs_in_flight, metrics=metrics,
                       leasing=Leasing(config.lease_s))
    live = LiveConductor(config, clients, speakers, metrics)
    core = OrchestratorCore(jobs, runner, speakers, media, speaker_pipeline, reenactment_pipeline, live)
    # two threads stay free for every other RPC, besides those of the live streams
    waits = wait_slots(max(1, config.max_workers - 2 - max(config.live_streams, 0)))
    orchestrator, operations = OrchestratorServicer(core, waits), OperationsServicer(core, waits)
    bindings = [
        ServiceBinding(SERVICE_NAME, lambda s: orchestrator_service_pb2_grpc.add_OrchestratorServiceServicer_to_server(orchestrator, s)),
        ServiceBinding(OPERATIONS_NAME, lambda s: operations_pb2_grpc.add_OperationsServicer_to_server(operations, s)),
    ]
    return OrchestratorService(config, core, clients, bindings, metrics)


def load_config() -> OrchestratorConfig:
    return OrchestratorConfig.from_env("orchestrator")
