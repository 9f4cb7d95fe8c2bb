"""AuMoCLIP losses: global InfoNCE on CLS embeddings and the local frame-wise contrastive loss.

Local loss (TANGO): for audio frame i, motion frames j with |i - j| <= t are positives and frames with
t < |i - j| < k*t are negatives ((i-kt, i-t) U (i+t, i+kt), t = 4, k = 4 at 30 fps); frames farther away
are ignored. Multi-positive InfoNCE per anchor, -log(sum_pos exp(s) / sum_{pos U neg} exp(s)), averaged
over anchors and both directions (audio->motion and motion->audio).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.nn import functional as F


@dataclass(frozen=True)
class LocalWindow:
    positive_radius: int = 4  # t
    negative_factor: int = 4  # k

    def masks(self, frames: int, device: torch.device | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(T, T) bool masks: positives |i-j| <= t, negatives t < |i-j| < k*t."""
        index = torch.arange(frames, device=device)
        offset = (index[:, None] - index[None, :]).abs()  # (T, T)
        positive = offset <= self.positive_radius
        negative = (offset > self.positive_radius) & (offset < self.positive_radius * self.negative_factor)
        return positive, negative


def global_infonce(audio_high: torch.Tensor, motion_high: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """Symmetric InfoNCE over the mini-batch. audio_high, motion_high (B, D) unit vectors -> scalar."""
    logits = scale * audio_high @ motion_high.T  # (B, B)
    target = torch.arange(logits.shape[0], device=logits.device)
    return 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target))


def _multi_positive_nce(logits: torch.Tensor, positive: torch.Tensor, negative: torch.Tensor) -> torch.Tensor:
    """logits (B, T, T) anchors on dim 1; masks (T, T) -> (B, T) per-anchor -log p(positive set)."""
    neg_inf = torch.finfo(logits.dtype).min
    log_all = torch.logsumexp(logits.masked_fill(~(positive | negative), neg_inf), dim=-1)  # (B, T)
    log_pos = torch.logsumexp(logits.masked_fill(~positive, neg_inf), dim=-1)  # (B, T)
    return log_all - log_pos


def local_contrastive(audio_low: torch.Tensor, motion_low: torch.Tensor, scale: torch.Tensor,
                      window: LocalWindow = LocalWindow(), frame_weight: torch.Tensor | None = None) -> torch.Tensor:
    """Frame-wise loss on aligned clips. audio_low, motion_low (B, T, D) unit vectors -> scalar.

    `frame_weight` (B, T) optionally weights anchors (e.g. 0 for key frames masked out of the motion input).
    """
    positive, negative = window.masks(audio_low.shape[1], audio_low.device)
    logits = scale * torch.einsum("bid,bjd->bij", audio_low, motion_low)  # (B, T_audio, T_motion)
    per_anchor = 0.5 * (_multi_positive_nce(logits, positive, negative)
                        + _multi_positive_nce(logits.transpose(1, 2), positive.T, negative.T))  # (B, T)
    if frame_weight is None:
        return per_anchor.mean()
    return (per_anchor * frame_weight).sum() / frame_weight.sum().clamp(min=1e-6)
