"""`tango interp eval`: regenerate real 8-frame gaps of a video and score the interpolator."""
from __future__ import annotations

import json
import sys
from pathlib import Path


def register(subparsers) -> None:
    parser = subparsers.add_parser("interp", help="evaluate transition interpolators")
    actions = parser.add_subparsers(dest="action", required=True)
    evaluate = actions.add_parser("eval", help="remove real gaps, regenerate them, report psnr/ssim/l1")
    evaluate.add_argument("--video", required=True)
    evaluate.add_argument("--model", choices=("flow", "crossfade", "acinterp"), default="flow")
    evaluate.add_argument("--weights", default="", help="ACInterp weights directory (--model acinterp)")
    evaluate.add_argument("--device", default="cpu", help="torch device for ACInterp, e.g. cuda:0")
    evaluate.add_argument("--gaps", type=int, default=30)
    evaluate.add_argument("--gap-frames", type=int, default=8)
    evaluate.add_argument("--context", type=int, default=2, help="real frames given on each side")
    evaluate.add_argument("--max-side", type=int, default=640, help="frames are scored at this longest side")
    evaluate.add_argument("--seed", type=int, default=0)
    evaluate.add_argument("--json", action="store_true")
    evaluate.set_defaults(func=run_eval)


def run_eval(args) -> int:
    from tango.interp.evaluate import evaluate_interpolation

    interpolate = None
    if args.model == "acinterp":
        if not args.weights:
            print("tango interp eval: --model acinterp needs --weights DIR", file=sys.stderr)
            return 2
        from tango.acinterp.weights import load_acinterp

        interpolate = load_acinterp(Path(args.weights), args.device)
    result = evaluate_interpolation(Path(args.video), args.model, gaps=args.gaps, gap_len=args.gap_frames,
                                    k=args.context, seed=args.seed, max_side=args.max_side or None,
                                    interpolate=interpolate)
    print(json.dumps(result) if args.json else json.dumps(result, indent=2))
    return 0
