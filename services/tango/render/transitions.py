"""Transition frames from a Triton interpolation model chosen by name, with a weight-free fallback.

The renderer asks for the frames of each jump window; `TransitionModel` sends them to the requested model
(e.g. `interp_acinterp`, the diffusion interpolator) and falls back to `interp_flow` where that model cannot
serve: not loaded or not ready (no weights installed), or a window it refuses (e.g. more frames than its
motion module holds). Whatever happens is counted and lands in the render sidecar (`transitions`), so a
video made with the fallback says so. Other errors (Triton down, timeouts) propagate to the job's retries.

`interp_flow` draws with `method`: "layered" (the default: the person by flow inside perception's masks
over the speaker's background plate, the face morphed by perception's face landmarks, all from `layers`) or
"flow" / "crossfade"; other models ignore it.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from tango.render.renderer import Window
from tango.runtime.errors import InvalidArgument, ModelNotReady, TangoError
from tango.triton.client import INTERP_MODEL, TritonClient

# (masks_before, masks_after, plate | None, landmarks_before | None, landmarks_after | None)
LayersFn = Callable[[Window], tuple[np.ndarray | None, ...]]


class TransitionModel:
    """Callable (before (k,H,W,3), after (k,H,W,3), n, window) -> (n,H,W,3) uint8 through `requested` or
    `fallback`."""

    def __init__(self, client: TritonClient, requested: str, fallback: str = "", method: str = "flow",
                 layers: LayersFn | None = None):
        self.client = client
        self.requested = requested
        self.method = method
        self.layers = layers
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

    def __call__(self, before: np.ndarray, after: np.ndarray, count: int, window: Window) -> np.ndarray:
        self.windows += 1
        if not self._use_fallback:
            try:
                return self._draw(self.requested, before, after, count, window)
            except (ModelNotReady, InvalidArgument) as error:
                if not self.fallback:
                    raise
                self._note(error)
        self.fallback_windows += 1
        return self._draw(self.fallback, before, after, count, window)

    def _draw(self, model: str, before: np.ndarray, after: np.ndarray, count: int, window: Window) -> np.ndarray:
        if model != INTERP_MODEL:
            return self.client.interpolate(before, after, count, model=model)
        layers = self.layers(window) if self.method == "layered" and self.layers is not None else None
        method = self.method if layers is not None or self.method != "layered" else "flow"
        return self.client.interpolate(before, after, count, method=method, model=model, layers=layers)

    def _note(self, error: TangoError) -> None:
        if isinstance(error, ModelNotReady):
            self._use_fallback = True  # it will not come back within this render
        self.fallback_reason = self.fallback_reason or f"{self.requested}: {error.reason}: {error.message}"

    def report(self) -> dict:
        """The sidecar's `transitions` entry: windows drawn in all, and how many of them by the fallback."""
        return {"model": self.requested, "method": self.method, "windows": self.windows,
                "fallback": self.fallback or None,
                "fallback_windows": self.fallback_windows, "fallback_reason": self.fallback_reason or None}
