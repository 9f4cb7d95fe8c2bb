"""The eyes of a transition (`tango.interp.layered`, step 7): a lid or blink state that differs between the ends.

It is no motion the flow can follow: the flow aligns the eye and the dissolve then shows two lid edges (a soft,
doubled lid, or a half-closed blend of the ends' blink states). Each eye's region at tau (an ellipse about its corners,
`axes` eye widths, feathered by `feather`; where each end's motion path puts it, `eyes_at`, or at the face morph's
points at tau) switches from one end to the other at tau = 1/2 in proportion to how much its warped ends differ there
(the `quantile` of |W0 - W1| in the region's core, ramped through `agree_levels`): one crisp lid, then the other, like
a blink. Eyes that agree keep the blend.
"""
from __future__ import annotations

import cv2
import numpy as np

from tango.interp import face_morph
from tango.interp.flow import _FlowField, _quadratic_path


def switch_eyes(t_eff: np.ndarray, warped0: np.ndarray, warped1: np.ndarray, eyes: np.ndarray, tau: float,
                agree_levels: tuple[float, float], axes: tuple[float, float], feather: float,
                quantile: float) -> np.ndarray:
    """t_eff (h, w) (end 1's share; changed in place and returned) with each eye whose warped ends (h, w, 3) differ
    switched from end 0 (tau < 1/2) to end 1: eyes (2, P, 2, 2) P placements of each eye's outer and inner corner,
    pixels of t_eff."""
    low, high = agree_levels
    step = 1.0 if tau >= 0.5 else 0.0
    for placements in eyes:
        region = face_morph.eye_region(placements, t_eff.shape, axes, feather)
        if region is None:
            continue
        (x0, y0, x1, y1), weight = region
        core = weight > 0.5
        if not core.any():
            continue
        difference = cv2.cvtColor(cv2.absdiff(warped0[y0:y1, x0:x1], warped1[y0:y1, x0:x1]), cv2.COLOR_RGB2GRAY)
        level = np.clip((np.quantile(difference[core], quantile) - low) / (high - low), 0.0, 1.0)
        if level > 0.0:
            inside = t_eff[y0:y1, x0:x1]
            t_eff[y0:y1, x0:x1] = inside + (level * weight) * (step - inside)
    return t_eff


def eyes_at(field: _FlowField, eyes: tuple[np.ndarray, np.ndarray], tau: float) -> np.ndarray:
    """(2, 2, 2, 2) each eye's corners (2, 2, 2 per end) carried to tau by each end's motion path: where the warped
    ends put that eye (they need not agree where the flow failed)."""
    corners0, corners1 = (corners.reshape(-1, 2) for corners in eyes)  # (4, 2) pixels
    if field.f0m is not None and field.f12 is not None:
        to_t0 = _quadratic_path(_sample(field.f01, corners0), _sample(field.f0m, corners0), tau, field.outer_step)
        to_t1 = _quadratic_path(_sample(field.f10, corners1), _sample(field.f12, corners1), 1.0 - tau, field.outer_step)
    else:
        to_t0, to_t1 = tau * _sample(field.f01, corners0), (1.0 - tau) * _sample(field.f10, corners1)
    return np.stack([(corners0 + to_t0).reshape(2, 2, 2), (corners1 + to_t1).reshape(2, 2, 2)], axis=1)


def _sample(flow: np.ndarray, points: np.ndarray) -> np.ndarray:
    """(N, 2) float64 bilinear samples of an (H, W, 2) flow at (N, 2) pixel points (borders replicated)."""
    coords = points.astype(np.float32).reshape(1, -1, 2)
    sampled = cv2.remap(flow, coords[..., 0], coords[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return sampled.reshape(-1, 2).astype(np.float64)
