"""Jump difficulty in retrieval: d_ij + head turn; weighting it picks easier jumps at a small similarity cost."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from tango.graph.build import NO_FACE_TURN_DEG, head_turns
from tango.graph.inputs import InMemoryPerception
from tango.retrieval.options import SearchOptions
from tango.retrieval.scoring import edge_difficulty
from tango.retrieval.search import search_path
from tango.retrieval.synthetic import random_features, synthetic_graph
from tango.runtime.errors import InvalidArgument


def test_head_turns_across_junctions():
    pose = np.zeros((12, 3), np.float32)
    pose[4:8] = [30.0, -5.0, 2.0]  # clip 1 turned by 30 degrees
    pose[8:12] = np.nan  # clip 2: no face
    artifact = InMemoryPerception(arrays={"head_pose": pose})
    frames = np.arange(12).reshape(3, 4)
    turns = head_turns([artifact], np.zeros(3, np.int64), frames, np.array([0, 1, 0, 2]), np.array([1, 0, 2, 2]))
    np.testing.assert_allclose(turns, [30.0, 30.0, NO_FACE_TURN_DEG, 0.0])
    without = InMemoryPerception(arrays={})
    assert not head_turns([without], np.zeros(3, np.int64), frames, np.array([0]), np.array([1])).any()


def test_weighting_difficulty_picks_easier_jumps():
    rng = np.random.default_rng(3)
    graph = synthetic_graph(300, dim=16, seed=3)
    graph = dataclasses.replace(graph, edge_turn=np.where(graph.edge_continue, 0.0,
                                                          rng.uniform(0, 40, graph.num_edges)).astype(np.float32))
    features = random_features(120, 16, seed=4)
    plain = search_path(graph, features, SearchOptions(jump_penalty=0.1, edge_cost_weight=0.0))
    weighted = search_path(graph, features, SearchOptions(jump_penalty=0.1, edge_cost_weight=0.1))
    difficulty = edge_difficulty(graph, SearchOptions())
    assert difficulty.max() > graph.edge_cost.max()  # the turn counts
    mean = [r.edge_cost_sum / max(int(r.jump.sum()), 1) for r in (plain, weighted)]
    assert mean[1] < mean[0]
    assert weighted.similarity >= 0.8 * plain.similarity


def test_bad_difficulty_options():
    graph = synthetic_graph(20, dim=8)
    for options in (SearchOptions(edge_cost_weight=float("nan")), SearchOptions(turn_scale_deg=0.0),
                    SearchOptions(jump_penalty=float("nan")), SearchOptions(low_weight=float("inf"))):
        with pytest.raises(InvalidArgument):
            search_path(graph, random_features(6, 8), options)
