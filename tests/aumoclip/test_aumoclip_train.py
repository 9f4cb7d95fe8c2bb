from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from aumoclip_testkit import synthetic_pair, tiny_config

from tango.aumoclip.checkpoint import load_checkpoint
from tango.aumoclip.data import gather_clips, pairs_from_perception
from tango.aumoclip.losses import global_infonce, local_contrastive
from tango.aumoclip.model import AuMoCLIP
from tango.aumoclip.speaker import speaker_config, train_speaker_model
from tango.aumoclip.train import TrainConfig, train
from tango.aumoclip.keyframes import KeyframeConfig
from tango.runtime.errors import CheckpointMismatch, InputMismatch

FAST = TrainConfig(batch_size=4, window_stride_frames=6, warmup_steps=1, learning_rate=3e-3)


def test_losses_are_finite_and_decrease_on_a_toy_batch():
    torch.manual_seed(0)
    model = AuMoCLIP(tiny_config())
    pairs = [synthetic_pair(seconds=2.0, seed=s) for s in range(4)]
    batch = gather_clips(pairs, np.arange(4), np.zeros(4, dtype=np.int64), 30)
    wave, motion = torch.from_numpy(batch.wave), torch.from_numpy(batch.motion)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(20):
        (audio_low, audio_high), (motion_low, motion_high) = model(wave, motion)
        loss = global_infonce(audio_high, motion_high, model.scale_high) + \
            local_contrastive(audio_low, motion_low, model.scale_low)
        assert torch.isfinite(loss)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.8 * losses[0]


def test_train_writes_checkpoint_and_resumes(tmp_path):
    config = tiny_config()
    pairs = [synthetic_pair(seconds=3.0, seed=0), synthetic_pair(seconds=3.0, seed=1)]
    calls = []
    first = train(pairs, tmp_path, config, max_minutes=2, epochs=2, seed=5, train_config=FAST,
                  progress=lambda stage, done, total: calls.append((stage, done, total)))
    assert (first.epochs, first.stopped_by) == (2, "epochs") and first.steps > 0
    for name in ("model.safetensors", "config.json", "train_state.safetensors", "train_state.json"):
        assert (tmp_path / name).is_file()
    assert calls and calls[-1] == ("train", first.steps, first.steps)  # progress counts all steps of the run
    state = json.loads((tmp_path / "train_state.json").read_text())
    assert state["epoch"] == 2 and state["step"] == first.steps
    resumed = train(pairs, tmp_path, config, max_minutes=2, epochs=3, seed=5, train_config=FAST)
    assert resumed.epochs == 3 and resumed.steps == first.steps * 3 // 2
    assert len(resumed.history) == 3
    fresh_dir = tmp_path / "fresh"
    fresh = train(pairs, fresh_dir, config, max_minutes=2, epochs=3, seed=5, train_config=FAST)
    assert [h["loss"] for h in fresh.history] == pytest.approx([h["loss"] for h in resumed.history], rel=1e-4)
    assert load_checkpoint(tmp_path).config == config


def test_resume_with_another_config_raises(tmp_path):
    pairs = [synthetic_pair(seconds=3.0)]
    train(pairs, tmp_path, tiny_config(), max_minutes=1, epochs=1, train_config=FAST)
    with pytest.raises(CheckpointMismatch):
        train(pairs, tmp_path, tiny_config(embed_dim=16), max_minutes=1, epochs=2, train_config=FAST)


def test_keyframe_masking_option_trains(tmp_path):
    fast = TrainConfig(batch_size=4, window_stride_frames=6, keyframes=KeyframeConfig(enabled=True, fraction=0.2))
    result = train([synthetic_pair(seconds=3.0)], tmp_path, tiny_config(), max_minutes=1, epochs=1, train_config=fast)
    assert result.epochs == 1 and np.isfinite(result.history[0]["loss"])


def test_wrong_representation_is_rejected(tmp_path):
    with pytest.raises(InputMismatch):
        train([synthetic_pair(joints=33, representation="mediapipe")], tmp_path, tiny_config(), epochs=1)


def test_per_speaker_training_on_a_mediapipe_perception_pair(tmp_path):
    rng = np.random.default_rng(0)
    frames, fps = 150, 30.0
    envelope = np.clip(np.convolve(rng.random(frames) > 0.85, np.ones(4), mode="same"), 0, 1)
    pose = (rng.standard_normal((frames, 33, 3)) * 0.02 + envelope[:, None, None] * 0.1).astype(np.float32)
    pose[40:45] = np.nan  # a few frames without a person
    audio = (rng.standard_normal(80000) * 0.2 * np.repeat(0.05 + envelope, 534)[:80000]).astype(np.float32)
    arrays = {"pose_world": pose, "timestamps_s": np.arange(frames) / fps}
    meta = {"representation": "mediapipe", "fps": fps}
    pairs = pairs_from_perception(arrays, meta, audio)
    config = tiny_config(representation="mediapipe", joints=33)
    result = train_speaker_model(pairs, tmp_path, max_minutes=1, epochs=2, config=config)
    model = load_checkpoint(tmp_path)
    low, high = model.embed_motion(torch.from_numpy(pairs[0].motion[None, :60]))
    assert result.epochs == 2 and low.shape == (1, 60, 8) and high.shape == (1, 8)


def test_speaker_config_follows_the_representation():
    assert speaker_config("mediapipe").joints == 33 and speaker_config("smplx").joints == 55
