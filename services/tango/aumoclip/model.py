"""AuMoCLIP: hierarchical audio-motion joint embedding (TANGO section 3.2).

Two towers (audio_tower.py, motion_tower.py). Low level: each tower's per-frame features projected by an MLP
into the joint space (B, T, D). High level: a CLS vector per clip from projection self-attention (a learned
query attending over the tower's transformer outputs) (B, D). Everything is L2-normalised; two learnable
temperatures (low, high) scale the cosine similarities in the losses.

Serving: call `model.eval()` and run under `torch.inference_mode()`; `load_checkpoint` returns it in eval.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from tango.aumoclip.audio_tower import AudioTower
from tango.aumoclip.config import AuMoCLIPConfig
from tango.aumoclip.layers import AttentionPool, ProjectionMLP
from tango.aumoclip.motion_tower import MotionTower
from tango.aumoclip.prosody import ProsodyFeatures, normalise_prosody
from tango.aumoclip.wav2vec_features import Wav2VecFeatures
from tango.runtime.errors import InputMismatch

MAX_LOGIT_SCALE = 100.0


class AuMoCLIP(nn.Module):
    """embed_audio(wave (B, S)) and embed_motion(motion (B, T, J, C)) -> (low (B, T, D), high (B, D)).

    With `prosody_dim` the pitch and energy of the waveform are computed by `prosody` (default: a
    torchcrepe-based `ProsodyFeatures`) unless the caller hands them in precomputed (training, evaluation).
    """

    def __init__(self, config: AuMoCLIPConfig, wav2vec: Wav2VecFeatures | None = None,
                 prosody: ProsodyFeatures | None = None):
        super().__init__()
        self.config = config.validate()
        if config.wav2vec_dir and wav2vec is None:
            wav2vec = Wav2VecFeatures(config.wav2vec_dir, config.fps, config.sample_rate)
        if wav2vec is not None and wav2vec.dim != config.wav2vec_dim:
            raise InputMismatch(f"Wav2Vec2 gives {wav2vec.dim} channels, config expects {config.wav2vec_dim}")
        self._wav2vec = [wav2vec] if wav2vec is not None else []  # a list: kept out of the state dict
        if config.prosody_dim and prosody is None:
            prosody = ProsodyFeatures(config.fps, config.sample_rate)
        self._prosody = [prosody] if config.prosody_dim else []  # kept out of the state dict
        self.audio_tower = AudioTower(config)
        self.motion_tower = MotionTower(config)
        self.audio_low_proj = ProjectionMLP(self.audio_tower.low_dim, config.embed_dim)
        self.motion_low_proj = ProjectionMLP(self.motion_tower.low_dim, config.embed_dim)
        pool = (config.transformer_dim, config.transformer_heads, config.embed_dim, config.cls_queries,
                config.cls_segments)
        self.audio_pool = AttentionPool(*pool)
        self.motion_pool = AttentionPool(*pool)
        initial = math.log(1.0 / config.temperature_init)
        self.log_scale_low = nn.Parameter(torch.tensor(initial))
        self.log_scale_high = nn.Parameter(torch.tensor(initial))

    @property
    def scale_low(self) -> torch.Tensor:
        return self.log_scale_low.exp().clamp(max=MAX_LOGIT_SCALE)

    @property
    def scale_high(self) -> torch.Tensor:
        return self.log_scale_high.exp().clamp(max=MAX_LOGIT_SCALE)

    def _audio_extra(self, wave: torch.Tensor, text: torch.Tensor | None,
                     prosody: torch.Tensor | None) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """Extra audio channels of the low level (B, T, audio_extra_dim) and of the high level (B, T, high_extra_dim),
        each None where there are none."""
        parts = []
        if self._wav2vec:
            parts.append(self._wav2vec[0](wave))
        frames = parts[0].shape[1] if parts else max(1, wave.shape[1] * self.config.fps // self.config.sample_rate)
        words = None
        if self.config.text_dim:
            if text is None:  # no transcript: zeros, the value seen for silence during training
                text = wave.new_zeros(wave.shape[0], frames, self.config.text_dim)
            words = _frame_channels(text, wave.shape[0], frames, self.config.text_dim, "text")
            if self.config.text_level == "low":
                parts.append(words)
                words = None
        if self.config.prosody_dim:
            if prosody is None:
                prosody = self._prosody[0](wave)  # (B, T, 3) raw
            prosody = _frame_channels(prosody, wave.shape[0], frames, self.config.prosody_dim, "prosody")
            parts.append(normalise_prosody(prosody))
        if not parts:
            return None, words
        length = min(p.shape[1] for p in parts)
        return torch.cat([p[:, :length] for p in parts], dim=-1), words

    def embed_audio(self, wave: torch.Tensor, text: torch.Tensor | None = None,
                    prosody: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """wave (B, S) float at sample_rate [, text (B, T, text_dim), raw prosody (B, T, prosody_dim)]
        -> low (B, T, D), high (B, D)."""
        if wave.dim() != 2 or wave.shape[1] == 0:
            raise InputMismatch(f"waveform must be (B, S) with S > 0, got {tuple(wave.shape)}")
        wave = wave.float()
        low, high = self.audio_tower(wave, *self._audio_extra(wave, text, prosody))  # (B, T, C), (B, T, H)
        return self.audio_low_proj(low), self.audio_pool(high)

    def embed_motion(self, motion: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """motion (B, T, J, C) -> low (B, T, D), high (B, D)."""
        expected = (self.config.joints, self.config.channels)
        if motion.dim() != 4 or tuple(motion.shape[2:]) != expected or motion.shape[1] == 0:
            raise InputMismatch(f"motion must be (B, T, {expected[0]}, {expected[1]}) for a "
                                f"{self.config.representation} checkpoint, got {tuple(motion.shape)}")
        low, high = self.motion_tower(motion.float())  # (B, T, H), (B, T, H')
        return self.motion_low_proj(low), self.motion_pool(high)

    def forward(self, wave: torch.Tensor, motion: torch.Tensor, text: torch.Tensor | None = None,
                prosody: torch.Tensor | None = None):
        """Both towers for a training batch: ((audio_low, audio_high), (motion_low, motion_high))."""
        return self.embed_audio(wave, text, prosody), self.embed_motion(motion)


def _frame_channels(values: torch.Tensor, batch: int, frames: int, dim: int, name: str) -> torch.Tensor:
    """Checks per-frame channels (B, T', dim) and crops them to at most `frames` frames."""
    if values.dim() != 3 or values.shape[-1] != dim or values.shape[0] != batch:
        raise InputMismatch(f"{name} features must be (B, T, {dim}), got {tuple(values.shape)}")
    return values[:, :frames].float()
