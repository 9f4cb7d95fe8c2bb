"""The networks of ACInterp, built from an ACInterpConfig (random weights) and checked against it.

- `vae`: diffusers AutoencoderKL;
- `unet`: diffusers UNetMotionModel = a UNet2DConditionModel + a MotionAdapter (AnimateDiff temporal
  attention after each spatial layer: the Image2Video motion module), joined by `from_unet2d`;
- `reference_net`: a UNet2DConditionModel of the same block layout (reference_attention.py pairs them);
- `image_encoder`: transformers CLIPVisionModelWithProjection (cross-attention context);
- `pose_guider`, `background_guider`: our conv encoders (guider.py).
Assembling them wires the ReferenceNet -> UNet attention bank and the conv_in feature hook, once.
The `*_kwargs` functions give the constructor arguments a stored sub-model's config must agree with.
"""
from __future__ import annotations

import dataclasses

import torch
from diffusers import AutoencoderKL, MotionAdapter, UNet2DConditionModel, UNetMotionModel
from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

from tango.acinterp.background_guider import FLOW_CHANNELS, BackgroundGuider
from tango.acinterp.config import ACInterpConfig, GuiderSizes
from tango.acinterp.guider import GuiderConfig
from tango.acinterp.pose_guider import POSE_CHANNELS, ConvInInjection, PoseGuider
from tango.acinterp.reference_attention import ReferenceBank, install_reference_attention

MOTION_KEY = "motion_modules"


@dataclasses.dataclass
class ACInterpNetworks:
    vae: AutoencoderKL
    unet: UNetMotionModel
    reference_net: UNet2DConditionModel
    image_encoder: CLIPVisionModelWithProjection
    pose_guider: PoseGuider
    background_guider: BackgroundGuider
    # the wiring between them, made once here so every pipeline over these networks shares it
    bank: ReferenceBank = dataclasses.field(init=False, repr=False)
    injection: ConvInInjection = dataclasses.field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.bank = ReferenceBank()
        install_reference_attention(self.reference_net, self.unet, self.bank)
        self.injection = ConvInInjection(self.unet.conv_in)

    def modules(self) -> dict[str, torch.nn.Module]:
        return {field.name: getattr(self, field.name) for field in dataclasses.fields(self) if field.init}

    def to(self, device: torch.device | str, dtype: torch.dtype | None = None) -> "ACInterpNetworks":
        for module in self.modules().values():
            module.to(device=device, dtype=dtype)
        return self

    def eval(self) -> "ACInterpNetworks":
        for module in self.modules().values():
            module.eval()
        return self


def vae_kwargs(config: ACInterpConfig) -> dict:
    sizes = config.vae
    blocks = len(sizes.block_out_channels)
    return dict(in_channels=3, out_channels=3, down_block_types=("DownEncoderBlock2D",) * blocks,
                up_block_types=("UpDecoderBlock2D",) * blocks, block_out_channels=sizes.block_out_channels,
                layers_per_block=sizes.layers_per_block, latent_channels=sizes.latent_channels,
                norm_num_groups=sizes.norm_num_groups, scaling_factor=sizes.scaling_factor)


def unet2d_kwargs(config: ACInterpConfig) -> dict:
    """The SD-style 2-D UNet shared by the denoising UNet and the ReferenceNet."""
    sizes = config.unet
    down = tuple("CrossAttnDownBlock2D" if attn else "DownBlock2D" for attn in sizes.cross_attention_blocks)
    up = tuple("CrossAttnUpBlock2D" if attn else "UpBlock2D" for attn in reversed(sizes.cross_attention_blocks))
    return dict(in_channels=config.vae.latent_channels, out_channels=config.vae.latent_channels,
                down_block_types=down, up_block_types=up, block_out_channels=sizes.block_out_channels,
                layers_per_block=sizes.layers_per_block, attention_head_dim=sizes.attention_heads,
                norm_num_groups=sizes.norm_num_groups, cross_attention_dim=config.image_encoder.projection_dim)


def motion_adapter_kwargs(config: ACInterpConfig) -> dict:
    sizes = config.unet
    return dict(block_out_channels=sizes.block_out_channels, motion_layers_per_block=sizes.motion_layers_per_block,
                motion_num_attention_heads=sizes.motion_heads, motion_norm_num_groups=sizes.norm_num_groups,
                motion_max_seq_length=sizes.motion_max_seq_length, use_motion_mid_block=sizes.use_motion_mid_block)


def image_encoder_kwargs(config: ACInterpConfig) -> dict:
    return dataclasses.asdict(config.image_encoder)


def guider_config(config: ACInterpConfig, which: str) -> GuiderConfig:
    sizes: GuiderSizes = getattr(config, which)
    in_channels = {"pose_guider": POSE_CHANNELS, "background_guider": FLOW_CHANNELS}[which]
    return GuiderConfig(in_channels=in_channels, channels=sizes.channels,
                        out_channels=config.unet.block_out_channels[0])


def motion_unet(unet2d: UNet2DConditionModel, adapter: MotionAdapter) -> UNetMotionModel:
    """The denoising UNet: the 2-D UNet's weights with the adapter's motion modules inserted."""
    return UNetMotionModel.from_unet2d(unet2d, adapter)


def split_motion_unet(unet: UNetMotionModel, config: ACInterpConfig) -> tuple[UNet2DConditionModel, MotionAdapter]:
    """Inverse of motion_unet (strict): the 2-D UNet and the MotionAdapter holding the same weights."""
    state = unet.state_dict()
    unet2d = UNet2DConditionModel(**unet2d_kwargs(config))
    unet2d.load_state_dict({k: v for k, v in state.items() if MOTION_KEY not in k}, strict=True)
    adapter = MotionAdapter(**motion_adapter_kwargs(config))
    adapter.load_state_dict({k: v for k, v in state.items() if MOTION_KEY in k}, strict=True)
    return unet2d, adapter


def random_networks(config: ACInterpConfig, seed: int = 0) -> ACInterpNetworks:
    """Randomly initialised networks of `config` (deterministic for a seed), in eval mode on the CPU."""
    generator_state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        networks = ACInterpNetworks(
            vae=AutoencoderKL(**vae_kwargs(config)),
            unet=motion_unet(UNet2DConditionModel(**unet2d_kwargs(config)),
                             MotionAdapter(**motion_adapter_kwargs(config))),
            reference_net=UNet2DConditionModel(**unet2d_kwargs(config)),
            image_encoder=CLIPVisionModelWithProjection(CLIPVisionConfig(**image_encoder_kwargs(config))),
            pose_guider=PoseGuider(guider_config(config, "pose_guider")),
            background_guider=BackgroundGuider(guider_config(config, "background_guider")),
        )
    finally:
        torch.random.set_rng_state(generator_state)
    return networks.eval()
