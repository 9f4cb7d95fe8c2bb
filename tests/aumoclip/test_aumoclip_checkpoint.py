from __future__ import annotations

import json

import pytest
import torch
from aumoclip_testkit import tiny_config
from safetensors.torch import load_file, save_file

from tango.aumoclip.checkpoint import load_checkpoint, save_checkpoint
from tango.aumoclip.model import AuMoCLIP
from tango.runtime.errors import CheckpointMismatch


def test_round_trip_gives_identical_embeddings(tmp_path):
    torch.manual_seed(0)
    model = AuMoCLIP(tiny_config()).eval()
    model.motion_tower.set_input_statistics(torch.full((825,), 0.5), torch.full((825,), 2.0))
    save_checkpoint(model, tmp_path)
    assert (tmp_path / "model.safetensors").is_file() and (tmp_path / "config.json").is_file()
    loaded = load_checkpoint(tmp_path)
    assert not loaded.training
    wave, motion = torch.randn(1, 16000), torch.randn(1, 30, 55, 15)
    with torch.inference_mode():
        for a, b in zip(model.embed_audio(wave) + model.embed_motion(motion),
                        loaded.embed_audio(wave) + loaded.embed_motion(motion)):
            assert torch.equal(a, b)
    assert torch.equal(loaded.motion_tower.input_std, torch.full((825,), 2.0))


def test_changed_config_raises_checkpoint_mismatch(tmp_path):
    save_checkpoint(AuMoCLIP(tiny_config()), tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    config["motion_hidden"] = 24
    (tmp_path / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointMismatch, match="motion_tower"):
        load_checkpoint(tmp_path)


def test_missing_and_unknown_keys_raise(tmp_path):
    save_checkpoint(AuMoCLIP(tiny_config()), tmp_path)
    weights = load_file(str(tmp_path / "model.safetensors"))
    weights.pop("log_scale_low")
    weights["surprise"] = torch.zeros(1)
    save_file(weights, str(tmp_path / "model.safetensors"))
    with pytest.raises(CheckpointMismatch, match="missing log_scale_low; unexpected surprise"):
        load_checkpoint(tmp_path)


def test_unknown_config_field_and_empty_dir_raise(tmp_path):
    with pytest.raises(CheckpointMismatch, match="not an AuMoCLIP checkpoint"):
        load_checkpoint(tmp_path)
    save_checkpoint(AuMoCLIP(tiny_config()), tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    config["novel_option"] = 1
    (tmp_path / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointMismatch, match="novel_option"):
        load_checkpoint(tmp_path)


def test_expected_config_must_match(tmp_path):
    save_checkpoint(AuMoCLIP(tiny_config()), tmp_path)
    with pytest.raises(CheckpointMismatch, match="embed_dim"):
        load_checkpoint(tmp_path, expect=tiny_config(embed_dim=16))
