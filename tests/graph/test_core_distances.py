"""Transition distances: block-wise torch == naive per-pair numpy, missing-hand rules, thresholds."""
from __future__ import annotations

import numpy as np

from tango.graph.distances import (DistanceWeights, JunctionFeatures, block_distances, candidate_edges,
                                   cheapest_incoming, cheapest_links, hand_distance, paired_distances)
from tango.graph.thresholds import adaptive_thresholds, trivial_pair_rule


def _random_features(nodes: int, seed: int) -> JunctionFeatures:
    rng = np.random.default_rng(seed)
    pixels = 12 * 9
    masks = rng.random((2, nodes, pixels)) < 0.4
    masks[0, 0] = False  # an empty mask
    masks[1, 0] = False
    corner = rng.random((2, nodes, 2, 2)) * 0.6
    boxes = np.concatenate([corner, corner + 0.05 + rng.random((2, nodes, 2, 2)) * 0.3], axis=-1).astype(np.float32)
    boxes[0, 1, 0] = np.nan  # end of node 1: left hand absent
    boxes[1, 2, :] = np.nan  # start of node 2: both hands absent
    boxes[0, 3, :] = np.nan  # end of node 3: both hands absent
    pose = rng.normal(size=(4, nodes, 5, 3)).astype(np.float32)
    return JunctionFeatures(end_a=pose[0], end_b=pose[1], start_a=pose[2], start_b=pose[3],
                            end_mask=np.packbits(masks[0], axis=1), start_mask=np.packbits(masks[1], axis=1),
                            mask_pixels=pixels, end_hands=boxes[0], start_hands=boxes[1])


def _naive_distance(features: JunctionFeatures, i: int, j: int, weights: DistanceWeights) -> float:
    pose = (np.mean([np.linalg.norm(features.end_a[i, k] - features.start_a[j, k]) for k in range(5)])
            + np.mean([np.linalg.norm(features.end_b[i, k] - features.start_b[j, k]) for k in range(5)]))
    first = np.unpackbits(features.end_mask[i], count=features.mask_pixels).astype(bool)
    second = np.unpackbits(features.start_mask[j], count=features.mask_pixels).astype(bool)
    union = (first | second).sum()
    mask = 0.0 if union == 0 else 1.0 - (first & second).sum() / union
    hands = []
    for hand in range(2):
        a, b = features.end_hands[i, hand], features.start_hands[j, hand]
        if np.isnan(a).any() and np.isnan(b).any():
            hands.append(0.0)
        elif np.isnan(a).any() or np.isnan(b).any():
            hands.append(1.0)
        else:
            inter = max(0.0, min(a[2], b[2]) - max(a[0], b[0])) * max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
            union_area = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
            hands.append(1.0 - inter / union_area)
    return weights.pose * pose + weights.iou * 0.5 * (mask + np.mean(hands))


def test_block_and_paired_equal_naive_dense():
    features = _random_features(11, seed=3)
    weights = DistanceWeights(pose=0.7, iou=1.3)
    naive = np.array([[_naive_distance(features, i, j, weights) for j in range(11)] for i in range(11)])
    dense = block_distances(features, np.arange(11), np.arange(11), weights)
    np.testing.assert_allclose(dense, naive, rtol=1e-5, atol=1e-5)
    rows, cols = np.meshgrid(np.arange(11), np.arange(11), indexing="ij")
    paired = paired_distances(features, rows.ravel(), cols.ravel(), weights).reshape(11, 11)
    np.testing.assert_allclose(paired, naive, rtol=1e-6, atol=1e-6)


def test_candidate_edges_blockwise_equals_dense_threshold():
    features = _random_features(37, seed=4)
    weights = DistanceWeights()
    dense = block_distances(features, np.arange(37), np.arange(37), weights)
    thresholds = np.quantile(dense, 0.3, axis=1).astype(np.float32)
    never = lambda rows, cols: rows == cols  # noqa: E731
    found = candidate_edges(features, thresholds, weights, never, block=16)
    expected = np.argwhere((dense <= thresholds[:, None]) & ~np.eye(37, dtype=bool))
    got = np.stack([found.sources, found.targets], axis=1)
    np.testing.assert_array_equal(got[np.lexsort(got.T[::-1])], expected)
    np.testing.assert_allclose(found.costs, dense[found.sources, found.targets], rtol=1e-6)
    capped = candidate_edges(features, thresholds, weights, never, block=16, max_per_source=2)
    assert np.bincount(capped.sources, minlength=37).max() <= 2


def test_hand_distance_missing_rules():
    box = np.array([0.1, 0.1, 0.3, 0.3], np.float32)
    absent = np.full(4, np.nan, np.float32)
    both_absent = hand_distance(np.stack([absent, absent]), np.stack([absent, absent]))
    one_absent = hand_distance(np.stack([box, absent]), np.stack([absent, absent]))
    same = hand_distance(np.stack([box, box]), np.stack([box, box]))
    assert both_absent == 0.0 and one_absent == 0.5 and same == 0.0


def test_cheapest_links_match_dense_argmin():
    features = _random_features(20, seed=5)
    weights = DistanceWeights()
    dense = block_distances(features, np.arange(20), np.arange(20), weights)
    sources, targets = np.array([0, 3, 7]), np.arange(10, 20)
    best, cost = cheapest_links(features, sources, targets, weights, block=4)
    np.testing.assert_array_equal(best, targets[dense[np.ix_(sources, targets)].argmin(1)])
    np.testing.assert_allclose(cost, dense[np.ix_(sources, targets)].min(1), rtol=1e-6)
    best_in, cost_in = cheapest_incoming(features, targets, sources, weights, block=4)
    np.testing.assert_array_equal(best_in, targets[dense[np.ix_(targets, sources)].argmin(0)])
    np.testing.assert_allclose(cost_in, dense[np.ix_(targets, sources)].min(0), rtol=1e-6)


def _line_features(ends: list[float], starts: list[float]) -> JunctionFeatures:
    """One joint on the x axis, zero velocity, no image terms: d_ij = |end_i - start_j|."""
    def column(values: list[float]) -> np.ndarray:
        out = np.zeros((len(values), 1, 3), np.float32)
        out[:, 0, 0] = values
        return out
    zero = np.zeros((len(ends), 1, 3), np.float32)
    return JunctionFeatures(end_a=column(ends), end_b=zero, start_a=column(starts), start_b=zero)


def test_threshold_semantics_on_known_distances():
    # 6 clips of one video; clip k starts at starts[k] and ends at ends[k] (1-D positions).
    starts = [0.0, 1.0, 2.0, 3.0, 0.9, 5.0]
    ends = [1.0, 2.0, 3.0, 1.0, 5.0, 6.0]
    features = _line_features(ends, starts)
    node_video, node_clip = np.zeros(6, np.int64), np.arange(6)
    thresholds = adaptive_thresholds(features, node_video, node_clip, DistanceWeights())
    # t_0 = (d00 + d01) / 2 = (1 + 0) / 2; t_3 = (d32 + d33 + d34) / 3 = (1 + 2 + 0.1) / 3; t_5 = (d54 + d55) / 2
    np.testing.assert_allclose(thresholds[[0, 3, 5]], [0.5, 3.1 / 3, (5.1 + 1.0) / 2], rtol=1e-6)
    excluded = trivial_pair_rule(node_video, node_clip, near=1)
    edges = candidate_edges(features, thresholds, DistanceWeights(), excluded, block=4)
    found = set(zip(edges.sources.tolist(), edges.targets.tolist()))
    # clip 3 ends at 1.0: start of clip 1 (d=0) and of clip 4 (0.1, but 4 = 3+1 is the continue edge)
    assert (3, 1) in found and (3, 4) not in found
    # clip 0 ends at 1.0: clip 1 is its continue edge, clip 4 (d=0.1) is under t_0 = 0.5
    assert (0, 4) in found and (0, 1) not in found and (0, 0) not in found
    expected = {(i, j) for i in range(6) for j in range(6)
                if abs(ends[i] - starts[j]) <= thresholds[i] + 1e-7 and not -1 <= j - i <= 1}
    assert found == expected
