"""Search benchmark on synthetic graphs: wall time and peak traced memory per mode.

`python -m tango.retrieval.bench --nodes 4500 27000 --steps 450 2250 --modes dp beam` prints one JSON
line per run (wall and process CPU seconds). Peak memory is measured with tracemalloc (numpy reports its buffers to it), inputs
included, and is set beside the `estimate_memory_bytes` figure the memory bound uses.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import time
import tracemalloc

import numpy as np

from tango.retrieval.memory import estimate_memory_bytes
from tango.retrieval.options import SEARCH_MODES, SearchOptions
from tango.retrieval.search import search_path
from tango.retrieval.synthetic import random_features, synthetic_graph


def bench_search(
    nodes: int, steps: int, mode: str, *, dim: int = 64, seed: int = 0, options: SearchOptions | None = None
) -> dict:
    """Runs one search on a synthetic graph (continue chains + 10..30 jump edges per node, D=`dim`)."""
    options = dataclasses.replace(options or SearchOptions(), mode=mode, seed=seed)
    tracemalloc.start()
    try:
        graph = synthetic_graph(nodes, dim=dim, seed=seed)
        features = random_features(steps, dim, seed=seed + 1)
        onset_frames = np.arange(0, steps * 4, 15) if mode == "onset" else None  # 2 onsets per second
        inputs_bytes, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        started, cpu_started = time.perf_counter(), time.process_time()
        result = search_path(graph, features, options, onset_frames=onset_frames)
        seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
        _, peak_bytes = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    window = options.revisit_window if options.revisit_penalty != 0 else 0
    return {
        "mode": mode,
        "nodes": nodes,
        "edges": graph.num_edges,
        "steps": steps,
        "seconds": round(seconds, 3),
        "cpu_seconds": round(cpu_seconds, 3),  # process CPU time: robust to a busy machine
        "search_seconds": round(result.search_seconds, 3),
        "peak_bytes": int(peak_bytes - inputs_bytes),
        "estimate_bytes": estimate_memory_bytes(
            steps, nodes, graph.num_edges, mode, revisit_window=window, beam_width=options.beam_width,
            score_chunk_steps=options.score_chunk_steps, dim=dim,
        ),
        "similarity": round(result.similarity, 4),
        "jumps": result.jump_count,
        "revisits": result.revisit_count,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, nargs="+", default=[4500, 27000])
    parser.add_argument("--steps", type=int, nargs="+", default=[450, 2250])
    parser.add_argument("--modes", nargs="+", choices=SEARCH_MODES, default=list(SEARCH_MODES))
    args = parser.parse_args(argv)
    for nodes in args.nodes:
        for steps in args.steps:
            for mode in args.modes:
                print(json.dumps(bench_search(nodes, steps, mode)), flush=True)


if __name__ == "__main__":
    main()
