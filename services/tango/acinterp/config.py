"""ACInterp configuration: one JSON-serialisable dataclass (`acinterp.json` of a weights directory).

The defaults describe the real model, AnimateAnyone-style on Stable Diffusion 1.5 parts:
- VAE: SD 1.5 `AutoencoderKL` (128, 256, 512, 512), 2 layers per block, 4 latent channels, scaling
  0.18215 -> latent factor 8;
- denoising UNet: SD 1.5 `UNet2DConditionModel` (320, 640, 1280, 1280), 2 layers per block, 8 heads,
  cross-attention on the 768-d CLIP image embedding, plus an AnimateDiff-v2 `MotionAdapter` (2 motion
  layers per block, 8 heads, 32 positions, mid-block motion module);
- ReferenceNet: a second UNet2DConditionModel of the same shape (AnimateAnyone initialises it from SD);
- image encoder: CLIP ViT-L/14 vision tower with projection (224 px, 1024 wide, 24 layers, 16 heads,
  768-d projection; the "sd-image-variations" encoder AnimateAnyone uses);
- PoseGuider (16, 32, 96, 256) as in AnimateAnyone; the BackgroundGuider has the same shape on 2 channels;
- DDIM, v-prediction, zero terminal SNR, "trailing" spacing, 25 steps, guidance 3.5, 768 px long side.
`ACInterpConfig.tiny()` is a randomly initialisable miniature for tests (64 px, ~1 M parameters).
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tango.runtime.errors import CheckpointMismatch, InvalidArgument, NotFound

CONFIG_FILE = "acinterp.json"
# the networks' precision at inference: "auto" = bfloat16 on a GPU, float32 on the CPU (pipeline.network_dtype)
PRECISIONS = ("auto", "float32", "bfloat16", "float16")


def check_precision(precision: str) -> str:
    if precision not in PRECISIONS:
        raise InvalidArgument(f"ACInterp precision {precision!r}: one of {', '.join(PRECISIONS)}", reason="BAD_CONFIG")
    return precision


@dataclass(frozen=True)
class VAESizes:
    block_out_channels: tuple[int, ...] = (128, 256, 512, 512)
    layers_per_block: int = 2
    latent_channels: int = 4
    norm_num_groups: int = 32
    scaling_factor: float = 0.18215

    @property
    def latent_factor(self) -> int:
        return 2 ** (len(self.block_out_channels) - 1)


@dataclass(frozen=True)
class UNetSizes:
    """Shared by the denoising UNet and the ReferenceNet (their self-attention layers must pair up)."""

    block_out_channels: tuple[int, ...] = (320, 640, 1280, 1280)
    cross_attention_blocks: tuple[bool, ...] = (True, True, True, False)  # down blocks with attention
    layers_per_block: int = 2
    attention_heads: int = 8  # SD's legacy `attention_head_dim` (= number of heads)
    norm_num_groups: int = 32
    motion_layers_per_block: int = 2  # MotionAdapter; must equal layers_per_block (diffusers pairs them)
    motion_heads: int = 8
    motion_max_seq_length: int = 32  # frames a clip may hold: k + n + k <= this
    use_motion_mid_block: bool = True

    @property
    def down_factor(self) -> int:
        return 2 ** (len(self.block_out_channels) - 1)


@dataclass(frozen=True)
class ImageEncoderSizes:
    image_size: int = 224
    patch_size: int = 14
    hidden_size: int = 1024
    num_hidden_layers: int = 24
    num_attention_heads: int = 16
    intermediate_size: int = 4096
    projection_dim: int = 768  # = the UNets' cross_attention_dim


@dataclass(frozen=True)
class GuiderSizes:
    """A PoseGuider-shaped conv encoder: len(channels) - 1 stride-2 stages = log2(latent factor)."""

    channels: tuple[int, ...] = (16, 32, 96, 256)


@dataclass(frozen=True)
class SchedulerSettings:
    """DDIM (v-prediction) settings; the scheduler itself lives in scheduler.py."""

    num_train_timesteps: int = 1000
    beta_start: float = 0.00085
    beta_end: float = 0.012
    beta_schedule: str = "scaled_linear"
    timestep_spacing: str = "trailing"
    rescale_betas_zero_snr: bool = True


@dataclass(frozen=True)
class PoseSettings:
    line_px: float = 0.012  # skeleton line width, fraction of the image's long side
    min_visibility: float = 0.5  # landmarks below this MediaPipe visibility are not drawn


@dataclass(frozen=True)
class BackgroundSettings:
    person_threshold: float = 0.3  # selfie-segmentation probability above which a pixel is the person
    person_dilate: float = 0.03  # mask dilation, fraction of the long side
    max_side: int = 512  # SIFT runs on frames scaled down to this long side
    ratio: float = 0.75  # Lowe's ratio test
    min_matches: int = 12  # fewer RANSAC inliers -> identity (zero flow)
    ransac_px: float = 3.0  # RANSAC reprojection threshold at the matching resolution


@dataclass(frozen=True)
class ACInterpConfig:
    resolution: int = 768  # long side of generation, a multiple of size_multiple
    num_inference_steps: int = 25
    guidance_scale: float = 3.5  # classifier-free guidance; 1.0 = conditional only
    context_frames: int = 4  # k real frames on each side (the temporal conditioning)
    reference_dropout: float = 0.1  # p: training drops the reference (bank + CLIP) with this probability
    seed: int = 0
    vae: VAESizes = field(default_factory=VAESizes)
    unet: UNetSizes = field(default_factory=UNetSizes)
    image_encoder: ImageEncoderSizes = field(default_factory=ImageEncoderSizes)
    pose_guider: GuiderSizes = field(default_factory=GuiderSizes)
    background_guider: GuiderSizes = field(default_factory=GuiderSizes)
    scheduler: SchedulerSettings = field(default_factory=SchedulerSettings)
    pose: PoseSettings = field(default_factory=PoseSettings)
    background: BackgroundSettings = field(default_factory=BackgroundSettings)

    @property
    def latent_factor(self) -> int:
        return self.vae.latent_factor

    @property
    def size_multiple(self) -> int:
        """Generation sizes are multiples of this: the VAE's factor times the UNet's down-sampling."""
        return self.vae.latent_factor * self.unet.down_factor

    @property
    def max_clip_frames(self) -> int:
        return self.unet.motion_max_seq_length

    @classmethod
    def tiny(cls, **overrides: Any) -> "ACInterpConfig":
        """A miniature for tests: 64 px, latent factor 4, two UNet levels, 2-layer CLIP."""
        values: dict[str, Any] = dict(
            resolution=64, num_inference_steps=2, guidance_scale=2.0, context_frames=2,
            vae=VAESizes(block_out_channels=(16, 32, 32), layers_per_block=1, norm_num_groups=8),
            unet=UNetSizes(block_out_channels=(32, 64), cross_attention_blocks=(True, False), layers_per_block=1,
                           attention_heads=2, norm_num_groups=8, motion_layers_per_block=1, motion_heads=2),
            image_encoder=ImageEncoderSizes(image_size=32, patch_size=8, hidden_size=32, num_hidden_layers=2,
                                            num_attention_heads=2, intermediate_size=64, projection_dim=32),
            pose_guider=GuiderSizes(channels=(8, 16, 16)),
            background_guider=GuiderSizes(channels=(8, 16, 16)),
        )
        values.update(overrides)
        return cls(**values).validate()

    def validate(self) -> "ACInterpConfig":
        problems = []
        if self.resolution <= 0 or self.resolution % self.size_multiple:
            problems.append(f"resolution {self.resolution} is not a positive multiple of {self.size_multiple}")
        if self.num_inference_steps < 1 or self.guidance_scale < 1.0:
            problems.append("need num_inference_steps >= 1 and guidance_scale >= 1")
        if self.context_frames < 1 or 2 * self.context_frames >= self.max_clip_frames:
            problems.append(f"context_frames {self.context_frames} leaves no room in {self.max_clip_frames} frames")
        if not 0.0 <= self.reference_dropout < 1.0:
            problems.append("reference_dropout must lie in [0, 1)")
        if len(self.unet.cross_attention_blocks) != len(self.unet.block_out_channels):
            problems.append("unet.cross_attention_blocks needs one flag per block")
        if self.unet.motion_layers_per_block != self.unet.layers_per_block:
            problems.append("unet.motion_layers_per_block must equal unet.layers_per_block")
        for name in ("pose_guider", "background_guider"):
            stages = 2 ** (len(getattr(self, name).channels) - 1)
            if stages != self.latent_factor:
                problems.append(f"{name} down-samples by {stages}, the VAE by {self.latent_factor}")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def generation_size(self, height: int, width: int) -> tuple[int, int]:
        """(h, w) to generate at: long side = resolution, short side rounded to size_multiple (>= one)."""
        step = self.size_multiple
        long_side = max(height, width)
        short = max(step, int(min(height, width) * self.resolution / long_side / step + 0.5) * step)  # half up
        return (self.resolution, short) if height >= width else (short, self.resolution)

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict) -> "ACInterpConfig":
        try:
            return _build(cls, data).validate()
        except (TypeError, ValueError) as exc:
            raise CheckpointMismatch(f"invalid ACInterp config: {exc}") from exc

    @classmethod
    def from_json(cls, text: str) -> "ACInterpConfig":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise CheckpointMismatch(f"ACInterp config is not JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise CheckpointMismatch("ACInterp config must be a JSON object")
        return cls.from_dict(data)

    @staticmethod
    def locate(weights_dir: str | Path) -> Path:
        """The acinterp.json of a weights directory; NotFound (ACINTERP_WEIGHTS_NOT_FOUND) when absent."""
        path = Path(weights_dir) / CONFIG_FILE
        if not path.is_file():
            raise NotFound(f"no ACInterp weights at {weights_dir}: {CONFIG_FILE} is missing (write them with "
                           f"tango.acinterp.weights.save_acinterp)", reason="ACINTERP_WEIGHTS_NOT_FOUND",
                           metadata={"weights_dir": str(weights_dir)})
        return path

    @classmethod
    def load(cls, path: str | Path) -> "ACInterpConfig":
        try:
            text = Path(path).read_text()
        except OSError as exc:
            raise CheckpointMismatch(f"cannot read ACInterp config {path}: {exc}") from exc
        return cls.from_json(text)


def _build(cls: type, data: dict) -> Any:
    """A (nested) frozen dataclass from a JSON dict; unknown fields are an error, lists become tuples."""
    if not isinstance(data, dict):
        raise TypeError(f"{cls.__name__} expects an object, got {type(data).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise TypeError(f"{cls.__name__} has no fields {unknown}")
    values = {}
    for name, value in data.items():
        default = fields[name].default_factory if fields[name].default_factory is not dataclasses.MISSING else None
        if default is not None and dataclasses.is_dataclass(default):
            values[name] = _build(default, value)
        else:
            values[name] = tuple(value) if isinstance(value, list) else value
    return cls(**values)
