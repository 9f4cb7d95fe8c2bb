"""Adaptive thresholds t_i = mean(d_{i,i-1}, d_{i,i}, d_{i,i+1}) over the neighbours that exist, and the
same-video pairs that are never jump edges. Nodes are ordered by (video, clip)."""
from __future__ import annotations

from typing import Callable

import numpy as np

from tango.graph.distances import DistanceWeights, JunctionFeatures, paired_distances


def neighbour_pairs(node_video: np.ndarray, node_clip: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """-> (i, i+1) node pairs that are consecutive clips of the same video: sources (K,), targets (K,)."""
    consecutive = (node_video[1:] == node_video[:-1]) & (node_clip[1:] == node_clip[:-1] + 1)
    sources = np.flatnonzero(consecutive)
    return sources, sources + 1


def adaptive_thresholds(features: JunctionFeatures, node_video: np.ndarray, node_clip: np.ndarray,
                        weights: DistanceWeights) -> np.ndarray:
    """(N,) float32 t_i; at video borders or gaps (excluded clips) the mean of the neighbours present."""
    nodes = node_video.shape[0]
    before, after = neighbour_pairs(node_video, node_clip)
    own = np.arange(nodes)
    sources = np.r_[own, before, after]  # d_{i,i}, d_{i,i+1}, d_{i+1,i}
    targets = np.r_[own, after, before]
    values = paired_distances(features, sources, targets, weights)
    total = np.bincount(sources, weights=values, minlength=nodes)
    count = np.bincount(sources, minlength=nodes)
    return (total / count).astype(np.float32)


def trivial_pair_rule(node_video: np.ndarray, node_clip: np.ndarray, near: int
                      ) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """-> excluded(rows (r, 1), cols (1, c)) -> (r, c) bool: same video and -near <= clip_j - clip_i <= max(near, 1)."""
    upper = max(near, 1)

    def excluded(rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        step = node_clip[cols] - node_clip[rows]
        return (node_video[rows] == node_video[cols]) & (step >= -near) & (step <= upper)

    return excluded
