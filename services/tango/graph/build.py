"""Builds the pruned motion graph of one speaker from one or more perception artifacts (METHOD.md §2).

Nodes are the usable 4-frame clips of every video (ordered by video, then clip), edges are the
continue edges i -> i+1 of each video plus jump edges i -> j with d_ij <= t_i (the adaptive threshold),
across videos too. Pruning (`tango.graph.prune`) then keeps a dead-end-free, strongly connected set,
re-indexed 0..N-1. The result holds exactly the arrays of the graph artifact (CONTRACTS.md).
"""
from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from tango.graph.artifact_io import SCHEMA_VERSION
from tango.graph.clips import CLIP_FRAMES, VideoClips, check_inputs, prepare_video
from tango.graph.distances import (DistanceWeights, JunctionFeatures, candidate_edges, cheapest_incoming,
                                   cheapest_links)
from tango.graph.features import junction_features, node_frames, node_motion, node_smooth_velocity
from tango.graph.inputs import PerceptionLike
from tango.graph.options import GraphOptions
from tango.graph.prune import PruneResult, csr_order, dead_end_rate, prune_graph
from tango.graph.thresholds import adaptive_thresholds, neighbour_pairs, trivial_pair_rule
from tango.runtime.errors import Cancelled, GraphTooSmall

KIND = "graph"
WALK_SECONDS = (10, 30)


@dataclass
class GraphResult:
    arrays: dict[str, np.ndarray]  # the keys of graph.npz
    meta: dict[str, Any]  # meta.json: kind, schema_version, videos, options, stats


@dataclass(frozen=True)
class _Edges:
    sources: np.ndarray  # (E,) int64
    targets: np.ndarray  # (E,) int64
    costs: np.ndarray  # (E,) float32
    continues: np.ndarray  # (E,) bool
    added: np.ndarray  # (E,) bool


@dataclass(frozen=True)
class _Linker:
    features: JunctionFeatures
    weights: DistanceWeights
    block: int

    def cheapest_out(self, sources: np.ndarray, targets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return cheapest_links(self.features, sources, targets, self.weights, block=self.block)

    def cheapest_in(self, sources: np.ndarray, targets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return cheapest_incoming(self.features, sources, targets, self.weights, block=self.block)


def _select_nodes(videos: Sequence[VideoClips], options: GraphOptions) -> tuple[np.ndarray, np.ndarray, dict[str, int]]:
    """-> node_video (N,), node_clip (N,), dropped clip counts by reason."""
    node_video, node_clip = [], []
    dropped = {"no_person": 0, "blurry_hands": 0}
    for clips in videos:
        no_person = clips.no_person & (not options.keep_no_person)
        blurry = clips.blurry_hands & options.exclude_blurry_hands & ~no_person
        usable = ~(no_person | blurry)
        dropped["no_person"] += int(no_person.sum())
        dropped["blurry_hands"] += int(blurry.sum())
        node_clip.append(np.flatnonzero(usable))
        node_video.append(np.full(int(usable.sum()), clips.video, dtype=np.int64))
    return np.concatenate(node_video), np.concatenate(node_clip), dropped


def _csr_arrays(nodes: int, edges: _Edges) -> dict[str, np.ndarray]:
    indptr, order = csr_order(nodes, edges.sources, edges.targets)
    return {"indptr": indptr, "indices": edges.targets[order].astype(np.int32),
            "edge_cost": edges.costs[order].astype(np.float32), "edge_continue": edges.continues[order],
            "edge_added": edges.added[order]}


def _walk_rates(indptr: np.ndarray, indices: np.ndarray, fps: float, options: GraphOptions, suffix: str) -> dict[str, float]:
    return {f"dead_end_rate_{seconds}s_{suffix}": dead_end_rate(
        indptr, indices, steps=int(round(seconds * fps / CLIP_FRAMES)), walks=options.walks, seed=options.seed)
        for seconds in WALK_SECONDS}


def _keep(edges: _Edges, prune: PruneResult, nodes: int) -> tuple[_Edges, np.ndarray]:
    """Edges among kept nodes plus the re-attachment edges, re-indexed -> (edges, old node id per new id)."""
    new_id = np.full(nodes, -1, dtype=np.int64)
    kept_nodes = np.flatnonzero(prune.kept)
    new_id[kept_nodes] = np.arange(kept_nodes.size)
    both = prune.kept[edges.sources] & prune.kept[edges.targets]
    added = prune.added_sources.size
    return _Edges(
        sources=new_id[np.r_[edges.sources[both], prune.added_sources]],
        targets=new_id[np.r_[edges.targets[both], prune.added_targets]],
        costs=np.r_[edges.costs[both], prune.added_costs].astype(np.float32),
        continues=np.r_[edges.continues[both], np.zeros(added, dtype=bool)],
        added=np.r_[edges.added[both], np.ones(added, dtype=bool)],
    ), kept_nodes


def _raw_edges(features: JunctionFeatures, node_video: np.ndarray, node_clip: np.ndarray, thresholds: np.ndarray,
               options: GraphOptions, on_progress: Callable[[str, int, int], None],
               should_stop: Callable[[], bool] | None) -> _Edges:
    weights = DistanceWeights(options.pose_weight, options.iou_weight)
    jumps = candidate_edges(
        features, thresholds, weights, trivial_pair_rule(node_video, node_clip, options.near_jump_clips),
        block=options.block_size, max_per_source=options.max_jumps_per_node,
        on_block=lambda done, total: on_progress("distances", done, total), should_stop=should_stop)
    if jumps.sources.size == 0:
        raise GraphTooSmall(f"no jump edge among {node_video.size} clips: the reference footage is too short "
                            f"(or too uniform) to re-order; give a longer video", metadata={"nodes": node_video.size})
    cont_sources, cont_targets = neighbour_pairs(node_video, node_clip)
    conts, jump_count = cont_sources.size, jumps.sources.size
    return _Edges(sources=np.r_[cont_sources, jumps.sources].astype(np.int64),
                  targets=np.r_[cont_targets, jumps.targets].astype(np.int64),
                  costs=np.r_[np.zeros(conts, np.float32), jumps.costs],
                  continues=np.r_[np.ones(conts, bool), np.zeros(jump_count, bool)],
                  added=np.zeros(conts + jump_count, dtype=bool))


NO_FACE_TURN_DEG = 45.0  # a junction where the face is meshed on one side only counts as this much turn


def head_turns(artifacts: Sequence[PerceptionLike], node_video: np.ndarray, frames: np.ndarray,
               sources: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """(E,) float32 degrees the head turns across each junction: the largest of |yaw|, |pitch|, |roll| between
    the source clip's last frame and the target clip's first (face mesh `head_pose`), NO_FACE_TURN_DEG where
    the face is meshed on one side only, 0 where on neither or where the perception has no face mesh."""
    if not all("head_pose" in artifact.arrays for artifact in artifacts):
        return np.zeros(sources.size, np.float32)
    poses = [np.asarray(artifact.arrays["head_pose"], np.float32) for artifact in artifacts]
    offsets = np.concatenate([[0], np.cumsum([len(p) for p in poses])[:-1]])
    pose = np.concatenate(poses)  # (F_all, 3)
    end = pose[offsets[node_video[sources]] + frames[sources, -1]]  # (E, 3)
    start = pose[offsets[node_video[targets]] + frames[targets, 0]]
    seen_end, seen_start = np.isfinite(end).all(axis=1), np.isfinite(start).all(axis=1)
    turn = np.max(np.abs(np.nan_to_num(end - start)), axis=1)
    turn = np.where(seen_end != seen_start, NO_FACE_TURN_DEG, turn)
    return turn.astype(np.float32)


def _turns_in_csr_order(artifacts: Sequence[PerceptionLike], arrays: dict[str, np.ndarray]) -> np.ndarray:
    sources = np.repeat(np.arange(arrays["indptr"].size - 1), np.diff(arrays["indptr"]))
    turn = head_turns(artifacts, arrays["node_video"].astype(np.int64), arrays["node_frames"].astype(np.int64),
                      sources, arrays["indices"].astype(np.int64))
    return np.where(arrays["edge_continue"], 0.0, turn).astype(np.float32)


def _video_meta(artifacts: Sequence[PerceptionLike], uris: Sequence[str] | None) -> list[dict[str, Any]]:
    return [{"perception": (uris[number] if uris else str(artifact.meta.get("uri", ""))),
             "fps": float(artifact.meta["fps"]), "frames": int(np.asarray(artifact.arrays["person_present"]).shape[0]),
             "source": artifact.meta.get("source", {})} for number, artifact in enumerate(artifacts)]


def build_graph(artifacts: Sequence[PerceptionLike], options: GraphOptions = GraphOptions(),
                on_progress: Callable[[str, int, int], None] | None = None,
                should_stop: Callable[[], bool] | None = None,
                perception_uris: Sequence[str] | None = None) -> GraphResult:
    """Perception artifacts of one speaker -> the pruned motion graph (arrays + meta of the graph artifact)."""
    started = time.perf_counter()
    report = on_progress or (lambda stage, done, total: None)
    representation, fps = check_inputs(artifacts, options.resample)
    report("prepare", 0, len(artifacts))
    videos = [prepare_video(number, artifact, representation, fps, options.blurry_hand_ratio,
                            options.velocity_smoothing_frames) for number, artifact in enumerate(artifacts)]
    node_video, node_clip, dropped = _select_nodes(videos, options)
    if node_video.size < 3:
        raise GraphTooSmall(f"only {node_video.size} usable 4-frame clips; a graph needs at least 3 "
                            f"(12 frames with a person)", metadata={"nodes": node_video.size})
    frames = node_frames(videos, node_video, node_clip)  # (N, 4)
    motion = node_motion(videos, node_video, node_clip)  # (N, 4, J, 15)
    features = junction_features(artifacts, videos, motion, frames, node_video, representation,
                                 options.pose_joints, options.mask_downsample,
                                 velocity=node_smooth_velocity(videos, node_video, node_clip))
    weights = DistanceWeights(options.pose_weight, options.iou_weight)
    thresholds = adaptive_thresholds(features, node_video, node_clip, weights)
    report("prepare", len(artifacts), len(artifacts))
    edges = _raw_edges(features, node_video, node_clip, thresholds, options, report, should_stop)
    nodes = node_video.size
    raw = _csr_arrays(nodes, edges)
    stats: dict[str, Any] = _walk_rates(raw["indptr"], raw["indices"], fps, options, "before")
    if should_stop is not None and should_stop():
        raise Cancelled("graph build cancelled")
    report("prune", 0, 1)
    pruned = prune_graph(nodes, edges.sources, edges.targets, strategy=options.pruning,
                         linker=_Linker(features, weights, options.block_size), thresholds=thresholds,
                         merge_ratio=options.merge_ratio)
    if not pruned.kept.any():
        raise GraphTooSmall(f"no node of the {nodes} clips can continue forever (every path ends in a dead end); "
                            "give a longer video", metadata={"nodes": nodes})
    kept_edges, kept_nodes = _keep(edges, pruned, nodes)
    report("prune", 1, 1)
    arrays = {"node_video": node_video[kept_nodes].astype(np.int32),
              "node_start_frame": frames[kept_nodes, 0].astype(np.int32),
              "node_frames": frames[kept_nodes].astype(np.int32),
              **_csr_arrays(kept_nodes.size, kept_edges),
              "motion": motion[kept_nodes]}
    arrays["edge_turn"] = _turns_in_csr_order(artifacts, arrays)
    stats.update(_walk_rates(arrays["indptr"], arrays["indices"], fps, options, "after"))
    stats.update(_stats(videos, node_video, edges, kept_edges, kept_nodes, pruned, dropped, started))
    meta = {"kind": KIND, "schema_version": SCHEMA_VERSION, "representation": representation, "fps": fps,
            "clip_frames": CLIP_FRAMES, "videos": _video_meta(artifacts, perception_uris),
            "options": dataclasses.asdict(options), "stats": stats}
    return GraphResult(arrays=arrays, meta=meta)


def _stats(videos: Sequence[VideoClips], node_video: np.ndarray, raw: _Edges, kept: _Edges, kept_nodes: np.ndarray,
           pruned: PruneResult, dropped: dict[str, int], started: float) -> dict[str, Any]:
    kept_video = node_video[kept_nodes]
    per_video = [{"clips": clips.clips, "nodes": int((node_video == clips.video).sum()),
                  "kept_nodes": int((kept_video == clips.video).sum())} for clips in videos]
    cross = node_video[raw.sources] != node_video[raw.targets]
    return {
        "clips": int(sum(clips.clips for clips in videos)),
        "nodes": int(node_video.size),
        "edges": int(kept.sources.size),
        "continue_edges": int(kept.continues.sum()),
        "jump_edges": int((~kept.continues).sum()),
        "added_edges": int(kept.added.sum()),
        "raw_edges": int(raw.sources.size),
        "raw_jump_edges": int((~raw.continues).sum()),
        "raw_cross_video_edges": int(cross.sum()),
        "cross_video_jump_edges": int((kept_video[kept.sources] != kept_video[kept.targets]).sum()),
        "kept_nodes": int(kept_nodes.size),
        "kept_nodes_largest_scc": int(pruned.kept_largest_scc),
        "dropped": {**dropped, **pruned.dropped},
        "dead_end_rounds": int(pruned.dead_end_rounds),
        "per_video": per_video,
        "build_seconds": float(time.perf_counter() - started),
    }
