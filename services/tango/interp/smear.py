"""Where the real frames of a window are smeared: how fast each end's content moves, by the outer frames' flows.

A part that moves at both ends of a window (the frame before I0 -> I0, I1 -> the frame after it) is in a continuous
fast motion, and real frames show it smeared all the way through; `tango.interp.layered` keeps its blend there
instead of switching quickly from one end to the other (step 3).
"""
from __future__ import annotations

import cv2
import numpy as np

from tango.interp.flow import _FlowField

SCALE = 8  # the speeds are drawn at 1/SCALE of the frame size: a map dilated by tens of pixels needs no more


def end_speeds(field: _FlowField, reach_frac: float) -> tuple[np.ndarray, np.ndarray] | None:
    """((h, w), (h, w)) float32 at 1/SCALE of the frame size: how far the content of I0 and of I1 moves in one video
    frame (|F_0,-1|, |F_12|: the outer frames' flows, full-resolution pixels), each the largest within reach_frac of
    the long side (where the warped ends disagree, one of them often shows the backdrop the part just left); None
    without outer frames."""
    if field.f0m is None or field.f12 is None:
        return None
    height, width = field.f0m.shape[:2]
    small_size = (max(8, width // SCALE), max(8, height // SCALE))
    radius = max(1, int(round(reach_frac * max(small_size))))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    speeds = []
    for flow in (field.f0m, field.f12):
        small = cv2.resize(flow, small_size, interpolation=cv2.INTER_NEAREST)  # (h, w, 2) the flow is smooth
        speeds.append(cv2.dilate(np.sqrt((small * small).sum(axis=-1)).astype(np.float32), kernel))
    return speeds[0], speeds[1]


def unsmeared(speeds: tuple[np.ndarray, np.ndarray], maps0: tuple[np.ndarray, np.ndarray],
              maps1: tuple[np.ndarray, np.ndarray], slow: float, fast: float,
              size: tuple[int, int] | None = None) -> np.ndarray:
    """(H, W) float32 in [0, 1], or of `size` (w, h): 1 where the content at tau stands still (<= slow px per frame)
    at one end or both, 0 where it moves by more than `fast` at both, a ramp between (the slower end counts); speeds
    (h, w) of I0 and I1 (`end_speeds`), read where the warps to tau (maps (x, y), (H, W) each, `flow.warp_maps`) take
    each pixel, on a grid of the speeds' size."""
    height, width = maps0[0].shape
    small_h, small_w = speeds[0].shape
    step_y, step_x = height / small_h, width / small_w
    rows, cols = slice(int(step_y) // 2, None, int(step_y)), slice(int(step_x) // 2, None, int(step_x))
    at_end = []
    for speed, (map_x, map_y) in zip(speeds, (maps0, maps1)):  # full-resolution pixels -> the speeds' pixels
        xs, ys = (map_x[rows, cols] + 0.5) / step_x - 0.5, (map_y[rows, cols] + 0.5) / step_y - 0.5
        at_end.append(cv2.remap(speed, xs, ys, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE))
    still = np.clip((fast - np.minimum(*at_end)) / (fast - slow), 0.0, 1.0)  # (h', w')
    return cv2.resize(still, size or (width, height), interpolation=cv2.INTER_LINEAR)
