"""The switch of a layered transition (`tango.interp.layered`, step 3): where the warped ends disagree, a cut.

Where the flow moved both ends onto each other their blend is the best guess; where it failed (a hand that is
somewhere else at the other end, a head turned), the blend is a double exposure. The disagreement d in [0, 1] marks
those places: |W0 - W1| (grey levels) ramped through `agree_levels`, closed into whole parts (radius `close_frac` of
the long side, at a quarter of the size) and smoothed. Each pixel's own time t' = clip((tau - c) / w + 1/2, 0, 1)
narrows from the plain blend (d = 0: w = 1, t' = tau) to a cut (d = 1: w = `width`), centred at c = 1/2 - d width / 2,
so that a fully disagreeing part has switched by tau = 1/2. `grow`: the region is d grown by its blur's reach, so
that the ramp runs where the ends agree rather than across the part's edge (else the edge shows as an outline).
In a turning face (`tango.interp.face_morph`) the switch picks an end only where both ends see the pixel.
"""
from __future__ import annotations

import dataclasses

import cv2
import numpy as np


@dataclasses.dataclass(frozen=True)
class Switch:
    agree_levels: tuple[float, float]  # |W0 - W1| grey levels: plain blend .. quick switch
    close_frac: float  # closing radius (long side) joining disagreeing pixels into parts
    width: float  # width (in tau) of the switch where the ends disagree fully
    grow: bool  # the region grown past the failed part's edge (`region`)

    def disagreement(self, warped0: np.ndarray, warped1: np.ndarray,
                     size: tuple[int, int] | None = None) -> np.ndarray:
        """(H, W) float32 in [0, 1], or of `size` (w, h): where the warped ends (H, W, 3) uint8 disagree (the flow
        failed): clip((|W0 - W1| - low) / (high - low), 0, 1) on the grey image, closed (dilation then erosion,
        `close_radius`, at a quarter of the size) and smoothed: a failed part (a hand, a face) is one piece."""
        low, high = self.agree_levels
        height, width = warped0.shape[:2]
        small_size = (max(8, width // 4), max(8, height // 4))
        difference = cv2.cvtColor(cv2.absdiff(warped0, warped1), cv2.COLOR_RGB2GRAY)  # (H, W) uint8
        small = cv2.resize(difference, small_size, interpolation=cv2.INTER_AREA).astype(np.float32)
        disagree = np.clip((small - low) / (high - low), 0.0, 1.0)  # (h, w)
        radius = self.close_radius(max(width, height))
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
        disagree = cv2.GaussianBlur(cv2.morphologyEx(disagree, cv2.MORPH_CLOSE, kernel), (0, 0), radius / 2.0)
        return cv2.resize(disagree, size or (width, height), interpolation=cv2.INTER_LINEAR)

    def close_radius(self, long_side: int) -> int:
        """The disagreement's closing radius in quarter-size pixels (its blur's sigma is half that)."""
        return max(1, int(round(self.close_frac * max(8, long_side // 4))))

    def region(self, disagree_half: np.ndarray, still: np.ndarray | None, long_side: int) -> np.ndarray:
        """(h, w) at half size, how far each pixel switches rather than blends: the disagreement times the speed gate
        `still` (None: none). `grow`: the disagreement grown by its blur's reach, so that its ramp runs where the ends
        agree instead of across the part's edge (drawn as an outline: the demo's raised hand at frame 28), and the gate
        shrunk alike, so that a moving part's surroundings keep the blend. Grown at a quarter of the frame's size, where
        the disagreement is drawn (at half size the two morphologies cost 13 ms a frame at 1280 px, 10 % of the
        method's)."""
        if not self.grow:
            return disagree_half if still is None else still * disagree_half
        half_size = disagree_half.shape[1], disagree_half.shape[0]
        quarter = (max(4, half_size[0] // 2), max(4, half_size[1] // 2))
        reach = self.close_radius(long_side)  # 2 sigma of the disagreement's blur, in quarter-size pixels
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * reach + 1, 2 * reach + 1))
        disagree = cv2.resize(disagree_half, quarter, interpolation=cv2.INTER_AREA)
        region = cv2.dilate(disagree, kernel)
        if still is not None:
            gate = np.where(disagree > 1e-3, cv2.resize(still, quarter, interpolation=cv2.INTER_AREA), np.float32(1))
            region *= cv2.erode(gate.astype(np.float32), kernel)
        return cv2.resize(region, half_size, interpolation=cv2.INTER_LINEAR)

    def tau(self, tau: float, disagree: np.ndarray) -> np.ndarray:
        """(H, W) float32 per-pixel time t': tau where the ends agree, a quick switch where they disagree (H, W)
        (`disagreement`, or a part of it)."""
        span = 1.0 - (1.0 - self.width) * disagree
        centre = 0.5 - 0.5 * self.width * disagree  # a fully disagreeing part has switched by tau = 1/2
        return np.clip((tau - centre) / span + 0.5, 0.0, 1.0)

    @staticmethod
    def where_seen(t_switch: np.ndarray, tau: float, seen0: np.ndarray, seen1: np.ndarray) -> np.ndarray:
        """The per-pixel time t_switch (of `tau`) eased back to tau where an end sees the pixel poorly (seen0, seen1 in
        [0, 1], `face_morph.FaceLayer`): the switch picks between two ends that both see the pixel; where one of
        them does not (a cheek foreshortened by the turn), the end that sees it keeps it (`face_morph.blend_seen`)
        instead of the switch forcing the other's stretched pixels there (the demo's frame 75: a dark patch on the
        turning cheek)."""
        return tau + (t_switch - tau) * np.minimum(seen0, seen1)
