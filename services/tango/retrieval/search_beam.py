"""Beam search: the same objective as the DP, keeping the `beam_width` best partial paths per step.

Each step expands every beam state along all its out-edges at once (vectorised over beam x out-edges
from the CSR row pointer), scores the candidates exactly like the DP (step score - edge penalty -
revisit penalty, the revisit test against the candidate's OWN last R nodes, so it is exact for every
kept history), drops candidates that cannot satisfy the constraints (backward feasibility mask, only
computed when pins, avoided nodes or dead ends exist), and keeps the best `beam_width`.
With `beam_distinct_nodes` (default) at most one state per node survives a step (recombination): with
a width >= N this is the DP itself. Without it, several histories may end in the same node; with a width
>= the number of paths the search is exhaustive (exact even with the revisit penalty).
"""
from __future__ import annotations

import dataclasses
import time

import numpy as np

from tango.retrieval.constraints import StepConstraints, feasibility_if_needed
from tango.retrieval.inputs import RetrievalGraph, TargetFeatures
from tango.retrieval.memory import check_memory_bound, estimate_memory_bytes
from tango.retrieval.options import SearchOptions
from tango.retrieval.result import SearchResult
from tango.retrieval.scoring import edge_penalties, evaluate_path, similarity_block
from tango.runtime.errors import InvalidArgument


@dataclasses.dataclass
class Beam:
    nodes: np.ndarray  # (B,) int32 node of each state
    scores: np.ndarray  # (B,) float64 objective of each partial path
    recent: np.ndarray  # (R, B) int32 last R nodes of each partial path (row 0 = the node itself)
    parents: np.ndarray  # (B,) int32 index of each state's parent in the previous beam (-1 at step 0)


def search_beam(graph: RetrievalGraph, features: TargetFeatures, options: SearchOptions) -> SearchResult:
    started = time.perf_counter()
    steps, nodes = features.steps, graph.num_nodes
    window = options.revisit_window if options.revisit_penalty != 0 else 0
    constraints = StepConstraints.resolve(graph, options, steps)
    estimate = estimate_memory_bytes(
        steps, nodes, graph.num_edges, "beam", revisit_window=window, beam_width=options.beam_width,
        score_chunk_steps=options.score_chunk_steps, constrained=constraints.active, dim=graph.dim,
        max_degree=int(np.diff(graph.indptr).max(initial=0)),
    )
    check_memory_bound(estimate, options.memory_bound_bytes, "beam")
    allowed = feasibility_if_needed(graph, constraints)  # (T, N) bool or None
    penalty = edge_penalties(graph, options)  # (E,)
    trace_nodes, trace_parents = [], []
    beam: Beam | None = None
    for start in range(0, steps, options.score_chunk_steps):
        stop = min(start + options.score_chunk_steps, steps)
        scores = similarity_block(graph, features, options, start, stop)  # (k, N)
        for step in range(start, stop):
            step_allowed = None if allowed is None else allowed[step]
            if beam is None:
                beam = _initial_beam(scores[0], step_allowed, window, options.beam_width)
            else:
                beam = _expand(beam, graph, penalty, scores[step - start], step_allowed, options)
            trace_nodes.append(beam.nodes)
            trace_parents.append(beam.parents)
    path = _backtrack(trace_nodes, trace_parents, int(np.argmax(beam.scores)))
    return evaluate_path(graph, features, options, path, mode="beam", search_seconds=time.perf_counter() - started)


def _initial_beam(step_scores: np.ndarray, allowed: np.ndarray | None, window: int, width: int) -> Beam:
    candidates = np.arange(step_scores.shape[0], dtype=np.int32) if allowed is None else np.flatnonzero(allowed)
    scores = step_scores[candidates].astype(np.float64)
    keep = _top(scores, width)
    nodes = candidates[keep].astype(np.int32)
    recent = np.full((window, nodes.shape[0]), -1, dtype=np.int32)
    recent[:1] = nodes
    return Beam(nodes=nodes, scores=scores[keep], recent=recent, parents=np.full(nodes.shape[0], -1, np.int32))


def _expand(
    beam: Beam,
    graph: RetrievalGraph,
    penalty: np.ndarray,  # (E,) float64
    step_scores: np.ndarray,  # (N,) float32
    allowed: np.ndarray | None,  # (N,) bool feasible nodes at this step, None = all
    options: SearchOptions,
) -> Beam:
    """All out-edges of all beam states scored at once; the best `beam_width` candidates survive."""
    first_edge = graph.indptr[beam.nodes]  # (B,)
    degree = graph.indptr[beam.nodes + 1] - first_edge  # (B,)
    parent = np.repeat(np.arange(beam.nodes.shape[0], dtype=np.int32), degree)  # (C,)
    offset = np.arange(parent.shape[0]) - np.repeat(np.cumsum(degree) - degree, degree)
    edge = np.repeat(first_edge, degree) + offset  # (C,) edge ids
    target = graph.indices[edge]  # (C,)
    score = beam.scores[parent] - penalty[edge] + step_scores[target]
    window = beam.recent.shape[0]
    if window > 0:
        revisited = (beam.recent[:, parent] == target[None, :]).any(axis=0)  # (C,)
        score -= options.revisit_penalty * revisited
    keep = np.arange(target.shape[0]) if allowed is None else np.flatnonzero(allowed[target])
    if options.beam_distinct_nodes:
        keep = _best_per_node(target, score, keep)
    if keep.size == 0:
        raise InvalidArgument("the beam found no continuation; widen the beam", reason="NO_FEASIBLE_PATH")
    keep = keep[_top(score[keep], options.beam_width)]
    nodes = target[keep].astype(np.int32)
    recent = np.empty((window, keep.shape[0]), dtype=np.int32)
    if window > 0:
        recent[0] = nodes
        recent[1:] = beam.recent[: window - 1, parent[keep]]
    return Beam(nodes=nodes, scores=score[keep], recent=recent, parents=parent[keep])


def _best_per_node(target: np.ndarray, score: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """The subset of candidate indices `keep` that holds the best-scoring candidate of each target."""
    order = keep[np.lexsort((-score[keep], target[keep]))]  # by target, best first
    _, first = np.unique(target[order], return_index=True)
    return order[first]


def _top(scores: np.ndarray, width: int) -> np.ndarray:
    """Indices of the `width` highest scores, best first (stable for ties)."""
    if scores.shape[0] > width:
        chosen = np.argpartition(-scores, width - 1)[:width]
    else:
        chosen = np.arange(scores.shape[0])
    return chosen[np.argsort(-scores[chosen], kind="stable")]


def _backtrack(trace_nodes: list[np.ndarray], trace_parents: list[np.ndarray], best: int) -> np.ndarray:
    path = np.empty(len(trace_nodes), dtype=np.int32)
    state = best
    for step in range(len(trace_nodes) - 1, -1, -1):
        path[step] = trace_nodes[step][state]
        state = trace_parents[step][state]
    return path
