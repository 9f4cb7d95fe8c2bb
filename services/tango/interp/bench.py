"""Benchmark of the transition interpolators on real gaps (wired into `make bench` by the lead)."""
from __future__ import annotations

import functools
from pathlib import Path

from tango.interp.evaluate import evaluate_interpolation
from tango.interp.flow import FlowInterpolatorConfig
from tango.interp.transition import TransitionConfig, TransitionInterpolator


def interp_benchmark(video_path: Path | str, gaps: int = 30, gap_len: int = 8, k: int = 2, seed: int = 0,
                     max_side: int | None = 640) -> dict:
    """Flow (quadratic and linear motion) vs crossfade: psnr/ssim/l1 and ms per generated frame."""
    variants = {
        "flow": TransitionInterpolator(),
        "flow_linear": TransitionInterpolator(TransitionConfig(flow=FlowInterpolatorConfig(use_outer_frames=False))),
    }
    results = {}
    for name, method, interpolator in (("flow", "flow", variants["flow"]),
                                       ("flow_linear", "flow", variants["flow_linear"]),
                                       ("crossfade", "crossfade", variants["flow"])):
        result = evaluate_interpolation(video_path, method, gaps=gaps, gap_len=gap_len, k=k, seed=seed,
                                        max_side=max_side,
                                        interpolate=functools.partial(interpolator.interpolate, method=method))
        result["ms_per_frame"] = 1000.0 * result.pop("seconds_per_frame")
        results[name] = result
    results["flow_beats_crossfade"] = bool(results["flow"]["psnr"] > results["crossfade"]["psnr"]
                                           and results["flow"]["ssim"] > results["crossfade"]["ssim"])
    return results


if __name__ == "__main__":
    import json
    import sys

    print(json.dumps(interp_benchmark(sys.argv[1]), indent=2))
