"""No-reference measures of generated transition frames, at the frames' own (source) resolution.

A window is the sequence S = [I0, g_1 .. g_n, I1]: I0 the last real frame before the jump, I1 the first
after it, g_i the generated frames at tau_i = i / (n + 1). Flows are OpenCV DIS (medium preset) computed
with the long side scaled to `flow_max_side` and upsampled; F_ab is the backward flow with a(x) ~ b(x + F_ab(x)).

- warp_error (grey levels, 0..255): for each consecutive pair (S_t, S_t+1), the mean over the person
  region (either end's mask >= 0.5, dilated by `region_dilate_frac` of the long side; the static
  background would only dilute it) of the pixels whose flows pass the forward-backward check, of
  |S_t(x) - S_t+1(x + F(x))| (RGB mean); averaged over the n + 1 pairs. A transition that moves content
  gets a low value; one that fades or pops does not.
- ghosting (ratio, 0 = none, 0.5 = a 50/50 double image): I0 and I1 are warped onto g (W0, W1, flows
  g -> I0 and g -> I1). Gradients (Sobel of the grey frame smoothed with sigma 1, grey levels per pixel)
  G, G0, G1 of g, W0, W1. Where the warped ends disagree, D = |G0 - G1| > `disputed_levels`, a clean frame
  copies one of them; a double exposure lies between them. ghosting = sum over disputed pixels of
  min(|G - G0|, |G - G1|) / sum over them of D, pooled over the window's frames. A crossfade of two
  misaligned images scores min(tau, 1 - tau) per frame. DIS errors at motion boundaries leave even a true
  in-between frame above 0 (~0.2 on small synthetic scenes): compare models, not absolute values.
- bleed (fraction 0..1): inside the person core (pixels where the soft person masks of BOTH ends are
  >= 0.5, eroded by `erode_frac` of the long side: the person is there at every tau of a monotone move),
  with P = (1 - tau) I0 + tau I1 the person's colour and B the background plate, each pixel whose plate
  differs from P (mean |B - P| > `bleed_contrast`) gets the background share
  beta = clip(<g - P, B - P> / |B - P|^2, 0, 1): 0 = person colour, 1 = the plate showing through the
  person. bleed = mean beta over those pixels and the window's frames.
- face_sharpness (ratio, 1 = as sharp as the real ends): variance of the 3x3 Laplacian of the grey face
  crop of g (face box of pose landmarks 0-10 of perception's `pose_image`, the ends' boxes blended at
  tau, widened by `face_margin` on each side), averaged over the frames, over the mean of the same
  variance on I0 and I1 in their own boxes.
- hand_clarity (ratio, 1 = as sharp as the real ends): CyberHost's clarity (std of the Laplacian of the
  grey hand crop, `tango.perception.clarity.hand_clarity`) of g in the hand boxes blended at tau, over
  the ends' mean; hands present in both ends only; NaN when there are none.
"""
from __future__ import annotations

import dataclasses

import cv2
import numpy as np

from tango.interp.flow import _grey_small, _upsample_flow, _warp
from tango.interp.masks import dilate, erode
from tango.perception.clarity import hand_clarity

FACE_LANDMARKS = slice(0, 11)  # MediaPipe pose: nose, eyes, ears, mouth


@dataclasses.dataclass(frozen=True)
class MeasureConfig:
    flow_max_side: int = 512
    consistency_alpha: float = 0.01  # forward-backward check, as in flow.py
    consistency_beta_px2: float = 2.0  # (full-resolution pixels^2)
    edge_sigma: float = 1.0
    disputed_levels: float = 6.0  # |G0 - G1| (grey levels / px) above which the warped ends disagree
    bleed_contrast: float = 25.0  # mean |B - P| (grey levels) for a pixel to be tested for bleed
    erode_frac: float = 0.01
    region_dilate_frac: float = 0.03
    face_margin: float = 0.35


@dataclasses.dataclass(frozen=True)
class WindowContext:
    """What the measures know about a window besides its frames."""

    mask0: np.ndarray  # (H, W) float32 soft person mask of I0
    mask1: np.ndarray  # (H, W) float32 of I1
    plate: np.ndarray | None  # (H, W, 3) uint8 background plate
    pose0: np.ndarray  # (33, 2) float32 normalised image landmarks of I0 (NaN where absent)
    pose1: np.ndarray  # (33, 2) of I1
    hands0: np.ndarray  # (2, 4) float32 normalised hand boxes of I0 (NaN where absent)
    hands1: np.ndarray  # (2, 4) of I1


class FlowProbe:
    """Dense flow between two (H, W, 3) uint8 frames: a -> b backward flow (H, W, 2) at full resolution."""

    def __init__(self, max_side: int = 512):
        self.max_side = max_side
        self._dis = cv2.DISOpticalFlow_create(cv2.DISOpticalFlow_PRESET_MEDIUM)

    def __call__(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        height, width = a.shape[:2]
        scale = min(1.0, self.max_side / max(height, width))
        flow = self._dis.calc(_grey_small(a, scale), _grey_small(b, scale), None)  # (h, w, 2)
        return _upsample_flow(flow, width, height)


def consistent(forward: np.ndarray, backward: np.ndarray, alpha: float, beta: float) -> np.ndarray:
    """(H, W) bool: forward flow undone by the backward flow sampled at its target (Sundaram et al. 2010)."""
    back = _warp(backward, forward)  # (H, W, 2)
    round_trip = np.sum((forward + back) ** 2, axis=-1)
    return round_trip <= alpha * (np.sum(forward**2, -1) + np.sum(back**2, -1)) + beta


def warp_error(sequence: np.ndarray, probe: FlowProbe, region: np.ndarray | None = None,
               config: MeasureConfig = MeasureConfig()) -> float:
    """(m, H, W, 3) uint8 frames -> mean flow-compensated residual of consecutive frames (grey levels)
    over the (H, W) bool `region` (everywhere when None)."""
    residuals = []
    for a, b in zip(sequence[:-1], sequence[1:]):
        f_ab, f_ba = probe(a, b), probe(b, a)  # (H, W, 2)
        valid = consistent(f_ab, f_ba, config.consistency_alpha, config.consistency_beta_px2)  # (H, W)
        if region is not None:
            valid &= region
        residual = np.abs(a.astype(np.float32) - _warp(b, f_ab).astype(np.float32)).mean(axis=-1)  # (H, W)
        residuals.append(float(residual[valid].mean()) if valid.any() else float(residual.mean()))
    return float(np.mean(residuals))


def gradients(rgb: np.ndarray, sigma: float = 1.0) -> np.ndarray:
    """(H, W, 3) uint8 -> (H, W, 2) float32 Sobel gradient of the smoothed grey image, grey levels / px."""
    grey = cv2.GaussianBlur(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32), (0, 0), sigma)
    gx = cv2.Sobel(grey, cv2.CV_32F, 1, 0, ksize=3) / 8.0
    gy = cv2.Sobel(grey, cv2.CV_32F, 0, 1, ksize=3) / 8.0
    return np.stack([gx, gy], axis=-1)


def ghost_map(generated: np.ndarray, first: np.ndarray, last: np.ndarray, probe: FlowProbe,
              config: MeasureConfig = MeasureConfig()) -> tuple[np.ndarray, np.ndarray]:
    """-> (unexplained (H, W), disputed contrast D (H, W)) float32, both 0 outside disputed pixels."""
    warped0 = _warp(first, probe(generated, first))  # (H, W, 3)
    warped1 = _warp(last, probe(generated, last))
    g, g0, g1 = (gradients(x, config.edge_sigma) for x in (generated, warped0, warped1))  # (H, W, 2)
    dispute = np.linalg.norm(g0 - g1, axis=-1)  # (H, W)
    unexplained = np.minimum(np.linalg.norm(g - g0, axis=-1), np.linalg.norm(g - g1, axis=-1))
    disputed = dispute > config.disputed_levels
    return np.where(disputed, unexplained, 0.0).astype(np.float32), np.where(disputed, dispute, 0.0).astype(np.float32)


def ghosting(generated: np.ndarray, first: np.ndarray, last: np.ndarray, probe: FlowProbe,
             config: MeasureConfig = MeasureConfig()) -> tuple[float, np.ndarray]:
    """(n, H, W, 3) generated frames between `first` and `last` -> (pooled ratio, (H, W) summed ghost map)."""
    numerator, denominator = 0.0, 0.0
    total_map = np.zeros(first.shape[:2], np.float32)
    for frame in generated:
        unexplained, dispute = ghost_map(frame, first, last, probe, config)
        numerator += float(unexplained.sum())
        denominator += float(dispute.sum())
        total_map += unexplained
    return (numerator / denominator if denominator > 0 else 0.0), total_map


def bleed(generated: np.ndarray, first: np.ndarray, last: np.ndarray, context: WindowContext,
          config: MeasureConfig = MeasureConfig()) -> float:
    """Mean background share beta inside the person core (see the module docstring); NaN without a plate
    or without a testable pixel."""
    if context.plate is None:
        return float("nan")
    radius = int(round(config.erode_frac * max(first.shape[:2])))
    core = erode(np.minimum(context.mask0, context.mask1).astype(np.float32), radius) >= 0.5  # (H, W)
    if not core.any():
        return float("nan")
    plate = context.plate[core].astype(np.float32)  # (K, 3)
    start, end = first[core].astype(np.float32), last[core].astype(np.float32)
    taus = np.arange(1, len(generated) + 1, dtype=np.float32) / (len(generated) + 1)
    shares = []
    for tau, frame in zip(taus, generated):
        person = (1.0 - tau) * start + tau * end  # (K, 3)
        towards = plate - person
        testable = np.abs(towards).mean(axis=-1) > config.bleed_contrast  # (K,)
        if not testable.any():
            continue
        offset = frame[core].astype(np.float32)[testable] - person[testable]
        along = towards[testable]
        beta = np.sum(offset * along, axis=-1) / np.sum(along * along, axis=-1)
        shares.append(np.clip(beta, 0.0, 1.0))
    return float(np.concatenate(shares).mean()) if shares else float("nan")


def face_box(pose: np.ndarray, width: int, height: int, margin: float) -> np.ndarray | None:
    """(4,) float64 pixel box [x0, y0, x1, y1] around pose landmarks 0-10 (normalised), widened by margin."""
    points = np.asarray(pose, np.float64)[FACE_LANDMARKS]  # (11, 2)
    if not np.isfinite(points).all():
        return None
    x0, y0 = points.min(axis=0) * (width, height)
    x1, y1 = points.max(axis=0) * (width, height)
    size = max(x1 - x0, y1 - y0)
    return np.array([x0 - margin * size, y0 - margin * size, x1 + margin * size, y1 + margin * size])


def laplacian_variance(rgb: np.ndarray, box: np.ndarray) -> float:
    """Variance of the 3x3 Laplacian of the grey crop of `box` (pixels); NaN for a crop under 3 px."""
    height, width = rgb.shape[:2]
    x0, y0 = (int(max(0, np.floor(v))) for v in box[:2])
    x1, y1 = int(min(width, np.ceil(box[2]))), int(min(height, np.ceil(box[3])))
    if x1 - x0 < 3 or y1 - y0 < 3:
        return float("nan")
    grey = cv2.cvtColor(np.ascontiguousarray(rgb[y0:y1, x0:x1]), cv2.COLOR_RGB2GRAY)
    return float(cv2.Laplacian(grey, cv2.CV_32F, ksize=1).var())


def face_sharpness(generated: np.ndarray, first: np.ndarray, last: np.ndarray, context: WindowContext,
                   config: MeasureConfig = MeasureConfig()) -> float:
    """Face-crop Laplacian variance of the generated frames over the real ends' (NaN without a face)."""
    height, width = first.shape[:2]
    box0 = face_box(context.pose0, width, height, config.face_margin)
    box1 = face_box(context.pose1, width, height, config.face_margin)
    if box0 is None or box1 is None:
        return float("nan")
    ends = np.nanmean([laplacian_variance(first, box0), laplacian_variance(last, box1)])
    taus = np.arange(1, len(generated) + 1) / (len(generated) + 1)
    values = [laplacian_variance(frame, (1 - tau) * box0 + tau * box1) for tau, frame in zip(taus, generated)]
    return float(np.nanmean(values) / ends) if ends > 0 else float("nan")


def hand_clarity_ratio(generated: np.ndarray, first: np.ndarray, last: np.ndarray, context: WindowContext) -> float:
    """CyberHost clarity of the generated hands over the ends' (hands present in both ends; else NaN)."""
    both = ~(np.isnan(context.hands0).any(axis=1) | np.isnan(context.hands1).any(axis=1))  # (2,)
    if not both.any():
        return float("nan")
    h0, h1 = context.hands0[both], context.hands1[both]  # (K, 4) normalised
    ends = np.nanmean(np.concatenate([hand_clarity(first, h0), hand_clarity(last, h1)]))
    taus = np.arange(1, len(generated) + 1, dtype=np.float32) / (len(generated) + 1)
    values = np.concatenate([hand_clarity(frame, (1 - tau) * h0 + tau * h1) for tau, frame in zip(taus, generated)])
    if not np.isfinite(ends) or ends <= 0 or not np.isfinite(values).any():
        return float("nan")
    return float(np.nanmean(values) / ends)


def person_region(context: WindowContext, config: MeasureConfig = MeasureConfig()) -> np.ndarray:
    """(H, W) bool: either end's person mask, dilated by `region_dilate_frac` of the long side."""
    union = np.maximum(context.mask0, context.mask1).astype(np.float32)
    return dilate(union, int(round(config.region_dilate_frac * max(union.shape)))) >= 0.5


def window_measures(generated: np.ndarray, first: np.ndarray, last: np.ndarray, context: WindowContext,
                    probe: FlowProbe, config: MeasureConfig = MeasureConfig()) -> tuple[dict[str, float], np.ndarray]:
    """Every no-reference measure of one window -> ({name: value}, (H, W) ghost map summed over frames)."""
    sequence = np.concatenate([first[None], generated, last[None]])  # (n + 2, H, W, 3)
    ghost, ghost_total = ghosting(generated, first, last, probe, config)
    return {
        "ghosting": ghost,
        "bleed": bleed(generated, first, last, context, config),
        "warp_error": warp_error(sequence, probe, person_region(context, config), config),
        "face_sharpness": face_sharpness(generated, first, last, context, config),
        "hand_clarity": hand_clarity_ratio(generated, first, last, context),
    }, ghost_total
