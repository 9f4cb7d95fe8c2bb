"""The one scoring function every search mode shares, and the evaluation of a finished path.

Score of node n at step t:
    s(t, n) = w_low * mean_f cos(audio_low[4t+f], motion_low[n, f]) + w_high * cos(audio_high[t], motion_high[n])
All features are L2-normalised, so cosines are dot products and the low term of a block of steps is one
matrix product of (steps, 4*D) by (4*D, N).
plus loudness following e(t, n) = w_energy * L_t * E_n where the target's waveform is known
(`tango.retrieval.energy`), and, where script cues ask for it, a per-step bonus b(t, n) (`SearchOptions.bonus`:
emphasis, rest). Objective of a path (maximised): sum_t s(t, path[t]) + e(t, path[t]) + b(t, path[t])
- w_jump * jumps - w_edge_cost * sum(difficulty of jumps) - w_revisit * revisits; the reported `cost` is its
negation, the reported `similarity` the mean of s alone. The difficulty of drawing a jump i -> j is
d_ij (pose, velocity, body-mask and hand-box distance of the junction) + turn_ij / turn_scale_deg (the head's
turn across it, from the face mesh: a turned head is what interpolation smears first).
"""
from __future__ import annotations

import numpy as np

from tango.retrieval.energy import energy_block, follows_loudness, path_energy
from tango.retrieval.inputs import FRAMES_PER_STEP, RetrievalGraph, TargetFeatures
from tango.retrieval.options import SearchOptions
from tango.retrieval.result import SearchResult
from tango.runtime.errors import InvalidArgument


def similarity_block(
    graph: RetrievalGraph, features: TargetFeatures, options: SearchOptions, start: int, stop: int
) -> np.ndarray:
    """(stop-start, N) float32 scores s(t, n) + b(t, n) for steps start..stop-1 and all nodes."""
    steps = stop - start
    dim = graph.dim
    audio_low = features.audio_low[FRAMES_PER_STEP * start : FRAMES_PER_STEP * stop]  # (k*4, D)
    audio_low = audio_low.reshape(steps, FRAMES_PER_STEP * dim)  # (k, 4D)
    motion_low = graph.motion_low.reshape(graph.num_nodes, FRAMES_PER_STEP * dim)  # (N, 4D)
    scores = (audio_low @ motion_low.T) * np.float32(options.low_weight / FRAMES_PER_STEP)  # (k, N)
    scores += (features.audio_high[start:stop] @ graph.motion_high.T) * np.float32(options.high_weight)
    if follows_loudness(graph, features, options.energy_weight):
        scores += energy_block(graph, features, options.energy_weight, start, stop)
    if options.bonus is not None:
        rows, bonus = options.bonus.rows(start, stop)
        scores[rows] += bonus
    return scores


def path_similarity(
    graph: RetrievalGraph, features: TargetFeatures, options: SearchOptions, path: np.ndarray
) -> np.ndarray:
    """(T,) float64 scores s(t, path[t]) of a path, computed row by row (no (T, N) matrix)."""
    steps = path.shape[0]
    dim = graph.dim
    audio_low = features.audio_low[: FRAMES_PER_STEP * steps].reshape(steps, FRAMES_PER_STEP * dim)
    motion_low = graph.motion_low[path].reshape(steps, FRAMES_PER_STEP * dim)  # (T, 4D)
    low = np.einsum("td,td->t", audio_low, motion_low).astype(np.float64)  # (T,)
    high = np.einsum("td,td->t", features.audio_high, graph.motion_high[path]).astype(np.float64)  # (T,)
    return options.low_weight * low / FRAMES_PER_STEP + options.high_weight * high


def junction_difficulty(edge_cost: np.ndarray, edge_turn: np.ndarray | None, turn_scale_deg: float) -> np.ndarray:
    """(E,) float64 difficulty of drawing each edge's transition: d_ij + head turn / turn_scale_deg."""
    difficulty = np.asarray(edge_cost, np.float64)
    if edge_turn is not None:
        difficulty = difficulty + np.nan_to_num(np.asarray(edge_turn, np.float64)) / turn_scale_deg
    return difficulty


def edge_difficulty(graph: RetrievalGraph, options: SearchOptions) -> np.ndarray:
    """(E,) float64 difficulty of each edge of a search's graph (`junction_difficulty`)."""
    return junction_difficulty(graph.edge_cost, graph.edge_turn, options.turn_scale_deg)


def typical_jump_difficulty(graph: RetrievalGraph, options: SearchOptions) -> float:
    """The median difficulty of the graph's jump edges (0 for a graph without jumps)."""
    jumps = edge_difficulty(graph, options)[~graph.edge_continue]
    return float(np.median(jumps)) if jumps.size else 0.0


def edge_penalties(graph: RetrievalGraph, options: SearchOptions) -> np.ndarray:
    """(E,) float64 penalty of taking each edge: 0 for continue edges, w_jump + w_edge_cost*difficulty else."""
    jump = ~graph.edge_continue
    cost = options.jump_penalty + options.edge_cost_weight * edge_difficulty(graph, options)
    return np.where(jump, cost, 0.0)


def revisit_flags(path: np.ndarray, window: int) -> np.ndarray:
    """(T,) bool: path[t] occurs among path[t-window : t] (loop over the window, not over steps)."""
    flags = np.zeros(path.shape[0], dtype=bool)
    for lag in range(1, min(window, path.shape[0] - 1) + 1):
        flags[lag:] |= path[lag:] == path[:-lag]
    return flags


def find_edges(graph: RetrievalGraph, sources: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """(K,) int64 edge id of each (source -> target) pair, -1 where the graph has no such edge."""
    num_nodes = np.int64(graph.num_nodes)
    keys = graph.edge_sources().astype(np.int64) * num_nodes + graph.indices  # (E,)
    order = np.argsort(keys, kind="stable")
    query = sources.astype(np.int64) * num_nodes + targets.astype(np.int64)  # (K,)
    if keys.shape[0] == 0:
        return np.full(query.shape, -1, dtype=np.int64)
    position = np.minimum(np.searchsorted(keys[order], query), keys.shape[0] - 1)
    edge = order[position]
    return np.where(keys[edge] == query, edge, -1)


def evaluate_path(
    graph: RetrievalGraph,
    features: TargetFeatures,
    options: SearchOptions,
    path: np.ndarray,
    *,
    mode: str,
    search_seconds: float,
) -> SearchResult:
    """Scores a path with the shared objective; raises InvalidArgument if it uses a missing edge."""
    path = np.asarray(path, dtype=np.int32)
    edges = find_edges(graph, path[:-1], path[1:])  # (T-1,)
    if np.any(edges < 0):
        step = int(np.flatnonzero(edges < 0)[0]) + 1
        raise InvalidArgument(f"path step {step} uses a missing edge", reason="PATH_NOT_IN_GRAPH")
    jump = np.zeros(path.shape[0], dtype=bool)
    jump[1:] = ~graph.edge_continue[edges]
    jump_difficulty = edge_difficulty(graph, options)[edges][jump[1:]]  # (J,) in jump-step order
    edge_cost_sum = float(jump_difficulty.sum())
    revisit = revisit_flags(path, options.revisit_window) if options.revisit_window > 0 else np.zeros_like(jump)
    step_similarity = path_similarity(graph, features, options, path)
    similarity_sum = float(step_similarity.sum())
    objective = (
        similarity_sum
        + (path_energy(graph, features, options.energy_weight, path)
           if follows_loudness(graph, features, options.energy_weight) else 0.0)
        + (options.bonus.of_path(path) if options.bonus is not None else 0.0)
        - options.jump_penalty * int(jump.sum())
        - options.edge_cost_weight * edge_cost_sum
        - options.revisit_penalty * int(revisit.sum())
    )
    return SearchResult(
        path=path,
        jump=jump,
        revisit=revisit,
        step_similarity=step_similarity,
        similarity_sum=similarity_sum,
        jump_count=int(jump.sum()),
        revisit_count=int(revisit.sum()),
        edge_cost_sum=edge_cost_sum,
        jump_difficulty=jump_difficulty,
        typical_jump_difficulty=typical_jump_difficulty(graph, options),
        cost=-objective,
        search_seconds=search_seconds,
        mode=mode,
    )
