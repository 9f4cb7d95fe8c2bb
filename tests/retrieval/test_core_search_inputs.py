"""Per-step feature construction and refusal of bad inputs and options."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from tango.retrieval.features import step_features
from tango.retrieval.inputs import RetrievalGraph, TargetFeatures
from tango.retrieval.options import NodePin, SearchOptions, SegmentPin
from tango.retrieval.search import search_path
from tango.retrieval.synthetic import random_features, synthetic_graph
from tango.runtime.errors import GraphTooSmall, InputMismatch, InvalidArgument


@pytest.fixture(scope="module")
def graph():
    return synthetic_graph(30, dim=8, jumps_per_node=(2, 4), seed=5)


def test_step_features_pads_frames_and_picks_covering_windows():
    rng = np.random.default_rng(0)
    frames = rng.standard_normal((250, 8)).astype(np.float32)  # 250 frames -> 63 steps (last padded)
    windows = rng.standard_normal((5, 8)).astype(np.float32)  # 4 s windows every 60 frames
    features = step_features(frames, windows, high_hop_frames=60)
    assert features.audio_low.shape == (63 * 4, 8) and features.audio_high.shape == (63, 8)
    np.testing.assert_allclose(np.linalg.norm(features.audio_low, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(features.audio_low[250:], np.repeat(features.audio_low[249:250], 2, axis=0))
    unit = windows / np.linalg.norm(windows, axis=1, keepdims=True)
    np.testing.assert_allclose(features.audio_high[0], unit[0], rtol=1e-5)  # frames 0-3: window 0 (0-119)
    np.testing.assert_allclose(features.audio_high[30], unit[1], rtol=1e-5)  # frames 120-123: centre 121.5 -> window 1
    np.testing.assert_allclose(features.audio_high[62], unit[3], rtol=1e-5)  # frames 248-251 -> window 3 (180-299)


def test_step_features_refuses_empty_and_mismatched():
    with pytest.raises(InvalidArgument) as error:
        step_features(np.zeros((0, 8)), np.ones((1, 8)), 60)
    assert error.value.reason == "EMPTY_FEATURES"
    with pytest.raises(InputMismatch):
        step_features(np.ones((8, 8)), np.ones((1, 6)), 60)


def test_dimension_mismatch_is_input_mismatch(graph):
    with pytest.raises(InputMismatch) as error:
        search_path(graph, random_features(10, 16), SearchOptions())
    assert error.value.reason == "INPUT_MISMATCH" and error.value.code == "INVALID_ARGUMENT"
    bad_low = TargetFeatures(audio_low=np.ones((7, 8), np.float32), audio_high=np.ones((2, 8), np.float32))
    with pytest.raises(InputMismatch):
        search_path(graph, bad_low, SearchOptions())


def test_zero_length_and_non_finite_features_are_refused(graph):
    empty = TargetFeatures(audio_low=np.zeros((0, 8), np.float32), audio_high=np.zeros((0, 8), np.float32))
    with pytest.raises(InvalidArgument) as error:
        search_path(graph, empty, SearchOptions())
    assert error.value.reason == "EMPTY_FEATURES"
    features = random_features(4, 8)
    features.audio_high[1, 2] = np.nan
    with pytest.raises(InvalidArgument) as error:
        search_path(graph, features, SearchOptions())
    assert error.value.reason == "NON_FINITE_FEATURES"


@pytest.mark.parametrize(
    "options, reason",
    [
        (SearchOptions(start_node=30), "START_NODE_OUT_OF_RANGE"),
        (SearchOptions(start_node=-1), "START_NODE_OUT_OF_RANGE"),
        (SearchOptions(avoid_nodes=(99,)), "NODE_OUT_OF_RANGE"),
        (SearchOptions(pins=(NodePin(step=10, node=1),)), "PIN_STEP_OUT_OF_RANGE"),
        (SearchOptions(pins=(NodePin(2, 1), NodePin(2, 3))), "CONFLICTING_CONSTRAINTS"),
        (SearchOptions(pins=(NodePin(2, 1),), avoid_nodes=(1,)), "CONFLICTING_CONSTRAINTS"),
        (SearchOptions(segment_pins=(SegmentPin(0, video=5, start_frame=0, end_frame=8),)), "SEGMENT_NOT_IN_GRAPH"),
        (SearchOptions(mode="greedy"), "UNKNOWN_SEARCH_MODE"),
        (SearchOptions(beam_width=0), "INVALID_SEARCH_OPTION"),
    ],
)
def test_bad_options_are_refused(graph, options, reason):
    for mode in ("dp", "beam") if options.mode == "dp" else (options.mode,):
        with pytest.raises(InvalidArgument) as error:
            search_path(graph, random_features(10, 8), dataclasses.replace(options, mode=mode))
        assert error.value.reason == reason


def test_bad_graphs_are_refused(graph):
    with pytest.raises(InputMismatch):
        search_path(dataclasses.replace(graph, indices=graph.indices + 100), random_features(3, 8), SearchOptions())
    with pytest.raises(InputMismatch):
        search_path(dataclasses.replace(graph, motion_high=graph.motion_high[:-1]), random_features(3, 8), SearchOptions())
    empty = RetrievalGraph(
        indptr=np.zeros(1, np.int64), indices=np.zeros(0, np.int32), edge_continue=np.zeros(0, bool),
        edge_cost=np.zeros(0, np.float32), motion_low=np.zeros((0, 4, 8), np.float32),
        motion_high=np.zeros((0, 8), np.float32),
    )
    with pytest.raises(GraphTooSmall):
        search_path(empty, random_features(3, 8), SearchOptions())


def test_onset_mode_needs_waveform_and_motion(graph):
    with pytest.raises(InputMismatch):
        search_path(graph, random_features(5, 8), SearchOptions(mode="onset"))
    with pytest.raises(InputMismatch):
        search_path(dataclasses.replace(graph, motion=None), random_features(5, 8), SearchOptions(mode="onset"), onset_frames=np.arange(3))


def test_graph_from_npz_arrays_round_trip(graph, tmp_path):
    arrays = {field.name: getattr(graph, field.name) for field in dataclasses.fields(graph)
              if getattr(graph, field.name) is not None}
    np.savez_compressed(tmp_path / "graph.npz", **arrays)
    with np.load(tmp_path / "graph.npz", allow_pickle=False) as loaded:
        rebuilt = RetrievalGraph.from_arrays(dict(loaded))
    a = search_path(graph, random_features(12, 8), SearchOptions())
    b = search_path(rebuilt, random_features(12, 8), SearchOptions())
    np.testing.assert_array_equal(a.path, b.path)
