"""Loudness following (`tango.retrieval.energy`): loud steps favour energetic nodes, quiet steps calm ones."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from tango.retrieval.energy import step_loudness
from tango.retrieval.features import step_features
from tango.retrieval.inputs import FRAMES_PER_STEP, node_speed
from tango.retrieval.options import SearchOptions
from tango.retrieval.scoring import evaluate_path
from tango.retrieval.search import search_path
from tango.retrieval.synthetic import random_features, synthetic_graph

SR, FPS = 16_000, 30.0


def _speech(loudness: np.ndarray, seed: int = 0) -> np.ndarray:
    """Noise whose level follows (steps,) amplitudes, one per 4-frame step."""
    samples = np.repeat(loudness, int(SR * FRAMES_PER_STEP / FPS))
    return (np.random.default_rng(seed).standard_normal(samples.shape[0]) * samples * 0.1).astype(np.float32)


def test_step_loudness_is_standardised_and_follows_the_level():
    levels = np.r_[np.full(30, 0.1), np.full(30, 1.0)]
    loudness = step_loudness(_speech(levels), SR, FPS, 60)
    assert loudness.shape == (60,) and loudness.dtype == np.float32
    assert loudness.mean() == pytest.approx(0.0, abs=1e-5) and loudness.std() == pytest.approx(1.0, abs=1e-4)
    assert loudness[:25].max() < 0 < loudness[35:].min()
    # a constant level is no signal at all
    assert not step_loudness(np.full(SR, 0.1, np.float32), SR, FPS, 7).any()


def test_features_carry_loudness_only_with_their_waveform():
    low, high = np.ones((40, 8), np.float32), np.ones((2, 8), np.float32)
    assert step_features(low, high, 30).loudness is None
    features = step_features(low, high, 30, waveform=_speech(np.linspace(0.1, 1.0, 10)))
    assert features.loudness.shape == (10,)


def test_node_energy_ranks_nodes_by_speed():
    graph = synthetic_graph(50, seed=3)
    energy = graph.node_energy
    assert energy.shape == (50,) and energy.mean() == pytest.approx(0.0, abs=1e-5)
    angular = np.linalg.norm(graph.motion[..., 12:15], axis=-1).mean(axis=-1)
    order = np.argsort((node_speed(graph.motion) + angular).mean(axis=1))
    assert np.all(np.diff(energy[order]) >= 0)
    assert dataclasses.replace(graph, motion=None).node_energy is None


def test_the_path_follows_the_loudness_and_its_objective_counts_it():
    graph = synthetic_graph(300, seed=1)
    steps = 80
    levels = np.where((np.arange(steps) // 10) % 2 == 0, 0.05, 1.0)  # quiet and loud stretches
    features = dataclasses.replace(random_features(steps, seed=2), waveform=_speech(levels))
    features = dataclasses.replace(features, loudness=step_loudness(features.waveform, SR, FPS, steps))

    def energy_corr(options: SearchOptions) -> tuple[float, object]:
        result = search_path(graph, features, options)
        return float(np.corrcoef(graph.node_energy[result.path], features.loudness)[0, 1]), result

    without, _ = energy_corr(SearchOptions(energy_weight=0.0))
    with_energy, result = energy_corr(SearchOptions(energy_weight=0.5))
    assert with_energy > without + 0.3 and with_energy > 0.5
    # the reported similarity is AuMoCLIP's alone; the objective (cost) adds the loudness term
    plain = evaluate_path(graph, features, SearchOptions(energy_weight=0.0), result.path, mode="dp", search_seconds=0)
    assert result.similarity == pytest.approx(plain.similarity)
    bonus = 0.5 * float(np.dot(features.loudness, graph.node_energy[result.path]))
    assert result.cost == pytest.approx(plain.cost - bonus, rel=1e-5)
    # no waveform (features sent as arrays), no loudness term: the search is AuMoCLIP's alone
    bare = dataclasses.replace(features, loudness=None)
    assert np.array_equal(search_path(graph, bare, SearchOptions(energy_weight=0.5)).path,
                          search_path(graph, bare, SearchOptions(energy_weight=0.0)).path)


def test_a_bad_energy_weight_is_refused():
    from tango.runtime.errors import InvalidArgument

    graph = synthetic_graph(20, dim=8)
    with pytest.raises(InvalidArgument) as error:
        search_path(graph, random_features(5, dim=8), SearchOptions(energy_weight=float("nan")))
    assert error.value.reason == "INVALID_SEARCH_OPTION"


def test_the_weight_travels_in_the_request_and_defaults_to_the_service():
    from tango.retrieval.servicer import options_from_message
    from tango.retrieval.v1 import retrieval_service_pb2 as pb

    assert options_from_message(0, pb.SearchOptions()).energy_weight == SearchOptions().energy_weight > 0
    assert options_from_message(0, pb.SearchOptions(energy_weight=0.0)).energy_weight == 0.0
