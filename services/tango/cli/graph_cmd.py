"""`tango graph build|get|list|delete`: motion graphs through the graph service."""
from __future__ import annotations

import json
from pathlib import Path

from google.protobuf import json_format

from tango.cli.client import call, channel, last_event
from tango.cli.perceive_cmd import perceive
from tango.cli.progress import ProgressReporter
from tango.graph.v1 import graph_service_pb2 as pb
from tango.graph.v1 import graph_service_pb2_grpc as pb_grpc
from tango.perception.v1 import perception_service_pb2 as perception_pb

SUMMARY_FIELDS = ("nodes", "edges", "continue_edges", "jump_edges", "kept_nodes", "kept_nodes_largest_scc",
                  "dead_end_rate_10s_before", "dead_end_rate_30s_before", "dead_end_rate_10s_after",
                  "dead_end_rate_30s_after", "build_seconds")


def register(subparsers) -> None:
    parser = subparsers.add_parser("graph", help="build and manage motion graphs")
    actions = parser.add_subparsers(dest="action", required=True)
    build = actions.add_parser("build", help="build a graph from videos or perception artifacts")
    build.add_argument("inputs", nargs="+", help="video files or perception artifact URIs")
    build.add_argument("--pruning", choices=("merge", "largest_scc"), default="merge")
    build.add_argument("--pose-weight", type=float, default=0.0)
    build.add_argument("--iou-weight", type=float, default=0.0)
    build.add_argument("--json", action="store_true")
    build.set_defaults(func=run_build)
    for name in ("get", "delete"):
        sub = actions.add_parser(name)
        sub.add_argument("name", help="graphs/<sha256>")
        sub.set_defaults(func=run_get if name == "get" else run_delete)
    listing = actions.add_parser("list")
    listing.set_defaults(func=run_list)


def _stub() -> pb_grpc.MotionGraphServiceStub:
    return pb_grpc.MotionGraphServiceStub(channel("graph"))


def perception_uris(inputs: list[str], reporter: ProgressReporter) -> list[str]:
    """Artifact URIs as given; video files perceived first."""
    uris = []
    for item in inputs:
        if "/perception/" in item and not Path(item).is_file():
            uris.append(item)
        else:
            uris.append(perceive(item, perception_pb.AnalysisOptions(), reporter).artifact.uri)
    return uris


def build_graph(uris: list[str], options: pb.GraphOptions, reporter: ProgressReporter) -> pb.Graph:
    return last_event(_stub().BuildGraph, pb.BuildGraphRequest(perception_uris=uris, options=options), reporter)


def run_build(args) -> int:
    reporter = ProgressReporter("graph")
    options = pb.GraphOptions(pose_weight=args.pose_weight, iou_weight=args.iou_weight,
                              pruning=pb.PRUNING_LARGEST_SCC if args.pruning == "largest_scc" else pb.PRUNING_MERGE)
    graph = build_graph(perception_uris(args.inputs, reporter), options, reporter)
    stats = json.loads(graph.stats.stats_json)
    summary = {field: stats.get(field) for field in SUMMARY_FIELDS}
    summary.update(graph=graph.artifact.uri, name=graph.name, cache_hit=graph.cache_hit,
                   dropped=stats.get("dropped"), videos=len(graph.perception_uris))
    print(json.dumps(summary) if args.json else json.dumps(summary, indent=2))
    return 0


def run_get(args) -> int:
    print(json_format.MessageToJson(call(_stub().GetGraph, pb.GetGraphRequest(name=args.name), 30)))
    return 0


def run_list(args) -> int:
    reply = call(_stub().ListGraphs, pb.ListGraphsRequest(page_size=1000), 30)
    for graph in reply.graphs:
        print(f"{graph.name}  nodes={graph.stats.kept_nodes}  edges={graph.stats.edges}")
    return 0


def run_delete(args) -> int:
    call(_stub().DeleteGraph, pb.DeleteGraphRequest(name=args.name), 30)
    print(f"deleted {args.name}")
    return 0
