"""CreateSpeaker: reference videos -> perception -> motion graph -> speaker AuMoCLIP -> node embeddings."""
from __future__ import annotations

from google.protobuf import timestamp_pb2

from tango.artifacts.hashing import key_sha256
from tango.graph.artifact_io import SCHEMA_VERSION as GRAPH_SCHEMA_VERSION
from tango.orchestrator.config import OrchestratorConfig
from tango.orchestrator.job_context import JobContext
from tango.orchestrator.parallel_ingest import ParallelIngest
from tango.orchestrator.request_checks import check_references, check_speaker_options
from tango.orchestrator.retry import with_retries
from tango.orchestrator.speakers import SpeakerCatalogue
from tango.orchestrator.stage_clients import StageClients
from tango.orchestrator.v1 import orchestrator_service_pb2 as pb
from tango.runtime.errors import InvalidArgument
from tango.type.v1 import types_pb2

STAGE_WEIGHTS = {"perception": 0.45, "graph": 0.1, "embedding_model": 0.35, "node_embeddings": 0.1}


class SpeakerPipeline:
    kind = "speaker"
    stage_weights = STAGE_WEIGHTS

    def __init__(self, config: OrchestratorConfig, clients: StageClients, catalogue: SpeakerCatalogue):
        self.config = config
        self.clients = clients
        self.ingest = ParallelIngest.from_config(clients, config)  # long references: ranges on several replicas
        self.catalogue = catalogue

    def parse(self, payload: bytes) -> pb.CreateSpeakerRequest:
        return pb.CreateSpeakerRequest.FromString(payload)

    def target_of(self, request: pb.CreateSpeakerRequest) -> str:
        return "speakers/(content hash of the references)"

    def validate(self, request: pb.CreateSpeakerRequest) -> None:
        if not request.reference_uris:
            raise InvalidArgument("a speaker needs at least one reference video", reason="NO_REFERENCES")
        check_references(request.reference_uris)
        check_speaker_options(request.options)

    def run(self, request: pb.CreateSpeakerRequest, context: JobContext) -> pb.Speaker:
        return self.ensure_speaker(list(request.reference_uris), request.options, context)

    def ensure_speaker(self, references: list[str], options: pb.SpeakerOptions, context: JobContext) -> pb.Speaker:
        """The speaker of these references, created unless its content hash is already known."""
        with context.stage("perception") as record:
            perceptions = [self._retry(record, context, "perception",
                                       lambda uri=uri: self.ingest.analyze(uri, options.max_seconds, context.progress,
                                                                          context.should_stop))
                           for uri in references]
        key = key_sha256({"perceptions": [p.sha256 for p in perceptions], "checkpoint": options.checkpoint,
                          "train": not options.skip_embedding_training, "minutes": self._minutes(options),
                          "graph_schema": GRAPH_SCHEMA_VERSION})  # a new graph schema makes new speakers
        known = self.catalogue.adopt(key, context.tenant)
        if known is not None:
            return known
        with context.stage("graph") as record:
            graph = self._retry(record, context, "graph", lambda: self.clients.build_graph(
                [p.uri for p in perceptions], context.progress, context.should_stop))
        refs = [types_pb2.ArtifactRef(uri=p.uri, sha256=p.sha256, kind="perception") for p in perceptions]
        with context.stage("embedding_model") as record:
            checkpoint = options.checkpoint or self._retry(record, context, "embedding_model", lambda: (
                self.clients.train_speaker_model(refs, self._minutes(options), context.progress, context.should_stop)))
        with context.stage("node_embeddings") as record:
            embeddings = self._retry(record, context, "node_embeddings", lambda: self.clients.prepare_graph(
                graph.uri, checkpoint, context.should_stop))
        created = timestamp_pb2.Timestamp()
        created.GetCurrentTime()
        speaker = pb.Speaker(
            reference_uris=references,
            perceptions=refs,
            graph=types_pb2.ArtifactRef(uri=graph.uri, sha256=graph.uri.rsplit("/", 1)[-1], kind="graph"),
            checkpoint=checkpoint,
            embeddings=types_pb2.ArtifactRef(uri=embeddings, sha256=embeddings.rsplit("/", 1)[-1], kind="embedded_graph"),
            reference_seconds=sum(p.duration_s for p in perceptions),
            graph_nodes=int(graph.stats.get("kept_nodes", 0)),
            create_time=created,
        )
        return self.catalogue.save(key, speaker, context.tenant)

    def _minutes(self, options: pb.SpeakerOptions) -> float:
        return options.train_minutes or self.config.train_minutes

    def _retry(self, record: dict, context: JobContext, stage: str, call):
        return with_retries(call, stage=stage, attempts=self.config.stage_attempts, base_s=self.config.retry_base_s,
                            should_stop=context.should_stop, on_attempt=context.attempt(record))
