"""Weight-free layered transition frames: the person and the background are treated apart.

Between the last frame before a jump (I0, soft person mask M0) and the first after it (I1, M1), with the
speaker's clean background plate P (`tango.interp.plate`) when one is given:
1. Background layer B(tau). The background's motion I0 -> I1: a RANSAC similarity (pan, zoom, roll) fitted to
   the window's own flow (step 2) at Shi-Tomasi corners of I0's background (person masked out) whose flow passes
   the forward-backward check; the plate P is registered onto I0 by SIFT + FLANN matches (ACInterp's
   BackgroundGuider estimator; the plate's keypoints are computed once per plate and kept), also as a similarity
   (`tango.interp.background`).
   Both are estimated only when a frame of the window first shows background. A move of no corner by more than
   `static_px` counts as the identity (no resampling). At tau, I0, I1 and P move along the corner-interpolated
   path (corners c -> c + tau (H(c) - c)); each end contributes where it shows background (1 - its mask dilated
   by `background_dilate_frac`), weighted (1 - tau, tau); the plate fills what neither end shows (weight
   `plate_weight`). The person of an end never enters B.
2. Motion. Bidirectional DIS flow, occlusion masks and the (quadratic) motion path of `FlowInterpolator`.
3. Person layer F(tau): both ends warped to tau, mixed with weights (1 - t') vis0 and t' vis1
   (vis = 1 - occlusion, as in `flow.py`; where both are occluded, (1 - t', t')). t' is tau pushed
   towards a quick switch where the warped ends disagree (the places the flow failed, d): from the plain blend
   where they agree to a cut instead of a double exposure, done by tau = 1/2 (as the eyes of step 7 do), over the
   failed part out to its edge (`tango.interp.switch`).
   Not where the part moves at both ends (`blur_speeds`, px per frame by the outer frames' flows, the slower end
   counted: `tango.interp.smear`): real frames show such a continuous fast motion smeared all the way through (a
   swinging hand in a held-out gap, where the switch showed one wrong end: -0.06 to -0.08 dB against flow), and
   the blend looks like that smear. A part standing at one end (a fist that opens, a head turned) still switches.
   Where the ends disagree the flow's occlusion masks failed too: vis is raised to 1 by the disagreement's square
   (else their patches hand pixels back to the end switched away from: backdrop torn into a cheek); where the
   ends differ mildly (teeth appearing) the masks still pick the end that shows it (German anchor's faces at
   jumps: 0.6552 of the ends' sharpness, 0.6529 by the plain disagreement, flow 0.6534). Where a warp draws its
   end's backdrop into the person (a hard jump's flow), the end whose warp samples the person weighs more, and a
   hole neither warp fills takes the ends' plain mix (`tango.interp.holes`).
   There, too, an end gets the bicubic warp's grey detail where it shows (`sharp_where_disagree`,
   `flow.cubic_where`), the bilinear warp elsewhere: a bilinear warp at sub-pixel offsets is a low-pass filter
   (inside the faces of the 22 s speaker's taken jumps it kept 0.62-0.71 of the real ends' Laplacian variance,
   0.69-0.90 bicubic), and where the frame shows one end after the switch nothing says its detail is wrong; where
   the ends agree (real in-between frames: motion blur, compression) the bilinear softening is the closer guess
   (held-out gaps of the 22 s speaker: -0.09 dB bicubic everywhere, -0.02 dB only where the ends disagree).
   t', the preference and the occlusion masks' trust are smooth and drawn at half the frame size (with the
   bicubic detail: 1.63x flow's cost per frame, 2.1x before); the occlusion masks and the eyes (step 7) at full size.
4. Person shape alpha(tau): (1 - tau) A0 + tau A1, with A0, A1 the masks warped to tau by the same flows
   (where both ends cover a pixel unwarped it stays person), sharpened about 0.5, dilated by
   `alpha_dilate_frac` and feathered; drawn at 1/`alpha_scale` of the frame size (the masks come from
   96 px ones) and upsampled. Windows whose ends' masks agree everywhere skip steps 1, 4 and 5.
5. Composite: a ghost of the person can only appear where one end shows the person and the other the
   background, and where the warped ends disagree (D, step 3), so the background replaces F there, and only
   where the person is gone at tau: v = (1 - alpha) U D, U = |M0 - M1| dilated by `zone_dilate_frac`;
   frame = v B + (1 - v) F. Where the ends agree the flow moved the person's edge itself, and the coarse alpha
   would only cut it a few pixels off, differently each frame (a hair edge flickering: warp error).
   Everywhere else the frame is the flow warp (fingers and hair the 96 px masks miss keep moving with it;
   on real in-between frames the layered result then stays within ~0.1 dB of `flow`).
6. Face (with perception's face landmarks of the ends, `tango.interp.face_morph`): where both ends show a
   comparable face (head turn <= `face.max_turn_deg`, mesh folds <= `face.max_folded_frac`), the head turned
   by at least `face_min_turn_deg`, and the ends
   aligned by their landmarks alone differ inside the face (at tau = 1/2) by no more than `face_agree_ratio`
   times the flow-warped ends (the flow failed: a head turn, where it tears the face and doubles the eyes),
   the face is drawn by the landmark morph: each end warped piecewise-affinely onto the points at tau, moved
   onto the other by their residual flow, mixed with the switch time t' of step 3 weighted by how well each end
   sees each pixel (foreshortening, and with the plate moved into both ends' frames, which end shows the person
   there: `face_morph` step 4; the switch only where both ends see the pixel), composited over the frame in the
   feathered face hull. Otherwise (no face at an
   end, no landmarks sent, or the flow follows the face better, as on real in-between frames) the face stays
   the flow's.
7. Eyes (with face landmarks of both ends; `eye_switch`): an eye whose warped ends differ (a lid or blink state the
   flow cannot move onto the other end's) switches from one end to the other at tau = 1/2 instead of dissolving
   (t' of steps 3 and 6 set to 0 before, 1 from it): one crisp lid, then the other (`tango.interp.eyes`).
"""
from __future__ import annotations

import dataclasses
from typing import Callable

import cv2
import numpy as np

from tango.interp import face_morph
from tango.interp.background import BackgroundFeatures, homography_path, is_identity, sift_mask
from tango.interp.face_morph import FaceMesh, FaceMorphConfig
from tango.interp.flow import (FlowInterpolator, FlowInterpolatorConfig, _FlowField, cubic_where, remap, warp_box,
                               warp_maps)
from tango.interp.eyes import eyes_at, switch_eyes
from tango.interp.holes import carried_masks, fill_holes, person_preference
from tango.interp.masks import bounding_box, dilate
from tango.interp.smear import end_speeds, unsmeared
from tango.interp.switch import Switch
from tango.perception.face import EYE_CORNER_ROWS


SHOWN = 0.01  # an end gets the bicubic detail only where its share of the frame passes this (step 3)


@dataclasses.dataclass(frozen=True)
class LayeredConfig:
    # the flow at 512 px, as `flow`'s: at 640 px on the 1280 px speaker the held-out gaps gained 0.06 dB
    # (31.756 -> 31.817) but a continuous head turn got pale patches on the cheek (picture first)
    flow: FlowInterpolatorConfig = FlowInterpolatorConfig()
    background_dilate_frac: float = 0.0  # an end shows background where its mask (dilated by this) is < 0.5
    zone_dilate_frac: float = 0.01  # the background may replace the flow warp this far around the changed region
    alpha_dilate_frac: float = 0.006  # the person shape is widened by this (hair, fingers)
    feather_frac: float = 0.003  # Gaussian sigma of the alpha feather (long side)
    alpha_sharpness: float = 3.0  # slope of the alpha ramp about 0.5
    plate_weight: float = 0.02  # weight of the plate where the ends show background
    # |W0 - W1| grey levels: plain blend .. quick switch. A later, softer switch ((20, 60), width 0.5) scores
    # ~0.07 dB more on held-out gaps of the 22 s speaker but leaves a face blended from two poses over more
    # frames of a head-turn jump (ghosting 0.20 -> 0.24): the blend is the better guess, the cut the better look.
    agree_levels: tuple[float, float] = (12.0, 40.0)
    switch_close_frac: float = 0.02  # closing radius (long side) joining disagreeing pixels into parts
    # width (in tau) of the switch where the warped ends disagree: a cut (at 0.3, three frames of a 9-frame window
    # were double exposures: demo frames 28-30, a translucent raised hand over the lap's two hands)
    switch_width: float = 0.02
    switch_grow: bool = True  # the switch's region grown past the failed part's edge (`Switch.region`)
    alpha_scale: int = 4  # the person shape is drawn at 1/alpha_scale of the frame size (it is feathered anyway)
    homography_max_side: int = 512  # SIFT (plate) and corner (background flow) resolution
    static_px: float = 2.0  # homographies moving no corner further than this are the identity
    face: FaceMorphConfig = FaceMorphConfig()
    # the face is morphed by landmarks when its ends aligned by the landmarks alone differ (mean grey level in the
    # face, at tau = 1/2) by at most this times what the flow-warped ends differ there
    face_agree_ratio: float = 1.0
    # ... and only past this head turn (degrees, 3-D points): below it the flow follows the face (on the 22 s
    # speaker's held-out gaps an 18.8 degree turn drawn by the morph lost 0.2 dB to the flow)
    face_min_turn_deg: float = 20.0
    distrust_occlusion: bool = True  # where the warped ends disagree, the occlusion masks do not pick the end
    sharp_where_disagree: bool = True  # step 3: where the warped ends disagree, the bicubic warp's detail
    face_switch: bool = True  # the aligned faces mix with the per-pixel switch time t' (step 3), not plain tau
    background_where_disagree: bool = True  # step 5: the background replaces F only where the warped ends disagree
    # step 7: inside each eye (face landmarks of both ends) whose warped ends differ, the eye switches from one end
    # to the other at tau = 1/2 instead of dissolving (a lid the flow cannot move onto the other end's would show
    # twice); the ends differ at an eye when this quantile of |W0 - W1| in its core passes `agree_levels`
    eye_switch: bool = True
    eye_axes: tuple[float, float] = (0.8, 0.6)  # the eye's region: semi-axes in eye widths along, across its corners
    eye_feather: float = 0.3  # its weight ramps from 1 to 0 between 1 -+ this of its radius
    eye_quantile: float = 0.9  # the lid edges are a thin part of the region
    # step 3: px per video frame (the slower end's) between which a disagreeing part turns from the cut back to the
    # blend (real frames smear it); None: always cut. Each end's speed is its fastest within `blur_reach_frac` (long
    # side), `tango.interp.smear`. From (1, 3): the demo's raised hand, 1.3 px a frame at its end, was read as 15 %
    # smeared, which widened its switch to 0.17 in tau, and the middle frame showed it half faded over the shirt.
    # Below 1.5 px a frame no smear shows: the hand cuts. It costs held-out PSNR where the blend hedged a switch at
    # the wrong time (`make bench`'s four gaps: 30.933 -> 30.911 dB, flow 30.929; the eval table's 8 gaps per video
    # stay above flow); (2, 6) lost 0.04 dB on the 22 s speaker's
    blur_speeds: tuple[float, float] | None = (1.5, 3.5)
    blur_reach_frac: float = 0.05  # a shorter reach takes `make bench`'s held-out gaps further below flow's
    # step 3 (`tango.interp.holes`): where the warped ends disagree, an end whose warp samples its backdrop inside the
    # person at tau (or its person outside it) weighs this much (1: off); where the body is torn open (both ends show
    # the person, neither warp samples it) the ends' plain mix fills it: ramp, widening (long side), feather (px)
    person_weight_floor: float = 0.05
    fill_holes: bool = True
    hole_levels: tuple[float, float] = (0.2, 0.5)
    hole_dilate_frac: float = 0.008
    hole_feather_px: float = 4.0

    @property
    def switch(self) -> Switch:
        """Step 3's switch (`tango.interp.switch`)."""
        return Switch(self.agree_levels, self.switch_close_frac, self.switch_width, self.switch_grow)


@dataclasses.dataclass
class _Layers:
    """What one window's frames share: per-end background visibility, ghost zone, and (computed when a frame
    first needs the background) the background path."""

    visible0: np.ndarray  # (H, W) float32 I0 shows background
    visible1: np.ndarray  # (H, W) float32 I1 shows background
    zone: np.ndarray  # (H, W) float32 one end shows the person, the other the background (dilated)
    masks: tuple[np.ndarray, np.ndarray]  # (H, W) float32 M0, M1
    masks_small: tuple[np.ndarray, np.ndarray]  # (h, w) float32 M0, M1 at 1/alpha_scale
    homographies: Callable[[], tuple[np.ndarray, np.ndarray]]  # -> (I0 -> I1, plate -> I0), each (3, 3)
    static_px: float
    _path: tuple[np.ndarray, np.ndarray, bool] | None = None
    _sources: dict[int, tuple[np.ndarray, ...]] = dataclasses.field(default_factory=dict)

    @property
    def empty(self) -> bool:
        """Whether no pixel can show a ghost of the person (the ends' masks agree everywhere)."""
        return not np.any(self.zone > 1e-3)

    def source(self, end: int, image: np.ndarray, occlusion: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """What every frame of the window samples of one end, made once: ((H, W, 4) uint8 the image (H, W, 3) with its
        occlusion mask (H, W) float32 in [0, 1], x 255, as a 4th channel; (H, W) uint8 its grey level)."""
        cached = self._sources.get(end)
        if cached is None or cached[0] is not image or cached[1] is not occlusion:
            both = cv2.cvtColor(image, cv2.COLOR_RGB2RGBA)
            cv2.insertChannel(np.round(occlusion * 255.0).astype(np.uint8), both, 3)
            cached = self._sources[end] = image, occlusion, both, cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
        return cached[2], cached[3]

    def warped(self, end: int, image: np.ndarray, occlusion: np.ndarray,
               maps: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """(image (H, W, 3) uint8, its occlusion mask (H, W) float32 in [0, 1]) warped by maps: one remap of the end
        with the mask as a 4th channel (`source`; a float mask's own remap cost as much as the image's: 7 ms a frame
        end at 1280 x 948)."""
        both = remap(self.source(end, image, occlusion)[0], maps)  # (H, W, 4)
        return cv2.cvtColor(both, cv2.COLOR_RGBA2RGB), cv2.extractChannel(both, 3).astype(np.float32) * (1.0 / 255.0)

    def path(self) -> tuple[np.ndarray, np.ndarray, bool]:
        """(first_to_last (3, 3) I0 -> I1 pixels, plate_to_first (3, 3), static: both are the identity), estimated
        once per window, on first use (a window whose background never shows needs no homography)."""
        if self._path is None:
            first_to_last, plate_to_first = self.homographies()
            height, width = self.zone.shape
            static = all(is_identity(h, width, height, self.static_px) for h in (first_to_last, plate_to_first))
            self._path = first_to_last, plate_to_first, static
        return self._path


class LayeredInterpolator:
    """Callable: (before (k,H,W,3), after (k,H,W,3), n, *, masks_before (k,H,W) float32,
    masks_after (k,H,W) float32, plate (H,W,3) uint8 | None) -> (n,H,W,3) uint8."""

    def __init__(self, config: LayeredConfig = LayeredConfig()):
        self.config = config
        self._flow = FlowInterpolator(config.flow)
        self._face = face_morph.FaceMorpher(config.face)
        # the landmark-aligned face is judged against the (bilinear) flow warp resampled alike
        self._face_points_only = face_morph.FaceMorpher(dataclasses.replace(config.face, refine=False, cubic=False))
        self._features = BackgroundFeatures(config.homography_max_side)
        self._switch = config.switch

    def __call__(self, before: np.ndarray, after: np.ndarray, num_frames: int, *, masks_before: np.ndarray,
                 masks_after: np.ndarray, plate: np.ndarray | None = None,
                 landmarks_before: np.ndarray | None = None, landmarks_after: np.ndarray | None = None) -> np.ndarray:
        first, last = before[-1], after[0]  # (H, W, 3)
        if np.array_equal(first, last):
            return np.repeat(first[None], num_frames, axis=0)
        m0, m1 = masks_before[-1].astype(np.float32), masks_after[0].astype(np.float32)  # (H, W)
        quadratic = self.config.flow.use_outer_frames and len(before) >= 2 and len(after) >= 2
        field = self._flow._flow_field(first, last, before[-2] if quadratic else None, after[1] if quadratic else None)
        layers = self._layers(first, last, m0, m1, plate, field)
        field = dataclasses.replace(field, outer_step=1.0 / (num_frames + 1))
        taus = np.arange(1, num_frames + 1, dtype=np.float32) / (num_frames + 1)
        mesh = self._face_mesh(first, last, field, landmarks_before, landmarks_after)
        backgrounds = None if mesh is None else _backgrounds_at_ends(plate, layers)
        speeds = end_speeds(field, self.config.blur_reach_frac) if self.config.blur_speeds is not None else None
        eyes = None
        if self.config.eye_switch and landmarks_before is not None and landmarks_after is not None:
            height, width = first.shape[:2]
            eyes = face_morph.eye_corners(landmarks_before[-1], width, height), \
                face_morph.eye_corners(landmarks_after[0], width, height)
            eyes = None if eyes[0] is None or eyes[1] is None else eyes
        return np.stack([self._with_face(self._frame_at(first, last, plate, layers, field, float(t), eyes, speeds),
                                         first, last, mesh, float(t), backgrounds) for t in taus])

    # ---- face ----

    def face_choice(self, first: np.ndarray, last: np.ndarray, field: _FlowField, landmarks_before: np.ndarray | None,
                    landmarks_after: np.ndarray | None) -> tuple[face_morph.FacePlan, float, float]:
        """(plan, d_morph, d_flow): the window's face plan and the mean grey difference of its two ends inside
        the face at tau = 1/2, aligned by the landmarks alone (no residual flow) and by the flow (NaN when there
        is no usable face). The landmarks win where the flow failed (a head turn); where the flow follows the
        face (small motion, e.g. real in-between frames), the flow is the closer guess."""
        height, width = first.shape[:2]
        ends = (None, None) if landmarks_before is None or landmarks_after is None else \
            (landmarks_before[-1], landmarks_after[0])
        plan = face_morph.plan(*ends, width, height, self.config.face)
        if plan.mesh is None:
            return plan, float("nan"), float("nan")
        layer = self._face_points_only(first, last, plan.mesh, 0.5)
        if layer is None or layer.alpha.sum() < 1.0:
            return dataclasses.replace(plan, mesh=None, reason="OFF_FRAME"), float("nan"), float("nan")
        f_t0, f_t1 = self._flow._flows_from_t(field, 0.5)
        flow0, flow1 = warp_box(first, f_t0, layer.box), warp_box(last, f_t1, layer.box)  # (h, w, 3)
        return plan, _mean_difference(layer.warped0, layer.warped1, layer.alpha), \
            _mean_difference(flow0, flow1, layer.alpha)

    def _face_mesh(self, first: np.ndarray, last: np.ndarray, field: _FlowField, landmarks_before: np.ndarray | None,
                   landmarks_after: np.ndarray | None) -> FaceMesh | None:
        """The mesh of the face to morph in this window, or None (no comparable faces, or the flow aligns better)."""
        plan, d_morph, d_flow = self.face_choice(first, last, field, landmarks_before, landmarks_after)
        if plan.mesh is None or plan.turn_deg < self.config.face_min_turn_deg \
                or not d_morph <= self.config.face_agree_ratio * d_flow:
            return None
        return plan.mesh

    def _with_face(self, frame: np.ndarray, first: np.ndarray, last: np.ndarray, mesh: FaceMesh | None,
                   tau: float, backgrounds: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
        """The frame with the landmark-aligned face composited over it (feathered face oval); `backgrounds`: the
        plate in the frames of both ends (each end's face is taken only where it shows the person)."""
        if mesh is None:
            return frame
        layer = self._face(first, last, mesh, tau, backgrounds)
        if layer is None:
            return frame
        x0, y0, x1, y1 = layer.box
        if self.config.face_switch:  # a quick switch where the aligned faces still differ (mouth, teeth, shading)
            t_eff = self._switch.tau(tau, self._switch.disagreement(layer.warped0, layer.warped1))  # (h, w)
            if self.config.eye_switch:  # the eyes at the points at tau, where both ends are aligned
                eyes = mesh.points_at(tau)[EYE_CORNER_ROWS].reshape(2, 1, 2, 2) - np.array([x0, y0])
                t_eff = self._switch_eyes(t_eff, layer.warped0, layer.warped1, eyes, tau)
            t_eff = self._switch.where_seen(t_eff, tau, layer.seen0, layer.seen1)
            layer = dataclasses.replace(layer, face=face_morph.blend_seen(layer.warped0, layer.warped1, layer.seen0,
                                                                          layer.seen1, t_eff))
        frame[y0:y1, x0:x1] = _mix(layer.face, frame[y0:y1, x0:x1], layer.alpha + 1e-6, 1.0 - layer.alpha + 1e-6)
        return frame

    # ---- background ----

    def _layers(self, first: np.ndarray, last: np.ndarray, m0: np.ndarray, m1: np.ndarray,
                plate: np.ndarray | None, field: _FlowField | None = None) -> _Layers:
        config = self.config
        height, width = m0.shape
        long_side = max(height, width)
        radius = int(round(config.background_dilate_frac * long_side))
        visible0 = 1.0 - np.clip(dilate(m0, radius) * 2.0, 0.0, 1.0)  # (H, W) 1 = background
        visible1 = 1.0 - np.clip(dilate(m1, radius) * 2.0, 0.0, 1.0)
        changed = np.abs(m0 - m1)  # person in one end, background in the other: where ghosts appear
        zone = np.clip(dilate(changed, int(round(config.zone_dilate_frac * long_side))) * 2.0, 0.0, 1.0)
        small = _small_size(width, height, config.alpha_scale)
        masks_small = tuple(cv2.resize(m, small, interpolation=cv2.INTER_AREA) for m in (m0, m1))

        def homographies() -> tuple[np.ndarray, np.ndarray]:
            seen0, seen1 = sift_mask(m0, long_side), sift_mask(m1, long_side)
            # I0 -> I1: a similarity fitted to the window's own flow (SIFT matches only without one); the plate
            # is registered onto I0 by SIFT matches either way
            features0 = self._features(first, seen0) if plate is not None or field is None else None
            if field is not None:
                first_to_last = self._features.homography_from_flow(first, field.f01, field.occ0, seen0, seen1)
            else:
                first_to_last = self._features.homography(features0, self._features(last, seen1), first.shape[:2])
            plate_to_first = np.eye(3)
            if plate is not None:  # the plate's keypoints are computed once per plate
                plate_features = self._features(plate, None)
                plate_to_first = self._features.homography(plate_features, features0, first.shape[:2])
            return first_to_last, plate_to_first

        return _Layers(visible0, visible1, zone.astype(np.float32), (m0, m1), masks_small, homographies,
                       config.static_px)

    def _background_at(self, first: np.ndarray, last: np.ndarray, plate: np.ndarray | None, layers: _Layers,
                       tau: float, box: tuple[int, int, int, int]) -> np.ndarray:
        """(y1 - y0, x1 - x0, 3) uint8 background at time tau inside box = (x0, y0, x1, y1) of the frame."""
        height, width = layers.visible0.shape
        x0, y0, x1, y1 = box
        first_to_last, plate_to_first, static = layers.path()
        to_t = homography_path(first_to_last, tau, width, height)  # I0 pixels -> frame tau
        from_last = to_t @ np.linalg.inv(first_to_last)  # I1 pixels -> frame tau

        def move(image: np.ndarray, homography: np.ndarray) -> np.ndarray:  # image moved to tau, inside the box
            if static:
                return image[y0:y1, x0:x1]
            shift = np.array([[1.0, 0.0, -x0], [0.0, 1.0, -y0], [0.0, 0.0, 1.0]])
            return cv2.warpPerspective(image, shift @ homography, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR,
                                       borderMode=cv2.BORDER_REPLICATE)

        w0 = (1.0 - tau) * move(layers.visible0, to_t) + 1e-3  # (H, W) float32
        w1 = tau * move(layers.visible1, from_last) + 1e-3
        start, end = move(first, to_t), move(last, from_last)  # (H, W, 3) uint8
        ends = _mix(start, end, w0, w1)
        if plate is None:  # nothing to fill with: where neither end shows background, the plain mix
            fill = cv2.addWeighted(start, 1.0 - tau, end, tau, 0.0)
        else:
            fill = move(plate, to_t @ plate_to_first)
        return _mix(ends, fill, w0 + w1, np.full_like(w0, self.config.plate_weight))

    # ---- person ----

    def _person_at(self, blend: np.ndarray) -> np.ndarray:
        """The small person mix at tau (`holes.carried_masks`) sharpened about 0.5 to [0, 1] (`alpha_sharpness`)."""
        return np.clip((blend - 0.5) * self.config.alpha_sharpness + 0.5, 0.0, 1.0)

    def _alpha(self, blend: np.ndarray, size: tuple[int, int]) -> np.ndarray:
        """(H, W) float32 person opacity at tau from the small person mix (`_person_at`), dilated, feathered and
        upsampled to size (W, H)."""
        config = self.config
        alpha = self._person_at(blend).astype(np.float32)
        long_side = max(alpha.shape)
        alpha = dilate(alpha, int(round(config.alpha_dilate_frac * long_side)))
        sigma = config.feather_frac * long_side
        alpha = _smooth(alpha, sigma) if sigma > 0.3 else alpha
        return cv2.resize(alpha, size, interpolation=cv2.INTER_LINEAR)

    def _switch_eyes(self, t_eff: np.ndarray, warped0: np.ndarray, warped1: np.ndarray, eyes: np.ndarray,
                     tau: float) -> np.ndarray:
        """t_eff with each eye whose warped ends differ switched (step 7, `tango.interp.eyes.switch_eyes`)."""
        config = self.config
        return switch_eyes(t_eff, warped0, warped1, eyes, tau, config.agree_levels, config.eye_axes, config.eye_feather,
                           config.eye_quantile)

    def _end_weights(self, tau: float, disagree: np.ndarray, switch: np.ndarray,
                     carried: tuple[np.ndarray, np.ndarray, np.ndarray], anywhere: bool) -> list[np.ndarray]:
        """[(h, w) float32 x 4] the smooth parts of the ends' weights (step 3), drawn at a reduced size: each end's
        weight before what it sees, (1 - t') and t' (`switch` where the ends disagree) times whether its warp samples
        what the frame shows (`holes.person_preference`); how far the occlusion masks are trusted (1 - the
        disagreement's square); end 0's share where both ends are occluded."""
        t_eff = self._switch.tau(tau, switch)
        weight0, weight1 = 1.0 - t_eff, t_eff
        if anywhere and self.config.person_weight_floor < 1.0:  # no backdrop drawn into the person (`holes`)
            from0, from1 = person_preference(carried, self._person_at(carried[2]), disagree,
                                             self.config.person_weight_floor)
            weight0, weight1 = weight0 * from0, weight1 * from1
        trust = 1.0 - disagree * disagree if self.config.distrust_occlusion and anywhere else np.ones_like(disagree)
        return [weight0, weight1, trust, weight0 / np.maximum(weight0 + weight1, 1e-6)]

    def _frame_at(self, first: np.ndarray, last: np.ndarray, plate: np.ndarray | None, layers: _Layers,
                  field: _FlowField, tau: float, eyes: tuple[np.ndarray, np.ndarray] | None = None,
                  speeds: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
        """(H, W, 3) uint8 frame at tau; speeds: each end's speed (`smear.end_speeds`), None: unknown (switch)."""
        f_t0, f_t1 = self._flow._flows_from_t(field, tau)  # (H, W, 2) each
        maps0, maps1 = warp_maps(f_t0), warp_maps(f_t1)  # the warps by f_t0, f_t1, shared by image and mask
        warped0, covered = layers.warped(0, first, field.occ0, maps0)  # I0 and its pixels covered in I1
        warped1, appears = layers.warped(1, last, field.occ1, maps1)  # I1 and its pixels that only it shows
        height, width = first.shape[:2]
        half = (max(8, width // 2), max(8, height // 2))  # the weights are smooth: drawn at half size, upsampled
        disagree_half = self._switch.disagreement(warped0, warped1, half)  # (h, w)
        disagree = cv2.resize(disagree_half, (width, height), interpolation=cv2.INTER_LINEAR)  # (H, W)
        anywhere = bool(disagree_half.max() > 1e-3)  # (most real in-between frames: nowhere)
        switch = disagree_half
        if anywhere:  # a part moving at both ends is smeared in between: the blend stays (`blur_speeds`)
            still = None if speeds is None else unsmeared(speeds, maps0, maps1, *self.config.blur_speeds, size=half)
            switch = self._switch.region(disagree_half, still, max(width, height))
        carried = carried_masks(layers.masks_small, f_t0, f_t1, tau)  # which end's warp samples its person
        weight0, weight1, trust, hidden_share = (
            cv2.resize(x.astype(np.float32), (width, height), interpolation=cv2.INTER_LINEAR)
            for x in self._end_weights(tau, disagree_half, switch, carried, anywhere))
        c0, c1 = weight0 * (1.0 - appears * trust), weight1 * (1.0 - covered * trust)  # what each end sees
        total = c0 + c1
        share0 = np.where(total < 1e-3, hidden_share, c0 / np.maximum(total, 1e-3))  # (H, W) end 0's, end 1 the rest
        if eyes is not None:  # step 7, at full size: t' = end 1's share
            share0 = 1.0 - self._switch_eyes(1.0 - share0, warped0, warped1, eyes_at(field, eyes, tau), tau)
        if self.config.sharp_where_disagree and anywhere:  # each end sharpened only where it shows
            grey0, grey1 = layers.source(0, first, field.occ0)[1], layers.source(1, last, field.occ1)[1]
            warped0 = cubic_where(grey0, maps0, warped0, np.where(share0 > SHOWN, disagree, np.float32(0)))
            warped1 = cubic_where(grey1, maps1, warped1, np.where(share0 < 1.0 - SHOWN, disagree, np.float32(0)))
        person = cv2.blendLinear(warped0, warped1, share0, 1.0 - share0)
        if self.config.fill_holes:  # the body torn open, both warps showing the backdrop: the ends' plain mix
            person = fill_holes(person, first, last, layers.masks, layers.masks_small, carried, (maps0, maps1), tau,
                                self.config.hole_levels, self.config.hole_dilate_frac, self.config.hole_feather_px)
        if layers.empty:
            return person
        alpha = self._alpha(carried[2], (first.shape[1], first.shape[0]))
        vacated = ((1.0 - alpha) * layers.zone).astype(np.float32)  # (H, W)
        if self.config.background_where_disagree:  # where the ends agree the flow moved the person's edge itself
            vacated *= disagree
        if not np.any(vacated > 1e-3):
            return person
        x0, y0, x1, y1 = box = bounding_box(vacated > 1e-3)  # the background is drawn only where it shows
        background = self._background_at(first, last, plate, layers, tau, box)
        inside = vacated[y0:y1, x0:x1]
        person[y0:y1, x0:x1] = _mix(background, person[y0:y1, x0:x1], inside, 1.0 - inside)
        return person


def _backgrounds_at_ends(plate: np.ndarray | None, layers: _Layers) -> tuple[np.ndarray, np.ndarray] | None:
    """The plate moved into the frames of I0 and I1 ((H, W, 3) uint8 each), or None without a plate."""
    if plate is None:
        return None
    first_to_last, plate_to_first, static = layers.path()
    if static:
        return plate, plate
    height, width = plate.shape[:2]
    return tuple(cv2.warpPerspective(plate, homography, (width, height), flags=cv2.INTER_LINEAR,
                                     borderMode=cv2.BORDER_REPLICATE)
                 for homography in (plate_to_first, first_to_last @ plate_to_first))


def _mix(a: np.ndarray, b: np.ndarray, weight_a: np.ndarray, weight_b: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 per-pixel (w_a a + w_b b) / (w_a + w_b); weights (H, W) >= 0 with a positive sum.

    Weights are normalised first: cv2.blendLinear adds 1e-5 to the denominator, which darkens small weights.
    """
    total = weight_a + weight_b
    return cv2.blendLinear(a, b, (weight_a / total).astype(np.float32), (weight_b / total).astype(np.float32))


def _mean_difference(a: np.ndarray, b: np.ndarray, weight: np.ndarray) -> float:
    """Weighted mean grey-level difference of two (h, w, 3) uint8 images, weights (h, w) >= 0."""
    difference = cv2.cvtColor(cv2.absdiff(a, b), cv2.COLOR_RGB2GRAY).astype(np.float32)
    return float((difference * weight).sum() / max(float(weight.sum()), 1e-6))


def preload() -> None:
    """Imports the homography estimator now (it pulls torch in: ~1.5 s once per process), e.g. before timing."""
    from tango.acinterp.background_guider import estimate_background_homography  # noqa: F401


def _small_size(width: int, height: int, scale: int) -> tuple[int, int]:
    """(w, h) of a frame reduced by `scale` (at least 8 px a side)."""
    return max(8, round(width / scale)), max(8, round(height / scale))


def _smooth(image: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur of an (H, W) float32 image; large sigmas run at a reduced size (the result is smooth)."""
    if sigma <= 4.0:
        return cv2.GaussianBlur(image, (0, 0), max(0.5, sigma))
    factor = sigma / 2.0
    height, width = image.shape
    small = cv2.resize(image, (max(4, round(width / factor)), max(4, round(height / factor))),
                       interpolation=cv2.INTER_AREA)
    return cv2.resize(cv2.GaussianBlur(small, (0, 0), 2.0), (width, height), interpolation=cv2.INTER_LINEAR)
