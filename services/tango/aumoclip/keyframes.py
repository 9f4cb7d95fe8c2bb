"""KMM density-based key-frame selection on motion latents, and key-frame masking for training.

For the frames of one clip with latents z_i: D_ij = ||z_i - z_j||, local density rho_i = sum_j exp(-D_ij^2 / h^2)
(h = `bandwidth`, 1 in KMM), delta_i = distance to the nearest frame of strictly higher density (the densest
frame takes its largest distance), score = rho * delta (density-peak clustering). The top `fraction` of the
frames by score are key frames. Masking replaces those frames of the motion input by the training mean, so
the model must infer them from context (KMM's key-frame masking).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class KeyframeConfig:
    enabled: bool = False
    fraction: float = 0.1
    bandwidth: float = 1.0


def keyframe_scores(latents: torch.Tensor, bandwidth: float = 1.0) -> torch.Tensor:
    """latents (B, T, D) -> scores (B, T) = density x distance to the nearest denser frame."""
    distance = torch.cdist(latents, latents)  # (B, T, T)
    density = torch.exp(-(distance / bandwidth) ** 2).sum(-1)  # (B, T)
    denser = density[:, None, :] > density[:, :, None]  # (B, T_i, T_j): j denser than i
    to_denser = distance.masked_fill(~denser, math.inf).min(-1).values  # (B, T)
    peak = torch.isinf(to_denser)  # no denser frame: take the farthest distance
    delta = torch.where(peak, distance.max(-1).values, to_denser)
    return density * delta


def select_keyframes(latents: torch.Tensor, fraction: float, bandwidth: float = 1.0) -> torch.Tensor:
    """latents (B, T, D) -> (B, T) bool, True on the ceil(fraction * T) highest-scoring frames."""
    scores = keyframe_scores(latents, bandwidth)  # (B, T)
    count = min(scores.shape[1], max(1, math.ceil(fraction * scores.shape[1])))
    top = scores.topk(count, dim=1).indices  # (B, count)
    return torch.zeros_like(scores, dtype=torch.bool).scatter_(1, top, True)


def mask_keyframes(model, motion: torch.Tensor, config: KeyframeConfig) -> torch.Tensor:
    """motion (B, T, J, C) -> copy with the key frames (from the model's own low-level latents) set to the
    motion tower's input mean (zero after standardisation)."""
    with torch.no_grad():
        latents, _ = model.embed_motion(motion)  # (B, T, D)
        keys = select_keyframes(latents, config.fraction, config.bandwidth)  # (B, T)
    mean = model.motion_tower.input_mean.reshape(motion.shape[2], motion.shape[3])  # (J, C)
    return torch.where(keys[:, :, None, None], mean, motion)
