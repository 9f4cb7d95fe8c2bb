"""Putting a reference mouth into an output frame: align by the rigid face, match colour, feathered blend.

1. Alignment: a 2-D similarity (rotation, scale, shift) maps the source frame's rigid face points (eye
   corners, nose bridge, tip and base) onto the output frame's, least squares (cv2.estimateAffinePartial2D).
2. Mask: the lower face — nose base, inner cheeks and the face oval from cheek to cheek under the chin —
   of BOTH the output face and the warped source face (their union, so neither chin shows twice), grown
   by `grow` and feathered by `feather` (both in inter-ocular units); the top edge stays below the nose.
3. Colour: per channel, the output's mean over the feather ring divided by the warped source's, clamped,
   multiplies the warped source (lighting drifts over a video).
4. Blend: out = a * source + (1 - a) * frame inside the mask's bounding box; every pixel where a = 0 is
   left bit-identical.
"""
from __future__ import annotations

import dataclasses

import cv2
import numpy as np

from tango.perception.face import point_rows
from tango.lipsync.mouth_shape import ALIGN_ROWS

# the lower face, as mesh indices: nose base, inner cheeks, oval from cheek to cheek under the chin
_LOWER_FACE = point_rows((98, 2, 327, 425, 280, 411, 427, 323, 361, 288, 397, 365, 379, 378, 400, 377, 152,
                          148, 176, 149, 150, 136, 172, 58, 132, 93, 207, 187, 50, 205))
_NOSE_BASE = point_rows((98, 2, 327))


@dataclasses.dataclass(frozen=True)
class CompositeConfig:
    grow: float = 0.06  # mask dilation, in inter-ocular distances
    feather: float = 0.10  # blur of the mask edge, in inter-ocular distances
    gain_range: tuple[float, float] = (0.85, 1.18)  # colour gain clamp per channel
    min_interocular_px: float = 12.0  # smaller faces are left alone


def _similarity(source_px: np.ndarray, target_px: np.ndarray) -> np.ndarray | None:
    """(2, 3) matrix mapping source (P, 2) onto target (P, 2), or None."""
    matrix, _ = cv2.estimateAffinePartial2D(source_px.astype(np.float32), target_px.astype(np.float32),
                                            method=cv2.LMEDS)
    return matrix


def _mask(points: list[np.ndarray], box: tuple[int, int, int, int],
          grow_px: float, feather_px: float, nose_y: float) -> np.ndarray:
    """(h, w) float32 alpha inside `box` (x0, y0, x1, y1) from the union of the polygons' hulls."""
    x0, y0, x1, y1 = box
    mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
    for polygon in points:
        hull = cv2.convexHull((polygon - [x0, y0]).astype(np.int32))
        cv2.fillConvexPoly(mask, hull, 255)
    grow = max(1, int(round(grow_px)))
    mask = cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow + 1, 2 * grow + 1)))
    top = int(round(nose_y - y0))
    mask[: max(top, 0)] = 0  # never above the nose base
    sigma = max(feather_px / 2.0, 0.5)
    alpha = cv2.GaussianBlur(mask.astype(np.float32) / 255.0, (0, 0), sigma)
    return alpha


def composite_mouth(frame: np.ndarray, frame_points: np.ndarray, source: np.ndarray, source_points: np.ndarray,
                    config: CompositeConfig = CompositeConfig()) -> np.ndarray | None:
    """frame, source (H, W, 3) uint8 at output size; points (95, 2) pixels. None when it cannot be done."""
    height, width = frame.shape[:2]
    interocular = float(np.linalg.norm(frame_points[ALIGN_ROWS[0]] - frame_points[ALIGN_ROWS[3]]))
    if not np.isfinite(interocular) or interocular < config.min_interocular_px:
        return None
    matrix = _similarity(source_points[ALIGN_ROWS], frame_points[ALIGN_ROWS])
    if matrix is None:
        return None
    warped_points = source_points @ matrix[:, :2].T + matrix[:, 2]  # (95, 2)
    polygons = [frame_points[_LOWER_FACE], warped_points[_LOWER_FACE]]
    margin = config.grow * interocular + 2 * config.feather * interocular
    stacked = np.concatenate(polygons)
    x0, y0 = np.floor(stacked.min(axis=0) - margin).astype(int)
    x1, y1 = np.ceil(stacked.max(axis=0) + margin).astype(int)
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, width), min(y1, height)
    if x1 - x0 < 4 or y1 - y0 < 4:
        return None
    nose_y = float(min(frame_points[_NOSE_BASE, 1].mean(), warped_points[_NOSE_BASE, 1].mean()))
    alpha = _mask(polygons, (x0, y0, x1, y1), config.grow * interocular,
                  config.feather * interocular, nose_y)  # (h, w)
    shifted = matrix.copy()
    shifted[:, 2] -= [x0, y0]
    patch = cv2.warpAffine(source, shifted, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_REPLICATE).astype(np.float32)  # (h, w, 3)
    region = frame[y0:y1, x0:x1].astype(np.float32)
    ring = (alpha > 0.05) & (alpha < 0.95)
    if ring.sum() >= 16:
        gain = region[ring].mean(axis=0) / np.maximum(patch[ring].mean(axis=0), 1.0)
        patch *= np.clip(gain, *config.gain_range)
    blended = alpha[..., None] * patch + (1.0 - alpha[..., None]) * region
    out = frame.copy()
    changed = alpha > 0
    out[y0:y1, x0:x1][changed] = np.clip(blended[changed] + 0.5, 0, 255).astype(np.uint8)
    return out
