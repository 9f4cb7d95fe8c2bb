"""The orchestrator's calls to the stage services, as plain Python: gRPC stays in this module.

Every call has a deadline, is cancelled when the job is, and turns RPC failures into domain errors
(so `retry.with_retries` sees UNAVAILABLE / DEADLINE_EXCEEDED as transient).
"""
from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Iterator

import grpc

from tango.graph.v1 import graph_service_pb2 as graph_pb
from tango.graph.v1 import graph_service_pb2_grpc as graph_grpc
from tango.perception.v1 import perception_service_pb2 as perception_pb
from tango.perception.v1 import perception_service_pb2_grpc as perception_grpc
from tango.render.v1 import render_service_pb2 as render_pb
from tango.render.v1 import render_service_pb2_grpc as render_grpc
from tango.retrieval.v1 import retrieval_service_pb2 as retrieval_pb
from tango.retrieval.v1 import retrieval_service_pb2_grpc as retrieval_grpc
from tango.trainer.v1 import trainer_service_pb2 as trainer_pb
from tango.trainer.v1 import trainer_service_pb2_grpc as trainer_grpc
from tango.runtime.errors import Cancelled
from tango.runtime.grpc_util import error_from_rpc
from tango.runtime.tenant_header import tenant_channel
from tango.runtime.tls import TlsFiles, open_channel
from tango.type.v1 import types_pb2

ProgressFn = Callable[[int, int], None]
StopFn = Callable[[], bool]
CHANNEL_OPTIONS = [
    ("grpc.max_receive_message_length", 64 << 20),
    ("grpc.max_send_message_length", 64 << 20),
    # reconnect quickly once a restarted stage is back, so retries find it (gRPC's default backs off to 2 min)
    ("grpc.initial_reconnect_backoff_ms", 250),
    ("grpc.max_reconnect_backoff_ms", 2000),
    # spread calls over every address the target resolves to: the replicas of a stage in the local mesh
    # (`ipv4:127.0.0.1:50051,127.0.0.1:50251`) or the pods behind a headless Service (`dns:///...`)
    ("grpc.lb_policy_name", "round_robin"),
]


def stage_channel(target: str, tls: TlsFiles | None = None) -> grpc.Channel:
    """The one way to open a channel to a stage: our limits, quick reconnects, round robin over replicas,
    mutual TLS when the orchestrator has certificates, and the calling job's tenant named in every call."""
    return tenant_channel(open_channel(target, tls, CHANNEL_OPTIONS))


def listed_replicas(target: str) -> int:
    """How many addresses a target lists (`ipv4:a,b` -> 2); a name resolved by DNS counts as 1."""
    scheme, _, rest = target.partition(":")
    return len([a for a in rest.split(",") if a]) if scheme in ("ipv4", "ipv6") else 1


@dataclass(frozen=True)
class PerceptionOutput:
    uri: str
    sha256: str
    fps: float
    duration_s: float
    pose_ratio: float
    hands_ratio: float
    mean_hand_clarity: float


@dataclass(frozen=True)
class GraphOutput:
    uri: str
    stats: dict


@dataclass(frozen=True)
class PathOutput:
    path: list[int]
    jump_steps: list[int]
    similarity: float
    revisits: int
    search_seconds: float
    embeddings_uri: str
    mode: str
    jump_difficulty: list[float] = field(default_factory=list)  # aligned with jump_steps
    typical_jump_difficulty: float = 0.0  # median over the graph's jumps
    cues: list[types_pb2.CueOutcome] = field(default_factory=list)  # how the path honoured the script cues
    extra: dict = field(default_factory=dict)


@dataclass(frozen=True)
class RenderOutput:
    artifact: types_pb2.ArtifactRef
    video_uri: str
    sidecar_uri: str
    duration_s: float
    cache_hit: bool
    captions_uri: str = ""


@dataclass(frozen=True)
class StageAddresses:
    perception: str
    graph: str
    retrieval: str
    render: str
    trainer: str


_STUBS = {"perception": perception_grpc.PerceptionServiceStub, "graph": graph_grpc.MotionGraphServiceStub,
          "retrieval": retrieval_grpc.RetrievalServiceStub, "render": render_grpc.RenderServiceStub,
          "trainer": trainer_grpc.TrainerServiceStub}


class _Stubs:
    """One channel and stub per stage, opened again when the TLS files change: a channel presents the
    certificate it was opened with, so after a rotation new calls go out on channels with the new one. The
    old channels are closed only with the clients (calls still running on them finish)."""

    def __init__(self, addresses: StageAddresses, tls: TlsFiles | None):
        self.addresses, self.tls = addresses, tls
        self._lock = threading.Lock()
        self._retired: list[grpc.Channel] = []
        self._open()

    def _open(self) -> None:
        self._stamp = self.tls.stamp() if self.tls else None
        self.channels = {name: stage_channel(getattr(self.addresses, name), self.tls) for name in _STUBS}
        self.stubs = {name: stub(self.channels[name]) for name, stub in _STUBS.items()}

    def current(self, name: str):
        if self.tls is not None and self.tls.stamp() != self._stamp:
            with self._lock:
                if self.tls.stamp() != self._stamp:
                    self._retired += self.channels.values()
                    self._open()
        return self.stubs[name]

    def close(self) -> None:
        for channel in [*self.channels.values(), *self._retired]:
            channel.close()


def _stage(name: str) -> property:
    return property(lambda self: self._stubs.current(name), doc=f"the {name} stage's stub, on the current channel")


class StageClients:
    perception = _stage("perception")
    graph = _stage("graph")
    retrieval = _stage("retrieval")
    render = _stage("render")
    trainer = _stage("trainer")

    def __init__(self, addresses: StageAddresses, deadline_s: float, tls: TlsFiles | None = None):
        self.deadline_s = deadline_s
        self._stubs = _Stubs(addresses, tls)

    def analyze_video(self, uri: str, max_seconds: float, on_progress: ProgressFn, should_stop: StopFn,
                      frame_range: tuple[int, int] | None = None) -> PerceptionOutput:
        """The perception of a video, or with `frame_range` (from plan_analysis) the part of one range."""
        options = perception_pb.AnalysisOptions(max_seconds=max_seconds)
        if frame_range is not None:
            options.frame_range.CopyFrom(perception_pb.FrameRange(start_frame=frame_range[0], end_frame=frame_range[1]))
        request = perception_pb.AnalyzeVideoRequest(video_uri=uri, options=options)
        result = self._last_of_stream(self.perception.AnalyzeVideo(request, timeout=self.deadline_s), on_progress, should_stop)
        return _perception_output(result)

    def plan_analysis(self, uri: str, max_seconds: float, max_ranges: int, min_range_s: float,
                      should_stop: StopFn) -> list[tuple[int, int]]:
        """The frame ranges perception would analyse apart (one range: analyse the video whole)."""
        request = perception_pb.PlanAnalysisRequest(video_uri=uri, options=perception_pb.AnalysisOptions(max_seconds=max_seconds),
                                                    max_ranges=max_ranges, min_range_seconds=min_range_s)
        reply = self._unary(self.perception.PlanAnalysis, request, should_stop)
        return [(r.start_frame, r.end_frame) for r in reply.ranges]

    def merge_analyses(self, uri: str, max_seconds: float, parts: list[PerceptionOutput], should_stop: StopFn) -> PerceptionOutput:
        """The whole video's perception, merged by perception from the parts of its planned ranges."""
        request = perception_pb.MergeAnalysesRequest(
            video_uri=uri, options=perception_pb.AnalysisOptions(max_seconds=max_seconds),
            parts=[types_pb2.ArtifactRef(uri=p.uri, sha256=p.sha256, kind="perception") for p in parts])
        return _perception_output(self._unary(self.perception.MergeAnalyses, request, should_stop).result)

    def build_graph(self, perception_uris: list[str], on_progress: ProgressFn, should_stop: StopFn) -> GraphOutput:
        request = graph_pb.BuildGraphRequest(perception_uris=perception_uris)
        graph = self._last_of_stream(self.graph.BuildGraph(request, timeout=self.deadline_s), on_progress, should_stop)
        return GraphOutput(graph.artifact.uri, json.loads(graph.stats.stats_json or "{}"))

    def prepare_graph(self, graph_uri: str, checkpoint: str, should_stop: StopFn) -> str:
        request = retrieval_pb.PrepareGraphRequest(graph_uri=graph_uri, checkpoint=checkpoint)
        return self._unary(self.retrieval.PrepareGraph, request, should_stop).embeddings.uri

    def search_path(self, graph_uri: str, audio_uri: str, checkpoint: str, mode: int, jump_penalty: float,
                    should_stop: StopFn, cues: types_pb2.ScriptCues | None = None,
                    transcript_uri: str = "") -> PathOutput:
        options = retrieval_pb.SearchOptions(jump_penalty=jump_penalty) if jump_penalty else retrieval_pb.SearchOptions()
        request = retrieval_pb.SearchPathRequest(graph_uri=graph_uri, audio_uri=audio_uri, checkpoint=checkpoint,
                                                 mode=mode or retrieval_pb.SEARCH_MODE_DP, options=options, cues=cues,
                                                 transcript_uri=transcript_uri)
        reply = self._unary(self.retrieval.SearchPath, request, should_stop)
        return PathOutput(list(reply.path), list(reply.jump_steps), reply.similarity, reply.revisits,
                          reply.search_seconds, reply.embeddings.uri, reply.mode, list(reply.jump_difficulties),
                          reply.typical_jump_difficulty, list(reply.cues))

    def train_speaker_model(self, perceptions: list[types_pb2.ArtifactRef], max_minutes: float,
                            on_progress: ProgressFn, should_stop: StopFn) -> str:
        """The checkpoint id of the speaker's AuMoCLIP, trained by the trainer stage (or found there)."""
        request = trainer_pb.TrainSpeakerModelRequest(perceptions=perceptions, max_minutes=max_minutes)
        call = self.trainer.TrainSpeakerModel(request, timeout=self.deadline_s)
        return self._last_of_stream(call, on_progress, should_stop).checkpoint

    def render_video(self, request: render_pb.RenderVideoRequest, on_progress: ProgressFn,
                     should_stop: StopFn) -> RenderOutput:
        result = self._last_of_stream(self.render.RenderVideo(request, timeout=self.deadline_s), on_progress,
                                      should_stop)
        return RenderOutput(result.render, result.video_uri, result.sidecar_uri, result.duration_s, result.cache_hit,
                            result.captions_uri)

    def close(self) -> None:
        self._stubs.close()

    def _unary(self, method, request, should_stop: StopFn):
        future = method.future(request, timeout=self.deadline_s)
        while not future.done():
            if should_stop():
                future.cancel()
                raise Cancelled("job cancelled", reason="JOB_CANCELLED")
            time.sleep(0.05)
        try:
            return future.result()
        except grpc.RpcError as error:
            raise error_from_rpc(error) from None

    @staticmethod
    def _last_of_stream(call: Iterator, on_progress: ProgressFn, should_stop: StopFn):
        """The stream's last non-progress message; the call is cancelled as soon as `should_stop` turns true,
        also between messages (a render or a training may stay silent for a while)."""
        watcher = threading.Thread(target=_cancel_when_stopped, args=(call, should_stop), daemon=True)
        watcher.start()
        last = None
        try:
            for reply in call:
                event = reply.WhichOneof("event")
                if event == "progress":
                    on_progress(reply.progress.done, reply.progress.total)
                else:
                    last = getattr(reply, event)
        except grpc.RpcError as error:
            if should_stop():
                raise Cancelled("job cancelled", reason="JOB_CANCELLED") from None
            raise error_from_rpc(error) from None
        finally:
            call.cancel()  # no-op once the stream is complete; stops the watcher
        return last


def _perception_output(result: perception_pb.PerceptionResult) -> PerceptionOutput:
    s = result.summary
    return PerceptionOutput(result.artifact.uri, result.artifact.sha256, s.fps, s.duration_s, s.pose_ratio,
                            s.hands_ratio, s.mean_hand_clarity)


def _cancel_when_stopped(call, should_stop: StopFn, poll_s: float = 0.1) -> None:
    while call.is_active():
        if should_stop():
            call.cancel()
            return
        time.sleep(poll_s)
