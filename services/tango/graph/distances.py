"""Transition dissimilarity d_ij between clip i's END junction and clip j's START junction (METHOD.md §2).

    d_ij = w_pose * D_pose(i, j) + w_iou * D_iou(i, j)
    D_pose = mean_joints |a_end(i) - a_start(j)| + mean_joints |b_end(i) - b_start(j)|
             (a, b = position, velocity; or 6-D rotation halves, angular velocity for SMPL-X without joints)
    D_iou  = (D_mask + D_hands) / 2, D_mask = 1 - IoU of the packed body masks (both empty -> 0),
             D_hands = mean over the two hands of (1 - box IoU); both absent -> 0, one absent -> 1.
             Representations without masks and hands (SMPL-X) have D_iou = 0.

Two implementations that must agree: `paired_distances` (elementwise pairs, popcount table on AND/OR of
packed rows) and `block_distances` (dense (r, c) blocks in torch: per-joint cdist, mask IoU as a matmul of
unpacked bits — exact in float32 for masks under 2^24 pixels). `candidate_edges` walks the N x N matrix in
bounded blocks and keeps only pairs under each source row's threshold, so memory stays sparse.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from tango.runtime.errors import Cancelled

_POPCOUNT = np.array([bin(value).count("1") for value in range(256)], dtype=np.int32)
_PAIR_CHUNK = 65536


@dataclass(frozen=True)
class JunctionFeatures:
    """Per-node junction features; N nodes, J joints, B packed mask bytes (rows of np.packbits)."""

    end_a: np.ndarray  # (N, J, 3) float32 first channel group at the clip's last frame
    end_b: np.ndarray  # (N, J, 3) float32 second channel group at the clip's last frame
    start_a: np.ndarray  # (N, J, 3) at the clip's first frame
    start_b: np.ndarray  # (N, J, 3)
    end_mask: np.ndarray | None = None  # (N, B) uint8 packed body mask of the last frame
    start_mask: np.ndarray | None = None  # (N, B) uint8
    mask_pixels: int = 0  # Hm * Wm of the packed masks
    end_hands: np.ndarray | None = None  # (N, 2, 4) float32 [x0, y0, x1, y1], NaN when absent
    start_hands: np.ndarray | None = None  # (N, 2, 4)

    @property
    def nodes(self) -> int:
        return int(self.end_a.shape[0])

    @property
    def has_image_terms(self) -> bool:
        return self.end_mask is not None and self.end_hands is not None


@dataclass(frozen=True)
class DistanceWeights:
    pose: float = 1.0
    iou: float = 1.0


# ---------------------------------------------------------------- elementwise pairs (numpy)

def _box_iou(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Boxes (..., 4) -> IoU (...); NaN boxes give NaN."""
    width = np.minimum(first[..., 2], second[..., 2]) - np.maximum(first[..., 0], second[..., 0])
    height = np.minimum(first[..., 3], second[..., 3]) - np.maximum(first[..., 1], second[..., 1])
    inter = np.clip(width, 0, None) * np.clip(height, 0, None)
    area = lambda box: np.clip(box[..., 2] - box[..., 0], 0, None) * np.clip(box[..., 3] - box[..., 1], 0, None)  # noqa: E731
    union = area(first) + area(second) - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 1.0)


def hand_distance(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Hand boxes (..., 2, 4) each -> (...) mean over hands of 1 - IoU with the missing-hand rules."""
    present_first = ~np.isnan(first).any(axis=-1)  # (..., 2)
    present_second = ~np.isnan(second).any(axis=-1)
    both = present_first & present_second
    iou = _box_iou(np.nan_to_num(first), np.nan_to_num(second))
    per_hand = np.where(both, 1.0 - iou, np.where(present_first | present_second, 1.0, 0.0))
    return per_hand.mean(axis=-1)


def _mask_distance_pairs(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Packed masks (K, B) each -> (K,) 1 - IoU by popcount of AND / OR bytes."""
    inter = _POPCOUNT[np.bitwise_and(first, second)].sum(axis=1)
    union = _POPCOUNT[np.bitwise_or(first, second)].sum(axis=1)
    return np.where(union > 0, 1.0 - inter / np.maximum(union, 1), 0.0)


def paired_distances(features: JunctionFeatures, sources: np.ndarray, targets: np.ndarray,
                     weights: DistanceWeights) -> np.ndarray:
    """d for explicit pairs: sources (K,), targets (K,) node ids -> (K,) float64."""
    sources, targets = np.asarray(sources, np.int64), np.asarray(targets, np.int64)
    result = np.empty(sources.shape[0], dtype=np.float64)
    for start in range(0, sources.shape[0], _PAIR_CHUNK):
        src, dst = sources[start:start + _PAIR_CHUNK], targets[start:start + _PAIR_CHUNK]
        pose = (np.linalg.norm(features.end_a[src] - features.start_a[dst], axis=-1).mean(-1)
                + np.linalg.norm(features.end_b[src] - features.start_b[dst], axis=-1).mean(-1))
        value = weights.pose * pose
        if features.has_image_terms:
            mask = _mask_distance_pairs(features.end_mask[src], features.start_mask[dst])
            hands = hand_distance(features.end_hands[src], features.start_hands[dst])
            value = value + weights.iou * 0.5 * (mask + hands)
        result[start:start + _PAIR_CHUNK] = value
    return result


# ---------------------------------------------------------------- dense blocks (torch)

def _pose_block(end: np.ndarray, start: np.ndarray) -> torch.Tensor:
    """end (r, J, 3), start (c, J, 3) -> (r, c) mean over joints of Euclidean distances (exact mode)."""
    first = torch.from_numpy(np.ascontiguousarray(end.transpose(1, 0, 2)))  # (J, r, 3)
    second = torch.from_numpy(np.ascontiguousarray(start.transpose(1, 0, 2)))  # (J, c, 3)
    total = torch.zeros(end.shape[0], start.shape[0], dtype=torch.float32)
    for joint in range(first.shape[0]):  # loop over joints (<= 55), never over nodes
        total += torch.cdist(first[joint:joint + 1], second[joint:joint + 1],
                             compute_mode="donot_use_mm_for_euclid_dist")[0]
    return total / max(first.shape[0], 1)


def _mask_block(end_bits: np.ndarray, start_bits: np.ndarray, pixels: int) -> torch.Tensor:
    """Packed masks (r, B), (c, B) -> (r, c) 1 - IoU; intersections as a float32 matmul of 0/1 bits."""
    first = torch.from_numpy(np.unpackbits(end_bits, axis=1, count=pixels)).to(torch.float32)  # (r, P)
    second = torch.from_numpy(np.unpackbits(start_bits, axis=1, count=pixels)).to(torch.float32)  # (c, P)
    inter = first @ second.T  # (r, c)
    union = first.sum(1)[:, None] + second.sum(1)[None, :] - inter
    return torch.where(union > 0, 1.0 - inter / union.clamp(min=1.0), torch.zeros_like(inter))


def _hand_block(end: np.ndarray, start: np.ndarray) -> torch.Tensor:
    """Hand boxes (r, 2, 4), (c, 2, 4) with NaN for absent -> (r, c) mean over hands of the hand distance."""
    first, second = torch.from_numpy(end), torch.from_numpy(start)
    present_first = ~torch.isnan(first).any(-1)  # (r, 2)
    present_second = ~torch.isnan(second).any(-1)  # (c, 2)
    first, second = torch.nan_to_num(first), torch.nan_to_num(second)
    total = torch.zeros(end.shape[0], start.shape[0], dtype=torch.float32)
    for hand in range(2):  # the two hands
        a, b = first[:, hand], second[:, hand]  # (r, 4), (c, 4)
        width = (torch.minimum(a[:, None, 2], b[None, :, 2]) - torch.maximum(a[:, None, 0], b[None, :, 0])).clamp_(min=0)
        height = (torch.minimum(a[:, None, 3], b[None, :, 3]) - torch.maximum(a[:, None, 1], b[None, :, 1])).clamp_(min=0)
        inter = width.mul_(height)  # (r, c)
        area_a = (a[:, 2] - a[:, 0]).clamp(min=0) * (a[:, 3] - a[:, 1]).clamp(min=0)
        area_b = (b[:, 2] - b[:, 0]).clamp(min=0) * (b[:, 3] - b[:, 1]).clamp(min=0)
        union = area_a[:, None] + area_b[None, :] - inter
        iou = torch.where(union > 0, inter / union.clamp(min=1e-12), torch.ones_like(inter))
        both = present_first[:, hand, None] & present_second[None, :, hand]
        either = present_first[:, hand, None] | present_second[None, :, hand]
        total += torch.where(both, 1.0 - iou, either.to(torch.float32))
    return total * 0.5


def block_distances(features: JunctionFeatures, rows: np.ndarray, cols: np.ndarray,
                    weights: DistanceWeights, *, with_hands: bool = True) -> np.ndarray:
    """Dense d for sources `rows` (r,) x targets `cols` (c,) -> (r, c) float32 (without the hand term
    when `with_hands` is False: a lower bound of d, since every term is >= 0)."""
    pose = (_pose_block(features.end_a[rows], features.start_a[cols])
            + _pose_block(features.end_b[rows], features.start_b[cols]))
    value = weights.pose * pose
    if features.has_image_terms:
        image = _mask_block(features.end_mask[rows], features.start_mask[cols], features.mask_pixels)
        if with_hands:
            image += _hand_block(features.end_hands[rows], features.start_hands[cols])
        value = value + weights.iou * 0.5 * image
    return value.numpy()


# ---------------------------------------------------------------- thresholded candidates

@dataclass(frozen=True)
class CandidateEdges:
    sources: np.ndarray  # (E,) int32
    targets: np.ndarray  # (E,) int32
    costs: np.ndarray  # (E,) float32


def _cheapest_per_row(sources: np.ndarray, targets: np.ndarray, costs: np.ndarray,
                      limit: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Keeps at most `limit` cheapest edges per source (limit <= 0: all)."""
    if limit <= 0 or sources.size == 0:
        return sources, targets, costs
    order = np.lexsort((costs, sources))
    sources, targets, costs = sources[order], targets[order], costs[order]
    first_of_row = np.r_[True, sources[1:] != sources[:-1]]
    row_start = np.maximum.accumulate(np.where(first_of_row, np.arange(sources.size), 0))
    keep = (np.arange(sources.size) - row_start) < limit
    return sources[keep], targets[keep], costs[keep]


def _block_candidates(features: JunctionFeatures, thresholds: np.ndarray, weights: DistanceWeights,
                      excluded: Callable[[np.ndarray, np.ndarray], np.ndarray], rows: np.ndarray, cols: np.ndarray,
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairs of one dense block with d_ij <= t_i that are not excluded -> (sources, targets, costs).

    The dense part leaves the hand term out (a lower bound of d); the hand term is added only to the
    pairs that bound already admits, which are few."""
    values = block_distances(features, rows, cols, weights, with_hands=False)  # (r, c)
    possible = (values <= thresholds[rows][:, None]) & ~excluded(rows[:, None], cols[None, :])
    local_rows, local_cols = np.nonzero(possible)
    sources, targets, costs = rows[local_rows], cols[local_cols], values[local_rows, local_cols]
    if features.has_image_terms and sources.size:
        hands = hand_distance(features.end_hands[sources], features.start_hands[targets])
        costs = (costs + weights.iou * 0.5 * hands).astype(np.float32)
        accepted = costs <= thresholds[sources]
        sources, targets, costs = sources[accepted], targets[accepted], costs[accepted]
    return sources, targets, costs


def candidate_edges(features: JunctionFeatures, thresholds: np.ndarray, weights: DistanceWeights,
                    excluded: Callable[[np.ndarray, np.ndarray], np.ndarray], *, block: int = 2048,
                    max_per_source: int = 0, on_block: Callable[[int, int], None] | None = None,
                    should_stop: Callable[[], bool] | None = None) -> CandidateEdges:
    """All pairs with d_ij <= thresholds[i] and not excluded(i_rows (r,1), j_cols (1,c)) -> sparse edges.

    Peak memory is a few (block x block) float32 matrices plus the kept candidates.
    """
    nodes = features.nodes
    starts = list(range(0, nodes, block))
    kept: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    for done, row_start in enumerate(starts):
        rows = np.arange(row_start, min(row_start + block, nodes))
        row_parts = []
        for col_start in starts:
            if should_stop is not None and should_stop():
                raise Cancelled("graph build cancelled")
            cols = np.arange(col_start, min(col_start + block, nodes))
            row_parts.append(_block_candidates(features, thresholds, weights, excluded, rows, cols))
        sources, targets, costs = (np.concatenate(part) for part in zip(*row_parts))
        kept.append(_cheapest_per_row(sources, targets, costs, max_per_source))
        if on_block is not None:
            on_block(done + 1, len(starts))
    if not kept:
        empty = np.zeros(0, dtype=np.int32)
        return CandidateEdges(empty, empty, np.zeros(0, dtype=np.float32))
    sources, targets, costs = (np.concatenate(part) for part in zip(*kept))
    return CandidateEdges(sources.astype(np.int32), targets.astype(np.int32), costs.astype(np.float32))


def cheapest_links(features: JunctionFeatures, sources: np.ndarray, targets: np.ndarray,
                   weights: DistanceWeights, *, block: int = 2048) -> tuple[np.ndarray, np.ndarray]:
    """For every source node, its cheapest target among `targets`: -> (best target (S,), cost (S,))."""
    best_target = np.full(sources.shape[0], -1, dtype=np.int64)
    best_cost = np.full(sources.shape[0], np.inf, dtype=np.float64)
    for row_start in range(0, sources.shape[0], block):
        rows = slice(row_start, row_start + block)
        for col_start in range(0, targets.shape[0], block):
            cols = targets[col_start:col_start + block]
            values = block_distances(features, sources[rows], cols, weights)  # (r, c)
            local = values.argmin(axis=1)
            cost = values[np.arange(values.shape[0]), local]
            better = cost < best_cost[rows]
            best_cost[rows] = np.where(better, cost, best_cost[rows])
            best_target[rows] = np.where(better, cols[local], best_target[rows])
    return best_target, best_cost


def cheapest_incoming(features: JunctionFeatures, sources: np.ndarray, targets: np.ndarray,
                      weights: DistanceWeights, *, block: int = 2048) -> tuple[np.ndarray, np.ndarray]:
    """For every target node, its cheapest source among `sources`: -> (best source (T,), cost (T,))."""
    best_source = np.full(targets.shape[0], -1, dtype=np.int64)
    best_cost = np.full(targets.shape[0], np.inf, dtype=np.float64)
    for col_start in range(0, targets.shape[0], block):
        cols = slice(col_start, col_start + block)
        for row_start in range(0, sources.shape[0], block):
            rows = sources[row_start:row_start + block]
            values = block_distances(features, rows, targets[cols], weights)  # (r, c)
            local = values.argmin(axis=0)
            cost = values[local, np.arange(values.shape[1])]
            better = cost < best_cost[cols]
            best_cost[cols] = np.where(better, cost, best_cost[cols])
            best_source[cols] = np.where(better, rows[local], best_source[cols])
    return best_source, best_cost
