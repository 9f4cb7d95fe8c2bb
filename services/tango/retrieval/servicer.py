"""gRPC translation for RetrievalService."""
from __future__ import annotations

import numpy as np

from tango.media.pcm import PcmFormat
from tango.retrieval.core import RetrievalCore
from tango.retrieval.cues import Anchor, Cues, GestureCue, Outcome, Span
from tango.retrieval.features import step_features
from tango.retrieval.inputs import TargetFeatures
from tango.retrieval.live_session import LiveBatch
from tango.retrieval.options import NodePin, SearchOptions
from tango.retrieval.v1 import retrieval_service_pb2 as pb
from tango.retrieval.v1 import retrieval_service_pb2_grpc as pb_grpc
from tango.runtime.errors import InputMismatch, InvalidArgument
from tango.runtime.grpc_util import received
from tango.type.v1 import types_pb2

MODES = {pb.SEARCH_MODE_UNSPECIFIED: "dp", pb.SEARCH_MODE_DP: "dp", pb.SEARCH_MODE_BEAM: "beam",
         pb.SEARCH_MODE_ONSET: "onset", pb.SEARCH_MODE_RANDOM: "random"}


class RetrievalServicer(pb_grpc.RetrievalServiceServicer):
    def __init__(self, core: RetrievalCore):
        self.core = core

    def SearchPath(self, request: pb.SearchPathRequest, context):
        features = features_from_message(request.features) if request.HasField("features") else None
        if features is None and not request.audio_uri:
            raise InvalidArgument("give audio_uri or precomputed features", reason="MISSING_AUDIO")
        result, prepared, outcomes = self.core.search(
            request.graph_uri, request.checkpoint, features, request.audio_uri,
            options_from_message(request.mode, request.options), cues_from_message(request.cues), request.transcript_uri)
        info = prepared.embeddings
        return pb.SearchPathResponse(
            path=result.path.tolist(), jump_steps=result.jump_steps.tolist(), steps=result.steps,
            jumps=int(result.jump.sum()), revisits=int(result.revisit.sum()), similarity=result.similarity,
            cost=result.cost, search_seconds=result.search_seconds, mode=result.mode,
            jump_difficulty=result.edge_cost_sum / max(int(result.jump.sum()), 1),
            jump_difficulties=result.jump_difficulty.tolist(),
            typical_jump_difficulty=result.typical_jump_difficulty,
            embeddings=types_pb2.ArtifactRef(uri=info.uri, sha256=info.sha256, kind=info.kind),
            cues=[outcome_message(o) for o in outcomes],
        )

    def StreamPath(self, request_iterator, context):
        requests = received(request_iterator)
        first = next(requests, None)
        if first is None or first.WhichOneof("event") != "header":
            raise InvalidArgument("a live search starts with its header", reason="LIVE_WITHOUT_HEADER")
        header = first.header
        live = self.core.open_live(header.graph_uri, header.checkpoint,
                                   options_from_message(pb.SEARCH_MODE_DP, header.options),
                                   PcmFormat(header.audio_format.sample_rate_hz, header.audio_format.channels),
                                   header.lookahead_steps)
        for request in requests:
            event = request.WhichOneof("event")
            if event == "audio":
                batch = live.push(request.audio)
            elif event == "end_of_audio":
                yield batch_message(live.finish(), live.typical_jump_difficulty)
                return
            else:
                raise InvalidArgument("a live search has one header", reason="UNEXPECTED_LIVE_MESSAGE")
            if batch.steps:
                yield batch_message(batch, live.typical_jump_difficulty)

    def PrepareGraph(self, request: pb.PrepareGraphRequest, context):
        prepared = self.core.prepare(request.graph_uri, request.checkpoint)
        info = prepared.embeddings
        return pb.PrepareGraphResponse(embeddings=types_pb2.ArtifactRef(uri=info.uri, sha256=info.sha256, kind=info.kind),
                                       nodes=prepared.graph.num_nodes, dim=prepared.graph.dim, cache_hit=prepared.cache_hit)


def batch_message(batch: LiveBatch, typical: float) -> pb.StreamPathResponse:
    return pb.StreamPathResponse(
        steps=[types_pb2.PathStep(step=s.step, node=s.node, jump=s.jump, difficulty=s.difficulty,
                                  similarity=s.similarity) for s in batch.steps],
        typical_jump_difficulty=typical, audio_s=batch.audio_s, features_seconds=batch.features_s,
        search_seconds=batch.search_s)


def options_from_message(mode: int, message: pb.SearchOptions) -> SearchOptions:
    defaults = SearchOptions()

    def given(field: str) -> float:
        return getattr(message, field) if message.HasField(field) else getattr(defaults, field)

    return SearchOptions(
        mode=MODES.get(mode, "dp"),
        low_weight=given("low_weight"),
        high_weight=given("high_weight"),
        jump_penalty=given("jump_penalty"),
        edge_cost_weight=(message.jump_difficulty_weight if message.HasField("jump_difficulty_weight")
                          else defaults.edge_cost_weight),
        revisit_penalty=given("revisit_penalty"),
        energy_weight=given("energy_weight"),
        revisit_window=message.revisit_window or defaults.revisit_window,
        beam_width=message.beam_width or defaults.beam_width,
        start_node=message.start_node if message.HasField("start_node") else None,
        avoid_nodes=tuple(message.avoid_nodes),
        pins=tuple(NodePin(p.step, p.node) for p in message.pins),
        seed=message.seed,
    )


def cues_from_message(message: types_pb2.ScriptCues) -> Cues:
    def anchor(a: types_pb2.CueAnchor) -> Anchor:
        return Anchor(a.word, a.occurrence, a.time_s)

    def span(r: types_pb2.ReferenceRange) -> Span:
        return Span(r.reference, r.start_s, r.end_s)

    return Cues(emphasis=tuple(anchor(a) for a in message.emphasis),
                gesture=tuple(GestureCue(anchor(g.at), g.name, span(g.span)) for g in message.gesture),
                rest=tuple((r.start_s, r.end_s) for r in message.rest),
                avoid=tuple(span(r) for r in message.avoid))


def outcome_message(outcome: Outcome) -> types_pb2.CueOutcome:
    return types_pb2.CueOutcome(kind=outcome.kind, label=outcome.label, requested_s=outcome.requested_s,
                                placed_s=outcome.placed_s, honoured=outcome.honoured, measure=outcome.measure)


def features_from_message(message: pb.AudioFeatures) -> TargetFeatures:
    frames, dim = message.frames, message.dim
    if frames <= 0 or dim <= 0:
        raise InvalidArgument("features need positive frames and dim", reason="EMPTY_FEATURES")
    low = _matrix(message.low, frames, dim, "low")
    high = _matrix(message.high, message.high_windows, dim, "high")
    waveform = _floats(message.waveform, "waveform") if message.waveform else None
    return step_features(low, high, message.high_hop_frames or 30, waveform=waveform)


def _floats(raw: bytes, name: str) -> np.ndarray:
    if len(raw) % 4:
        raise InvalidArgument(f"{name} bytes are not little-endian float32s ({len(raw)} bytes)", reason="BAD_FEATURE_BYTES")
    return np.frombuffer(raw, dtype="<f4")


def _matrix(raw: bytes, rows: int, dim: int, name: str) -> np.ndarray:
    values = _floats(raw, name)
    if rows <= 0 or values.size != rows * dim:
        raise InputMismatch(f"{name} features hold {values.size} floats, expected {rows} x {dim}")
    return values.reshape(rows, dim)
