"""Small building blocks shared by the two towers and the joint model."""
from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F


class ChannelLayerNorm(nn.Module):
    """LayerNorm over the channel axis of a (B, C, T) tensor (wav2vec2's "layer" feature-encoder mode)."""

    def __init__(self, channels: int):
        super().__init__()
        self.norm = nn.LayerNorm(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, T) -> (B, C, T)
        return self.norm(x.transpose(1, 2)).transpose(1, 2)


class ResidualConvBlock(nn.Module):
    """x + Dropout(GELU(Norm(Conv1d(x)))) at constant length; replicate padding (no zero-edge cue)."""

    def __init__(self, channels: int, kernel: int, dropout: float):
        super().__init__()
        self.conv = nn.Conv1d(channels, channels, kernel, padding=kernel // 2, padding_mode="replicate")
        self.norm = ChannelLayerNorm(channels)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, T) -> (B, C, T)
        return x + self.dropout(F.gelu(self.norm(self.conv(x))))


def sinusoidal_positions(length: int, dim: int, device: torch.device) -> torch.Tensor:
    """(length, dim) fixed sinusoidal position encoding."""
    position = torch.arange(length, device=device, dtype=torch.float32)[:, None]  # (T, 1)
    frequency = torch.exp(torch.arange(0, dim, 2, device=device, dtype=torch.float32) * (-math.log(1e4) / dim))
    table = torch.zeros(length, dim, device=device)
    table[:, 0::2] = torch.sin(position * frequency)
    table[:, 1::2] = torch.cos(position * frequency[: dim // 2])
    return table


class HighLevelEncoder(nn.Module):
    """Per-frame features -> one pre-norm transformer layer with positions -> (B, T, transformer_dim)."""

    def __init__(self, in_dim: int, dim: int, heads: int, ff: int, dropout: float):
        super().__init__()
        self.input = nn.Linear(in_dim, dim)
        self.position_gain = nn.Parameter(torch.tensor(0.1))  # small at first: clips must not look alike
        self.layer = nn.TransformerEncoderLayer(dim, heads, ff, dropout, activation="gelu", batch_first=True,
                                                norm_first=True)

    def forward(self, features: torch.Tensor) -> torch.Tensor:  # (B, T, in_dim) -> (B, T, dim)
        hidden = self.input(features)
        hidden = hidden + self.position_gain * sinusoidal_positions(hidden.shape[1], hidden.shape[2], hidden.device)
        return self.layer(hidden)


class ProjectionMLP(nn.Module):
    """Per-frame projection into the joint space: Linear -> GELU -> Linear, L2-normalised."""

    def __init__(self, in_dim: int, out_dim: int):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(in_dim, in_dim), nn.GELU(), nn.Linear(in_dim, out_dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (..., in_dim) -> (..., out_dim), unit norm
        return F.normalize(self.net(x), dim=-1)


class AttentionPool(nn.Module):
    """Projection self-attention -> CLS (B, out_dim), unit norm.

    `queries` learned CLS queries attend over the (layer-normed) sequence; with `segments` > 0 the means of
    that many equal time segments are appended, keeping the clip's temporal layout (two clips 0.5 s apart
    must differ). Both are concatenated, normalised and projected.
    """

    def __init__(self, dim: int, heads: int, out_dim: int, queries: int = 4, segments: int = 8):
        super().__init__()
        self.query = nn.Parameter(torch.randn(1, queries, dim) * dim ** -0.5)
        self.key_norm = nn.LayerNorm(dim)
        self.attention = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.segments = segments
        self.norm = nn.LayerNorm(dim * (queries + segments))
        self.output = nn.Linear(dim * (queries + segments), out_dim)

    def forward(self, sequence: torch.Tensor) -> torch.Tensor:  # (B, T, dim) -> (B, out_dim)
        keys = self.key_norm(sequence)
        query = self.query.expand(sequence.shape[0], -1, -1)  # (B, Q, dim)
        pooled, _ = self.attention(query, keys, keys, need_weights=False)  # (B, Q, dim)
        parts = [pooled.flatten(1)]
        if self.segments:
            parts.append(F.adaptive_avg_pool1d(keys.transpose(1, 2), self.segments).flatten(1))  # (B, dim*K)
        return F.normalize(self.output(self.norm(torch.cat(parts, dim=1))), dim=-1)
