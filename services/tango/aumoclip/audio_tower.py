"""Audio tower: raw 16 kHz waveform -> low-level per-frame features at `fps` -> high-level transformer.

Low level: a 7-layer wav2vec2-style 1-D CNN feature encoder (kernels 10,3,3,3,3,2,2, strides 5,2,2,2,2,2,2:
total stride 320 samples = 50 frames/s at 16 kHz), linearly resampled to exactly `fps` frames per second
(16000/30 is no integer stride), optional extra channels (frozen Wav2Vec2, prosody; transcript words where
`text_level` is "low") fused in, then a few residual temporal convolutions for context. High level: one
transformer layer over the (detached, when `stop_gradient`) low-level features, with the transcript's word
features beside them where `text_level` is "high" (TANGO's time-aligned text at the high level).
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from tango.aumoclip.config import AuMoCLIPConfig
from tango.aumoclip.layers import ChannelLayerNorm, HighLevelEncoder, ResidualConvBlock


def frames_for_samples(samples: int, sample_rate: int, fps: int) -> int:
    """Number of `fps` frames covered by `samples` audio samples (floor, at least 1)."""
    return max(1, (samples * fps) // sample_rate)


class WaveformFeatureEncoder(nn.Module):
    """(B, S) waveform -> (B, C, L) at sample_rate / prod(strides) frames per second."""

    def __init__(self, channels: tuple[int, ...], kernels: tuple[int, ...], strides: tuple[int, ...]):
        super().__init__()
        layers, previous = [], 1
        for out_channels, kernel, stride in zip(channels, kernels, strides):
            layers += [nn.Conv1d(previous, out_channels, kernel, stride=stride), ChannelLayerNorm(out_channels),
                       nn.GELU()]
            previous = out_channels
        self.net = nn.Sequential(*layers)
        self.receptive_field = kernels[-1]
        for kernel, stride in zip(reversed(kernels[:-1]), reversed(strides[:-1])):
            self.receptive_field = (self.receptive_field - 1) * stride + kernel

    def forward(self, wave: torch.Tensor) -> torch.Tensor:  # (B, S) -> (B, C, L)
        wave = (wave - wave.mean(dim=1, keepdim=True)) / (wave.std(dim=1, keepdim=True) + 1e-5)
        if wave.shape[1] < self.receptive_field:
            wave = F.pad(wave, (0, self.receptive_field - wave.shape[1]))
        return self.net(wave[:, None, :])


class AudioTower(nn.Module):
    """wave (B, S), extra (B, T, E) | None, high_extra (B, T, E') | None -> low (B, T, C_low),
    high (B, T, transformer_dim)."""

    def __init__(self, config: AuMoCLIPConfig):
        super().__init__()
        self.config = config
        self.encoder = WaveformFeatureEncoder(config.audio_conv_channels, config.audio_conv_kernels,
                                              config.audio_conv_strides)
        width = config.audio_conv_channels[-1]
        self.fuse = nn.Conv1d(width + config.audio_extra_dim, width, 1)
        self.context = nn.Sequential(*[ResidualConvBlock(width, 5, config.dropout)
                                       for _ in range(config.audio_context_layers)])
        self.high = HighLevelEncoder(width + config.high_extra_dim, config.transformer_dim, config.transformer_heads,
                                     config.transformer_ff, config.dropout)
        self.low_dim = width

    def low_level(self, wave: torch.Tensor, extra: torch.Tensor | None) -> torch.Tensor:
        """(B, S), (B, T, E) | None -> (B, T, C_low) at fps."""
        frames = frames_for_samples(wave.shape[1], self.config.sample_rate, self.config.fps)
        features = self.encoder(wave)  # (B, C, L) at 50 fps
        features = F.interpolate(features, size=frames, mode="linear", align_corners=False)  # (B, C, T)
        if self.config.audio_extra_dim:
            if extra is None:
                extra = features.new_zeros(features.shape[0], frames, self.config.audio_extra_dim)
            extra = _match_frames(extra, frames)  # (B, T, E)
            features = torch.cat([features, extra.transpose(1, 2)], dim=1)
        features = self.context(self.fuse(features))  # (B, C, T)
        return features.transpose(1, 2)

    def forward(self, wave: torch.Tensor, extra: torch.Tensor | None = None,
                high_extra: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        low = self.low_level(wave, extra)  # (B, T, C_low)
        features = low.detach() if self.config.stop_gradient else low
        if self.config.high_extra_dim:
            if high_extra is None:
                high_extra = low.new_zeros(low.shape[0], low.shape[1], self.config.high_extra_dim)
            features = torch.cat([features, _match_frames(high_extra, low.shape[1])], dim=-1)  # (B, T, C_low + E')
        return low, self.high(features)  # (B, T, transformer_dim)


def _match_frames(extra: torch.Tensor, frames: int) -> torch.Tensor:
    """(B, T', E) -> (B, frames, E): crop or edge-pad by at most a frame or two of rounding."""
    if extra.shape[1] >= frames:
        return extra[:, :frames]
    return F.pad(extra.transpose(1, 2), (0, frames - extra.shape[1]), mode="replicate").transpose(1, 2)
