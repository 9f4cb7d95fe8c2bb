"""Dynamic programming over (step x node): the best-scoring path through the motion graph.

V_t(v) = s(t, v) + max over edges e = (u -> v) of [ V_{t-1}(u) - pen(e) - w_revisit * rev(e, t) ]
with pen(e) = w_jump + w_edge_cost * difficulty_e (scoring.edge_difficulty) for non-continue edges and 0 for continue edges, and V_0 = s(0, .).
Each step is ONE vectorised relaxation over all E edges: the edges are sorted by target once, so the
max over each target's incoming edges is `np.maximum.reduceat` and its arg-max a `np.minimum.reduceat`
over the ranks of the edges that reach the maximum. Back-pointers are int32 (T, N).

Revisit penalty — a bounded approximation, exact within its window on the path it scores:
every state (t, v) keeps `recent[:, v]` = the last R nodes of ITS best path (v itself, its back-pointer,
the back-pointer's back-pointer, ... R entries; an (R, N) int32 array updated by one gather per step).
Edge u -> v at step t is penalised when v is in recent[u], i.e. when v occurs among the R steps before
t on the best path to u. So the penalty applied to the returned path is exactly w_revisit times its
number of steps t with path[t] in path[t-R:t] (`scoring.revisit_flags`): the objective the DP reports
is the true objective of the path it returns. What is approximate is the optimality: the DP keeps one
history per node (the best-scoring one), so a slightly worse path to u with a different recent history
is forgotten even where it would avoid a later revisit. Visits further back than R steps are free.
With w_revisit = 0 (or R = 0) the DP is the exact optimum (verified against brute force in the tests).
Cost per step: O(E * R) for the revisit test (R-1 column gathers; lag 0 = self-loops is static), O(E)
otherwise, O(N * R) for the history update.
"""
from __future__ import annotations

import dataclasses
import time

import numpy as np

from tango.retrieval.constraints import StepConstraints
from tango.retrieval.inputs import RetrievalGraph, TargetFeatures
from tango.retrieval.memory import check_memory_bound, estimate_memory_bytes
from tango.retrieval.options import SearchOptions
from tango.retrieval.result import SearchResult
from tango.retrieval.scoring import edge_penalties, evaluate_path, similarity_block
from tango.runtime.errors import InvalidArgument


@dataclasses.dataclass(frozen=True)
class IncomingEdges:
    """The graph's edges sorted by target, for segment reductions per target node."""

    sources: np.ndarray  # (E,) int32 edge source, in target order
    targets: np.ndarray  # (E,) int32 edge target, in target order (non-decreasing)
    penalty: np.ndarray  # (E,) float64 pen(e)
    rank: np.ndarray  # (E,) int64 0..E-1
    segment_starts: np.ndarray  # (K,) int64 first edge of each target that has incoming edges
    segment_lengths: np.ndarray  # (K,) int64 in-degree of those targets
    reachable: np.ndarray  # (K,) int32 the K targets with incoming edges

    @classmethod
    def build(cls, graph: RetrievalGraph, options: SearchOptions) -> "IncomingEdges":
        order = np.argsort(graph.indices, kind="stable")  # (E,)
        targets = graph.indices[order]
        in_degree = np.bincount(graph.indices, minlength=graph.num_nodes)  # (N,)
        reachable = np.flatnonzero(in_degree > 0).astype(np.int32)
        starts = np.concatenate([[0], np.cumsum(in_degree)[:-1]])[reachable]
        return cls(
            sources=graph.edge_sources()[order],
            targets=targets,
            penalty=edge_penalties(graph, options)[order],
            rank=np.arange(targets.shape[0], dtype=np.int64),
            segment_starts=starts.astype(np.int64),
            segment_lengths=in_degree[reachable].astype(np.int64),
            reachable=reachable,
        )


def search_dp(graph: RetrievalGraph, features: TargetFeatures, options: SearchOptions) -> SearchResult:
    started = time.perf_counter()
    steps, nodes = features.steps, graph.num_nodes
    window = options.revisit_window if options.revisit_penalty != 0 else 0
    estimate = estimate_memory_bytes(
        steps, nodes, graph.num_edges, "dp",
        revisit_window=window, score_chunk_steps=options.score_chunk_steps, dim=graph.dim,
    )
    check_memory_bound(estimate, options.memory_bound_bytes, "dp")
    constraints = StepConstraints.resolve(graph, options, steps)
    edges = IncomingEdges.build(graph, options)
    backpointers = np.full((steps, nodes), -1, dtype=np.int32)  # (T, N)
    values = np.empty(nodes, dtype=np.float64)  # (N,)
    recent = np.full((window, nodes), -1, dtype=np.int32)  # (R, N) last R nodes of each best path
    recent[:1] = np.arange(nodes, dtype=np.int32)
    for start in range(0, steps, options.score_chunk_steps):
        stop = min(start + options.score_chunk_steps, steps)
        scores = similarity_block(graph, features, options, start, stop)  # (k, N)
        for step in range(start, stop):
            if step == 0:
                values = scores[0].astype(np.float64)
            else:
                values, backpointers[step], recent = _relax(values, recent, edges, scores[step - start], options)
            values[~constraints.allowed(step)] = -np.inf
    path = _backtrack(values, backpointers)
    return evaluate_path(graph, features, options, path, mode="dp", search_seconds=time.perf_counter() - started)


def _relax(
    values: np.ndarray,  # (N,) float64 V_{t-1}
    recent: np.ndarray,  # (R, N) int32
    edges: IncomingEdges,
    step_scores: np.ndarray,  # (N,) float32 s(t, .)
    options: SearchOptions,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One DP step over all edges: returns V_t (N,), back-pointers (N,) int32, recent histories (R, N)."""
    nodes, window = values.shape[0], recent.shape[0]
    if edges.reachable.size == 0:
        return np.full(nodes, -np.inf), np.full(nodes, -1, dtype=np.int32), recent
    candidates = values[edges.sources] - edges.penalty  # (E,)
    if window > 0:
        revisited = edges.sources == edges.targets  # (E,) lag 0: self-loop
        for lag in range(1, window):
            revisited |= np.take(recent[lag], edges.sources) == edges.targets
        candidates -= options.revisit_penalty * revisited
    best = np.maximum.reduceat(candidates, edges.segment_starts)  # (K,)
    is_best = candidates == np.repeat(best, edges.segment_lengths)  # (E,)
    winner = np.minimum.reduceat(np.where(is_best, edges.rank, edges.rank.shape[0]), edges.segment_starts)
    backpointer = np.full(nodes, -1, dtype=np.int32)
    backpointer[edges.reachable] = edges.sources[winner]
    new_values = np.full(nodes, -np.inf, dtype=np.float64)
    new_values[edges.reachable] = best + step_scores[edges.reachable]
    new_recent = np.empty_like(recent)
    if window > 0:
        new_recent[0] = np.arange(nodes, dtype=np.int32)
        new_recent[1:] = recent[: window - 1, np.maximum(backpointer, 0)]
    return new_values, backpointer, new_recent


def _backtrack(values: np.ndarray, backpointers: np.ndarray) -> np.ndarray:
    """(T,) int32 path ending at the best final state, following the back-pointers."""
    if not np.isfinite(values).any():
        raise InvalidArgument("no path satisfies the pins and avoided nodes", reason="NO_FEASIBLE_PATH")
    steps = backpointers.shape[0]
    path = np.empty(steps, dtype=np.int32)
    path[-1] = int(np.argmax(values))
    for step in range(steps - 1, 0, -1):
        path[step - 1] = backpointers[step, path[step]]
    return path
