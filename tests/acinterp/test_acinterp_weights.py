"""Weights directories: save/load round trip, strict loading, domain errors."""
from __future__ import annotations

import dataclasses
import json
import shutil

import numpy as np
import pytest
from acinterp_testkit import moving_scene

from tango.acinterp.weights import PARTS, load_acinterp, random_acinterp, save_acinterp
from tango.runtime.errors import CheckpointMismatch, FailedPrecondition, NotFound


@pytest.fixture
def weights_copy(tiny_weights_dir, tmp_path):
    return shutil.copytree(tiny_weights_dir, tmp_path / "copy")


def test_layout(tiny_weights_dir):
    assert (tiny_weights_dir / "acinterp.json").is_file()
    for part in PARTS:
        assert (tiny_weights_dir / part / "config.json").is_file()
        assert list((tiny_weights_dir / part).glob("*.safetensors")), part
    assert not list(tiny_weights_dir.rglob("*.bin")) and not list(tiny_weights_dir.rglob("*.pt*"))
    unet = json.loads((tiny_weights_dir / "unet" / "config.json").read_text())
    assert unet["_class_name"] == "UNet2DConditionModel"


def test_round_trip_reproduces_the_frames_bit_for_bit(tiny_pipeline, tiny_weights_dir):
    loaded = load_acinterp(tiny_weights_dir)
    assert loaded.config == tiny_pipeline.config
    before, after = moving_scene(2, 40, 40, start=0), moving_scene(2, 40, 40, start=9)
    assert np.array_equal(loaded(before, after, 4), tiny_pipeline(before, after, 4))
    original = tiny_pipeline.networks.unet.state_dict()
    assert all(np.array_equal(v.numpy(), original[k].numpy()) for k, v in loaded.networks.unet.state_dict().items())


def test_missing_or_empty_directory_is_not_found(tmp_path):
    for directory in (tmp_path, tmp_path / "absent"):
        with pytest.raises(NotFound) as caught:
            load_acinterp(directory)
        assert caught.value.reason == "ACINTERP_WEIGHTS_NOT_FOUND" and str(directory) in caught.value.message


def test_missing_part_is_incomplete(weights_copy):
    (weights_copy / "pose_guider" / "model.safetensors").unlink()
    shutil.rmtree(weights_copy / "motion_adapter")
    with pytest.raises(FailedPrecondition) as caught:
        load_acinterp(weights_copy)
    assert caught.value.reason == "ACINTERP_WEIGHTS_INCOMPLETE"
    assert "pose_guider/*.safetensors" in caught.value.message and "motion_adapter/config.json" in caught.value.message


def test_pickled_weights_are_never_read(weights_copy):
    vae = weights_copy / "vae"
    (vae / "diffusion_pytorch_model.safetensors").rename(vae / "diffusion_pytorch_model.bin")
    with pytest.raises(FailedPrecondition, match="vae"):
        load_acinterp(weights_copy)


def test_config_disagreeing_with_a_part_is_a_mismatch(weights_copy):
    config = json.loads((weights_copy / "acinterp.json").read_text())
    config["unet"]["block_out_channels"] = [32, 48]
    (weights_copy / "acinterp.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointMismatch, match="block_out_channels"):
        load_acinterp(weights_copy)


def test_weights_not_fitting_their_config_are_a_mismatch(weights_copy, tiny_config):
    """Configs agree (acinterp.json and image_encoder/config.json both say 96) but the tensors are 64 wide."""
    wider = dataclasses.replace(tiny_config.image_encoder, intermediate_size=96)
    (weights_copy / "acinterp.json").write_text(dataclasses.replace(tiny_config, image_encoder=wider).to_json())
    encoder_config = json.loads((weights_copy / "image_encoder" / "config.json").read_text())
    encoder_config["intermediate_size"] = 96
    (weights_copy / "image_encoder" / "config.json").write_text(json.dumps(encoder_config))
    with pytest.raises(CheckpointMismatch, match="image_encoder"):
        load_acinterp(weights_copy)


def test_guider_of_another_shape_is_a_mismatch(weights_copy, tiny_config):
    save_acinterp(random_acinterp(tiny_config, seed=1), weights_copy)  # replaces the directory
    load_acinterp(weights_copy)  # same shapes, other weights: loads
    guider = json.loads((weights_copy / "pose_guider" / "config.json").read_text())
    guider["channels"] = [8, 8, 16]
    (weights_copy / "pose_guider" / "config.json").write_text(json.dumps(guider))
    with pytest.raises(CheckpointMismatch, match="guider"):
        load_acinterp(weights_copy)


def test_a_tensor_missing_from_a_part_is_a_mismatch(weights_copy):
    from safetensors.torch import load_file, save_file

    path = weights_copy / "reference_net" / "diffusion_pytorch_model.safetensors"
    tensors = load_file(str(path))
    dropped = sorted(tensors)[0]
    del tensors[dropped]
    save_file(tensors, str(path), metadata={"format": "pt"})
    with pytest.raises(CheckpointMismatch, match="missing_keys") as caught:
        load_acinterp(weights_copy)
    assert dropped in caught.value.message and caught.value.metadata["part"] == "reference_net"


def test_operator_command_writes_a_loadable_random_model(tmp_path):
    from tango.acinterp.weights import main

    assert main([str(tmp_path / "random"), "--tiny", "--seed", "3"]) == 0
    assert load_acinterp(tmp_path / "random").config.resolution == 64
