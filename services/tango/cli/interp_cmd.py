"""`tango interp eval`: score the transition interpolators.

Without --jumps: regenerate real 8-frame gaps of a video (frames at --max-side, 640 by default) and score
the interpolator with psnr/ssim/l1. With --jumps: draw the jumps the speaker's motion graph takes, at full
source resolution, and score every model with no-reference measures (`tango.interp.jump_eval`); the
perception and graph come through the services, as in `tango graph build`.
"""
from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

JUMP_MODELS = ("flow", "crossfade", "layered")


def register(subparsers) -> None:
    parser = subparsers.add_parser("interp", help="evaluate transition interpolators")
    actions = parser.add_subparsers(dest="action", required=True)
    evaluate = actions.add_parser("eval", help="remove real gaps, regenerate them, report psnr/ssim/l1; "
                                               "or, with --jumps, score the graph's jump transitions")
    evaluate.add_argument("--video", required=True)
    evaluate.add_argument("--model", choices=("flow", "crossfade", "acinterp"), default="flow")
    evaluate.add_argument("--weights", default="", help="ACInterp weights directory (--model acinterp)")
    evaluate.add_argument("--device", default="cpu", help="torch device for ACInterp, e.g. cuda:0")
    evaluate.add_argument("--gaps", type=int, default=None, help="held-out gaps (default 30; 8 with --jumps)")
    evaluate.add_argument("--gap-frames", type=int, default=8)
    evaluate.add_argument("--context", type=int, default=None,
                          help="real frames given on each side (default 2; the renderer's 4 with --jumps)")
    evaluate.add_argument("--max-side", type=int, default=640,
                          help="frames are scored at this longest side (gap mode; --jumps works at source size)")
    evaluate.add_argument("--seed", type=int, default=0)
    evaluate.add_argument("--jumps", action="store_true", help="score the motion graph's jumps (all models)")
    evaluate.add_argument("--windows", type=int, default=8, help="jump windows (--jumps)")
    evaluate.add_argument("--models", default=",".join(JUMP_MODELS), help="comma-separated (--jumps)")
    evaluate.add_argument("--strip", default="", help="PNG of the worst windows (--jumps; default: a temp dir)")
    evaluate.add_argument("--json", action="store_true")
    evaluate.set_defaults(func=run_eval)


def run_eval(args) -> int:
    if args.jumps:
        return run_jump_eval(args)
    from tango.interp.evaluate import evaluate_interpolation

    interpolate = None
    if args.model == "acinterp":
        if not args.weights:
            print("tango interp eval: --model acinterp needs --weights DIR", file=sys.stderr)
            return 2
        from tango.acinterp.weights import load_acinterp

        interpolate = load_acinterp(Path(args.weights), args.device)
    result = evaluate_interpolation(Path(args.video), args.model, gaps=30 if args.gaps is None else args.gaps,
                                    gap_len=args.gap_frames, k=2 if args.context is None else args.context,
                                    seed=args.seed, max_side=args.max_side or None, interpolate=interpolate)
    print(json.dumps(result) if args.json else json.dumps(result, indent=2))
    return 0


def speaker_artifacts(video: str, reporter):
    """(GraphArtifact, PerceptionArtifact) of one video, built or reused through the services."""
    from tango.artifacts.inputs import local_root_path
    from tango.cli.graph_cmd import build_graph, perception_uris
    from tango.graph.artifact_io import GraphArtifact
    from tango.graph.v1 import graph_service_pb2 as graph_pb
    from tango.perception.artifact_io import PerceptionArtifact

    graph = build_graph(perception_uris([video], reporter), graph_pb.GraphOptions(pruning=graph_pb.PRUNING_MERGE),
                        reporter)
    artifact = GraphArtifact.load(local_root_path(graph.artifact.uri))
    perception = PerceptionArtifact.load(local_root_path(artifact.meta["videos"][0]["perception"]))
    return artifact, perception


def run_jump_eval(args) -> int:
    from tango.cli.progress import ProgressReporter
    from tango.interp.jump_eval import JumpEvalConfig, evaluate_jumps
    from tango.interp.transition import METHODS

    models = tuple(m for m in args.models.split(",") if m)
    unknown = [m for m in models if m not in METHODS]
    if not models or unknown:
        print(f"tango interp eval: unknown --models {unknown}; choose from {list(METHODS)}", file=sys.stderr)
        return 2
    graph, perception = speaker_artifacts(args.video, ProgressReporter("graph"))
    defaults = JumpEvalConfig()
    config = JumpEvalConfig(windows=args.windows, seed=args.seed, transition_frames=args.gap_frames,
                            context=defaults.context if args.context is None else args.context,
                            gaps=defaults.gaps if args.gaps is None else args.gaps, models=models,
                            rank_model="flow" if "flow" in models else models[0])
    strip = Path(args.strip) if args.strip else Path(tempfile.mkdtemp(prefix="tango-jumps-"))
    if strip.suffix.lower() != ".png":  # a folder
        strip = strip / "worst_windows.png"
    reporter = ProgressReporter("interp")
    result = evaluate_jumps(Path(args.video), graph, perception, strip, config, progress=reporter.update)
    reporter.close()
    print(json.dumps(result) if args.json else json.dumps(result, indent=2))
    return 0
