"""PoseGuider (AnimateAnyone): rendered pose images -> features added to the noisy latent after conv_in.

How the features get in: a forward hook on the denoising UNet's `conv_in` (`ConvInInjection`) adds them
to its output. Chosen over a wrapper module because the diffusers `UNetMotionModel` stays untouched: its
state dict, `save_pretrained` layout and `from_unet2d` construction are exactly diffusers' own (weights
of any AnimateDiff/SD UNet load as they are), and its 200-line `forward` is not copied. The hook is
inert while no features are set, so the same UNet also runs unguided.
"""
from __future__ import annotations

import contextlib
from typing import Iterator

import torch
from torch import nn

from tango.acinterp.guider import ConditioningGuider, GuiderConfig

POSE_CHANNELS = 3  # RGB skeleton images in [0, 1]


class PoseGuider(ConditioningGuider):
    """(N, 3, H, W) pose images in [0, 1] -> (N, C0, H / f, W / f) features (zero at initialisation)."""

    def __init__(self, config: GuiderConfig):
        if config.in_channels != POSE_CHANNELS:
            raise ValueError(f"a PoseGuider reads {POSE_CHANNELS}-channel images, got {config.in_channels}")
        super().__init__(config)


class ConvInInjection:
    """Adds features (B*F, C0, h, w) to the output of `conv_in` while `adding(...)` is active."""

    def __init__(self, conv_in: nn.Module):
        self._features: torch.Tensor | None = None
        self._handle = conv_in.register_forward_hook(self._hook)

    def _hook(self, _module: nn.Module, _inputs: tuple, output: torch.Tensor) -> torch.Tensor:
        if self._features is None:
            return output
        if self._features.shape != output.shape:
            raise ValueError(f"guider features {tuple(self._features.shape)} do not fit "
                             f"conv_in's {tuple(output.shape)}")
        return output + self._features.to(output.dtype)

    @contextlib.contextmanager
    def adding(self, features: torch.Tensor | None) -> Iterator[None]:
        previous, self._features = self._features, features
        try:
            yield
        finally:
            self._features = previous

    def remove(self) -> None:
        self._handle.remove()
