"""The transition windows a rendered path takes: jump edges of a speaker's motion graph, placed as the
renderer places them, with the real frames, person masks and landmarks around them.

Placement (`tango.render.schedule`): a jump i -> j has its junction between clip i's last frame and clip
j's first; the n output frames [junction - n//2, junction + n - n//2) are generated from the k real frames
just before and just after them. With the path continuing into i and out of j, those are perception
frames [s_i + 4 - n//2 - k, s_i + 4 - n//2) and [s_j + n - n//2, s_j + n - n//2 + k) (s = a clip's first
frame; n = 8: [s_i - k, s_i) and [s_j + 4, s_j + 4 + k)). n is sized as the renderer sizes it: the jump's
difficulty d_ij + head turn / `turn_scale_deg` (retrieval's `edge_difficulty`) through
`RenderOptions.transition_lengths` (8 frames for the graph's median jump, in proportion, even, within 4..16).

Sampling: the jump (non-continue) edges whose windows fit inside the video are sorted by edge cost and
cut into `count` strata of equal size; one edge is drawn at random from each (seeded), so cheap and hard
jumps are both represented.

Reference: a jump has one when the footage holds a continuous stretch [p, p + n + 1] whose ends look like
the window's ends: on 64 px grey thumbnails, max(|T_a - T_p|, |T_b - T_(p+n+1)|) (mean absolute
difference, a = last frame before, b = first after) is at most the median difference of consecutive
frames of the video (`reference_ratio` times it); the stretch's n inner frames are then the reference.
"""
from __future__ import annotations

import dataclasses

import cv2
import numpy as np

from tango.graph.artifact_io import GraphArtifact
from tango.render.plan import CLIP_FRAMES, RenderOptions
from tango.retrieval.options import SearchOptions
from tango.retrieval.scoring import junction_difficulty

THUMB_SIDE = 64


@dataclasses.dataclass(frozen=True)
class JumpSpec:
    source_node: int
    target_node: int
    cost: float  # edge cost d_ij
    before: np.ndarray  # (k,) int64 perception frames before the window
    after: np.ndarray  # (k,) int64 perception frames after it
    frames: int  # n, generated frames of the window
    difficulty: float  # d_ij + head turn / turn_scale_deg
    reference_start: int | None = None  # first of the n reference frames, when the footage holds one
    reference_distance: float = float("nan")  # end-match distance of the best stretch (thumbnail grey levels)


def jump_frames(start_i: int, start_j: int, transition_frames: int, context: int) -> tuple[np.ndarray, np.ndarray]:
    """(k,) frames before and (k,) frames after the window of a jump from clip start_i to clip start_j."""
    head = start_i + CLIP_FRAMES - transition_frames // 2
    tail = start_j + transition_frames - transition_frames // 2
    return np.arange(head - context, head, dtype=np.int64), np.arange(tail, tail + context, dtype=np.int64)


def edge_difficulty(graph: GraphArtifact, turn_scale_deg: float = SearchOptions().turn_scale_deg) -> np.ndarray:
    """(E,) float64 difficulty of drawing each edge, as retrieval weighs it (turn 0 when absent)."""
    return junction_difficulty(graph.arrays["edge_cost"], graph.arrays.get("edge_turn"), turn_scale_deg)


def typical_difficulty(graph: GraphArtifact, difficulty: np.ndarray) -> float:
    """The median difficulty of the graph's jump edges (as retrieval reports it to the renderer)."""
    jumps = difficulty[~graph.arrays["edge_continue"]]
    return float(np.median(jumps)) if jumps.size else 0.0


def sample_jumps(graph: GraphArtifact, frames: int, count: int, seed: int, context: int,
                 render: RenderOptions = RenderOptions(cut_difficulty=0.0)) -> list[JumpSpec]:
    """Up to `count` jump edges of video 0, stratified over edge-cost quantiles (module docstring)."""
    arrays = graph.arrays
    indptr, indices = graph.csr()
    sources = np.repeat(np.arange(graph.nodes), np.diff(indptr))  # (E,)
    starts = arrays["node_frames"][:, 0] if "node_frames" in arrays else arrays["node_start_frame"]  # (N,)
    video = arrays["node_video"]
    difficulty = edge_difficulty(graph)  # (E,)
    typical = typical_difficulty(graph, difficulty)
    lengths = render.transition_lengths(difficulty, typical).astype(np.int64)  # (E,) n of each edge's window
    head = starts[sources] + CLIP_FRAMES - lengths // 2 - context  # (E,) first context frame
    tail = starts[indices] + lengths - lengths // 2 + context  # (E,) one past the last
    usable = (~arrays["edge_continue"]) & (video[sources] == 0) & (video[indices] == 0) & (head >= 0) & (tail <= frames)
    edges = np.flatnonzero(usable)
    if edges.size == 0:
        return []
    order = edges[np.argsort(arrays["edge_cost"][edges], kind="stable")]
    rng = np.random.default_rng(seed)
    picked = [int(rng.choice(stratum)) for stratum in np.array_split(order, min(count, order.size))]
    specs = []
    for edge in sorted(picked, key=lambda e: float(arrays["edge_cost"][e])):
        n = int(lengths[edge])
        before, after = jump_frames(int(starts[sources[edge]]), int(starts[indices[edge]]), n, context)
        specs.append(JumpSpec(int(sources[edge]), int(indices[edge]), float(arrays["edge_cost"][edge]), before, after,
                              n, float(difficulty[edge])))
    return specs


def thumbnail(rgb: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 -> (h, w) float32 grey, long side THUMB_SIDE."""
    height, width = rgb.shape[:2]
    scale = THUMB_SIDE / max(height, width)
    size = (max(4, round(width * scale)), max(4, round(height * scale)))
    return cv2.resize(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), size, interpolation=cv2.INTER_AREA).astype(np.float32)


def attach_references(specs: list[JumpSpec], thumbs: np.ndarray, reference_ratio: float = 1.0) -> list[JumpSpec]:
    """Each spec with the continuous stretch of the footage whose ends best match its window's ends.

    thumbs: (F, h, w) float32 thumbnails of every perception frame.
    """
    frames = thumbs.shape[0]
    flat = thumbs.reshape(frames, -1)  # (F, P)
    limit = reference_ratio * float(np.median(np.abs(np.diff(flat, axis=0)).mean(axis=1)))
    out = []
    for spec in specs:
        span = spec.frames + 1
        if frames <= span:
            out.append(spec)
            continue
        a, b = int(spec.before[-1]), int(spec.after[0])
        to_a = np.abs(flat - flat[a]).mean(axis=1)  # (F,)
        to_b = np.abs(flat - flat[b]).mean(axis=1)
        cost = np.maximum(to_a[: frames - span], to_b[span:])  # (F - span,) stretch starting at p
        p = int(np.argmin(cost))
        found = float(cost[p]) <= limit
        out.append(dataclasses.replace(spec, reference_start=p + 1 if found else None,
                                       reference_distance=float(cost[p])))
    return out
