"""tango.lipsync.mouth_search: the DP against brute force, runs of real frames, unusable mouths."""
from __future__ import annotations

import itertools

import numpy as np

from tango.lipsync.mouth_search import (MouthBank, MouthSearchConfig, MouthTargets, path_cost, search_mouths,
                                        unary_costs)


def _bank(rng, frames: int, videos: int = 1, k: int = 3) -> MouthBank:
    next_frame = np.arange(1, frames + 1)
    for end in np.linspace(0, frames, videos + 1).astype(int)[1:]:
        next_frame[end - 1] = -1
    return MouthBank(coefficients=rng.normal(size=(frames, k)).astype(np.float32), visemes=rng.integers(0, 3, frames),
                     head_pose=rng.normal(scale=5, size=(frames, 3)).astype(np.float32),
                     usable=np.ones(frames, bool), next_frame=next_frame)


def test_dp_matches_brute_force():
    rng = np.random.default_rng(0)
    config = MouthSearchConfig(jump_sources=64)  # every state: the jump relaxation is exact
    for trial in range(4):
        bank = _bank(rng, 5, videos=1 + trial % 2)
        unary = rng.random((4, 5)).astype(np.float32) * 2
        path = search_mouths(unary, bank, config)
        best = min(path_cost(np.array(p), unary, bank, config) for p in itertools.product(range(5), repeat=4))
        assert abs(path_cost(path, unary, bank, config) - best) < 1e-4


def test_prefers_runs_of_consecutive_frames_and_skips_unusable():
    rng = np.random.default_rng(1)
    bank = _bank(rng, 40)
    usable = bank.usable.copy()
    usable[10:20] = False
    bank = MouthBank(bank.coefficients, None, bank.head_pose, usable, bank.next_frame)
    # targets: the lips of frames 20..29 exactly, pose unknown
    targets = MouthTargets(coefficients=bank.coefficients[20:30], visemes=None,
                           head_pose=np.full((10, 3), np.nan, np.float32))
    config = MouthSearchConfig()
    path = search_mouths(unary_costs(targets, bank, config), bank, config)
    np.testing.assert_array_equal(path, np.arange(20, 30))
    targets = MouthTargets(coefficients=bank.coefficients[10:20], visemes=None,
                           head_pose=np.full((10, 3), np.nan, np.float32))
    path = search_mouths(unary_costs(targets, bank, config), bank, config)
    assert usable[path].all()


def test_visemes_in_context_drive_the_choice():
    rng = np.random.default_rng(2)
    bank = _bank(rng, 30)
    similarity = np.eye(3, dtype=np.float32)
    targets = MouthTargets(coefficients=None, visemes=bank.visemes[5:15],
                           head_pose=np.full((10, 3), np.nan, np.float32))
    config = MouthSearchConfig(w_pose=0.0)
    path = search_mouths(unary_costs(targets, bank, config, similarity), bank, config)
    assert (bank.visemes[path] == bank.visemes[5:15]).mean() >= 0.9
