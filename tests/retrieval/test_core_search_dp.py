"""DP search: constraints, edge validity, planted-path recovery, revisit penalty, memory bound."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from tango.retrieval.baselines import search_random
from tango.retrieval.inputs import RetrievalGraph
from tango.retrieval.memory import estimate_memory_bytes
from tango.retrieval.options import NodePin, SearchOptions, SegmentPin
from tango.retrieval.scoring import find_edges
from tango.retrieval.search import search_path
from tango.retrieval.synthetic import planted_features, random_features, synthetic_graph
from tango.runtime.errors import InvalidArgument, MemoryBoundExceeded


@pytest.fixture(scope="module")
def graph() -> RetrievalGraph:
    return synthetic_graph(300, dim=16, jumps_per_node=(3, 8), videos=3, seed=7)


def planted_walk(graph: RetrievalGraph, steps: int, seed: int) -> np.ndarray:
    return search_random(graph, random_features(steps, graph.dim), SearchOptions(seed=seed)).path


def test_path_uses_only_existing_edges_and_flags_jumps(graph):
    result = search_path(graph, random_features(120, graph.dim, seed=1), SearchOptions(mode="dp"))
    edges = find_edges(graph, result.path[:-1], result.path[1:])
    assert (edges >= 0).all()
    np.testing.assert_array_equal(result.jump[1:], ~graph.edge_continue[edges])
    assert not result.jump[0]
    assert result.jump_count == int(result.jump.sum()) and result.path.dtype == np.int32


def test_continue_only_graph_gives_continuous_path():
    full = synthetic_graph(50, dim=8, jumps_per_node=(0, 0), videos=1, seed=3)
    assert full.edge_continue.all()
    result = search_path(full, random_features(30, 8, seed=2), SearchOptions(mode="dp"))
    np.testing.assert_array_equal(np.diff(result.path), np.ones(29))
    assert result.jump_count == 0


def test_dp_recovers_planted_path_and_beats_baselines(graph):
    path = planted_walk(graph, 80, seed=5)
    features = planted_features(graph, path, noise=0.3, seed=1)
    options = SearchOptions(jump_penalty=0.05, revisit_penalty=0.0)
    dp = search_path(graph, features, dataclasses.replace(options, mode="dp"))
    assert (dp.path == path).mean() >= 0.95
    random = search_path(graph, features, dataclasses.replace(options, mode="random", seed=2))
    onset = search_path(graph, features, dataclasses.replace(options, mode="onset"), onset_frames=np.arange(0, 320, 15))
    assert dp.similarity > random.similarity + 0.5 and dp.similarity > onset.similarity + 0.5
    assert dp.objective >= max(random.objective, onset.objective)


def test_node_pins_start_and_avoid_are_honoured(graph):
    features = random_features(60, graph.dim, seed=4)
    base = search_path(graph, features, SearchOptions(mode="dp"))
    avoid = tuple(int(n) for n in np.unique(base.path)[:10])
    options = SearchOptions(mode="dp", start_node=17, pins=(NodePin(step=30, node=123), NodePin(59, 4)), avoid_nodes=avoid)
    for mode in ("dp", "beam", "random", "onset"):
        result = search_path(graph, features, dataclasses.replace(options, mode=mode), onset_frames=np.arange(0, 240, 9))
        assert result.path[0] == 17 and result.path[30] == 123 and result.path[59] == 4, mode
        assert not np.isin(result.path, avoid).any(), mode
        assert (find_edges(graph, result.path[:-1], result.path[1:]) >= 0).all(), mode


def test_segment_pin_plays_the_source_segment(graph):
    video_one = np.flatnonzero(graph.node_video == 1)
    start_frame = int(graph.node_start_frame[video_one[10]])
    pin = SegmentPin(step=20, video=1, start_frame=start_frame, end_frame=start_frame + 6 * 4)
    result = search_path(graph, random_features(50, graph.dim, seed=8), SearchOptions(mode="dp", segment_pins=(pin,)))
    np.testing.assert_array_equal(result.path[20:26], video_one[10:16])
    assert not result.jump[21:26].any()  # consecutive clips are continue edges


def test_infeasible_pins_are_refused(graph):
    far = int(np.flatnonzero(~np.isin(np.arange(graph.num_nodes), graph.indices[graph.indptr[0]:graph.indptr[1]]))[1])
    options = SearchOptions(mode="dp", pins=(NodePin(0, 0), NodePin(1, far)))
    with pytest.raises(InvalidArgument) as error:
        search_path(graph, random_features(5, graph.dim), options)
    assert error.value.reason == "NO_FEASIBLE_PATH"


def test_revisit_penalty_breaks_short_loops():
    # two nodes that match the audio perfectly and loop into each other, plus a long chain of decoys
    loop = synthetic_graph(40, dim=8, jumps_per_node=(2, 4), seed=11)
    path = np.tile([3, 4], 15)
    indptr, indices, cont, cost = _with_edges(loop, [(3, 4), (4, 3)])
    loop = dataclasses.replace(loop, indptr=indptr, indices=indices, edge_continue=cont, edge_cost=cost)
    features = planted_features(loop, path, noise=0.0)
    free = search_path(loop, features, SearchOptions(mode="dp", revisit_penalty=0.0, jump_penalty=0.0))
    penalised = search_path(loop, features, SearchOptions(mode="dp", revisit_penalty=3.0, revisit_window=4, jump_penalty=0.0))
    assert free.revisit_count >= 25
    assert penalised.revisit_count < free.revisit_count // 2
    assert penalised.objective > -free.cost - 3.0 * free.revisit_count  # better under its own objective


def _with_edges(graph: RetrievalGraph, extra: list[tuple[int, int]]):
    sources = np.concatenate([graph.edge_sources(), [s for s, _ in extra]]).astype(np.int64)
    targets = np.concatenate([graph.indices, [t for _, t in extra]]).astype(np.int32)
    cont = np.concatenate([graph.edge_continue, np.zeros(len(extra), bool)])
    cost = np.concatenate([graph.edge_cost, np.full(len(extra), 0.5, np.float32)])
    order = np.argsort(sources, kind="stable")
    indptr = np.concatenate([[0], np.cumsum(np.bincount(sources, minlength=graph.num_nodes))]).astype(np.int64)
    return indptr, targets[order], cont[order], cost[order]


def test_memory_bound_refuses_before_searching(graph):
    with pytest.raises(MemoryBoundExceeded) as error:
        search_path(graph, random_features(40, graph.dim), SearchOptions(mode="dp", memory_bound_bytes=10_000))
    assert error.value.code == "RESOURCE_EXHAUSTED" and error.value.reason == "MEMORY_BOUND_EXCEEDED"
    big = estimate_memory_bytes(2250, 27000, 540_000, "dp")
    assert 2250 * 27000 * 4 < big < 2 * 1024**3
    assert estimate_memory_bytes(2250, 27000, 540_000, "beam") < big


def test_bench_search_reports_time_and_memory():
    from tango.retrieval.bench import bench_search

    figures = bench_search(500, 40, "dp", dim=16)
    assert figures["nodes"] == 500 and figures["steps"] == 40 and figures["edges"] > 500 * 10
    assert figures["seconds"] > 0 and 40 * 500 * 4 <= figures["peak_bytes"] <= figures["estimate_bytes"]
