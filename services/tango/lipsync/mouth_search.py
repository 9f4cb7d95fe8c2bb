"""Mouth retrieval: for every output frame, the reference frame whose mouth says what the target says.

A dynamic programme over output frames n = 0..N-1 and reference frames r = 0..R-1 (all reference videos
of the speaker, concatenated). It minimises

    sum_n U[n, r_n] + sum_n T(r_{n-1}, r_n)

Unary U[n, r] (`unary_costs`): how badly mouth r fits target frame n —
    w_shape * mean_p |l_np - m_rp|    the landmark distance (LMD: mean over the 40 lip points p of the 2-D
                                      distance, in inter-ocular units) between the predicted lips l_n (the
                                      speaker mouth model's conditional mean) and r's own lips m_r, both in
                                      the pose-free template frame. Measured in the evaluation's own
                                      geometry: a squared distance of whitened coefficients weighs a barely
                                      visible component like the opening and lets outliers dominate; this
                                      picks the mouth whose expected LMD to the truth is smallest (see
                                      `mouth_model` for why the prediction is not amplified)
  + w_viseme * (1 - sum_d k_d S[v_{n+d}, u_{r+d}])   viseme in context (d = -1, 0, 1; k = 1/4, 1/2, 1/4;
                                      S = viseme similarity; target visemes v, reference visemes u)
  + w_pose * |h_n - h_r|^2 / 100      head pose (degrees) of the frame the mouth goes onto vs r's (0 by
                                      default: the lip shapes are pose-free, and on the 22 s speaker, whose
                                      head turns by +-13 degrees, a pose preference picked atypical mouths:
                                      LMD reduction -5 points; the hard limit below keeps the composite sound)
  + pose_limit_cost where any of yaw, pitch, roll differs by more than `max_pose_deg` (such a mouth would
                                      be pasted onto a head turned otherwise: chosen only if nothing else fits).
                                      The compositor's own limit (`CompositeConfig.max_pose_deg`, 20): a mouth
                                      it would paste is not kept from the search by a stricter one. At 12 the
                                      22 s speaker (yaw -27..-9 degrees over the clip) was held to a few atypical
                                      mouths per span: LMD reduction 23.3 % there, 27.0 % at 20 (German 29.0 /
                                      29.1 %), held-out eval, 5 folds
  + inf where r has no usable face (or is excluded, e.g. a held-out span).
Transition T(r', r) (`search_mouths`): 0 when r = next(r') (the following frame of the same video: real
co-articulation), `hold` when r = r', otherwise `jump + w_continuity * |s_r - s_r'|^2 / K`.

Vectorised as one relaxation per output frame over all R states: continue (shift), hold (same state) and
jump. The jump term min_{r'} (D[r'] + w_c |s_r - s_r'|^2) is taken over the `jump_sources` best states of
the previous frame (a jump's cost is dominated by D[r'], so its best predecessor is among them): O(R x M)
per frame instead of O(R^2). Back-pointers (N, R) int32; ties go to the smaller state index.
"""
from __future__ import annotations

import dataclasses

import numpy as np

INF = np.float32(1e9)


@dataclasses.dataclass(frozen=True)
class MouthSearchConfig:
    w_shape: float = 60.0  # per inter-ocular unit of LMD (a typical mouth-to-mouth LMD is ~0.03)
    w_viseme: float = 1.0
    w_pose: float = 0.0
    max_pose_deg: float = 20.0  # = CompositeConfig.max_pose_deg (a test holds them equal): see the module doc
    pose_limit_cost: float = 20.0
    jump: float = 0.6  # cost of starting a new run of reference frames
    hold: float = 0.3  # cost of showing the same mouth twice
    w_continuity: float = 0.5  # mouth-shape change at a jump
    jump_sources: int = 32


@dataclasses.dataclass(frozen=True)
class MouthTargets:
    """What each output frame should show (either source may be absent)."""

    lips: np.ndarray | None  # (N, 40, 2) predicted lip points (template frame), or None
    visemes: np.ndarray | None  # (N,) int viseme class, or None
    head_pose: np.ndarray  # (N, 3) degrees of the frame the mouth goes onto (NaN = unknown)


@dataclasses.dataclass(frozen=True)
class MouthBank:
    """The reference mouths to choose from."""

    coefficients: np.ndarray  # (R, K) whitened lip coefficients (NaN where no face)
    visemes: np.ndarray | None  # (R,) int viseme of each reference frame, or None
    head_pose: np.ndarray  # (R, 3)
    usable: np.ndarray  # (R,) bool: a face, and allowed
    next_frame: np.ndarray  # (R,) int64 index of the following frame of the same video, -1 at a video's end
    lips: np.ndarray  # (R, 40, 2) each frame's lip points in the template frame (NaN where no face)


def _context_viseme_cost(targets: np.ndarray, bank: np.ndarray, similarity: np.ndarray) -> np.ndarray:
    """(N, R) 1 - context-weighted viseme similarity (edges replicated)."""
    cost = np.zeros((len(targets), len(bank)), np.float32)
    for offset, weight in ((-1, 0.25), (0, 0.5), (1, 0.25)):
        t = targets[np.clip(np.arange(len(targets)) + offset, 0, len(targets) - 1)]
        b = bank[np.clip(np.arange(len(bank)) + offset, 0, len(bank) - 1)]
        cost += weight * (1.0 - similarity[t][:, b])
    return cost


def landmark_distance(targets: np.ndarray, bank: np.ndarray) -> np.ndarray:
    """(N, R) float32 mean over lip points of the 2-D distance between (N, P, 2) and (R, P, 2) lips."""
    cost = np.zeros((len(targets), len(bank)), np.float32)
    for p in range(targets.shape[1]):  # one (N, R) array at a time
        dx = targets[:, None, p, 0] - bank[None, :, p, 0]
        dy = targets[:, None, p, 1] - bank[None, :, p, 1]
        cost += np.sqrt(dx * dx + dy * dy)
    return cost / max(targets.shape[1], 1)


def unary_costs(targets: MouthTargets, bank: MouthBank, config: MouthSearchConfig,
                viseme_similarity: np.ndarray | None = None) -> np.ndarray:
    """(N, R) float32 cost of showing reference mouth r at output frame n."""
    n, r = len(targets.head_pose), len(bank.usable)
    cost = np.zeros((n, r), np.float32)
    if targets.lips is not None and config.w_shape > 0:
        lips = np.nan_to_num(targets.lips.astype(np.float32))
        cost += config.w_shape * landmark_distance(lips, np.nan_to_num(bank.lips.astype(np.float32)))
    if targets.visemes is not None and bank.visemes is not None and config.w_viseme > 0:
        cost += config.w_viseme * _context_viseme_cost(targets.visemes, bank.visemes, viseme_similarity)
    pose_t, pose_b = np.nan_to_num(targets.head_pose), np.nan_to_num(bank.head_pose)
    known = np.isfinite(targets.head_pose).all(axis=1)[:, None]
    if config.w_pose > 0:
        squared = (np.sum(pose_t**2, 1)[:, None] + np.sum(pose_b**2, 1)[None, :]
                   - 2.0 * pose_t @ pose_b.T)  # (N, R)
        cost += np.where(known, config.w_pose * squared / 100.0, 0.0).astype(np.float32)
    too_far = np.zeros((n, r), bool)  # the hard limit holds whatever w_pose (with w_pose 0 it once did not,
    for axis in range(3):  # and 12 % of the demo's frames kept the reference's mouth); (N, R) per axis
        too_far |= np.abs(pose_t[:, axis, None] - pose_b[None, :, axis]) > config.max_pose_deg
    cost += np.where(known & too_far, config.pose_limit_cost, 0.0).astype(np.float32)
    cost[:, ~bank.usable] = INF
    return cost


def search_mouths(unary: np.ndarray, bank: MouthBank, config: MouthSearchConfig) -> np.ndarray:
    """(N,) int64 reference frame of each output frame minimising unary + transition costs."""
    n_out, n_ref = unary.shape
    shapes = np.nan_to_num(bank.coefficients).astype(np.float32)  # (R, K)
    k = max(shapes.shape[1], 1)
    # prev_of[r] = the frame r follows in its video (-1 at a video's start)
    prev_of = np.full(n_ref, -1, np.int64)
    has_next = bank.next_frame >= 0
    prev_of[bank.next_frame[has_next]] = np.flatnonzero(has_next)
    states = np.arange(n_ref)
    back = np.zeros((n_out, n_ref), np.int32)
    cost = unary[0].astype(np.float32).copy()
    back[0] = states
    m = min(config.jump_sources, n_ref)
    for n in range(1, n_out):
        best = np.full(n_ref, INF, np.float32)
        choice = states.copy()
        # hold
        held = cost + config.hold
        take = held < best
        best[take], choice[take] = held[take], states[take]
        # continue: r = next(r')
        follows = prev_of >= 0
        continued = np.full(n_ref, INF, np.float32)
        continued[follows] = cost[prev_of[follows]]
        take = continued < best
        best[take], choice[take] = continued[take], prev_of[take]
        # jump from one of the m best previous states
        sources = np.argpartition(cost, m - 1)[:m]  # (M,)
        change = (np.sum(shapes[sources] ** 2, 1)[:, None] + np.sum(shapes**2, 1)[None, :]
                  - 2.0 * shapes[sources] @ shapes.T)  # (M, R)
        jumped = cost[sources][:, None] + config.jump + config.w_continuity * np.maximum(change, 0.0) / k
        arg = np.argmin(jumped, axis=0)  # (R,)
        jumped_best = jumped[arg, states]
        take = jumped_best < best
        best[take], choice[take] = jumped_best[take], sources[arg[take]]
        cost = best + unary[n]
        back[n] = choice
    path = np.zeros(n_out, np.int64)
    path[-1] = int(np.argmin(cost))
    for n in range(n_out - 1, 0, -1):
        path[n - 1] = back[n, path[n]]
    return path


def path_cost(path: np.ndarray, unary: np.ndarray, bank: MouthBank, config: MouthSearchConfig) -> float:
    """The objective of a given path (for tests against the DP)."""
    shapes = np.nan_to_num(bank.coefficients)
    k = max(shapes.shape[1], 1)
    total = float(unary[np.arange(len(path)), path].sum())
    for a, b in zip(path[:-1], path[1:]):
        if b == bank.next_frame[a]:
            continue
        if a == b:
            total += config.hold
        else:
            total += config.jump + config.w_continuity * float(np.sum((shapes[a] - shapes[b]) ** 2)) / k
    return total
