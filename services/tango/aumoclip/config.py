"""AuMoCLIP configuration: one flat, JSON-serialisable dataclass (stored as `config.json` in a checkpoint)."""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path

from tango.runtime.errors import CheckpointMismatch

SMPLX_JOINTS = 55
MEDIAPIPE_JOINTS = 33
MOTION_CHANNELS = 15
# channels of the per-joint representation each `motion_features` choice feeds the motion tower
PROSODY_CHANNELS = 3  # prosody.PROSODY_DIM (kept here: the config must not import torchcrepe)
MOTION_FEATURE_CHANNELS = {"all": tuple(range(15)), "dynamics": (3, 4, 5, 12, 13, 14)}


@dataclass(frozen=True)
class AuMoCLIPConfig:
    """Architecture of the two towers and the joint space. Defaults train on 2 CPU cores in minutes.

    The paper's motion tower has 28 conv layers with the first 10 low level; the default here is 6 with the
    first 3 low level (set `motion_layers=28, motion_low_layers=10` for the paper's depth). Defaults were
    tuned on BEAT2 (benchmark.py): with ~1 minute of pairs, the smaller towers and dynamics-only motion
    input (velocities, no absolute pose to memorise) generalise to held-out speech; wider ones overfit.
    """

    representation: str = "smplx"  # "smplx" | "mediapipe": which motion the checkpoint serves
    joints: int = SMPLX_JOINTS  # J
    channels: int = MOTION_CHANNELS  # C
    sample_rate: int = 16000
    fps: int = 30
    clip_seconds: float = 4.0
    embed_dim: int = 32  # D, the joint space
    # audio tower: wav2vec2-style feature encoder (total stride 320 -> 50 fps, resampled to fps)
    audio_conv_channels: tuple[int, ...] = (16, 32, 32, 32, 48, 48, 64)
    audio_conv_kernels: tuple[int, ...] = (10, 3, 3, 3, 3, 2, 2)
    audio_conv_strides: tuple[int, ...] = (5, 2, 2, 2, 2, 2, 2)
    audio_context_layers: int = 2  # residual temporal convs at fps after the encoder (low level)
    # motion tower
    motion_hidden: int = 64
    motion_layers: int = 6
    motion_low_layers: int = 3
    motion_kernel: int = 5
    joint_dropout: float = 0.2  # training only: drop whole joints of the input
    motion_features: str = "dynamics"  # "all" 15 channels | "dynamics": velocity + angular velocity only (6)
    # high-level transformer (one layer per tower)
    transformer_dim: int = 64
    transformer_heads: int = 4
    transformer_ff: int = 128
    dropout: float = 0.2
    cls_queries: int = 4  # learned queries of the projection self-attention
    cls_segments: int = 8  # segment means appended to the CLS summary (0 = attention only)
    stop_gradient: bool = True  # the global loss does not train the low-level encoders
    temperature_init: float = 0.07
    # enrichments: extra audio channels at fps (0 = off)
    wav2vec_dir: str = ""  # local directory of a transformers Wav2Vec2Model ("" = off)
    wav2vec_dim: int = 0  # 2 x hidden size of that model (low + high features)
    text_dim: int = 0  # 384 for MiniLM word features
    # where the word features join the audio tower: "high", beside the low-level features at the transformer's input
    # (TANGO's time-aligned text features of the high level), or "low", fused with the waveform encoder's channels
    text_level: str = "high"
    prosody_dim: int = 0  # 3 for pitch, periodicity and energy (prosody.py, torchcrepe `tiny`)
    extra: dict = field(default_factory=dict)  # free-form provenance (not architectural)

    @property
    def clip_frames(self) -> int:
        return int(round(self.clip_seconds * self.fps))

    @property
    def clip_samples(self) -> int:
        return int(round(self.clip_seconds * self.sample_rate))

    @property
    def audio_extra_dim(self) -> int:
        """Extra channels fused at the low level."""
        return self.wav2vec_dim + self.prosody_dim + (self.text_dim if self.text_level == "low" else 0)

    @property
    def high_extra_dim(self) -> int:
        """Extra channels at the high-level transformer's input."""
        return self.text_dim if self.text_level == "high" else 0

    def validate(self) -> "AuMoCLIPConfig":
        lengths = {len(self.audio_conv_channels), len(self.audio_conv_kernels), len(self.audio_conv_strides)}
        if len(lengths) != 1:
            raise ValueError("audio_conv_channels, audio_conv_kernels and audio_conv_strides must have one length")
        if not 0 < self.motion_low_layers <= self.motion_layers:
            raise ValueError("need 0 < motion_low_layers <= motion_layers")
        if self.transformer_dim % self.transformer_heads:
            raise ValueError("transformer_dim must be divisible by transformer_heads")
        if self.motion_features not in MOTION_FEATURE_CHANNELS:
            raise ValueError(f"motion_features must be one of {sorted(MOTION_FEATURE_CHANNELS)}")
        if bool(self.wav2vec_dir) != (self.wav2vec_dim > 0):
            raise ValueError("wav2vec_dir and wav2vec_dim must be set together")
        if self.text_level not in ("low", "high"):
            raise ValueError("text_level must be 'low' or 'high'")
        if self.prosody_dim not in (0, PROSODY_CHANNELS):
            raise ValueError(f"prosody_dim must be 0 (off) or {PROSODY_CHANNELS} (pitch, periodicity, energy)")
        return self

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict) -> "AuMoCLIPConfig":
        known = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise CheckpointMismatch(f"config.json has fields this code does not know: {unknown}")
        values = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
        values.setdefault("text_level", "low")  # checkpoints from before text_level fused words at the low level
        return cls(**values).validate()

    @classmethod
    def load(cls, path: Path) -> "AuMoCLIPConfig":
        try:
            data = json.loads(Path(path).read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise CheckpointMismatch(f"cannot read AuMoCLIP config {path}: {exc}") from exc
        return cls.from_dict(data)

    @classmethod
    def for_representation(cls, representation: str, **overrides) -> "AuMoCLIPConfig":
        joints = {"smplx": SMPLX_JOINTS, "mediapipe": MEDIAPIPE_JOINTS}.get(representation)
        if joints is None:
            raise ValueError(f"unknown motion representation {representation!r}")
        return cls(representation=representation, joints=joints, **overrides).validate()
