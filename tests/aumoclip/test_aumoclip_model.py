from __future__ import annotations

import pytest
import torch
from aumoclip_testkit import tiny_config

from tango.aumoclip.audio_tower import AudioTower
from tango.aumoclip.config import AuMoCLIPConfig
from tango.aumoclip.model import AuMoCLIP
from tango.aumoclip.motion_tower import MotionTower
from tango.runtime.errors import InputMismatch


def test_audio_tower_gives_exactly_30_frames_per_second():
    tower = AudioTower(tiny_config()).eval()
    for seconds in (1.0, 2.5, 4.0):
        low, high = tower(torch.randn(2, int(seconds * 16000)))
        assert low.shape == (2, int(seconds * 30), 16)
        assert high.shape == (2, int(seconds * 30), 16)


def test_motion_tower_shapes_and_depth_split():
    config = tiny_config(motion_layers=4, motion_low_layers=2)
    tower = MotionTower(config).eval()
    low, high = tower(torch.randn(3, 45, 55, 15))
    assert low.shape == (3, 45, 16) and high.shape == (3, 45, 16)
    assert len(tower.low_blocks) == 2 and len(tower.high_blocks) == 2


def test_embeddings_are_unit_norm_with_contract_shapes():
    model = AuMoCLIP(tiny_config()).eval()
    with torch.inference_mode():
        audio_low, audio_high = model.embed_audio(torch.randn(2, 16000 * 2))
        motion_low, motion_high = model.embed_motion(torch.randn(2, 60, 55, 15))
    assert audio_low.shape == (2, 60, 8) and audio_high.shape == (2, 8)
    assert motion_low.shape == (2, 60, 8) and motion_high.shape == (2, 8)
    for tensor in (audio_low, audio_high, motion_low, motion_high):
        assert torch.allclose(tensor.norm(dim=-1), torch.ones(tensor.shape[:-1]), atol=1e-5)


def test_global_loss_gradient_stops_at_low_level_encoders():
    model = AuMoCLIP(tiny_config())
    (_, audio_high), (_, motion_high) = model(torch.randn(2, 16000), torch.randn(2, 30, 55, 15))
    (audio_high.sum() + motion_high.sum()).backward()
    assert model.audio_tower.encoder.net[0].weight.grad is None
    assert model.motion_tower.low_blocks[0].conv.weight.grad is None
    assert model.motion_tower.high_blocks[0].conv.weight.grad is not None
    assert model.audio_pool.query.grad is not None


def test_default_config_is_the_documented_one():
    config = AuMoCLIPConfig()
    assert (config.joints, config.channels, config.fps, config.clip_frames, config.clip_samples) == (55, 15, 30, 120, 64000)
    assert len(config.audio_conv_channels) == 7
    assert AuMoCLIPConfig.for_representation("mediapipe").joints == 33


@pytest.mark.parametrize("shape", [(2, 30, 33, 15), (2, 30, 55), (2, 0, 55, 15)])
def test_wrong_motion_shape_is_rejected(shape):
    with pytest.raises(InputMismatch):
        AuMoCLIP(tiny_config()).embed_motion(torch.zeros(shape))


def test_wrong_waveform_shape_is_rejected():
    with pytest.raises(InputMismatch):
        AuMoCLIP(tiny_config()).embed_audio(torch.zeros(16000))
