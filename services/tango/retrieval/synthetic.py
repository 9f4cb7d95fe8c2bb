"""Synthetic motion graphs and planted audio features, for benchmarks and tests.

A synthetic graph has `videos` chains of consecutive clips (continue edges i -> i+1 inside a video) plus
random jump edges (uniformly 10..30 per node by default), random L2-normalised features of dimension D,
and a random motion representation (N, 4, J, C) for the onset baseline.
"""
from __future__ import annotations

import numpy as np

from tango.retrieval.inputs import FRAMES_PER_STEP, RetrievalGraph, TargetFeatures


def synthetic_graph(
    nodes: int,
    *,
    dim: int = 64,
    jumps_per_node: tuple[int, int] = (10, 30),
    videos: int = 1,
    joints: int = 8,
    seed: int = 0,
) -> RetrievalGraph:
    """A random sparse graph (continue chains + jump edges) with random normalised node features."""
    rng = np.random.default_rng(seed)
    node_video = (np.arange(nodes) * videos // nodes).astype(np.int32)  # (N,)
    first_of_video = np.concatenate([[0], np.flatnonzero(np.diff(node_video)) + 1])
    node_start_frame = (np.arange(nodes) - first_of_video[node_video]).astype(np.int32) * FRAMES_PER_STEP
    chain = np.flatnonzero(node_video[:-1] == node_video[1:])  # sources of continue edges
    jump_counts = rng.integers(jumps_per_node[0], jumps_per_node[1] + 1, size=nodes)
    jump_sources = np.repeat(np.arange(nodes), jump_counts)
    jump_targets = rng.integers(0, nodes, size=jump_sources.shape[0])
    sources = np.concatenate([chain, jump_sources]).astype(np.int64)
    targets = np.concatenate([chain + 1, jump_targets]).astype(np.int64)
    is_continue = np.concatenate([np.ones(chain.shape[0], bool), np.zeros(jump_sources.shape[0], bool)])
    keep = (sources != targets) | is_continue
    key = sources[keep] * nodes + targets[keep]
    _, first = np.unique(key, return_index=True)  # continue edges come first, so they win duplicates
    sources, targets, is_continue = sources[keep][first], targets[keep][first], is_continue[keep][first]
    order = np.lexsort((targets, sources))
    sources, targets, is_continue = sources[order], targets[order], is_continue[order]
    cost = np.where(is_continue, 0.0, rng.uniform(0.1, 1.0, size=sources.shape[0])).astype(np.float32)
    return RetrievalGraph(
        indptr=np.concatenate([[0], np.cumsum(np.bincount(sources, minlength=nodes))]).astype(np.int64),
        indices=targets.astype(np.int32),
        edge_continue=is_continue,
        edge_cost=cost,
        motion_low=_normalised(rng.standard_normal((nodes, FRAMES_PER_STEP, dim))),
        motion_high=_normalised(rng.standard_normal((nodes, dim))),
        motion=rng.standard_normal((nodes, FRAMES_PER_STEP, joints, 15)).astype(np.float32),
        node_video=node_video,
        node_start_frame=node_start_frame,
    )


def random_features(steps: int, dim: int = 64, *, seed: int = 0) -> TargetFeatures:
    """Random normalised audio features for `steps` steps."""
    rng = np.random.default_rng(seed)
    return TargetFeatures(
        audio_low=_normalised(rng.standard_normal((steps * FRAMES_PER_STEP, dim))),
        audio_high=_normalised(rng.standard_normal((steps, dim))),
    )


def planted_features(graph: RetrievalGraph, path: np.ndarray, *, noise: float = 0.1, seed: int = 0) -> TargetFeatures:
    """Audio features that are noisy copies of the motion features along `path` (a known answer)."""
    rng = np.random.default_rng(seed)
    low = graph.motion_low[path].reshape(-1, graph.dim)  # (T*4, D)
    high = graph.motion_high[path]  # (T, D)
    return TargetFeatures(
        audio_low=_normalised(low + noise * rng.standard_normal(low.shape)),
        audio_high=_normalised(high + noise * rng.standard_normal(high.shape)),
    )


def _normalised(array: np.ndarray) -> np.ndarray:
    array = array.astype(np.float32)
    return array / np.linalg.norm(array, axis=-1, keepdims=True)
