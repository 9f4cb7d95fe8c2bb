"""ACInterpConfig: JSON round trip, validation, generation sizes."""
from __future__ import annotations

import dataclasses
import json

import pytest

from tango.acinterp.config import ACInterpConfig, UNetSizes
from tango.runtime.errors import CheckpointMismatch, NotFound


def test_json_round_trip_keeps_every_field():
    config = ACInterpConfig.tiny(seed=7, guidance_scale=3.0)
    again = ACInterpConfig.from_json(config.to_json())
    assert again == config
    assert isinstance(again.unet.block_out_channels, tuple) and again.seed == 7


def test_default_is_the_real_model_and_valid():
    config = ACInterpConfig().validate()
    assert config.latent_factor == 8 and config.size_multiple == 64 and config.resolution % 64 == 0
    assert config.unet.block_out_channels == (320, 640, 1280, 1280)
    assert config.image_encoder.projection_dim == 768 and config.context_frames == 4


def test_unknown_or_bad_fields_are_a_checkpoint_mismatch():
    data = json.loads(ACInterpConfig.tiny().to_json())
    with pytest.raises(CheckpointMismatch):
        ACInterpConfig.from_dict({**data, "sampler": "euler"})
    data["unet"]["attention_heads_typo"] = 2
    with pytest.raises(CheckpointMismatch):
        ACInterpConfig.from_dict(data)
    with pytest.raises(CheckpointMismatch):
        ACInterpConfig.from_json("[1, 2]")


def test_validation_rejects_inconsistent_sizes():
    with pytest.raises(ValueError, match="resolution"):
        ACInterpConfig.tiny(resolution=60)
    with pytest.raises(ValueError, match="pose_guider"):
        ACInterpConfig.tiny(pose_guider=dataclasses.replace(ACInterpConfig.tiny().pose_guider, channels=(8, 16)))
    with pytest.raises(ValueError, match="motion_layers"):
        ACInterpConfig.tiny(unet=UNetSizes(block_out_channels=(32, 64), cross_attention_blocks=(True, False),
                                           layers_per_block=1, motion_layers_per_block=2, norm_num_groups=8))


@pytest.mark.parametrize(("height", "width", "expected"), [(48, 64, (48, 64)), (64, 48, (64, 48)),
                                                           (720, 1280, (40, 64)), (30, 400, (8, 64))])
def test_generation_size_keeps_aspect_on_the_size_grid(height, width, expected):
    config = ACInterpConfig.tiny()
    assert config.generation_size(height, width) == expected
    assert all(side % config.size_multiple == 0 for side in expected)


def test_locate_names_the_missing_file(tmp_path):
    with pytest.raises(NotFound) as caught:
        ACInterpConfig.locate(tmp_path)
    assert caught.value.reason == "ACINTERP_WEIGHTS_NOT_FOUND" and "acinterp.json" in caught.value.message
