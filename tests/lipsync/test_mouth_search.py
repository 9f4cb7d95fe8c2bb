"""tango.lipsync.mouth_search: the DP against brute force, runs of real frames, unusable mouths."""
from __future__ import annotations

import itertools

import numpy as np

from tango.lipsync.mouth_search import (MouthBank, MouthSearchConfig, MouthTargets, landmark_distance, path_cost,
                                        search_mouths, unary_costs)


def _bank(rng, frames: int, videos: int = 1, k: int = 3) -> MouthBank:
    next_frame = np.arange(1, frames + 1)
    for end in np.linspace(0, frames, videos + 1).astype(int)[1:]:
        next_frame[end - 1] = -1
    coefficients = rng.normal(size=(frames, k)).astype(np.float32)
    lips = np.repeat(coefficients[:, :2, None], 20, axis=2).transpose(0, 2, 1) * 0.02  # (R, 20, 2)
    return MouthBank(coefficients=coefficients, visemes=rng.integers(0, 3, frames),
                     head_pose=rng.normal(scale=5, size=(frames, 3)).astype(np.float32),
                     usable=np.ones(frames, bool), next_frame=next_frame, lips=lips)


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
    bank = MouthBank(bank.coefficients, None, bank.head_pose, usable, bank.next_frame, bank.lips)
    # targets: the lips of frames 20..29 exactly, pose unknown
    targets = MouthTargets(lips=bank.lips[20:30], visemes=None,
                           head_pose=np.full((10, 3), np.nan, np.float32))
    config = MouthSearchConfig()
    path = search_mouths(unary_costs(targets, bank, config), bank, config)
    np.testing.assert_array_equal(path, np.arange(20, 30))
    targets = MouthTargets(lips=bank.lips[10:20], visemes=None,
                           head_pose=np.full((10, 3), np.nan, np.float32))
    path = search_mouths(unary_costs(targets, bank, config), bank, config)
    assert usable[path].all()


def test_visemes_in_context_drive_the_choice():
    rng = np.random.default_rng(2)
    bank = _bank(rng, 30)
    similarity = np.eye(3, dtype=np.float32)
    targets = MouthTargets(lips=None, visemes=bank.visemes[5:15],
                           head_pose=np.full((10, 3), np.nan, np.float32))
    config = MouthSearchConfig(w_pose=0.0)
    path = search_mouths(unary_costs(targets, bank, config, similarity), bank, config)
    assert (bank.visemes[path] == bank.visemes[5:15]).mean() >= 0.9


def test_landmark_distance_is_the_mean_point_distance():
    rng = np.random.default_rng(3)
    targets, bank = rng.normal(size=(4, 40, 2)), rng.normal(size=(6, 40, 2))
    brute = np.array([[np.linalg.norm(t - b, axis=-1).mean() for b in bank] for t in targets])
    np.testing.assert_allclose(landmark_distance(targets, bank), brute, rtol=1e-5)


def test_shape_term_is_the_landmark_distance_not_a_whitened_one():
    """Two candidates: one off by a little on every point, one exact but for a single point far off. LMD (mean
    point distance) prefers the second; a squared distance of the points would prefer the first."""
    truth = np.zeros((1, 40, 2), np.float32)
    spread = np.full((40, 2), 0.02 / np.sqrt(2), np.float32)  # every point 0.02 away: LMD 0.02
    spike = np.zeros((40, 2), np.float32)
    spike[0, 0] = 0.4  # one point 0.4 away: LMD 0.01, squared distance 0.16 against 0.016
    bank = MouthBank(coefficients=np.zeros((2, 2), np.float32), visemes=None,
                     head_pose=np.zeros((2, 3), np.float32), usable=np.ones(2, bool), next_frame=np.array([-1, -1]),
                     lips=np.stack([spread, spike]))
    targets = MouthTargets(lips=truth, visemes=None, head_pose=np.zeros((1, 3), np.float32))
    unary = unary_costs(targets, bank, MouthSearchConfig())
    assert unary[0, 1] < unary[0, 0]
    np.testing.assert_allclose(unary[0], MouthSearchConfig().w_shape * np.array([0.02, 0.01]), rtol=1e-4)


def test_the_pose_limit_holds_without_a_pose_preference():
    """w_pose 0 (the default) still keeps mouths of heads turned beyond max_pose_deg for when nothing else fits:
    without the limit, 12 % of the demo's frames got a mouth the compositor then refused to paste."""
    rng = np.random.default_rng(4)
    bank = _bank(rng, 4)
    pose = np.zeros((4, 3), np.float32)
    pose[1, 0] = 25.0  # frame 1's head is turned 25 degrees
    bank = MouthBank(bank.coefficients, None, pose, bank.usable, bank.next_frame, bank.lips)
    targets = MouthTargets(lips=bank.lips[1:2], visemes=None, head_pose=np.zeros((1, 3), np.float32))
    config = MouthSearchConfig()
    assert config.w_pose == 0.0
    cost = unary_costs(targets, bank, config)
    assert cost[0, 1] >= config.pose_limit_cost  # its own lips, but a head turned too far
    assert search_mouths(cost, bank, config)[0] != 1


def test_the_search_limit_is_the_compositors():
    """A stricter search limit kept mouths the compositor would paste (the 22 s speaker lost 4 points of LMD
    reduction at 12 degrees); a looser one would choose mouths it refuses."""
    from tango.lipsync.composite import CompositeConfig

    assert MouthSearchConfig().max_pose_deg == CompositeConfig().max_pose_deg
