"""Benchmark of a graph build on synthetic perception arrays: seconds and peak memory.

Peak memory is measured two ways: `tracemalloc` (numpy buffers and Python objects; torch's own allocator
is invisible to it) and the sampled resident-set size of the process above its level before the build
(everything, torch included). Run: `python -m tango.graph.bench 4500 27000`.
"""
from __future__ import annotations

import json
import sys
import threading
import time
import tracemalloc
from pathlib import Path

from tango.graph.build import build_graph
from tango.graph.clips import CLIP_FRAMES
from tango.graph.options import GraphOptions
from tango.graph.synthetic import synthetic_perception

_PAGE_BYTES = 4096


def _rss_bytes() -> int:
    return int(Path("/proc/self/statm").read_text().split()[1]) * _PAGE_BYTES


class _RssSampler:
    """Samples the resident-set size every `interval` seconds in a thread; `peak` is the highest seen."""

    def __init__(self, interval: float = 0.05):
        self.interval = interval
        self.peak = _rss_bytes()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.peak = max(self.peak, _rss_bytes())

    def __enter__(self) -> "_RssSampler":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _rss_bytes())


def bench_graph_build(nodes: int, options: GraphOptions = GraphOptions(), seed: int = 0) -> dict:
    """Builds a graph of `nodes` clips (4 * nodes frames at 30 fps) -> seconds, memory and graph stats."""
    started = time.perf_counter()
    artifact = synthetic_perception(nodes * CLIP_FRAMES, seed=seed)
    synth_seconds = time.perf_counter() - started
    baseline = _rss_bytes()
    tracemalloc.start()
    with _RssSampler() as sampler:
        started = time.perf_counter()
        result = build_graph([artifact], options)
        seconds = time.perf_counter() - started
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    stats = result.meta["stats"]
    return {
        "nodes": nodes, "frames": nodes * CLIP_FRAMES, "seconds": round(seconds, 2),
        "synthetic_seconds": round(synth_seconds, 2),
        "tracemalloc_peak_mb": round(traced_peak / 2**20, 1),
        "rss_peak_delta_mb": round((sampler.peak - baseline) / 2**20, 1),
        "rss_peak_mb": round(sampler.peak / 2**20, 1),
        "kept_nodes": stats["kept_nodes"], "edges": stats["edges"], "jump_edges": stats["jump_edges"],
        "dead_end_rate_30s_before": stats["dead_end_rate_30s_before"],
        "dead_end_rate_30s_after": stats["dead_end_rate_30s_after"],
    }


def bench_real_video(video: Path | str, options: GraphOptions = GraphOptions()) -> dict:
    """Perceives a real video (MediaPipe, untimed here) and times the graph build of its clips."""
    from tango.perception.pipeline import PerceptionOptions, analyze_video

    perception = analyze_video(Path(video), PerceptionOptions())
    baseline = _rss_bytes()
    with _RssSampler() as sampler:
        started = time.perf_counter()
        result = build_graph([perception], options)
        seconds = time.perf_counter() - started
    stats = result.meta["stats"]
    return {"video": Path(video).name, "frames": int(perception.meta["frames"]), "seconds": round(seconds, 2),
            "rss_peak_delta_mb": round((sampler.peak - baseline) / 2**20, 1), "nodes": stats["nodes"],
            "kept_nodes": stats["kept_nodes"], "edges": stats["edges"], "jump_edges": stats["jump_edges"],
            "dead_end_rate_10s_before": stats["dead_end_rate_10s_before"],
            "dead_end_rate_30s_after": stats["dead_end_rate_30s_after"]}

def main(argv: list[str]) -> None:
    for nodes in (int(value) for value in (argv or ["4500", "27000"])):
        print(json.dumps(bench_graph_build(nodes)), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
