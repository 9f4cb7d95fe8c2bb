"""One entry point for transition frames: validates the two ends and dispatches to a method.

`flow` and `crossfade` need only the frames (the Triton `interp_flow` contract). `layered` also needs the
person masks of the context frames and, optionally, the speaker's background plate and perception's face
landmarks of the context frames (keyword arguments; `tango.interp.layered`); asked without masks it raises
InvalidArgument (reason MASKS_REQUIRED). Without landmarks it draws the face by flow, as before them.
"""
from __future__ import annotations

import dataclasses
from typing import Callable

import numpy as np

from tango.interp.crossfade import crossfade
from tango.interp.face_morph import FACE_POINT_COUNT
from tango.interp.flow import FlowInterpolator, FlowInterpolatorConfig
from tango.interp.layered import LayeredConfig, LayeredInterpolator
from tango.runtime.errors import InvalidArgument

METHODS = ("flow", "crossfade", "layered")
MASKED_METHODS = ("layered",)  # need masks_before / masks_after
MAX_NUM_FRAMES = 120


@dataclasses.dataclass(frozen=True)
class TransitionConfig:
    flow: FlowInterpolatorConfig = FlowInterpolatorConfig()
    layered: LayeredConfig = LayeredConfig()
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
        self._layered = LayeredInterpolator(config.layered)

    def interpolate(self, before: np.ndarray, after: np.ndarray, num_frames: int, method: str = "flow", *,
                    masks_before: np.ndarray | None = None, masks_after: np.ndarray | None = None,
                    plate: np.ndarray | None = None, landmarks_before: np.ndarray | None = None,
                    landmarks_after: np.ndarray | None = None) -> np.ndarray:
        """(k,H,W,3), (k,H,W,3), n -> (n,H,W,3) uint8; masks (k,H,W) float32, plate (H,W,3) uint8 and face
        landmarks (k,95,3) float32 (normalised, NaN rows: no face) for `layered`."""
        if method not in METHODS:
            raise InvalidArgument(f"unknown interpolation method {method!r}; one of {list(METHODS)}",
                                  reason="UNKNOWN_METHOD")
        validate_ends(before, after, num_frames, self.config.max_num_frames)
        if method not in MASKED_METHODS:
            return self._methods[method](before, after, num_frames)
        validate_layers(before, after, masks_before, masks_after, plate)
        validate_landmarks(before, after, landmarks_before, landmarks_after)
        return self._layered(before, after, num_frames, masks_before=masks_before, masks_after=masks_after, plate=plate,
                             landmarks_before=landmarks_before, landmarks_after=landmarks_after)


def validate_layers(before: np.ndarray, after: np.ndarray, masks_before: np.ndarray | None,
                    masks_after: np.ndarray | None, plate: np.ndarray | None) -> None:
    """InvalidArgument unless masks are (k, H, W) like their frames and the plate (H, W, 3) uint8 or None."""
    if masks_before is None or masks_after is None:
        raise InvalidArgument("the layered method needs masks_before and masks_after", reason="MASKS_REQUIRED")
    for name, masks, frames in (("masks_before", masks_before, before), ("masks_after", masks_after, after)):
        if masks.shape != frames.shape[:3]:
            raise InvalidArgument(f"{name} must be {frames.shape[:3]}, got {masks.shape}",
                                  reason="BAD_TRANSITION_INPUT")
    if plate is not None and (plate.shape != before.shape[1:] or plate.dtype != np.uint8):
        raise InvalidArgument(f"plate must be {before.shape[1:]} uint8, got {plate.shape} {plate.dtype}",
                              reason="BAD_TRANSITION_INPUT")


def validate_landmarks(before: np.ndarray, after: np.ndarray, landmarks_before: np.ndarray | None,
                       landmarks_after: np.ndarray | None) -> None:
    """InvalidArgument (reason BAD_TRANSITION_INPUT) unless the landmarks are both None, or both (k, 95, 3)
    floats like their frames, each frame's points all finite (a face, within [-1, 2] of the frame's normalised
    size) or all NaN (no face)."""
    if landmarks_before is None and landmarks_after is None:
        return
    def fail(message: str) -> None:
        raise InvalidArgument(message, reason="BAD_TRANSITION_INPUT")

    if landmarks_before is None or landmarks_after is None:
        fail("face landmarks must be given for both ends or for neither")
    for name, points, frames in (("landmarks_before", landmarks_before, before),
                                 ("landmarks_after", landmarks_after, after)):
        expected = (len(frames), FACE_POINT_COUNT, 3)
        if points.shape != expected or points.dtype.kind != "f":
            fail(f"{name} must be {expected} float, got {points.shape} {points.dtype}")
        finite = np.isfinite(points).reshape(len(points), -1)  # (k, 285)
        nan = np.isnan(points).reshape(len(points), -1)
        if not np.all(finite.all(axis=1) | nan.all(axis=1)):
            fail(f"{name}: each frame's points must be all finite (a face) or all NaN (no face)")
        if np.any(np.abs(np.nan_to_num(points[..., :2] - 0.5)) > 1.5):
            fail(f"{name}: points lie outside [-1, 2] of the normalised frame")
