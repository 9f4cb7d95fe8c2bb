"""Where the warps draw the backdrop into the person, and what covers it (`tango.interp.layered`, step 3).

A hard jump's flow can send a pixel that shows the person at tau to where an end shows its backdrop: speaker12's
raised hand -> hands on knees tore the yellow wall into the jacket's chest, in flow's frames and in layered's. The
person masks of the ends, carried to tau by the same flows (`carried_masks`), say which end's warp samples its person:
- where the warped ends disagree, the end whose warp samples what the frame shows at tau (its person where the person
  is, its backdrop elsewhere) weighs more (`person_preference`);
- where both ends show the person unwarped but neither warp samples it (the body torn open: both warps agree on the
  wall), the ends' plain mix at the pixel fills the hole (`fill_holes`): the person's own colours, dissolving, not
  the wall.
"""
from __future__ import annotations

import cv2
import numpy as np

from tango.interp.flow import _warp, remap
from tango.interp.masks import bounding_box, dilate

Maps = tuple[np.ndarray, np.ndarray]  # (x, y) (H, W) float32 sample positions (`flow.warp_maps`)


def carried_masks(masks_small: tuple[np.ndarray, np.ndarray], f_t0: np.ndarray, f_t1: np.ndarray,
                  tau: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """((h, w) float32 x 3) at the size of masks_small (M0, M1 reduced): each end's mask carried to tau by the flows from
    tau (H, W, 2) (whether that end's warp samples its person there), and the person at tau, their mix at tau (where
    both ends cover a pixel unwarped it stays person)."""
    m0, m1 = masks_small
    a0, a1 = _warp(m0, shrink_flow(f_t0, m0.shape)), _warp(m1, shrink_flow(f_t1, m1.shape))  # (h, w)
    return a0, a1, np.maximum((1.0 - tau) * a0 + tau * a1, np.minimum(m0, m1))


def person_preference(carried: tuple[np.ndarray, np.ndarray, np.ndarray], person: np.ndarray, disagree: np.ndarray,
                      floor: float) -> tuple[np.ndarray, np.ndarray]:
    """((H, W), (H, W)) float32 factors on the ends' weights: 1 where the warped ends agree (disagree (H, W) = 0); where
    they disagree, 1 for an end whose warp samples what the frame shows (person (h, w) in [0, 1]: the person at tau)
    down to `floor` for one that samples the other (its backdrop inside the person, or its person outside it)."""
    height, width = disagree.shape
    factors = []
    for mask in carried[:2]:
        match = person * mask + (1.0 - person) * (1.0 - mask)  # (h, w)
        factor = cv2.resize((floor + (1.0 - floor) * match).astype(np.float32), (width, height),
                            interpolation=cv2.INTER_LINEAR)
        factors.append(1.0 - disagree * (1.0 - factor))
    return factors[0], factors[1]


def fill_holes(frame: np.ndarray, first: np.ndarray, last: np.ndarray, masks: tuple[np.ndarray, np.ndarray],
               masks_small: tuple[np.ndarray, np.ndarray], carried: tuple[np.ndarray, np.ndarray, np.ndarray],
               maps: tuple[Maps, Maps], tau: float, levels: tuple[float, float], dilate_frac: float,
               feather_px: float) -> np.ndarray:
    """frame (H, W, 3) uint8 (changed in place and returned) with its holes filled: where both ends show the person
    (masks (H, W)) but neither warp (maps of I0, I1) samples a person pixel, (1 - tau) I0 + tau I1. The hole is
    1 - the product (person at both ends x neither carried) ramped through `levels`, widened by `dilate_frac` of the
    long side within the person (its rim is torn too) and feathered by `feather_px` (a sharp edge flickers from frame
    to frame: warp error); found on the small carried masks, drawn at full resolution in their box."""
    (s0, s1), (a0, a1, _) = masks_small, carried
    candidate = np.minimum(s0, s1) * (1.0 - a0) * (1.0 - a1) > levels[0]  # (h, w)
    if not candidate.any():
        return frame
    height, width = frame.shape[:2]
    small_h, small_w = candidate.shape
    left, top, right, bottom = bounding_box(candidate)  # small pixels
    pad = 2 + int(np.ceil((dilate_frac * max(height, width) + 2.0 * feather_px) * small_w / width))
    x0, y0 = max(0, (left - pad) * width // small_w), max(0, (top - pad) * height // small_h)
    x1, y1 = min(width, (right + pad) * width // small_w), min(height, (bottom + pad) * height // small_h)
    carried0, carried1 = (remap(mask, (mx[y0:y1, x0:x1], my[y0:y1, x0:x1])) for mask, (mx, my) in zip(masks, maps))
    both = np.minimum(masks[0][y0:y1, x0:x1], masks[1][y0:y1, x0:x1])  # (h, w) the person at both ends
    low, high = levels
    hole = np.clip((both * (1.0 - carried0) * (1.0 - carried1) - low) / (high - low), 0.0, 1.0).astype(np.float32)
    hole = np.minimum(dilate(hole, int(round(dilate_frac * max(height, width)))), both)
    inside = cv2.GaussianBlur(hole, (0, 0), feather_px) if feather_px > 0 else hole
    plain = cv2.addWeighted(first[y0:y1, x0:x1], 1.0 - tau, last[y0:y1, x0:x1], tau, 0.0)
    frame[y0:y1, x0:x1] = cv2.blendLinear(plain, frame[y0:y1, x0:x1], inside, (1.0 - inside).astype(np.float32))
    return frame


def shrink_flow(flow: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """(H, W, 2) flow in full-resolution pixels -> (h, w, 2) in pixels of a (h, w) image."""
    height, width = flow.shape[:2]
    small = cv2.resize(flow, (shape[1], shape[0]), interpolation=cv2.INTER_AREA)
    small[..., 0] *= shape[1] / width
    small[..., 1] *= shape[0] / height
    return small
