"""Online DP: equals the offline DP with full look-ahead, never revises a commitment, stays in the graph."""
from __future__ import annotations

import dataclasses
import time

import numpy as np
import pytest

from tango.retrieval.options import NodePin, SearchOptions
from tango.retrieval.scoring import evaluate_path, find_edges
from tango.retrieval.search_dp import search_dp
from tango.retrieval.search_online import CommittedStep, OnlineSearch
from tango.retrieval.synthetic import random_features, synthetic_graph
from tango.runtime.errors import FailedPrecondition, InputMismatch, InvalidArgument

OPTIONS = SearchOptions(jump_penalty=0.3, edge_cost_weight=0.25, revisit_penalty=0.5, revisit_window=8)


def stream(search: OnlineSearch, features, seed: int, sizes: tuple[int, int] = (1, 5)):
    """Pushes the features in chunks of random sizes; returns (steps committed by pushes, all steps)."""
    rng, step, committed, after_push = np.random.default_rng(seed), 0, [], []
    while step < features.steps:
        size = min(int(rng.integers(sizes[0], sizes[1] + 1)), features.steps - step)
        new = search.push(features.audio_low[4 * step: 4 * (step + size)], features.audio_high[step: step + size])
        assert [c.step for c in new] == list(range(len(committed), len(committed) + len(new)))
        committed += new
        step += size
        assert search.steps_committed == len(committed) == max(0, step - search.lookahead_steps - 1)
        after_push.append(list(committed))
    pushed = len(committed)
    committed += search.finish()
    for earlier in after_push:  # what was handed out is a prefix of the final path
        assert committed[: len(earlier)] == earlier
    return pushed, committed


def case(seed: int, nodes: int = 300, steps: int = 120):
    graph = synthetic_graph(nodes, dim=16, jumps_per_node=(3, 8), videos=3, seed=seed)
    return graph, random_features(steps, 16, seed=seed + 10)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("options", [
    OPTIONS,
    dataclasses.replace(OPTIONS, revisit_penalty=0.0, edge_cost_weight=0.0),
    dataclasses.replace(OPTIONS, revisit_penalty=2.0, revisit_window=3, edge_cost_weight=1.0, start_node=5),
], ids=["default", "no-revisit-no-edge-cost", "strong-revisit-start"])
def test_full_lookahead_equals_offline_dp(seed, options):
    graph, features = case(seed)
    offline = search_dp(graph, features, options)
    search = OnlineSearch(graph, options, lookahead_steps=features.steps)
    pushed, committed = stream(search, features, seed)
    assert pushed == 0
    np.testing.assert_array_equal([c.node for c in committed], offline.path)
    np.testing.assert_array_equal([c.jump for c in committed], offline.jump)
    np.testing.assert_array_equal([c.revisit for c in committed], offline.revisit)
    np.testing.assert_allclose([c.difficulty for c in committed if c.jump], offline.jump_difficulty)
    np.testing.assert_allclose([c.similarity for c in committed], offline.step_similarity)
    stats = search.stats
    assert stats.objective == pytest.approx(offline.objective, abs=1e-9)
    assert (stats.steps, stats.jumps, stats.revisits) == (offline.steps, offline.jump_count, offline.revisit_count)
    assert stats.mean_similarity == pytest.approx(offline.similarity)
    assert search.typical_jump_difficulty == offline.typical_jump_difficulty


@pytest.mark.parametrize("lookahead", [0, 2, 8])
@pytest.mark.parametrize("seed", range(3))
def test_commitments_are_final_and_the_rest_is_the_pinned_offline_optimum(seed, lookahead):
    graph, features = case(seed)
    search = OnlineSearch(graph, OPTIONS, lookahead)
    pushed, committed = stream(search, features, seed + 100)
    path = np.array([c.node for c in committed], dtype=np.int32)
    assert path.shape == (features.steps,) and pushed == features.steps - lookahead - 1
    assert (find_edges(graph, path[:-1], path[1:]) >= 0).all()
    # the rebuild after each commitment is exact: the tail equals search_dp with every commitment pinned
    pins = tuple(NodePin(step, int(path[step])) for step in range(pushed))
    pinned = search_dp(graph, features, dataclasses.replace(OPTIONS, pins=pins))
    np.testing.assert_array_equal(pinned.path, path)
    result = evaluate_path(graph, features, OPTIONS, path, mode="dp", search_seconds=0.0)
    assert search.stats.objective == pytest.approx(result.objective, abs=1e-9)
    np.testing.assert_array_equal([c.jump for c in committed], result.jump)


def test_avoid_and_start_node_are_respected_and_window_stays_bounded():
    graph, features = case(3, steps=200)
    avoid = tuple(int(n) for n in np.unique(search_dp(graph, features, OPTIONS).path)[:15])
    options = dataclasses.replace(OPTIONS, avoid_nodes=avoid, start_node=42)
    search = OnlineSearch(graph, options, lookahead_steps=4)
    committed = []
    for step in range(features.steps):
        committed += search.push(features.audio_low[4 * step: 4 * step + 4], features.audio_high[step: step + 1])
        assert search.steps_pushed - search.steps_committed <= 5  # back-pointers of the window only
        assert len(search._backpointers) <= 5
    committed += search.finish()
    path = np.array([c.node for c in committed])
    assert path[0] == 42 and not np.isin(path, avoid).any()
    assert (find_edges(graph, path[:-1], path[1:]) >= 0).all()


def test_empty_pushes_bad_shapes_pins_and_finished_streams():
    graph, features = case(0, steps=10)
    search = OnlineSearch(graph, OPTIONS, 2)
    assert search.push(np.zeros((0, 16), np.float32), np.zeros((0, 16), np.float32)) == []
    assert search.push(np.zeros((0, 0)), np.zeros((0, 0))) == []  # k=0 before the feature width is known
    with pytest.raises(InputMismatch):
        search.push(features.audio_low[:8], features.audio_high[:1])
    with pytest.raises(InputMismatch):
        search.push(features.audio_low[:4, :8], features.audio_high[:1, :8])
    with pytest.raises(InvalidArgument) as error:
        search.push(np.full((4, 16), np.nan, np.float32), features.audio_high[:1])
    assert error.value.reason == "NON_FINITE_FEATURES"
    assert search.finish() == []
    with pytest.raises(FailedPrecondition):
        search.push(features.audio_low[:4], features.audio_high[:1])
    with pytest.raises(InvalidArgument) as error:
        OnlineSearch(graph, dataclasses.replace(OPTIONS, pins=(NodePin(3, 1),)), 2)
    assert error.value.reason == "PINS_NOT_SUPPORTED_ONLINE"
    with pytest.raises(InvalidArgument):
        OnlineSearch(graph, OPTIONS, -1)


def test_committed_step_is_frozen():
    step = CommittedStep(step=0, node=1, jump=False, difficulty=0.0, similarity=0.5)
    with pytest.raises(dataclasses.FrozenInstanceError):
        step.node = 2  # type: ignore[misc]


def test_lookahead_objective_against_offline(capsys):
    """Measures online vs offline objective (no tight assert: a figure for the record)."""
    figures = {}
    for lookahead in (4, 8):
        ratios = []
        for seed in range(4):
            graph, features = case(seed, steps=150)
            offline = search_dp(graph, features, OPTIONS)
            search = OnlineSearch(graph, OPTIONS, lookahead)
            _, committed = stream(search, features, seed, sizes=(2, 2))
            ratios.append((search.stats.objective / offline.objective,
                           search.stats.mean_similarity / offline.similarity))
        figures[lookahead] = np.mean(ratios, axis=0)
    with capsys.disabled():
        for lookahead, (objective, similarity) in figures.items():
            print(f"\nonline/offline lookahead {lookahead}: objective {objective:.3f}, mean similarity {similarity:.3f}")
    assert figures[8][0] > 0.8 and figures[8][0] >= figures[4][0] - 0.02


def test_push_cost_per_step(capsys):
    """Times push on a ~700-node graph (the size of a 22 s speaker's graph); no timing assert."""
    graph = synthetic_graph(700, dim=32, seed=1)
    features = random_features(200, 32, seed=2)
    search = OnlineSearch(graph, OPTIONS, lookahead_steps=8)
    started = time.perf_counter()
    for step in range(0, features.steps, 2):  # a live feature hop of 8 frames = 2 steps per push
        search.push(features.audio_low[4 * step: 4 * step + 8], features.audio_high[step: step + 2])
    per_step = (time.perf_counter() - started) / features.steps * 1e3
    search.finish()
    with capsys.disabled():
        print(f"\npush: {per_step:.2f} ms/step ({graph.num_nodes} nodes, {graph.num_edges} edges, lookahead 8, "
              f"2 steps per push)")
    assert search.stats.steps == features.steps
