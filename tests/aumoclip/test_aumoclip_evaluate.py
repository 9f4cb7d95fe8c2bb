from __future__ import annotations

import numpy as np
import pytest
from aumoclip_testkit import synthetic_pair, tiny_config

from tango.aumoclip.evaluate import (EvalConfig, draw_picks, evaluate, high_level_accuracy, hit_rate, low_level_choices,
                                     onset_baseline_choices, random_low_accuracy)
from tango.aumoclip.model import AuMoCLIP
from tango.runtime.errors import InvalidArgument


def _unit(rows: int, dim: int, seed: int = 0) -> np.ndarray:
    vectors = np.random.default_rng(seed).standard_normal((rows, dim))
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def test_identical_features_score_100_percent():
    config = EvalConfig(picks=500, seed=3)
    features = _unit(200, 16)
    picks = draw_picks(200, config)
    assert picks.min() >= 15 and picks.max() <= 184
    assert hit_rate(low_level_choices(features, features, picks, config), picks, config) == 1.0
    accuracy, candidates = high_level_accuracy(features[:40], features[:40], config)
    assert (accuracy, candidates) == (1.0, 40)


def test_unrelated_features_score_near_random():
    config = EvalConfig(picks=4000, seed=1)
    picks = draw_picks(2000, config)
    accuracy = hit_rate(low_level_choices(_unit(2000, 16, 1), _unit(2000, 16, 2), picks, config), picks, config)
    assert random_low_accuracy(config) == pytest.approx(7 / 31)
    assert abs(accuracy - 7 / 31) < 0.03


def test_high_level_caps_candidates_at_256():
    features = _unit(300, 32)
    accuracy, candidates = high_level_accuracy(features, features, EvalConfig())
    assert (accuracy, candidates) == (1.0, 256)


def test_onset_baseline_finds_a_matching_phase():
    frames = 300
    motion = np.zeros((frames, 2, 15), np.float32)
    beats = np.arange(20, 290, 37)  # irregular-free grid of gestures
    motion[beats, :, 3] = 1.0  # velocity peaks at the beats
    audio = np.zeros(frames * 16000 // 30, np.float32)
    for beat in beats:  # clicks at the same beats
        start = beat * 16000 // 30
        audio[start:start + 400] = np.random.default_rng(beat).standard_normal(400)
    config = EvalConfig(picks=300, seed=0)
    picks = draw_picks(frames, config)
    choices = onset_baseline_choices(audio, motion, picks, config)
    assert np.all(np.abs(choices - picks) < config.search_radius)
    assert hit_rate(choices, picks, config) > 0.9


def test_evaluate_returns_every_figure():
    model = AuMoCLIP(tiny_config())
    pair = synthetic_pair(seconds=3.0)
    result = evaluate(model, pair, EvalConfig(picks=100, clip_stride_s=0.5))
    assert set(result) >= {"low_acc", "high_acc", "low_random", "high_random", "high_candidates",
                           "onset_low_acc", "picks", "seed"}
    assert result["high_candidates"] == 5 and result["high_random"] == pytest.approx(0.2)
    assert 0.0 <= result["low_acc"] <= 1.0 and result["picks"] == 100


def test_too_short_pair_is_rejected():
    with pytest.raises(InvalidArgument):
        draw_picks(20, EvalConfig())
