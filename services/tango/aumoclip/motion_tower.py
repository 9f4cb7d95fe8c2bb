"""Motion tower: per-joint 15-D motion (B, T, J, C) -> residual 1-D CNN stack -> one transformer layer.

Each frame's joints are flattened (J*C), standardised with statistics of the training data (buffers stored
in the checkpoint), embedded by a 1x1 convolution, then `motion_layers` residual temporal convolutions; the
first `motion_low_layers` give the low-level per-frame features, the rest (on detached low-level features
when `stop_gradient`) and one transformer layer give the high-level sequence.
"""
from __future__ import annotations

import torch
from torch import nn

from tango.aumoclip.config import MOTION_FEATURE_CHANNELS, AuMoCLIPConfig
from tango.aumoclip.layers import HighLevelEncoder, ResidualConvBlock


class MotionTower(nn.Module):
    """motion (B, T, J, C) -> low (B, T, motion_hidden), high (B, T, transformer_dim)."""

    def __init__(self, config: AuMoCLIPConfig):
        super().__init__()
        self.config = config
        features = config.joints * config.channels
        hidden = config.motion_hidden
        self.register_buffer("input_mean", torch.zeros(features))
        self.register_buffer("input_std", torch.ones(features))
        self.used_channels = list(MOTION_FEATURE_CHANNELS[config.motion_features])
        self.embed = nn.Conv1d(config.joints * len(self.used_channels), hidden, 1)
        blocks = [ResidualConvBlock(hidden, config.motion_kernel, config.dropout) for _ in range(config.motion_layers)]
        self.low_blocks = nn.Sequential(*blocks[: config.motion_low_layers])
        self.high_blocks = nn.Sequential(*blocks[config.motion_low_layers:])
        self.high = HighLevelEncoder(hidden, config.transformer_dim, config.transformer_heads,
                                     config.transformer_ff, config.dropout)
        self.low_dim = hidden

    def set_input_statistics(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        """mean, std (J*C,) of the training motion; std is floored so constant channels stay finite."""
        self.input_mean.copy_(mean.reshape(-1))
        self.input_std.copy_(torch.clamp(std.reshape(-1), min=1e-3))

    def normalise(self, motion: torch.Tensor) -> torch.Tensor:  # (B, T, J, C) -> (B, J*C_used, T)
        batch, frames, joints, channels = motion.shape
        scaled = (motion.reshape(batch, frames, -1) - self.input_mean) / self.input_std
        scaled = scaled.reshape(batch, frames, joints, channels)[..., self.used_channels]  # (B, T, J, C_used)
        if self.training and self.config.joint_dropout > 0:
            keep = torch.rand(batch, 1, joints, 1, device=motion.device) >= self.config.joint_dropout
            scaled = scaled * keep
        return scaled.reshape(batch, frames, -1).transpose(1, 2)

    def forward(self, motion: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        low = self.low_blocks(self.embed(self.normalise(motion)))  # (B, H, T)
        upper = self.high_blocks(low.detach() if self.config.stop_gradient else low)  # (B, H, T)
        high = self.high(upper.transpose(1, 2))  # (B, T, transformer_dim)
        return low.transpose(1, 2), high
