"""`tango retrieve`: the best gesture path through a speaker's graph for a speech track."""
from __future__ import annotations

import json
import uuid
from pathlib import Path

from tango.cli.client import call, channel
from tango.cli.operations import orchestrator, result_of, watch
from tango.orchestrator.v1 import orchestrator_service_pb2 as orchestrator_pb
from tango.retrieval.v1 import retrieval_service_pb2 as pb
from tango.retrieval.v1 import retrieval_service_pb2_grpc as pb_grpc
from tango.runtime.errors import FailedPrecondition

MODES = {"dp": pb.SEARCH_MODE_DP, "beam": pb.SEARCH_MODE_BEAM, "onset": pb.SEARCH_MODE_ONSET,
         "random": pb.SEARCH_MODE_RANDOM}


def register(subparsers) -> None:
    parser = subparsers.add_parser("retrieve", help="search the gesture path for target speech")
    parser.add_argument("--graph", required=True, nargs="+",
                        help="a graph (URI or graphs/<id>) of an existing speaker, or reference video(s)")
    parser.add_argument("--audio", required=True)
    parser.add_argument("--mode", choices=tuple(MODES), default="dp")
    parser.add_argument("--checkpoint", default="", help="AuMoCLIP checkpoint id (default: the speaker's)")
    parser.add_argument("--jump-penalty", type=float, default=None, help="default: the service's")
    parser.add_argument("--difficulty-weight", type=float, default=None,
                        help="weight of a jump's drawing difficulty (default: the service's)")
    parser.add_argument("--energy-weight", type=float, default=None,
                        help="weight of loudness following (default: the service's; 0 = off)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true")
    parser.set_defaults(func=run)


def graph_and_checkpoint(graph_args: list[str], checkpoint: str) -> tuple[str, str]:
    """(graph URI, checkpoint) from a graph reference or from reference videos (speaker created/reused)."""
    if all(Path(a).is_file() for a in graph_args):
        request = orchestrator_pb.CreateSpeakerRequest(request_id=uuid.uuid4().hex,
                                                       reference_uris=[str(Path(a).resolve()) for a in graph_args])
        operation = call(orchestrator().CreateSpeaker, request, 60)
        speaker = result_of(watch(operation.name, "speaker"), orchestrator_pb.Speaker)
        return speaker.graph.uri, checkpoint or speaker.checkpoint
    graph = graph_args[0]
    sha = graph.rstrip("/").rsplit("/", 1)[-1]
    speakers = call(orchestrator().ListSpeakers, orchestrator_pb.ListSpeakersRequest(page_size=1000), 30).speakers
    owner = next((s for s in speakers if s.graph.sha256 == sha), None)
    if owner is None and not checkpoint:
        raise FailedPrecondition(f"no speaker owns graph {graph}; pass --checkpoint or reference videos",
                                 reason="GRAPH_WITHOUT_SPEAKER")
    return (owner.graph.uri if owner else graph), checkpoint or owner.checkpoint


def _given(**values) -> dict:
    """The options that were given (None = the service's default)."""
    return {name: value for name, value in values.items() if value is not None}


def run(args) -> int:
    graph_uri, checkpoint = graph_and_checkpoint(args.graph, args.checkpoint)
    request = pb.SearchPathRequest(graph_uri=graph_uri, audio_uri=str(Path(args.audio).resolve()), checkpoint=checkpoint,
                                   mode=MODES[args.mode],
                                   options=pb.SearchOptions(seed=args.seed, **_given(
                                       jump_penalty=args.jump_penalty, jump_difficulty_weight=args.difficulty_weight,
                                       energy_weight=args.energy_weight)))
    reply = call(pb_grpc.RetrievalServiceStub(channel("retrieval")).SearchPath, request, 1800)
    summary = {"steps": reply.steps, "jumps": reply.jumps, "revisits": reply.revisits,
               "similarity": round(reply.similarity, 5), "cost": round(reply.cost, 5),
               "jump_difficulty": round(reply.jump_difficulty, 4),
               "search_seconds": round(reply.search_seconds, 4), "mode": reply.mode, "graph": graph_uri,
               "checkpoint": checkpoint, "path": list(reply.path)}
    print(json.dumps(summary))
    return 0
