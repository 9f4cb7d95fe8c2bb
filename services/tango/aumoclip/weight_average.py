"""Exponential moving average (EMA) of a model's weights: what an AuMoCLIP checkpoint serves.

With ~1 minute of training pairs the raw weights of any single step are noisy (they memorise the last
batches); their running average generalises better and makes the result far less seed-dependent.
The average is resumable: its warm-up depends only on the optimizer step count.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import torch
from torch import nn


class WeightAverage:
    """shadow = decay * shadow + (1 - decay) * weights after every step (decay warmed up over early steps)."""

    def __init__(self, model: nn.Module, decay: float):
        if not 0.0 <= decay < 1.0:
            raise ValueError("ema decay must be in [0, 1)")
        self.decay = decay
        self.shadow = {name: tensor.detach().clone() for name, tensor in model.state_dict().items()}

    def effective_decay(self, step: int) -> float:
        """The decay at optimizer step `step` (1-based): short memory at first, `decay` later."""
        return min(self.decay, (1.0 + step) / (10.0 + step))

    @torch.no_grad()
    def update(self, model: nn.Module, step: int) -> None:
        weight = 1.0 - self.effective_decay(step)
        for name, tensor in model.state_dict().items():
            if tensor.is_floating_point():
                self.shadow[name].lerp_(tensor.detach(), weight)
            else:
                self.shadow[name].copy_(tensor)

    @contextmanager
    def applied(self, model: nn.Module) -> Iterator[nn.Module]:
        """Temporarily loads the averaged weights into `model` (restoring the raw ones afterwards)."""
        raw = {name: tensor.detach().clone() for name, tensor in model.state_dict().items()}
        model.load_state_dict(self.shadow, strict=True)
        try:
            yield model
        finally:
            model.load_state_dict(raw, strict=True)
