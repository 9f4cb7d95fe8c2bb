"""ReferenceNet bank -> denoising UNet spatial self-attention, and the conv_in feature injection."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from acinterp_testkit import moving_scene

from tango.acinterp.pose_guider import ConvInInjection
from tango.acinterp.reference_attention import (
    ReferenceBank,
    ReferenceReadProcessor,
    ReferenceWriteProcessor,
    spatial_self_attention_names,
)


@pytest.fixture(scope="module")
def unet_inputs(tiny_pipeline):
    """Latents (1, C, T, h, w) of a 5-frame clip, its CLIP context and the pipeline."""
    frames = moving_scene(5, 64, 64)
    with torch.no_grad():
        latents = tiny_pipeline.encode(frames).transpose(0, 1).unsqueeze(0)
    return tiny_pipeline, latents, frames


def run_unet(pipeline, latents, context, bank_on: bool) -> torch.Tensor:
    hidden = context.repeat_interleave(latents.shape[2], dim=0)
    with torch.no_grad(), pipeline.bank.reading(bank_on):
        return pipeline.networks.unet(latents, torch.tensor(500), encoder_hidden_states=hidden).sample


def test_processors_pair_the_spatial_self_attention_layers(tiny_pipeline):
    names = spatial_self_attention_names(tiny_pipeline.networks.unet)
    assert names and names == spatial_self_attention_names(tiny_pipeline.networks.reference_net)
    assert not any("motion_modules" in name or name.endswith("attn2.processor") for name in names)
    unet_processors = tiny_pipeline.networks.unet.attn_processors
    reference_processors = tiny_pipeline.networks.reference_net.attn_processors
    assert all(isinstance(unet_processors[n], ReferenceReadProcessor) for n in names)
    assert all(isinstance(reference_processors[n], ReferenceWriteProcessor) for n in names)
    temporal = [n for n in unet_processors if "motion_modules" in n]
    assert temporal and not any(isinstance(unet_processors[n], ReferenceReadProcessor) for n in temporal)


def test_bank_changes_the_output_and_an_empty_bank_does_not(unet_inputs):
    pipeline, latents, frames = unet_inputs
    with torch.no_grad():
        context = pipeline.write_reference(np.stack([frames[0], frames[-1]]))  # (1, 2, D)
        assert set(pipeline.bank.features) == set(spatial_self_attention_names(pipeline.networks.unet))
        stored = next(iter(pipeline.bank.features.values()))
        assert stored.shape[0] == 2 and stored.ndim == 3  # (R, N, C)
        with_bank = run_unet(pipeline, latents, context, bank_on=True)
        without = run_unet(pipeline, latents, context, bank_on=False)
        again = run_unet(pipeline, latents, context, bank_on=True)
        pipeline.bank.clear()
        empty = run_unet(pipeline, latents, context, bank_on=True)
    assert with_bank.shape == latents.shape
    assert (with_bank - without).abs().max() > 1e-3
    assert torch.equal(with_bank, again)
    assert torch.equal(empty, without)  # reading an empty bank is plain self-attention


def test_bank_tokens_repeat_per_frame_and_group_references_per_clip():
    bank = ReferenceBank()
    with bank.recording(refs_per_clip=2):
        bank.features["x"] = torch.arange(2 * 2 * 3 * 4, dtype=torch.float32).reshape(4, 3, 4)  # B=2 clips, R=2
    assert bank.tokens_for("x", 6) is None  # not reading
    with bank.reading(True):
        tokens = bank.tokens_for("x", 6)  # 2 clips x 3 frames
        with pytest.raises(ValueError):
            bank.tokens_for("x", 5)
    assert tokens.shape == (6, 6, 4)
    assert torch.equal(tokens[0], tokens[2]) and torch.equal(tokens[3], tokens[5])
    assert torch.equal(tokens[0, 3:], bank.features["x"][1]) and torch.equal(tokens[3, :3], bank.features["x"][2])


def test_conv_in_injection_adds_features_only_while_active():
    conv = torch.nn.Conv2d(4, 8, 3, padding=1)
    injection = ConvInInjection(conv)
    x = torch.randn(2, 4, 6, 6)
    plain = conv(x)
    features = torch.randn(2, 8, 6, 6)
    with injection.adding(features):
        assert torch.allclose(conv(x), plain + features)
        with pytest.raises(ValueError):
            with injection.adding(torch.zeros(1, 8, 6, 6)):
                conv(x)
    assert torch.equal(conv(x), plain)
    injection.remove()
