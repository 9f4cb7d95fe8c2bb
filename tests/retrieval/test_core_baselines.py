"""Onset-matching and random-walk baselines, and beam search on a planted path."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from support import shared_media

from tango.retrieval.baselines import node_velocity_peaks, step_onset_offsets
from tango.retrieval.inputs import TargetFeatures
from tango.retrieval.options import SearchOptions
from tango.retrieval.scoring import find_edges
from tango.retrieval.search import search_path
from tango.retrieval.synthetic import planted_features, random_features, synthetic_graph


@pytest.fixture(scope="module")
def graph():
    return synthetic_graph(400, dim=16, jumps_per_node=(10, 20), videos=2, seed=21)


def test_step_onset_offsets_takes_first_onset_of_each_step():
    offsets = step_onset_offsets(np.array([1, 2, 9, 15, 100]), steps=5)
    np.testing.assert_array_equal(offsets, [1, -1, 1, 3, -1])


def test_onset_walk_puts_velocity_peaks_on_onsets(graph):
    onsets = np.arange(2, 600, 14)  # ~2 onsets per second, at varying offsets inside the steps
    result = search_path(graph, random_features(150, graph.dim), SearchOptions(mode="onset"), onset_frames=onsets)
    peak_frame, strength = node_velocity_peaks(graph.motion)
    offsets = step_onset_offsets(onsets, 150)
    onset_steps = np.flatnonzero(offsets >= 0)
    nodes = result.path[onset_steps]
    hit = (np.abs(peak_frame[nodes] - offsets[onset_steps]) <= 2) & (strength[nodes] >= np.median(strength))
    assert hit.mean() >= 0.9
    random = search_path(graph, random_features(150, graph.dim), SearchOptions(mode="random", seed=1))
    random_nodes = random.path[onset_steps]
    random_hit = (np.abs(peak_frame[random_nodes] - offsets[onset_steps]) <= 2) & (
        strength[random_nodes] >= np.median(strength)
    )
    assert hit.mean() > random_hit.mean() + 0.3
    assert result.jump_count < random.jump_count / 2  # it follows the source video between onsets
    assert (find_edges(graph, result.path[:-1], result.path[1:]) >= 0).all()


def test_random_walk_is_seeded(graph):
    features = random_features(100, graph.dim)
    first = search_path(graph, features, SearchOptions(mode="random", seed=3))
    again = search_path(graph, features, SearchOptions(mode="random", seed=3))
    other = search_path(graph, features, SearchOptions(mode="random", seed=4))
    np.testing.assert_array_equal(first.path, again.path)
    assert (first.path != other.path).any()
    assert first.mode == "random" and first.similarity == pytest.approx(first.step_similarity.mean())


def test_beam_recovers_planted_path(graph):
    walk = search_path(graph, random_features(60, graph.dim), SearchOptions(mode="random", seed=9)).path
    features = planted_features(graph, walk, noise=0.3, seed=2)
    beam = search_path(graph, features, SearchOptions(mode="beam", beam_width=16, jump_penalty=0.05))
    assert (beam.path == walk).mean() >= 0.95


def test_onset_mode_on_real_speech(graph):
    wav = shared_media("audio/s2g_001.wav")
    os.environ.setdefault("NUMBA_CACHE_DIR", str(Path(__file__).resolve().parents[2] / ".numba-cache"))
    import librosa

    waveform, rate = librosa.load(str(wav), sr=16_000, mono=True)
    steps = int(len(waveform) / rate * 30) // 4
    base = random_features(steps, graph.dim)
    features = TargetFeatures(audio_low=base.audio_low, audio_high=base.audio_high, waveform=waveform, sample_rate=rate)
    result = search_path(graph, features, SearchOptions(mode="onset"))
    assert result.path.shape == (steps,) and result.mode == "onset"
    assert 0 < result.jump_count < steps // 2
    assert (find_edges(graph, result.path[:-1], result.path[1:]) >= 0).all()
