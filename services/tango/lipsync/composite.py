"""Putting a reference mouth into an output frame: align by the rigid face, match colour, feathered blend.

1. Alignment: a 2-D similarity (rotation, scale, shift) maps the source frame's rigid face points (eye
   corners, nose bridge, tip and base) onto the output frame's, least squares (Umeyama).
2. Mask: the lower face — nose base, inner cheeks, and the jaw from one mouth corner's side under the chin
   to the other — of BOTH the output face and the warped source face (their union, so neither chin shows
   twice), grown by `grow` (inter-ocular units). It is then cut to where the pasted pixels are face in the
   source (inside the warped source's face oval) and face or chin in the output (inside the output's face
   oval grown by `grow`): a source turned away never brings its background into the output's cheek. The
   cut mask is eroded and blurred by `feather`, so its soft edge lies inside both faces.
3. Colour: a smooth per-pixel gain, the ratio of the output's and the warped source's pixels averaged
   under the mask with a wide Gaussian, clamped; it follows shading that drifts across the face.
4. Blend: out = a * source + (1 - a) * frame inside the mask's bounding box; every pixel where a = 0 is
   left bit-identical.
"""
from __future__ import annotations

import dataclasses

import cv2
import numpy as np

from tango.perception.face import FACE_OVAL, point_rows
from tango.lipsync.mouth_shape import ALIGN_ROWS, similarity_fit

# the lower face, as mesh indices: nose base, inner cheeks, oval from cheek to cheek under the chin
_LOWER_FACE = point_rows((98, 2, 327, 425, 411, 427, 397, 365, 379, 378, 400, 377, 152,
                          148, 176, 149, 150, 136, 172, 207, 187, 205))
_NOSE_BASE = point_rows((98, 2, 327))
_OVAL = point_rows(FACE_OVAL)


@dataclasses.dataclass(frozen=True)
class CompositeConfig:
    grow: float = 0.06  # mask dilation, in inter-ocular distances
    feather: float = 0.10  # blur of the mask edge, in inter-ocular distances
    gain_range: tuple[float, float] = (0.85, 1.18)  # colour gain clamp per channel
    colour_sigma: float = 0.35  # width of the colour-matching Gaussian, in inter-ocular distances
    min_interocular_px: float = 12.0  # smaller faces are left alone
    max_pose_deg: float = 20.0  # a mouth whose head is turned further from the output's is not pasted


def _similarity(source_px: np.ndarray, target_px: np.ndarray) -> np.ndarray | None:
    """(2, 3) least-squares similarity (Umeyama) mapping source (P, 2) onto target (P, 2), or None."""
    if not (np.isfinite(source_px).all() and np.isfinite(target_px).all()):
        return None
    scale, rotation, translation = similarity_fit(source_px[None].astype(np.float64), target_px.astype(np.float64))
    return np.concatenate([scale[0] * rotation[0], translation[0][:, None]], axis=1)


def _hull_mask(polygons: list[np.ndarray], box: tuple[int, int, int, int]) -> np.ndarray:
    """(h, w) uint8 255 inside the union of the polygons' convex hulls, in `box` (x0, y0, x1, y1)."""
    x0, y0, x1, y1 = box
    mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
    for polygon in polygons:
        cv2.fillConvexPoly(mask, cv2.convexHull((polygon - [x0, y0]).round().astype(np.int32)), 255)
    return mask


def _disc(radius: float) -> np.ndarray:
    r = max(1, int(round(radius)))
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))


def _alpha(frame_points: np.ndarray, warped_points: np.ndarray, box: tuple[int, int, int, int],
           interocular: float, config: "CompositeConfig") -> np.ndarray:
    """(h, w) float32 blend weight: the lower face, cut to both faces, with its soft edge inside them."""
    grow, feather = config.grow * interocular, config.feather * interocular
    lower = cv2.dilate(_hull_mask([frame_points[_LOWER_FACE], warped_points[_LOWER_FACE]], box), _disc(grow))
    inside = _hull_mask([warped_points[_OVAL]], box) & cv2.dilate(_hull_mask([frame_points[_OVAL]], box), _disc(grow))
    mask = lower & inside
    nose_y = float(min(frame_points[_NOSE_BASE, 1].mean(), warped_points[_NOSE_BASE, 1].mean())) - box[1]
    mask[: max(int(round(nose_y)), 0)] = 0  # never above the nose base
    mask = cv2.erode(mask, _disc(feather / 2))
    return cv2.GaussianBlur(mask.astype(np.float32) / 255.0, (0, 0), max(feather / 2.0, 0.5))


def _colour_gain(region: np.ndarray, patch: np.ndarray, alpha: np.ndarray, sigma: float,
                 gain_range: tuple[float, float]) -> np.ndarray:
    """(h, w, 3) smooth gain making the patch's local mean colour under the mask match the region's.

    Computed at a scale where sigma is ~4 px (a wide blur of a smooth ratio loses nothing), then upsampled."""
    height, width = alpha.shape
    scale = min(1.0, 4.0 / max(sigma, 1e-6))
    size = (max(2, round(width * scale)), max(2, round(height * scale)))
    small = [cv2.resize(a, size, interpolation=cv2.INTER_AREA) for a in (region, patch, alpha)]
    weight = (small[2] > 0.01).astype(np.float32)
    blur = max(sigma * scale, 0.5)
    norm = cv2.GaussianBlur(weight, (0, 0), blur)[..., None] + 1e-6
    target = cv2.GaussianBlur(small[0] * weight[..., None], (0, 0), blur) / norm
    source = cv2.GaussianBlur(small[1] * weight[..., None], (0, 0), blur) / norm
    gain = np.clip(target / np.maximum(source, 1.0), *gain_range)
    return cv2.resize(gain, (width, height), interpolation=cv2.INTER_LINEAR)


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
    margin = (config.grow + config.feather) * interocular + 2
    stacked = np.concatenate([frame_points[_LOWER_FACE], warped_points[_LOWER_FACE]])
    x0, y0 = np.floor(stacked.min(axis=0) - margin).astype(int)
    x1, y1 = np.ceil(stacked.max(axis=0) + margin).astype(int)
    box = (max(x0, 0), max(y0, 0), min(x1, width), min(y1, height))
    if box[2] - box[0] < 4 or box[3] - box[1] < 4:
        return None
    alpha = _alpha(frame_points, warped_points, box, interocular, config)  # (h, w)
    if not (alpha > 0).any():
        return None
    shifted = matrix.copy()
    shifted[:, 2] -= box[:2]
    patch = cv2.warpAffine(source, shifted, (box[2] - box[0], box[3] - box[1]), flags=cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_REPLICATE).astype(np.float32)  # (h, w, 3)
    region = frame[box[1]:box[3], box[0]:box[2]].astype(np.float32)
    patch *= _colour_gain(region, patch, alpha, config.colour_sigma * interocular, config.gain_range)
    blended = alpha[..., None] * patch + (1.0 - alpha[..., None]) * region
    out = frame.copy()
    changed = alpha > 0
    out[box[1]:box[3], box[0]:box[2]][changed] = np.clip(blended[changed] + 0.5, 0, 255).astype(np.uint8)
    return out
