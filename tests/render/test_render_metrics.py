"""Output metrics: beat consistency, diversity, hand clarity, path gathering."""
from __future__ import annotations

import numpy as np
import pytest

from tango.render.metrics import (audio_onsets, beat_consistency, diversity, mean_hand_clarity, motion_beats,
                                  motion_metrics, motion_speed)
from tango.render.plan import gather_path_frames

RATE = 16000
FPS = 30.0
ONSETS_S = np.array([0.5, 1.2, 1.8, 2.7, 3.3, 4.1, 4.6, 5.5, 6.2, 7.0])


def click_track(seconds: float = 8.0) -> np.ndarray:
    rng = np.random.default_rng(0)
    audio = rng.normal(0, 0.001, int(seconds * RATE)).astype(np.float32)
    for t in ONSETS_S:
        at = int(t * RATE)
        audio[at : at + 800] += rng.normal(0, 0.5, 800).astype(np.float32) * np.exp(-np.arange(800) / 200)
    return audio


def motion_with_minima_at(times_s: np.ndarray, seconds: float = 8.0, joints: int = 5) -> np.ndarray:
    """(F, J, 3) positions whose speed is the distance (in s) to the nearest of `times_s` (+ a floor)."""
    frames = int(seconds * FPS)
    mid = (np.arange(frames - 1) + 0.5) / FPS  # time of each speed sample
    speed = 0.05 + np.min(np.abs(mid[:, None] - times_s[None, :]), axis=1)  # (F-1,)
    x = np.concatenate([[0.0], np.cumsum(speed / FPS)])  # (F,)
    positions = np.zeros((frames, joints, 3))
    positions[:, :, 0] = x[:, None] + np.arange(joints)[None, :]
    return positions


def test_onsets_found_at_clicks():
    onsets = audio_onsets(click_track(), RATE)
    nearest = np.min(np.abs(onsets[:, None] - ONSETS_S[None, :]), axis=1)
    assert len(onsets) >= len(ONSETS_S) - 1
    assert np.median(nearest) < 0.03


def test_motion_beats_are_speed_minima():
    positions = motion_with_minima_at(ONSETS_S)
    assert motion_speed(positions, FPS).shape == (239,)
    beats = motion_beats(positions, FPS)
    assert np.abs(beats[:, None] - ONSETS_S[None, :]).min(axis=1).max() <= 1 / FPS


def test_beat_consistency_aligned_beats_score_higher_than_shifted():
    audio = click_track()
    aligned = motion_metrics(motion_with_minima_at(ONSETS_S), FPS, audio, RATE)
    shifted = motion_metrics(motion_with_minima_at(ONSETS_S + 0.25), FPS, audio, RATE)
    assert aligned["beat_consistency"] > 0.8
    assert aligned["beat_consistency"] > shifted["beat_consistency"] + 0.3
    assert aligned["motion_beats"] > 0 and aligned["audio_onsets"] > 0


def test_beat_consistency_formula():
    onsets = np.array([1.0, 2.0])
    assert beat_consistency(onsets, onsets) == pytest.approx(1.0)
    assert beat_consistency(np.array([1.1]), onsets) == pytest.approx(np.exp(-0.5))
    assert beat_consistency(np.zeros(0), onsets) == 0.0


def test_diversity():
    assert diversity(np.ones((40, 5, 3))) == 0.0
    two = np.zeros((8, 2, 3))
    two[4:, 0, 0] = 1.0  # second clip differs in 4 coordinates by 1 -> distance 2
    assert diversity(two) == pytest.approx(2.0)
    rng = np.random.default_rng(1)
    assert diversity(rng.normal(size=(4000, 33, 3)), pairs=500) > 0


def test_mean_hand_clarity_ignores_missing_hands():
    clarity = np.array([[10.0, np.nan], [np.nan, 20.0], [np.nan, np.nan]], np.float32)
    assert mean_hand_clarity(clarity) == pytest.approx(15.0)
    assert mean_hand_clarity(np.full((3, 2), np.nan)) is None


def test_gather_path_frames_follows_the_render_layout():
    per_video = [np.arange(10) * 10, np.arange(6) * 100]
    out = gather_path_frames(per_video, np.array([0, 1]), np.array([4, 0]), 10)
    assert out.tolist() == [40, 50, 60, 70, 0, 100, 200, 300, 400, 500]
    held = gather_path_frames(per_video, np.array([1]), np.array([4]), 4)
    assert held.tolist() == [400, 500, 500, 500]
