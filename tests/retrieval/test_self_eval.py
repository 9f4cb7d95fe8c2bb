"""Self-reenactment evaluation (`tango.retrieval.self_eval`, `tango reenact eval`) on synthetic speakers."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from tango.aumoclip.checkpoint import save_checkpoint
from tango.aumoclip.config import AuMoCLIPConfig
from tango.aumoclip.model import AuMoCLIP
from tango.cli.main import main
from tango.graph.synthetic import synthetic_perception
from tango.retrieval.inputs import FRAMES_PER_STEP
from tango.retrieval.self_eval import (MODES, SelfEvalConfig, beat_alignment, correlation, crop_perception,
                                       motion_energy, self_reenact)

FPS, SR = 30, 16000


def _tiny_model() -> AuMoCLIP:
    torch.manual_seed(0)
    config = AuMoCLIPConfig.for_representation(
        "mediapipe", clip_seconds=1.0, embed_dim=8, audio_conv_channels=(8, 8, 8, 8, 8, 8, 16),
        audio_context_layers=1, motion_hidden=16, motion_layers=3, motion_low_layers=1, motion_kernel=3,
        transformer_dim=16, transformer_heads=2, transformer_ff=32, dropout=0.0, joint_dropout=0.0)
    return AuMoCLIP(config).eval()


def _speaker(seconds: float = 12.0, seed: int = 0) -> tuple[dict, dict, np.ndarray]:
    """A synthetic perception and audio whose loudness follows the motion's speed."""
    perception = synthetic_perception(int(seconds * FPS), seed=seed)
    pose = perception.arrays["pose_world"]
    speed = np.r_[0.0, np.linalg.norm(np.diff(pose, axis=0), axis=-1).mean(-1)]  # (F,)
    envelope = np.repeat(speed / (speed.max() + 1e-9), SR // FPS)
    rng = np.random.default_rng(seed)
    audio = (rng.standard_normal(envelope.shape[0]) * (0.05 + envelope) * 0.3).astype(np.float32)
    return perception.arrays, perception.meta, audio


def test_metrics_on_known_curves():
    t = np.arange(90)
    motion = np.zeros((90, 2, 15))
    motion[..., 3] = (1.0 + np.sin(2 * np.pi * t / 15))[:, None]  # speed peaks every 15 frames
    energy = motion_energy(motion, 5)
    assert energy.shape == (90,)
    assert correlation(energy, energy) == pytest.approx(1.0)
    assert correlation(energy, -energy) == pytest.approx(-1.0)
    assert correlation(energy, np.ones(90)) == 0.0
    peaks = np.arange(4, 90, 15)  # sin peaks at t = 15k + 3.75
    assert beat_alignment(motion, peaks, 3.0) > 0.9
    assert beat_alignment(motion, peaks + 7, 3.0) < 0.1
    assert beat_alignment(motion, np.zeros(0, np.int64), 3.0) == 0.0


def test_crop_perception_cuts_every_per_frame_array():
    perception = synthetic_perception(90)
    cropped = crop_perception(perception.arrays, perception.meta, 2.0)
    assert cropped.meta["frames"] == 60 and cropped.meta["duration_s"] == pytest.approx(2.0)
    assert cropped.arrays["pose_world"].shape[0] == 60
    middle = crop_perception(perception.arrays, perception.meta, 2.0, start_s=1.0)
    assert middle.meta["frames"] == 30
    np.testing.assert_array_equal(middle.arrays["pose_world"], perception.arrays["pose_world"][30:60])
    np.testing.assert_array_equal(cropped.arrays["mask_shape"], perception.arrays["mask_shape"])


def test_self_reenact_reports_every_mode(tmp_path):
    arrays, meta, audio = _speaker()
    trained = []

    def train_model(pairs, work_dir):
        trained.append(pairs[0].frames)
        return _tiny_model()

    report = self_reenact(arrays, meta, audio, tmp_path, train_model)
    assert len(trained) == 1 and abs(trained[0] - 270) <= 1  # the model sees only the first 75 % (9 of 12 s)
    assert report["reference_seconds"] == pytest.approx(9.0, abs=0.05)
    assert report["target_seconds"] == pytest.approx(3.0, abs=0.15)
    for mode in MODES:
        assert set(report[mode]) >= {"energy_corr", "beat_align", "similarity", "similarity_rank"}
        assert -1.0 <= report[mode]["energy_corr"] <= 1.0
    ranks = sorted(report[name]["similarity_rank"] for name in (*MODES, "real"))
    assert ranks == [1, 2, 3, 4]
    # the dp path maximises the scores it is ranked by: the random walk never beats it
    assert report["dp"]["similarity"] >= report["random"]["similarity"]
    # the random baseline is a distribution of walks; dp and onset are placed within it
    random = report["random"]
    assert random["draws"] == SelfEvalConfig().random_draws
    assert random["energy_corr_p05"] <= random["energy_corr"] <= random["energy_corr_p95"]
    assert random["energy_corr_p05"] < random["energy_corr_p95"]  # the walks differ
    for mode in ("dp", "onset"):
        assert 0.0 <= report[mode]["energy_corr_above_random"] <= 1.0
        assert 0.0 <= report[mode]["beat_align_above_random"] <= 1.0


def test_folds_hold_out_each_span_in_turn_and_average(tmp_path):
    arrays, meta, audio = _speaker()
    trained = []

    def train_model(pairs, work_dir):
        trained.append(([pair.frames for pair in pairs], work_dir.name))
        return _tiny_model()

    config = SelfEvalConfig(folds=3, random_draws=20)
    report = self_reenact(arrays, meta, audio, tmp_path, train_model, config)
    # 12 s in 3 folds: the speaker of fold k is the footage before and after its 4 s span
    assert [len(frames) for frames, _ in trained] == [1, 2, 1]  # the middle fold's speaker has two pieces
    assert [name for _, name in trained] == ["fold0", "fold1", "fold2"]
    for frames, _ in trained:
        assert sum(frames) == pytest.approx(240, abs=2)
    assert report["folds"] == 3 and report["target_seconds"] == pytest.approx(12.0, abs=0.3)
    assert report["reference_seconds"] == pytest.approx(8.0, abs=0.05)
    assert report["random"]["draws"] == 20
    steps = report["dp"]["steps"]  # summed over the folds
    assert steps == report["onset"]["steps"] == report["random"]["steps"]
    assert steps * FRAMES_PER_STEP == pytest.approx(report["target_seconds"] * FPS, abs=3)
    assert sorted(report[name]["similarity_rank"] for name in (*MODES, "real")) == [1, 2, 3, 4]


def test_cli_json_with_a_given_checkpoint(tmp_path, capsys):
    arrays, meta, audio = _speaker(seconds=10.0, seed=1)
    work = tmp_path / "work" / "clip"
    work.mkdir(parents=True)
    np.savez(work / "perception.npz", _audio=audio, **arrays)  # as the command keeps a perception
    (work / "perception.json").write_text(json.dumps(meta))
    save_checkpoint(_tiny_model(), tmp_path / "ckpt")
    code = main(["reenact", "eval", str(tmp_path / "clip.mp4"), "--checkpoint", str(tmp_path / "ckpt"),
                 "--work", str(tmp_path / "work"), "--json"])
    assert code == 0
    document = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert document["video"] == "clip.mp4"
    for mode in ("dp", "random", "onset"):
        assert isinstance(document[mode]["energy_corr"], float)
    assert "real" in document and document["checkpoint"] == str(tmp_path / "ckpt")


def test_too_short_video_is_reported_not_raised(tmp_path, capsys):
    arrays, meta, audio = _speaker(seconds=0.4)
    work = tmp_path / "work" / "short"
    work.mkdir(parents=True)
    np.savez(work / "perception.npz", _audio=audio, **arrays)
    (work / "perception.json").write_text(json.dumps(meta))
    assert main(["reenact", "eval", str(tmp_path / "short.mp4"), "--work", str(tmp_path / "work"), "--json"]) == 0
    document = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert document["video"] == "short.mp4" and document["reason"]
