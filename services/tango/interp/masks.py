"""Person masks at source resolution from perception's low-resolution body masks.

Perception stores one binary body mask per frame at 96 px on the long side (`PerceptionArtifact.masks()`).
A transition at source resolution needs a soft mask that follows the true silhouette:
1. the binary mask is resized to the frame size with bilinear interpolation (a 0..1 ramp about one
   low-resolution pixel wide, ~13 px at 1280);
2. a guided filter (He et al. 2013, `cv2.ximgproc.guidedFilter`) with the RGB frame as guide snaps that
   ramp to the image's colour edges: radius ~1.5 low-resolution pixels, eps (guide in [0, 1]) 1e-3;
3. the result is clipped to [0, 1].
"""
from __future__ import annotations

import dataclasses

import cv2
import numpy as np


@dataclasses.dataclass(frozen=True)
class MaskRefineConfig:
    radius_cells: float = 1.5  # guided-filter radius in low-resolution mask pixels
    eps: float = 1e-3  # guided-filter regularisation, guide intensities in [0, 1]


def refine_mask(rgb: np.ndarray, low_mask: np.ndarray, config: MaskRefineConfig = MaskRefineConfig()) -> np.ndarray:
    """(H, W, 3) uint8 frame, (Hm, Wm) bool/float low-resolution mask -> (H, W) float32 soft mask in [0, 1]."""
    height, width = rgb.shape[:2]
    coarse = cv2.resize(low_mask.astype(np.float32), (width, height), interpolation=cv2.INTER_LINEAR)  # (H, W)
    cell = max(height / low_mask.shape[0], width / low_mask.shape[1])  # source pixels per mask pixel
    radius = max(1, int(round(config.radius_cells * cell)))
    guide = rgb.astype(np.float32) / 255.0  # (H, W, 3)
    refined = cv2.ximgproc.guidedFilter(guide, coarse, radius, config.eps)  # (H, W)
    return np.clip(refined, 0.0, 1.0).astype(np.float32)


def refine_masks(frames: np.ndarray, low_masks: np.ndarray,
                 config: MaskRefineConfig = MaskRefineConfig()) -> np.ndarray:
    """(k, H, W, 3) uint8, (k, Hm, Wm) -> (k, H, W) float32 soft masks."""
    return np.stack([refine_mask(rgb, low, config) for rgb, low in zip(frames, low_masks)])


def _morph(mask: np.ndarray, radius_px: int, grow: bool, max_radius: int = 8) -> np.ndarray:
    """Grey dilation (grow) or erosion of an (H, W) float32 mask with an elliptical kernel of radius_px.

    Radii above `max_radius` run on a block-max (dilation) / block-min (erosion) reduction by
    s = ceil(radius / max_radius) with a kernel of radius / s, upsampled bilinearly: the result errs by at
    most s pixels towards the larger (dilation) or smaller (erosion) region, and costs ~s^2 less.
    """
    if radius_px <= 0:
        return mask
    op = cv2.dilate if grow else cv2.erode
    step = int(np.ceil(radius_px / max_radius))
    if step == 1:
        return op(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius_px + 1, 2 * radius_px + 1)))
    height, width = mask.shape
    pad_h, pad_w = -height % step, -width % step
    padded = np.pad(mask, ((0, pad_h), (0, pad_w)), mode="edge")
    blocks = padded.reshape(padded.shape[0] // step, step, padded.shape[1] // step, step)  # (h, s, w, s)
    small = blocks.max(axis=(1, 3)) if grow else blocks.min(axis=(1, 3))  # (h, w)
    radius = max(1, int(round(radius_px / step)))
    small = op(small, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1)))
    full = cv2.resize(small, (padded.shape[1], padded.shape[0]), interpolation=cv2.INTER_LINEAR)
    return np.ascontiguousarray(full[:height, :width])


def dilate(mask: np.ndarray, radius_px: int) -> np.ndarray:
    """(H, W) float32 grey dilation (max filter) of a soft mask, elliptical kernel of `radius_px`."""
    return _morph(mask.astype(np.float32), radius_px, grow=True)


def erode(mask: np.ndarray, radius_px: int) -> np.ndarray:
    """(H, W) float32 grey erosion (min filter) of a soft mask, elliptical kernel of `radius_px`."""
    return _morph(mask.astype(np.float32), radius_px, grow=False)


def bounding_box(where: np.ndarray) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) of the True pixels of an (H, W) bool image that has some."""
    rows, cols = np.flatnonzero(where.any(axis=1)), np.flatnonzero(where.any(axis=0))
    return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1
