"""The networks built from a config: real sizes (on the meta device) and the UNet split used for saving."""
from __future__ import annotations

import torch

from tango.acinterp.config import ACInterpConfig
from tango.acinterp.networks import motion_unet, random_networks, split_motion_unet


def millions(module: torch.nn.Module) -> float:
    return round(sum(p.numel() for p in module.parameters()) / 1e6, 1)


def test_default_config_builds_the_stable_diffusion_sized_model():
    with torch.device("meta"):  # shapes only, no memory
        networks = random_networks(ACInterpConfig())
    sizes = {name: millions(module) for name, module in networks.modules().items()}
    assert sizes["vae"] == 83.7  # SD 1.5 VAE
    assert sizes["reference_net"] == 859.5  # SD 1.5 UNet
    assert 1250 < sizes["unet"] < 1350  # + AnimateDiff v2 motion modules (~450 M)
    assert sizes["image_encoder"] == 304.0  # CLIP ViT-L/14 vision tower + projection
    assert networks.unet.config.motion_max_seq_length == 32 and networks.unet.config.cross_attention_dim == 768


def test_split_and_join_of_the_motion_unet_is_exact(tiny_config):
    networks = random_networks(tiny_config, seed=5)
    unet2d, adapter = split_motion_unet(networks.unet, tiny_config)
    joined = motion_unet(unet2d, adapter).state_dict()
    original = networks.unet.state_dict()
    assert set(joined) == set(original)
    assert all(torch.equal(joined[k], original[k]) for k in original)
    assert any("motion_modules" in k for k in adapter.state_dict())


def test_random_networks_are_seeded_and_leave_the_global_rng_alone(tiny_config):
    torch.manual_seed(123)
    expected_next = torch.rand(1)
    torch.manual_seed(123)
    first = random_networks(tiny_config, seed=1)
    assert torch.equal(torch.rand(1), expected_next)
    second = random_networks(tiny_config, seed=1)
    assert torch.equal(first.vae.encoder.conv_in.weight, second.vae.encoder.conv_in.weight)
    other = random_networks(tiny_config, seed=2)
    assert not torch.equal(first.vae.encoder.conv_in.weight, other.vae.encoder.conv_in.weight)
