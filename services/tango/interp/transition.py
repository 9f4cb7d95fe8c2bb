"""One entry point for transition frames: validates the two ends and dispatches to a method."""
from __future__ import annotations

import dataclasses
from typing import Callable

import numpy as np

from tango.interp.crossfade import crossfade
from tango.interp.flow import FlowInterpolator, FlowInterpolatorConfig
from tango.runtime.errors import InvalidArgument

METHODS = ("flow", "crossfade")
MAX_NUM_FRAMES = 120


@dataclasses.dataclass(frozen=True)
class TransitionConfig:
    flow: FlowInterpolatorConfig = FlowInterpolatorConfig()
    max_num_frames: int = MAX_NUM_FRAMES


def validate_ends(before: np.ndarray, after: np.ndarray, num_frames: int, max_num_frames: int = MAX_NUM_FRAMES) -> None:
    """InvalidArgument (reason BAD_TRANSITION_INPUT) unless both are (k>=1, H, W, 3) uint8 of one size."""
    def fail(message: str) -> None:
        raise InvalidArgument(message, reason="BAD_TRANSITION_INPUT")

    for name, frames in (("before", before), ("after", after)):
        if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3 or frames.shape[0] < 1:
            fail(f"{name} must be (k>=1, H, W, 3) uint8, got {frames.shape} {frames.dtype}")
        if min(frames.shape[1:3]) < 8:
            fail(f"{name} frames must be at least 8x8 pixels, got {frames.shape[1:3]}")
    if before.shape[1:] != after.shape[1:]:
        fail(f"before and after differ in frame size: {before.shape[1:]} vs {after.shape[1:]}")
    if not 1 <= num_frames <= max_num_frames:
        fail(f"num_frames must lie in [1, {max_num_frames}], got {num_frames}")


class TransitionInterpolator:
    """interpolate(before, after, num_frames, method) -> (n, H, W, 3) uint8; holds the flow engine."""

    def __init__(self, config: TransitionConfig = TransitionConfig()):
        self.config = config
        flow = FlowInterpolator(config.flow)
        self._methods: dict[str, Callable[[np.ndarray, np.ndarray, int], np.ndarray]] = {
            "flow": flow, "crossfade": crossfade,
        }

    def interpolate(self, before: np.ndarray, after: np.ndarray, num_frames: int, method: str = "flow") -> np.ndarray:
        if method not in self._methods:
            raise InvalidArgument(f"unknown interpolation method {method!r}; one of {list(METHODS)}",
                                  reason="UNKNOWN_METHOD")
        validate_ends(before, after, num_frames, self.config.max_num_frames)
        return self._methods[method](before, after, num_frames)
