"""Transition frames from a Triton interpolation model chosen by name, with a weight-free fallback.

The renderer asks for the frames of each jump window; `TransitionModel` sends them to the requested model
(e.g. `interp_acinterp`, the diffusion interpolator) and falls back to `interp_flow` where that model cannot
serve: not loaded or not ready (no weights installed), or a window it refuses (e.g. more frames than its
motion module holds). Whatever happens is counted and lands in the render sidecar (`transitions`), so a
video made with the fallback says so. Other errors (Triton down, timeouts) propagate to the job's retries.
"""
from __future__ import annotations

import numpy as np

from tango.runtime.errors import InvalidArgument, ModelNotReady, TangoError
from tango.triton.client import TritonClient


class TransitionModel:
    """Callable (before (k,H,W,3), after (k,H,W,3), n) -> (n,H,W,3) uint8 through `requested` or `fallback`."""

    def __init__(self, client: TritonClient, requested: str, fallback: str = ""):
        self.client = client
        self.requested = requested
        self.fallback = fallback if fallback and fallback != requested else ""
        self.windows = 0
        self.fallback_windows = 0
        self.fallback_reason = ""
        self._use_fallback = bool(self.fallback) and not self._ready(requested)

    def _ready(self, model: str) -> bool:
        """Whether `model` is ready; records Triton's reason when it is not."""
        if self.client.is_model_ready(model):
            return True
        state, reason = self.client.model_state(model)
        self.fallback_reason = f"{model} {state or 'UNLOADED'}: {reason or 'not in the model repository or not loaded'}"
        return False

    def __call__(self, before: np.ndarray, after: np.ndarray, count: int) -> np.ndarray:
        self.windows += 1
        if not self._use_fallback:
            try:
                return self.client.interpolate(before, after, count, model=self.requested)
            except (ModelNotReady, InvalidArgument) as error:
                if not self.fallback:
                    raise
                self._note(error)
        self.fallback_windows += 1
        return self.client.interpolate(before, after, count, model=self.fallback)

    def _note(self, error: TangoError) -> None:
        if isinstance(error, ModelNotReady):
            self._use_fallback = True  # it will not come back within this render
        self.fallback_reason = self.fallback_reason or f"{self.requested}: {error.reason}: {error.message}"

    def report(self) -> dict:
        """The sidecar's `transitions` entry: windows drawn in all, and how many of them by the fallback."""
        return {"model": self.requested, "windows": self.windows, "fallback": self.fallback or None,
                "fallback_windows": self.fallback_windows, "fallback_reason": self.fallback_reason or None}
