"""`tango lipsync eval VIDEO --json`: hold out a span, drive other frames' mouths with its audio, score."""
from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

SOURCES = ("model", "phones", "both")  # tango.lipsync.mouths.SOURCES, kept here so the CLI starts without cv2


def register(subparsers) -> None:
    parser = subparsers.add_parser("lipsync", help="evaluate lip sync from the speaker's own mouths")
    actions = parser.add_subparsers(dest="action", required=True)
    evaluate = actions.add_parser("eval", help="LMD and mouth-opening/envelope correlation on a held-out span")
    evaluate.add_argument("video")
    evaluate.add_argument("--source", choices=SOURCES + ("all",), default="both",
                          help="what drives the mouths; 'all' reports each (a list of objects)")
    evaluate.add_argument("--folds", type=int, default=5, help="held-out spans tiling the video (pooled figures)")
    evaluate.add_argument("--strip", default="", help="PNG strip path (default: a temp file, printed)")
    evaluate.add_argument("--json", action="store_true")
    evaluate.set_defaults(func=run_eval)


def run_eval(args) -> int:
    from tango.cli.perceive_cmd import perception_artifact
    from tango.lipsync.evaluate import evaluate_lipsync
    from tango.lipsync.visemes import viseme_track

    perception = perception_artifact(args.video)
    sources = SOURCES if args.source == "all" else (args.source,)
    strip_dir = Path(tempfile.mkdtemp(prefix="tango-lipsync-"))
    results = []
    for source in sources:
        strip = Path(args.strip) if args.strip and len(sources) == 1 else strip_dir / f"{Path(args.video).stem}_{source}.png"
        print(f"lipsync eval: {source}", file=sys.stderr)
        results.append(evaluate_lipsync(Path(args.video), perception, source=source, visemes=viseme_track,
                                        folds=args.folds, strip=strip))
    document = results[0] if len(results) == 1 else results
    print(json.dumps(document) if args.json else json.dumps(document, indent=2))
    return 0
