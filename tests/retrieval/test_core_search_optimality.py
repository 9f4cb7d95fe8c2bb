"""DP and beam search against brute-force enumeration of every path on tiny graphs."""
from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import pytest

from tango.retrieval.options import SearchOptions
from tango.retrieval.search import search_path
from tango.retrieval.synthetic import random_features, synthetic_graph


def brute_force_best(graph, features, options) -> float:
    """Best objective over all paths, computed independently of the product's scoring code."""
    steps, nodes, dim = features.steps, graph.num_nodes, graph.dim
    low = np.einsum("tfd,nfd->tn", features.audio_low.reshape(steps, 4, dim).astype(np.float64),
                    graph.motion_low.astype(np.float64)) / 4
    high = features.audio_high.astype(np.float64) @ graph.motion_high.astype(np.float64).T
    score = options.low_weight * low + options.high_weight * high  # (T, N)
    edge_penalty = {}
    for source in range(nodes):
        for edge in range(graph.indptr[source], graph.indptr[source + 1]):
            cont = bool(graph.edge_continue[edge])
            cost = 0.0 if cont else options.jump_penalty + options.edge_cost_weight * float(graph.edge_cost[edge])
            edge_penalty[(source, int(graph.indices[edge]))] = cost
    best = -np.inf
    for path in itertools.product(range(nodes), repeat=steps):
        total = score[0, path[0]]
        for step in range(1, steps):
            pair = (path[step - 1], path[step])
            if pair not in edge_penalty:
                break
            total += score[step, path[step]] - edge_penalty[pair]
            recent = path[max(0, step - options.revisit_window) : step]
            total -= options.revisit_penalty * (options.revisit_window > 0 and path[step] in recent)
        else:
            best = max(best, total)
    return best


def tiny_case(seed: int):
    graph = synthetic_graph(5, dim=8, jumps_per_node=(1, 3), videos=2, seed=seed)
    return graph, random_features(6, 8, seed=seed + 100)


@pytest.mark.parametrize("seed", range(6))
def test_dp_equals_brute_force_without_revisit_penalty(seed):
    graph, features = tiny_case(seed)
    options = SearchOptions(mode="dp", jump_penalty=0.3, edge_cost_weight=0.5, revisit_penalty=0.0)
    result = search_path(graph, features, options)
    assert result.objective == pytest.approx(brute_force_best(graph, features, options), abs=1e-6)
    assert result.path.shape == (6,) and result.path.dtype == np.int32


@pytest.mark.parametrize("seed", range(4))
def test_dp_reports_the_true_objective_of_its_path_with_revisit_penalty(seed):
    graph, features = tiny_case(seed)
    options = SearchOptions(mode="dp", jump_penalty=0.1, revisit_penalty=0.4, revisit_window=3)
    result = search_path(graph, features, options)
    exact = brute_force_best(graph, features, options)
    assert result.objective <= exact + 1e-9  # the DP with revisit penalty is an approximation ...
    no_revisit = search_path(graph, features, dataclasses.replace(options, revisit_penalty=0.0))
    assert result.revisit_count <= no_revisit.revisit_count  # ... that never revisits more


@pytest.mark.parametrize("seed", range(4))
def test_wide_beam_with_recombination_matches_dp(seed):
    graph, features = tiny_case(seed)
    options = SearchOptions(jump_penalty=0.3, revisit_penalty=0.0, beam_width=graph.num_nodes)
    dp = search_path(graph, features, dataclasses.replace(options, mode="dp"))
    beam = search_path(graph, features, dataclasses.replace(options, mode="beam"))
    assert beam.objective == pytest.approx(dp.objective, abs=1e-9)
    assert beam.mode == "beam" and dp.mode == "dp"


@pytest.mark.parametrize("seed", range(3))
def test_exhaustive_beam_equals_brute_force_with_revisit_penalty(seed):
    graph, features = tiny_case(seed)
    options = SearchOptions(
        mode="beam", jump_penalty=0.1, revisit_penalty=0.4, revisit_window=3,
        beam_width=graph.num_nodes**features.steps, beam_distinct_nodes=False,
    )
    result = search_path(graph, features, options)
    assert result.objective == pytest.approx(brute_force_best(graph, features, options), abs=1e-6)
