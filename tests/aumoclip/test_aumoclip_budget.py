"""The fixed training budget (deterministic stopping), the LR schedule and the EMA weights of a checkpoint."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from aumoclip_testkit import synthetic_pair, tiny_config
from safetensors.torch import load_file

from tango.aumoclip.model import AuMoCLIP
from tango.aumoclip.train import (RAW_PREFIX, STATE_TENSORS, TrainConfig, batches_per_epoch, learning_rate_at,
                                  planned_epochs, train)
from tango.aumoclip.weight_average import WeightAverage


BUDGET = TrainConfig(batch_size=4, window_stride_frames=6, warmup_steps=2, learning_rate=3e-3, total_steps=7,
                     ema_decay=0.9)


def test_learning_rate_warms_up_then_decays_to_the_floor():
    cfg = TrainConfig(learning_rate=1e-3, warmup_steps=10, total_steps=110, min_lr_ratio=0.1)
    rates = [learning_rate_at(step, cfg) for step in (0, 9, 10, 60, 110, 500)]
    assert rates[0] == pytest.approx(1e-4) and rates[1] == pytest.approx(1e-3) and rates[2] == pytest.approx(1e-3)
    assert rates[3] == pytest.approx(0.55e-3) and rates[4] == pytest.approx(1e-4) and rates[5] == pytest.approx(1e-4)


def test_default_epochs_follow_the_step_budget_and_runs_repeat_exactly(tmp_path):
    pairs = [synthetic_pair(seconds=3.0, seed=0), synthetic_pair(seconds=3.0, seed=1)]
    config = tiny_config()
    per_epoch = batches_per_epoch(pairs, config.clip_frames, BUDGET)
    epochs = planned_epochs(pairs, config.clip_frames, BUDGET)
    assert epochs == math.ceil(7 / per_epoch)
    first = train(pairs, tmp_path / "a", config, seed=3, train_config=BUDGET)
    second = train(pairs, tmp_path / "b", config, seed=3, train_config=BUDGET)
    assert (first.epochs, first.steps, first.stopped_by) == (epochs, epochs * per_epoch, "epochs")
    assert (second.epochs, second.steps) == (first.epochs, first.steps)
    weights_a, weights_b = (load_file(str(tmp_path / d / "model.safetensors")) for d in ("a", "b"))
    assert all(torch.equal(weights_a[k], weights_b[k]) for k in weights_a)


def test_checkpoint_holds_the_average_and_the_state_the_raw_weights(tmp_path):
    train([synthetic_pair(seconds=3.0)], tmp_path, tiny_config(), seed=0, train_config=BUDGET)
    averaged = load_file(str(tmp_path / "model.safetensors"))
    raw = {k[len(RAW_PREFIX):]: v for k, v in load_file(str(tmp_path / STATE_TENSORS)).items()
           if k.startswith(RAW_PREFIX)}
    assert set(raw) == set(averaged)
    differing = [k for k in raw if raw[k].is_floating_point() and not torch.equal(raw[k], averaged[k])]
    assert len(differing) > len(raw) // 2


def test_weight_average_moves_towards_the_weights_and_restores_them():
    torch.manual_seed(0)
    model = AuMoCLIP(tiny_config())
    average = WeightAverage(model, decay=0.5)
    before = model.audio_low_proj.net[0].weight.detach().clone()
    with torch.no_grad():
        model.audio_low_proj.net[0].weight.add_(1.0)
    average.update(model, step=100)  # decay 0.5: halfway
    with average.applied(model):
        assert torch.allclose(model.audio_low_proj.net[0].weight, before + 0.5)
    assert torch.allclose(model.audio_low_proj.net[0].weight, before + 1.0)
    with pytest.raises(ValueError):
        WeightAverage(model, decay=1.0)


def test_shifted_copies_fill_the_second_half_of_a_batch():
    from tango.aumoclip.train import _with_shifted_copies

    pairs = [synthetic_pair(seconds=3.0, seed=0), synthetic_pair(seconds=5.0, seed=1)]  # 90 and 150 frames
    cfg = TrainConfig(shifted_negatives=(8, 24))
    index, starts = np.array([0, 1, 1, 0, 1, 0]), np.array([0, 20, 30, 10, 0, 5])
    new_index, new_starts = _with_shifted_copies(pairs, index, starts, 30, cfg, np.random.default_rng(0))
    assert new_index.tolist() == [0, 1, 1, 0, 1, 1]
    shift = np.abs(new_starts[3:] - new_starts[:3])
    assert np.all((shift >= 1) & (shift <= 24)) and new_starts[:3].tolist() == [0, 20, 30]
    assert np.all(new_starts[3:] <= np.array([60, 120, 120]))
    off = TrainConfig(shifted_negatives=(0, 0))
    same = _with_shifted_copies(pairs, index, starts, 30, off, np.random.default_rng(0))
    assert same[1] is starts
