"""The orchestrator's calls to the stage services, as plain Python: gRPC stays in this module.

Every call has a deadline, is cancelled when the job is, and turns RPC failures into domain errors
(so `retry.with_retries` sees UNAVAILABLE / DEADLINE_EXCEEDED as transient).
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Callable, Iterator

import grpc

from tango.graph.v1 import graph_service_pb2 as graph_pb
from tango.graph.v1 import graph_service_pb2_grpc as graph_grpc
from tango.perception.v1 import perception_service_pb2 as perception_pb
from tango.perception.v1 import perception_service_pb2_grpc as perception_grpc
from tango.retrieval.v1 import retrieval_service_pb2 as retrieval_pb
from tango.retrieval.v1 import retrieval_service_pb2_grpc as retrieval_grpc
from tango.runtime.errors import Cancelled
from tango.runtime.grpc_util import error_from_rpc

ProgressFn = Callable[[int, int], None]
StopFn = Callable[[], bool]
CHANNEL_OPTIONS = [
    ("grpc.max_receive_message_length", 64 << 20),
    ("grpc.max_send_message_length", 64 << 20),
    # reconnect quickly once a restarted stage is back, so retries find it (gRPC's default backs off to 2 min)
    ("grpc.initial_reconnect_backoff_ms", 250),
    ("grpc.max_reconnect_backoff_ms", 2000),
]


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
    extra: dict = field(default_factory=dict)


class StageClients:
    def __init__(self, perception_addr: str, graph_addr: str, retrieval_addr: str, deadline_s: float):
        self.deadline_s = deadline_s
        self._channels = [grpc.insecure_channel(a, options=CHANNEL_OPTIONS) for a in (perception_addr, graph_addr, retrieval_addr)]
        self.perception = perception_grpc.PerceptionServiceStub(self._channels[0])
        self.graph = graph_grpc.MotionGraphServiceStub(self._channels[1])
        self.retrieval = retrieval_grpc.RetrievalServiceStub(self._channels[2])

    def analyze_video(self, uri: str, max_seconds: float, on_progress: ProgressFn, should_stop: StopFn) -> PerceptionOutput:
        request = perception_pb.AnalyzeVideoRequest(video_uri=uri, options=perception_pb.AnalysisOptions(max_seconds=max_seconds))
        result = self._last_of_stream(self.perception.AnalyzeVideo(request, timeout=self.deadline_s), on_progress, should_stop)
        s = result.summary
        return PerceptionOutput(result.artifact.uri, result.artifact.sha256, s.fps, s.duration_s, s.pose_ratio,
                                s.hands_ratio, s.mean_hand_clarity)

    def build_graph(self, perception_uris: list[str], on_progress: ProgressFn, should_stop: StopFn) -> GraphOutput:
        request = graph_pb.BuildGraphRequest(perception_uris=perception_uris)
        graph = self._last_of_stream(self.graph.BuildGraph(request, timeout=self.deadline_s), on_progress, should_stop)
        return GraphOutput(graph.artifact.uri, json.loads(graph.stats.stats_json or "{}"))

    def prepare_graph(self, graph_uri: str, checkpoint: str, should_stop: StopFn) -> str:
        request = retrieval_pb.PrepareGraphRequest(graph_uri=graph_uri, checkpoint=checkpoint)
        return self._unary(self.retrieval.PrepareGraph, request, should_stop).embeddings.uri

    def search_path(self, graph_uri: str, audio_uri: str, checkpoint: str, mode: int, jump_penalty: float,
                    should_stop: StopFn) -> PathOutput:
        options = retrieval_pb.SearchOptions(jump_penalty=jump_penalty) if jump_penalty else retrieval_pb.SearchOptions()
        request = retrieval_pb.SearchPathRequest(graph_uri=graph_uri, audio_uri=audio_uri, checkpoint=checkpoint,
                                                 mode=mode or retrieval_pb.SEARCH_MODE_DP, options=options)
        reply = self._unary(self.retrieval.SearchPath, request, should_stop)
        return PathOutput(list(reply.path), list(reply.jump_steps), reply.similarity, reply.revisits,
                          reply.search_seconds, reply.embeddings.uri, reply.mode, list(reply.jump_difficulties),
                          reply.typical_jump_difficulty)

    def close(self) -> None:
        for channel in self._channels:
            channel.close()

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
        last = None
        try:
            for reply in call:
                if should_stop():
                    call.cancel()
                    raise Cancelled("job cancelled", reason="JOB_CANCELLED")
                event = reply.WhichOneof("event")
                if event == "progress":
                    on_progress(reply.progress.done, reply.progress.total)
                else:
                    last = getattr(reply, event)
        except grpc.RpcError as error:
            raise error_from_rpc(error) from None
        return last
