"""Pruning (Algorithm 1): dead-end peeling, largest SCC vs merge, dead-end rate of random walks."""
from __future__ import annotations

import numpy as np
import rustworkx as rx

from tango.graph.prune import (STRATEGY_LARGEST_SCC, STRATEGY_MERGE, csr_order, dead_end_rate, prune_graph,
                               remove_dead_ends)


def _csr(nodes: int, sources, targets, keep=None):
    sources, targets = np.asarray(sources), np.asarray(targets)
    if keep is not None:
        new_id = np.cumsum(keep) - 1
        both = keep[sources] & keep[targets]
        sources, targets, nodes = new_id[sources[both]], new_id[targets[both]], int(keep.sum())
    indptr, order = csr_order(nodes, sources, targets)
    return indptr, targets[order]


def _strongly_connected(indptr, indices) -> bool:
    graph = rx.PyDiGraph()
    graph.add_nodes_from(range(indptr.size - 1))
    sources = np.repeat(np.arange(indptr.size - 1), np.diff(indptr))
    graph.add_edges_from_no_data(list(zip(sources.tolist(), indices.tolist())))
    return len(rx.strongly_connected_components(graph)) == 1


class _TableLinker:
    """Cheapest links from an explicit cost table (N, N)."""

    def __init__(self, table: np.ndarray):
        self.table = table

    def cheapest_out(self, sources, targets):
        block = self.table[np.ix_(sources, targets)]
        return targets[block.argmin(1)], block.min(1)

    def cheapest_in(self, sources, targets):
        block = self.table[np.ix_(sources, targets)]
        return sources[block.argmin(0)], block.min(0)


# Graph: main cycle 0-1-2-3 (SCC of 4), second cycle 4-5 reachable from 2 but not returning,
# a tail 6 -> 7 -> 8 (8 is a dead end) hanging off 3, and 9 -> 0 (reaches main, nothing reaches 9).
SOURCES = [0, 1, 2, 3, 2, 4, 5, 3, 6, 7, 9]
TARGETS = [1, 2, 3, 0, 4, 5, 4, 6, 7, 8, 0]


def test_dead_ends_are_peeled_iteratively():
    alive, rounds = remove_dead_ends(10, np.array(SOURCES), np.array(TARGETS))
    assert alive.tolist() == [True] * 6 + [False, False, False, True]
    assert rounds == 3


def test_largest_scc_and_merge():
    largest = prune_graph(10, SOURCES, TARGETS, strategy=STRATEGY_LARGEST_SCC)
    assert np.flatnonzero(largest.kept).tolist() == [0, 1, 2, 3]
    assert largest.kept_largest_scc == 4 and largest.added_sources.size == 0
    assert largest.dropped == {"dead_end": 3, "not_strongly_connected": 3}

    table = np.full((10, 10), 5.0)
    table[5, 1] = 0.5  # cheapest way back from the {4, 5} cycle
    table[2, 9] = 0.7  # cheapest way into 9
    thresholds = np.ones(10)
    merged = prune_graph(10, SOURCES, TARGETS, strategy=STRATEGY_MERGE, linker=_TableLinker(table),
                         thresholds=thresholds, merge_ratio=1.0)
    assert np.flatnonzero(merged.kept).tolist() == [0, 1, 2, 3, 4, 5, 9]
    assert sorted(zip(merged.added_sources.tolist(), merged.added_targets.tolist())) == [(2, 9), (5, 1)]
    np.testing.assert_allclose(sorted(merged.added_costs.tolist()), [0.5, 0.7])
    assert merged.kept_largest_scc == 4 and merged.dropped == {"dead_end": 3, "not_strongly_connected": 0}
    indptr, indices = _csr(10, SOURCES + merged.added_sources.tolist(), TARGETS + merged.added_targets.tolist(),
                           keep=merged.kept)
    assert _strongly_connected(indptr, indices)
    assert dead_end_rate(indptr, indices, steps=200, walks=500, seed=1) == 0.0


def test_merge_refuses_links_over_the_ratio():
    table = np.full((10, 10), 5.0)
    merged = prune_graph(10, SOURCES, TARGETS, strategy=STRATEGY_MERGE, linker=_TableLinker(table),
                         thresholds=np.ones(10), merge_ratio=2.0)
    assert np.flatnonzero(merged.kept).tolist() == [0, 1, 2, 3]
    assert merged.added_sources.size == 0 and merged.dropped["not_strongly_connected"] == 3


def test_dead_end_rate_counts_walks_that_get_stuck():
    chain_indptr, chain_indices = _csr(3, [0, 1], [1, 2])  # 0 -> 1 -> 2, 2 has no out-edge
    assert dead_end_rate(chain_indptr, chain_indices, steps=2, walks=300) == 1.0
    assert 0.2 < dead_end_rate(chain_indptr, chain_indices, steps=0, walks=3000, seed=2) < 0.45
    cycle_indptr, cycle_indices = _csr(3, [0, 1, 2], [1, 2, 0])
    assert dead_end_rate(cycle_indptr, cycle_indices, steps=100) == 0.0
    raw_indptr, raw_indices = _csr(10, SOURCES, TARGETS)
    assert 0.0 < dead_end_rate(raw_indptr, raw_indices, steps=75, walks=1000) < 1.0
