"""Cue compliance on a private local mesh: the 22 s speaker with a tagged gesture and a tagged span never to show,
and, for each shared speech track, script cues chosen from its own words (three emphasis words, the gesture pinned
to a word, a rest span, the avoid tag), searched by the real retrieval service. Reported per track: how each kind
of cue was honoured, against the same track searched without cues, and what the cues cost in audio similarity.

Cue words are content words (4 letters or more) of the track's recognised transcript: nearest 35 % of its length
for the gesture, and nearest 20 %, 50 % and 80 % for emphasis among the words clear of the gesture's span and the
rest (an emphasis there is refused as CUES_CONFLICT); the rest span is 1.5 s (at most a tenth of the track) from
65 %. Criteria (`tango.retrieval.cues`):
a gesture's stroke within one step of its word; energy at an emphasis word >= 1.5x the path's median; no frame
of an avoided span used.
"""
from __future__ import annotations

import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
from google.longrunning import operations_pb2, operations_pb2_grpc

from tango.graph.artifact_io import GraphArtifact
from tango.mesh.bench import BENCH_BASE_PORT
from tango.mesh.mesh import LocalMesh
from tango.orchestrator.reenact_pipeline import tagged_cues
from tango.orchestrator.v1 import orchestrator_service_pb2 as pb
from tango.orchestrator.v1 import orchestrator_service_pb2_grpc as pb_grpc
from tango.retrieval.inputs import FRAMES_PER_STEP, node_speed
from tango.retrieval.v1 import retrieval_service_pb2 as retrieval_pb
from tango.retrieval.v1 import retrieval_service_pb2_grpc as retrieval_grpc
from tango.speech.core import transcribe_file
from tango.type.v1 import types_pb2

GESTURE = types_pb2.ReferenceRange(reference=0, start_s=5.0, end_s=6.0)
AVOID = types_pb2.ReferenceRange(reference=0, start_s=10.0, end_s=12.0)
FPS = 30.0
GESTURE_CLEARANCE_S = GESTURE.end_s - GESTURE.start_s  # the tagged gesture's length: its stroke lies within it


def cue_compliance_benchmark(reference: Path, audios: list[Path]) -> dict:
    with tempfile.TemporaryDirectory(prefix="tango-bench-cues-") as home:
        mesh = LocalMesh(Path(home), base_port=BENCH_BASE_PORT, allowed_roots=f"{reference.parent}:{audios[0].parent}")
        mesh.up(log=lambda _line: None)
        try:
            orchestrator = pb_grpc.OrchestratorServiceStub(mesh.channel("orchestrator"))
            speaker = _speaker(mesh, orchestrator, reference)
            for name, span, avoid in (("count", GESTURE, False), ("drink", AVOID, True)):
                orchestrator.TagGesture(pb.TagGestureRequest(speaker=speaker.name, tag=pb.GestureTag(
                    name=name, span=span, avoid=avoid)), timeout=30)
            speaker = orchestrator.GetSpeaker(pb.GetSpeakerRequest(name=speaker.name), timeout=30)
            energy = node_speed(GraphArtifact.load(Path(home) / "data" / "graph" / speaker.graph.sha256)
                                .arrays["motion"]).max(axis=1)
            retrieval = retrieval_grpc.RetrievalServiceStub(mesh.channel("retrieval"))
            tracks = [_track(retrieval, speaker, energy, audio) for audio in audios]
        finally:
            mesh.down()
    outcomes = [o for t in tracks for o in t.pop("_outcomes")]
    summary = {kind: f"{sum(o.honoured for o in outcomes if o.kind == kind)}/"
                     f"{sum(o.kind == kind for o in outcomes)}" for kind in ("emphasis", "gesture", "rest", "avoid")}
    return {"reference": reference.name, "gesture_span_s": [GESTURE.start_s, GESTURE.end_s],
            "avoid_span_s": [AVOID.start_s, AVOID.end_s], "honoured": summary, "tracks": tracks}


def _speaker(mesh: LocalMesh, orchestrator, reference: Path) -> pb.Speaker:
    operation = orchestrator.CreateSpeaker(pb.CreateSpeakerRequest(request_id=uuid.uuid4().hex,
                                                                   reference_uris=[str(reference)]), timeout=60)
    operations = operations_pb2_grpc.OperationsStub(mesh.channel("orchestrator"))
    while not operation.done:
        operation = operations.WaitOperation(operations_pb2.WaitOperationRequest(name=operation.name), timeout=3600)
    if operation.HasField("error"):
        raise RuntimeError(f"speaker failed: {operation.error.message}")
    speaker = pb.Speaker()
    operation.response.Unpack(speaker)
    return speaker


def _track(retrieval, speaker: pb.Speaker, energy: np.ndarray, audio: Path) -> dict:
    words = [w for w in transcribe_file(audio).words if len(w.text) >= 4]
    if len(words) < 4:
        return {"audio": audio.name, "skipped": "fewer than 4 content words recognised", "_outcomes": []}
    duration = max(w.end_s for w in words)
    gesture = _nearest(words, duration * 0.35)
    rest = (duration * 0.65, duration * 0.65 + min(1.5, 0.1 * duration))
    # emphasis words clear of what they would conflict with (CUES_CONFLICT): the gesture's span and the rest
    taken = [(gesture.start_s - GESTURE_CLEARANCE_S, gesture.start_s + GESTURE_CLEARANCE_S), rest]
    emphasis = [_nearest([w for w in words if not any(a - 0.15 <= w.start_s < b + 0.15 for a, b in taken)],
                         duration * f) for f in (0.2, 0.5, 0.8)]
    cues = types_pb2.ScriptCues(
        emphasis=[_anchor(words, w) for w in emphasis],
        gesture=[types_pb2.GestureCue(at=_anchor(words, gesture), name="count")],
        rest=[types_pb2.TimeRange(start_s=rest[0], end_s=rest[1])])
    request = retrieval_pb.SearchPathRequest(graph_uri=speaker.graph.uri, audio_uri=str(audio),
                                             checkpoint=speaker.checkpoint, mode=retrieval_pb.SEARCH_MODE_DP)
    started = time.perf_counter()
    plain = retrieval.SearchPath(request, timeout=600)
    request.cues.CopyFrom(tagged_cues(cues, speaker))
    cued = retrieval.SearchPath(request, timeout=600)
    seconds = time.perf_counter() - started
    path = np.asarray(plain.path)
    median = float(np.median(energy[path]))
    plain_ratios = [float(energy[path[int(w.start_s * FPS) // FRAMES_PER_STEP]]) / median for w in emphasis]
    return {
        "audio": audio.name, "seconds": round(seconds, 1),
        "similarity": {"without_cues": round(plain.similarity, 4), "with_cues": round(cued.similarity, 4)},
        "emphasis_energy_ratio": {"without_cues": [round(r, 2) for r in plain_ratios],
                                  "with_cues": [round(c.measure, 2) for c in cued.cues if c.kind == "emphasis"]},
        "cues": [{"kind": c.kind, "label": c.label, "requested_s": round(c.requested_s, 2),
                  "placed_s": round(c.placed_s, 2), "honoured": c.honoured, "measure": round(c.measure, 3)}
                 for c in cued.cues],
        "_outcomes": list(cued.cues),
    }


def _nearest(words, seconds: float):
    return min(words, key=lambda w: abs(w.start_s - seconds))


def _anchor(words, word) -> types_pb2.CueAnchor:
    """The word's anchor: its text and which occurrence of that text it is."""
    same = [w for w in words if w.text.lower() == word.text.lower() and w.start_s <= word.start_s]
    return types_pb2.CueAnchor(word=word.text, occurrence=len(same))
