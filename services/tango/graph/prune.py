"""Pruning of the raw motion graph (TANGO Algorithm 1) so that a path of any length can start anywhere.

1. Dead ends are peeled iteratively: a node without out-edges to live nodes is removed, which may make
   its predecessors dead ends in the next round (vectorised per round over all edges).
2. Strongly connected components of what is left (rustworkx). `largest_scc` keeps the largest one
   (what the official code does). `merge` (default) also re-attaches every other component C: where the
   main component M does not already reach C, the cheapest real transition M -> C is added; where C does
   not already reach M, the cheapest C -> M. One edge each way makes C and M mutually reachable. An added
   edge is a real d_ij that missed its adaptive threshold, accepted only when d_ij <= ratio * t_i, and is
   flagged `added`. The final kept set is the strongly connected component holding M, so the
   invariant "every kept node reaches every other" holds whatever was accepted.

Also `dead_end_rate`: the fraction of uniform random walks that hit a node without out-edges.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import rustworkx as rx

STRATEGY_MERGE = "merge"
STRATEGY_LARGEST_SCC = "largest_scc"


class Linker(Protocol):
    """Finds the cheapest real transitions between node sets (the distance module behind it)."""

    def cheapest_out(self, sources: np.ndarray, targets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """-> best target per source (S,), its cost (S,)."""

    def cheapest_in(self, sources: np.ndarray, targets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """-> best source per target (T,), its cost (T,)."""


@dataclass(frozen=True)
class PruneResult:
    kept: np.ndarray  # (N,) bool nodes of the final graph
    added_sources: np.ndarray  # (A,) int64 re-attachment edges (both ends kept)
    added_targets: np.ndarray  # (A,)
    added_costs: np.ndarray  # (A,) float32
    kept_largest_scc: int
    dropped: dict[str, int] = field(default_factory=dict)
    dead_end_rounds: int = 0


def csr_order(nodes: int, sources: np.ndarray, targets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """-> (indptr (N+1,) int64, order (E,) permutation sorting edges by (source, target))."""
    order = np.lexsort((targets, sources))
    counts = np.bincount(sources, minlength=nodes)
    indptr = np.zeros(nodes + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    return indptr, order


def remove_dead_ends(nodes: int, sources: np.ndarray, targets: np.ndarray,
                     alive: np.ndarray | None = None) -> tuple[np.ndarray, int]:
    """Iteratively removes nodes with no out-edge to a live node -> (alive (N,) bool, rounds)."""
    alive = np.ones(nodes, dtype=bool) if alive is None else alive.copy()
    rounds = 0
    while True:
        live_edges = alive[sources] & alive[targets]
        out_degree = np.bincount(sources[live_edges], minlength=nodes)
        dead = alive & (out_degree == 0)
        if not dead.any():
            return alive, rounds
        alive &= ~dead
        rounds += 1


def _digraph(nodes: int, sources: np.ndarray, targets: np.ndarray) -> rx.PyDiGraph:
    graph = rx.PyDiGraph(multigraph=False)
    graph.add_nodes_from(range(nodes))
    graph.add_edges_from_no_data(list(zip(sources.tolist(), targets.tolist())))
    return graph


def scc_labels(nodes: int, sources: np.ndarray, targets: np.ndarray, alive: np.ndarray) -> np.ndarray:
    """Strongly connected component id per node (N,) int64; -1 for nodes that are not alive."""
    live = alive[sources] & alive[targets]
    graph = _digraph(nodes, sources[live], targets[live])
    labels = np.full(nodes, -1, dtype=np.int64)
    for label, members in enumerate(rx.strongly_connected_components(graph)):
        labels[np.asarray(members, dtype=np.int64)] = label
    labels[~alive] = -1
    return labels


def _reach(graph: rx.PyDiGraph, node: int, nodes: int, forward: bool) -> np.ndarray:
    reached = np.zeros(nodes, dtype=bool)
    found = rx.descendants(graph, node) if forward else rx.ancestors(graph, node)
    reached[np.asarray(sorted(found), dtype=np.int64)] = True
    reached[node] = True
    return reached


def _best_per_component(labels: np.ndarray, members: np.ndarray, partner: np.ndarray, cost: np.ndarray,
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per component label of `members`, the member with the lowest cost -> (label, member, partner, cost)."""
    order = np.lexsort((cost, labels[members]))
    first = np.r_[True, labels[members][order][1:] != labels[members][order][:-1]]
    chosen = order[first]
    return labels[members][chosen], members[chosen], partner[chosen], cost[chosen]


def _attach_components(labels: np.ndarray, main_label: int, need_out: np.ndarray, need_in: np.ndarray,
                       linker: Linker, thresholds: np.ndarray, ratio: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cheapest acceptable edge out of / into every component that needs one -> (sources, targets, costs)."""
    main_nodes = np.flatnonzero(labels == main_label)
    edges: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    out_nodes = np.flatnonzero(need_out)
    if out_nodes.size:
        target, cost = linker.cheapest_out(out_nodes, main_nodes)
        _, member, partner, best = _best_per_component(labels, out_nodes, target, cost)
        ok = best <= ratio * thresholds[member]
        edges.append((member[ok], partner[ok], best[ok]))
    in_nodes = np.flatnonzero(need_in)
    if in_nodes.size:
        source, cost = linker.cheapest_in(main_nodes, in_nodes)
        _, member, partner, best = _best_per_component(labels, in_nodes, source, cost)
        ok = best <= ratio * thresholds[partner]
        edges.append((partner[ok], member[ok], best[ok]))
    if not edges:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32)
    sources, targets, costs = (np.concatenate(part) for part in zip(*edges))
    return sources.astype(np.int64), targets.astype(np.int64), costs.astype(np.float32)


def prune_graph(nodes: int, sources: np.ndarray, targets: np.ndarray, *, strategy: str = STRATEGY_MERGE,
                linker: Linker | None = None, thresholds: np.ndarray | None = None,
                merge_ratio: float = 2.0) -> PruneResult:
    """Keeps a strongly connected node set without dead ends (see module docstring)."""
    sources, targets = np.asarray(sources, np.int64), np.asarray(targets, np.int64)
    alive, rounds = remove_dead_ends(nodes, sources, targets)
    labels = scc_labels(nodes, sources, targets, alive)
    empty = (np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32))
    if not alive.any():
        return PruneResult(alive, *empty, kept_largest_scc=0,
                           dropped={"dead_end": nodes, "not_strongly_connected": 0}, dead_end_rounds=rounds)
    sizes = np.bincount(labels[alive])
    main_label = int(sizes.argmax())
    main = labels == main_label
    added = empty
    if strategy == STRATEGY_MERGE and linker is not None and thresholds is not None and (alive & ~main).any():
        live = alive[sources] & alive[targets]
        graph = _digraph(nodes, sources[live], targets[live])
        anchor = int(np.flatnonzero(main)[0])
        others = alive & ~main
        need_in = others & ~_reach(graph, anchor, nodes, forward=True)
        need_out = others & ~_reach(graph, anchor, nodes, forward=False)
        added = _attach_components(labels, main_label, need_out, need_in, linker, thresholds, merge_ratio)
        all_sources, all_targets = np.r_[sources, added[0]], np.r_[targets, added[1]]
        merged = scc_labels(nodes, all_sources, all_targets, alive)
        main = merged == merged[anchor]
        both_kept = main[added[0]] & main[added[1]]
        added = tuple(part[both_kept] for part in added)
    elif strategy not in (STRATEGY_MERGE, STRATEGY_LARGEST_SCC):
        raise ValueError(f"unknown pruning strategy {strategy!r}")
    dropped = {"dead_end": int((~alive).sum()), "not_strongly_connected": int((alive & ~main).sum())}
    return PruneResult(main, added[0], added[1], added[2], kept_largest_scc=int(sizes.max()),
                       dropped=dropped, dead_end_rounds=rounds)


def dead_end_rate(indptr: np.ndarray, indices: np.ndarray, steps: int, walks: int = 1000, seed: int = 0) -> float:
    """Fraction of `walks` uniform random walks of `steps` steps (uniform start, uniform out-edge) that reach
    a node without out-edges; all walkers advance together."""
    nodes = indptr.shape[0] - 1
    if nodes <= 0:
        return 1.0
    rng = np.random.default_rng(seed)
    position = rng.integers(0, nodes, size=walks)  # (W,)
    stuck = np.zeros(walks, dtype=bool)
    for _ in range(steps):
        degree = indptr[position + 1] - indptr[position]
        stuck |= degree == 0
        choice = np.floor(rng.random(walks) * np.maximum(degree, 1)).astype(np.int64)
        moved = indices[np.minimum(indptr[position] + choice, max(indices.shape[0] - 1, 0))] if indices.size else position
        position = np.where(stuck, position, moved)
    stuck |= (indptr[position + 1] - indptr[position]) == 0
    return float(stuck.mean())
