"""Weight-free transition frames by bidirectional optical flow with occlusion-aware warping.

Between the last frame before a jump (I0) and the first frame after it (I1):
1. dense flow both ways with OpenCV DIS (F01: I0 -> I1, F10: I1 -> I0) at a downscaled resolution;
2. forward-backward consistency gives per-frame occlusion masks: occ0 = pixels of I0 without a match in
   I1 (they get covered), occ1 = pixels of I1 without a match in I0 (they appear);
3. for each time tau the flows from t to both ends follow the linear-motion approximation of Super SloMo
   (Jiang et al. 2018): F_t0 = -(1-tau)*tau*F01 + tau^2*F10, F_t1 = (1-tau)^2*F01 - tau*(1-tau)*F10;
   with k >= 2 frames each side, the quadratic (constant acceleration) model of QVI (Xu et al. 2019), the
   outer frames giving each end's velocity (one video frame = 1/(n+1) of the interval away);
4. both ends are backward-warped to tau at full resolution with cv2.remap and blended with weights
   (1-tau)*vis0 and tau*vis1, where vis0 = 1 - occ1 sampled along F_t1 (content that only appears in I1
   is not visible in I0) and vis1 = 1 - occ0 sampled along F_t0; where both are occluded it falls back
   to the plain (1-tau, tau) weights.
"""
from __future__ import annotations

import dataclasses
import functools

import cv2
import numpy as np

from tango.interp.masks import bounding_box

_PRESETS = {
    "ultrafast": cv2.DISOpticalFlow_PRESET_ULTRAFAST,
    "fast": cv2.DISOpticalFlow_PRESET_FAST,
    "medium": cv2.DISOpticalFlow_PRESET_MEDIUM,
}


@dataclasses.dataclass(frozen=True)
class FlowInterpolatorConfig:
    preset: str = "medium"  # DIS preset
    flow_max_side: int = 512  # flow is computed with the long side scaled down to at most this
    consistency_alpha: float = 0.01  # occluded if |F01 + F10(x+F01)|^2 > alpha*(|F01|^2+|F10'|^2) + beta
    consistency_beta: float = 0.5  # (pixels^2 at flow resolution; Sundaram et al. 2010)
    mask_blur_px: int = 5  # Gaussian blur (odd kernel, flow resolution) softening the occlusion masks
    use_outer_frames: bool = True  # quadratic motion from the frames before I0 and after I1 (k >= 2)


@dataclasses.dataclass(frozen=True)
class _FlowField:
    """Flows and occlusion masks at full resolution."""

    f01: np.ndarray  # (H, W, 2) float32, I0 -> I1
    f10: np.ndarray  # (H, W, 2) float32, I1 -> I0
    occ0: np.ndarray  # (H, W) float32 in [0, 1], I0 pixels without a match in I1
    occ1: np.ndarray  # (H, W) float32, I1 pixels without a match in I0
    f0m: np.ndarray | None = None  # (H, W, 2) I0 -> frame before I0 (quadratic model only)
    f12: np.ndarray | None = None  # (H, W, 2) I1 -> frame after I1
    outer_step: float = 0.0  # time from I0 to the frame before it, in units of the I0 -> I1 interval


class FlowInterpolator:
    """Callable: (before (k,H,W,3) uint8, after (k,H,W,3) uint8, n) -> (n,H,W,3) uint8 in-between frames."""

    def __init__(self, config: FlowInterpolatorConfig = FlowInterpolatorConfig()):
        if config.preset not in _PRESETS:
            raise ValueError(f"unknown DIS preset {config.preset!r}; one of {sorted(_PRESETS)}")
        self.config = config
        self._dis = cv2.DISOpticalFlow_create(_PRESETS[config.preset])

    def __call__(self, before: np.ndarray, after: np.ndarray, num_frames: int) -> np.ndarray:
        first, last = before[-1], after[0]  # (H, W, 3)
        if np.array_equal(first, last):
            return np.repeat(first[None], num_frames, axis=0)
        quadratic = self.config.use_outer_frames and len(before) >= 2 and len(after) >= 2
        field = self._flow_field(first, last, before[-2] if quadratic else None, after[1] if quadratic else None)
        field = dataclasses.replace(field, outer_step=1.0 / (num_frames + 1))  # generated frames keep the frame rate
        taus = np.arange(1, num_frames + 1, dtype=np.float32) / (num_frames + 1)
        return np.stack([self._frame_at(first, last, field, float(tau)) for tau in taus])

    # ---- flow ----

    def _flow_field(self, first: np.ndarray, last: np.ndarray, prev: np.ndarray | None,
                    nxt: np.ndarray | None) -> _FlowField:
        height, width = first.shape[:2]
        scale = min(1.0, self.config.flow_max_side / max(height, width))
        g0, g1 = _grey_small(first, scale), _grey_small(last, scale)  # (h, w) uint8
        f01, f10 = self._dis.calc(g0, g1, None), self._dis.calc(g1, g0, None)  # (h, w, 2)
        occ0, occ1 = self._occlusion(f01, f10), self._occlusion(f10, f01)  # (h, w)
        extra = {}
        if prev is not None and nxt is not None:
            extra["f0m"] = _upsample_flow(self._dis.calc(g0, _grey_small(prev, scale), None), width, height)
            extra["f12"] = _upsample_flow(self._dis.calc(g1, _grey_small(nxt, scale), None), width, height)
        return _FlowField(
            f01=_upsample_flow(f01, width, height), f10=_upsample_flow(f10, width, height),
            occ0=cv2.resize(occ0, (width, height), interpolation=cv2.INTER_LINEAR),
            occ1=cv2.resize(occ1, (width, height), interpolation=cv2.INTER_LINEAR), **extra,
        )

    def _occlusion(self, forward: np.ndarray, backward: np.ndarray) -> np.ndarray:
        """Soft mask (h, w) of source pixels whose forward flow is not undone by the backward flow."""
        back_at_target = _warp(backward, forward)  # (h, w, 2) backward flow sampled at x + forward(x)
        round_trip = np.sum((forward + back_at_target) ** 2, axis=-1)
        bound = self.config.consistency_alpha * (np.sum(forward**2, -1) + np.sum(back_at_target**2, -1))
        occluded = (round_trip > bound + self.config.consistency_beta).astype(np.float32)
        k = self.config.mask_blur_px | 1
        return cv2.GaussianBlur(occluded, (k, k), 0) if k > 1 else occluded

    # ---- synthesis ----

    def _flows_from_t(self, field: _FlowField, tau: float) -> tuple[np.ndarray, np.ndarray]:
        """(F_t0, F_t1), each (H, W, 2): where the pixel at time tau sits in I0 and in I1.

        From the motion of each end to time tau (F_0t, F_1t; linear, or quadratic with outer frames), the
        flows from tau are approximated on the tau grid by blending the reversed flow of the near end with
        the remaining flow of the far end: F_t0 = (1-tau)(-F_0t) + tau(F_10 - F_1t), and symmetrically.
        With linear motion this is exactly Super SloMo's formula.
        """
        if field.f0m is not None and field.f12 is not None:
            f_0t = _quadratic_path(field.f01, field.f0m, tau, field.outer_step)
            f_1t = _quadratic_path(field.f10, field.f12, 1.0 - tau, field.outer_step)
        else:
            f_0t, f_1t = tau * field.f01, (1.0 - tau) * field.f10
        f_t0 = (1 - tau) * (-f_0t) + tau * (field.f10 - f_1t)
        f_t1 = (1 - tau) * (field.f01 - f_0t) + tau * (-f_1t)
        return f_t0, f_t1

    def _frame_at(self, first: np.ndarray, last: np.ndarray, field: _FlowField, tau: float) -> np.ndarray:
        f_t0, f_t1 = self._flows_from_t(field, tau)
        warped0 = _warp(first, f_t0).astype(np.float32)  # (H, W, 3)
        warped1 = _warp(last, f_t1).astype(np.float32)
        vis0 = 1.0 - _warp(field.occ1, f_t1)  # (H, W): not newly appearing content
        vis1 = 1.0 - _warp(field.occ0, f_t0)  # (H, W): not content that gets covered
        w0, w1 = (1 - tau) * vis0, tau * vis1
        total = w0 + w1
        fallback = total < 1e-3
        w0 = np.where(fallback, 1 - tau, w0 / np.maximum(total, 1e-3))[..., None]
        w1 = np.where(fallback, tau, w1 / np.maximum(total, 1e-3))[..., None]
        return np.clip(w0 * warped0 + w1 * warped1 + 0.5, 0, 255).astype(np.uint8)


def _quadratic_path(f_near_far: np.ndarray, f_near_outer: np.ndarray, t: float, step: float) -> np.ndarray:
    """Displacement (H, W, 2) from an end frame after time t under constant acceleration (QVI, Xu et al. 2019).

    p(s) = v s + a s^2 / 2 with p(1) = f_near_far and p(-step) = f_near_outer (the outer frame lies one video
    frame = `step` jump intervals away on the other side): v = (step^2 f_far - f_outer) / (step + step^2),
    a / 2 = f_far - v. With step = 1 this is QVI's formula.
    """
    velocity = (step * step * f_near_far - f_near_outer) / (step + step * step)
    return velocity * t + (f_near_far - velocity) * t * t


def _grey_small(frame: np.ndarray, scale: float) -> np.ndarray:
    grey = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
    if scale >= 1.0:
        return grey
    height, width = grey.shape
    size = (max(8, round(width * scale)), max(8, round(height * scale)))
    return cv2.resize(grey, size, interpolation=cv2.INTER_AREA)


def _upsample_flow(flow: np.ndarray, width: int, height: int) -> np.ndarray:
    """(h, w, 2) flow in small pixels -> (H, W, 2) in full-resolution pixels."""
    small_h, small_w = flow.shape[:2]
    if (small_w, small_h) == (width, height):
        return flow
    full = cv2.resize(flow, (width, height), interpolation=cv2.INTER_LINEAR)
    full[..., 0] *= width / small_w
    full[..., 1] *= height / small_h
    return full


def _warp(image: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """Backward warp: out(x) = image(x + flow(x)), bilinear, borders replicated."""
    return remap(image, warp_maps(flow))


def warp_box(image: np.ndarray, flow: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """(h, w, 3) backward warp of `image` by `flow` (H, W, 2) on the pixels of box = (x0, y0, x1, y1)."""
    x0, y0, x1, y1 = box
    ys, xs = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    return cv2.remap(image, xs + flow[y0:y1, x0:x1, 0], ys + flow[y0:y1, x0:x1, 1], interpolation=cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_REPLICATE)


def warp_maps(flow: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) (H, W) float32 sample positions of the backward warp by flow (H, W, 2): made once, they serve every
    image warped by the same flow."""
    height, width = flow.shape[:2]
    xs, ys = _grid(width, height)
    return xs + flow[..., 0], ys + flow[..., 1]


def remap(image: np.ndarray, maps: tuple[np.ndarray, np.ndarray], interpolation: int = cv2.INTER_LINEAR) -> np.ndarray:
    """`image` sampled at `maps` (`warp_maps`), borders replicated."""
    return cv2.remap(image, maps[0], maps[1], interpolation=interpolation, borderMode=cv2.BORDER_REPLICATE)


@functools.lru_cache(maxsize=4)
def _grid(width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """(H, W) float32 pixel x and y coordinates (read only)."""
    xs, ys = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    xs.flags.writeable = ys.flags.writeable = False
    return xs, ys


def cubic_where(grey: np.ndarray, maps: tuple[np.ndarray, np.ndarray], warped: np.ndarray, weight: np.ndarray,
                floor: float = 0.05) -> np.ndarray:
    """(H, W, 3) uint8 the bilinear warp `warped` of an image by `maps` (`warp_maps`) given, in proportion to weight
    (H, W) in [0, 1], the detail of the bicubic warp of its grey level (grey, (H, W) uint8): that warp minus the
    bilinear one, added to every channel (the sharpness is the luminance's; a whole 1280 x 948 frame warped
    bicubically costs 16 ms in colour, 8 ms in grey). Resampled again only in the box of the pixels whose weight
    passes `floor` (below it the two differ by a fraction of a grey level)."""
    where = weight > floor
    if not where.any():
        return warped
    x0, y0, x1, y1 = bounding_box(where)
    box_maps = (maps[0][y0:y1, x0:x1], maps[1][y0:y1, x0:x1])
    detail = cv2.subtract(remap(grey, box_maps, cv2.INTER_CUBIC), remap(grey, box_maps), dtype=cv2.CV_32F)  # (h, w)
    detail = cv2.multiply(detail, weight[y0:y1, x0:x1], dtype=cv2.CV_32F)
    out = warped.copy()
    out[y0:y1, x0:x1] = cv2.add(warped[y0:y1, x0:x1], cv2.merge([detail, detail, detail]), dtype=cv2.CV_8U)
    return out
