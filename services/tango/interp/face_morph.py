"""Landmark-aligned face morph: the face of a transition frame drawn from both ends aligned by their face points.

Between the face of the last frame before a jump and that of the first after it (perception's 95 face points
per frame, `tango.perception.face.FACE_POINTS`: normalised x / W, y / H, z / W, NaN where no face):
1. Points: the 95 points in pixels plus a support ring, the face oval pushed out from its centroid by
   `ring_scale` (the warp must reach past the oval, where the face mask fades out). The frame at tau has the
   points p(tau) = (1 - tau) p0 + tau p1.
2. Mesh: one Delaunay triangulation of the mean shape (p0 + p1) / 2 for the whole window (a mesh that changed
   from frame to frame would make the face flicker).
3. Comparable ends: the two point sets describe the same surface when the head turned by at most
   `max_turn_deg` between them (the rotation of a Kabsch fit of the 3-D points of the face) and no more than
   `max_folded_frac` of the mesh's area flips orientation at either end (points that overtook each other in
   the image: a side of the face turned away). Otherwise `plan` says why and the caller draws without it.
4. Frame at tau: each end warped onto p(tau) piecewise-affinely (each pixel by the affine map of the mesh
   triangle it lies in, cv2.remap; where the mesh folds over itself at tau, the triangles nearer the camera by
   the points' z are drawn last, so the nose of a turned head covers its far cheek). The aligned ends are mixed
   with weights (1 - tau) s0^c, tau s1^c (`blend_seen`, c = 4: the end that sees a pixel clearly better wins
   it). s_k, how well end k sees the pixel, is the product of
   - stretch: the triangle's area in end k over its area at tau, ramped between `stretch_levels` (a side of the
     face turned away from end k is foreshortened or folded there; magnified it draws a stretched cheek edge
     or a second nose outline), floored at `magnified_seen`;
   - agreement with the silhouette at tau (only with the speaker's background in each end's frame, the plate
     moved there): end k shows the person where its colour differs from its background (`background_levels`);
     the person's shape at tau is the zero set of (1 - tau) d0 + tau d1, d_k the signed distance to end k's
     silhouette, so the far edge of a turned face moves from one end's edge to the other's instead of showing
     both; end k agrees inside that shape where it shows the person and outside where it shows background
     (its own edge band of `silhouette_frac` of the face size, half backdrop, agrees with neither), floored at
     `background_seen`: no background of one end is drawn inside the other's face.
   s_k -> 1 as tau -> k. The residual flow moving the ends onto each other is scaled by min(s0, s1): where one
   end does not see the face, its flow is noise. The ends are resampled bicubically (`cubic`): a bilinear warp
   at sub-pixel offsets blurs, and the morph draws only head turns, where the ends disagree (as
   `tango.interp.layered` step 3 resamples the flow warp where they disagree).
5. Opacity: the convex hull of the face points at p(tau) (the oval, and the nose of a turned head), shrunk
   towards the oval's centroid by `mask_scale`, filled and feathered with a Gaussian of sigma `feather_frac` of
   the face size (sqrt of the oval's area).
Eyes (`eye_corners`, `eye_region`): each eye's outer and inner corner from the landmarks and a feathered ellipse
about them, where the layered interpolator switches an eye from one end to the other instead of dissolving two
different lids (`tango.interp.layered` step 7).
"""
from __future__ import annotations

import dataclasses

import cv2
import numpy as np
from scipy.spatial import Delaunay

from tango.perception.face import ALIGN_ROWS, EYE_CORNER_ROWS, FACE_POINTS, OVAL_ROWS

FACE_POINT_COUNT = len(FACE_POINTS)


@dataclasses.dataclass(frozen=True)
class FaceMorphConfig:
    ring_scale: float = 1.4  # support ring: the face oval scaled about its centroid by this
    mask_scale: float = 0.95  # the face opacity: the oval scaled by this before feathering
    feather_frac: float = 0.04  # Gaussian sigma of the opacity edge, fraction of the face size
    max_turn_deg: float = 60.0  # the ends' 3-D face points rotated by more than this: not comparable
    max_folded_frac: float = 0.15  # mesh area whose orientation flips at an end: not comparable beyond this
    min_face_px: float = 24.0  # faces smaller than this (sqrt of the oval area) are left to the flow
    refine: bool = True  # the aligned ends meet by their residual optical flow (DIS) inside the face box
    cubic: bool = True  # the ends are resampled bicubically (bilinear: softer at sub-pixel offsets)
    # an end's triangle magnified to tau by area ratio (end / tau) below the first is not drawn from it, above the
    # second fully (folded: negative ratio, never)
    stretch_levels: tuple[float, float] = (0.6, 0.95)
    background_levels: tuple[float, float] = (10.0, 30.0)  # colour distance (max over channels) to the background
    # what an end is worth where it is magnified from a sliver (its person) and where it shows background (its
    # background, unmagnified): a face in one end beats a background in the other, however thin its source
    magnified_seen: float = 0.02
    background_seen: float = 0.001
    silhouette_frac: float = 0.02  # feather of the silhouette at tau and width of an end's edge band (face size)


@dataclasses.dataclass(frozen=True)
class FaceMesh:
    """The window's face points at both ends (pixels, ring included) and their shared triangulation."""

    points0: np.ndarray  # (Q, 2) float64 pixels at tau = 0
    points1: np.ndarray  # (Q, 2) float64 pixels at tau = 1
    triangles: np.ndarray  # (T, 3) int64 rows of the points
    size: float  # face size in pixels: sqrt of the mean oval area
    depth0: np.ndarray | None = None  # (Q,) float64 distance from the camera (pixels, larger: further) at tau = 0
    depth1: np.ndarray | None = None  # (Q,) at tau = 1

    def points_at(self, tau: float) -> np.ndarray:
        return (1.0 - tau) * self.points0 + tau * self.points1  # (Q, 2)

    def far_to_near(self, tau: float) -> np.ndarray:
        """(T,) triangle rows in drawing order at tau: the furthest first, so that where the face folds over
        itself (the nose of a turned head over its far cheek) the nearer surface is drawn on top."""
        if self.depth0 is None or self.depth1 is None:
            return np.arange(len(self.triangles))
        depth = ((1.0 - tau) * self.depth0 + tau * self.depth1)[self.triangles].mean(axis=1)  # (T,)
        return np.argsort(-depth, kind="stable")


@dataclasses.dataclass(frozen=True)
class FacePlan:
    """Whether the window's face can be morphed (`mesh` set) or why not (`reason`), with what was measured."""

    mesh: FaceMesh | None
    reason: str  # "" when usable: NO_FACE, SMALL_FACE, TURN, FOLDED
    turn_deg: float = float("nan")
    folded_frac: float = float("nan")


@dataclasses.dataclass(frozen=True)
class FaceLayer:
    """The morphed face of one frame inside `box` = (x0, y0, x1, y1) of the frame."""

    box: tuple[int, int, int, int]
    face: np.ndarray  # (h, w, 3) uint8 the aligned faces cross-dissolved
    alpha: np.ndarray  # (h, w) float32 opacity
    warped0: np.ndarray  # (h, w, 3) uint8 end 0 aligned to tau
    warped1: np.ndarray  # (h, w, 3) uint8 end 1 aligned to tau
    seen0: np.ndarray  # (h, w) float32 in [0, 1]: how well end 0 sees the pixel (step 4)
    seen1: np.ndarray  # (h, w) float32 in [0, 1]: how well end 1 sees it


def face_present(landmarks: np.ndarray | None) -> bool:
    """Whether a (95, 3) landmark row holds a face (all finite)."""
    return landmarks is not None and bool(np.isfinite(landmarks).all())


def head_turn_deg(landmarks0: np.ndarray, landmarks1: np.ndarray, width: int, height: int) -> float:
    """Rotation angle (degrees) of the Kabsch fit between the two ends' 3-D face points (oval + rigid points)."""
    rows = np.concatenate([ALIGN_ROWS, OVAL_ROWS])
    scale = np.array([width, height, width], np.float64)
    a, b = landmarks0[rows] * scale, landmarks1[rows] * scale  # (N, 3) pixels
    a, b = a - a.mean(axis=0), b - b.mean(axis=0)
    u, _, vt = np.linalg.svd(a.T @ b)
    d = np.sign(np.linalg.det(u @ vt))
    rotation = u @ np.diag([1.0, 1.0, d]) @ vt
    return float(np.degrees(np.arccos(np.clip((np.trace(rotation) - 1.0) / 2.0, -1.0, 1.0))))


def _with_ring(points: np.ndarray, scale: float) -> np.ndarray:
    """(95, 2) face points -> (95 + 36, 2): the face oval scaled by `scale` about its centroid appended."""
    oval = points[OVAL_ROWS]
    centre = oval.mean(axis=0)
    return np.concatenate([points, centre + scale * (oval - centre)])


def _signed_areas(points: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    a, b, c = points[triangles[:, 0]], points[triangles[:, 1]], points[triangles[:, 2]]  # (T, 2)
    return 0.5 * ((b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0]))


def _polygon_area(polygon: np.ndarray) -> float:
    x, y = polygon[:, 0], polygon[:, 1]
    return float(0.5 * abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))


def plan(landmarks0: np.ndarray | None, landmarks1: np.ndarray | None, width: int, height: int,
         config: FaceMorphConfig = FaceMorphConfig()) -> FacePlan:
    """The window's FacePlan from the (95, 3) landmarks of its two ends (None or NaN: no face)."""
    if not (face_present(landmarks0) and face_present(landmarks1)):
        return FacePlan(None, "NO_FACE")
    pixels = np.array([width, height], np.float64)
    p0, p1 = landmarks0[:, :2] * pixels, landmarks1[:, :2] * pixels  # (95, 2)
    size = float(np.sqrt(0.5 * (_polygon_area(p0[OVAL_ROWS]) + _polygon_area(p1[OVAL_ROWS]))))
    turn = head_turn_deg(landmarks0, landmarks1, width, height)
    if size < config.min_face_px:
        return FacePlan(None, "SMALL_FACE", turn)
    if turn > config.max_turn_deg:
        return FacePlan(None, "TURN", turn)
    q0, q1 = _with_ring(p0, config.ring_scale), _with_ring(p1, config.ring_scale)  # (Q, 2)
    z0, z1 = (np.concatenate([z, z[OVAL_ROWS]]) for z in (landmarks0[:, 2] * width, landmarks1[:, 2] * width))
    triangles = Delaunay(0.5 * (q0 + q1)).simplices.astype(np.int64)  # (T, 3)
    reference = _signed_areas(0.5 * (q0 + q1), triangles)
    total = float(np.abs(reference).sum())
    folded = max(float(np.abs(reference)[np.sign(_signed_areas(q, triangles)) != np.sign(reference)].sum()) / total
                 for q in (q0, q1))
    if folded > config.max_folded_frac:
        return FacePlan(None, "FOLDED", turn, folded)
    return FacePlan(FaceMesh(q0, q1, triangles, size, z0.astype(np.float64), z1.astype(np.float64)), "", turn,
                    folded)


def _triangle_affines(source: np.ndarray, target: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """(T, 3, 2) per-triangle affine maps [x, y, 1] @ A: source-triangle pixels -> target-triangle pixels."""
    ones = np.ones((len(triangles), 3, 1))
    a = np.concatenate([source[triangles], ones], axis=2)  # (T, 3, 3)
    return np.linalg.pinv(a) @ target[triangles]  # (T, 3, 2); pinv: degenerate triangles stay finite


def _triangle_index(points: np.ndarray, triangles: np.ndarray, box: tuple[int, int, int, int],
                    order: np.ndarray | None = None) -> np.ndarray:
    """(h, w) int32 mesh triangle covering each pixel of the box (-1: none), drawn with 1/16 px vertices in
    `order` (rows of triangles; later ones cover earlier ones)."""
    x0, y0, x1, y1 = box
    index = np.full((y1 - y0, x1 - x0), -1, np.int32)
    corners = np.round((points - np.array([x0, y0])) * 16.0).astype(np.int32)  # (Q, 2) fixed point, shift 4
    for number in (range(len(triangles)) if order is None else order):
        cv2.fillConvexPoly(index, corners[triangles[number]], int(number), lineType=cv2.LINE_8, shift=4)
    return index


def _box(points: np.ndarray, width: int, height: int) -> tuple[int, int, int, int]:
    x0, y0 = np.floor(points.min(axis=0)).astype(int)
    x1, y1 = np.ceil(points.max(axis=0)).astype(int) + 1
    return max(0, x0), max(0, y0), min(width, x1), min(height, y1)


class FaceMorpher:
    """Callable (first (H,W,3), last (H,W,3), mesh, tau) -> FaceLayer | None; holds the residual flow engine."""

    def __init__(self, config: FaceMorphConfig = FaceMorphConfig()):
        self.config = config
        self._dis = cv2.DISOpticalFlow_create(cv2.DISOpticalFlow_PRESET_MEDIUM) if config.refine else None

    def __call__(self, first: np.ndarray, last: np.ndarray, mesh: FaceMesh, tau: float,
                 backgrounds: tuple[np.ndarray, np.ndarray] | None = None) -> FaceLayer | None:
        """`backgrounds`: the speaker's background in the frames of `first` and `last` (H, W, 3) uint8, or None."""
        maps = _mesh_maps(mesh, tau, first.shape[1], first.shape[0])
        if maps is None:
            return None
        box, index, (map0, map1) = maps
        stretch = _stretch_seen(mesh, tau, index, self.config)  # (2, h, w) geometric visibility of each end
        interpolation = cv2.INTER_CUBIC if self.config.cubic else cv2.INTER_LINEAR
        w0, w1 = _remap(first, map0, interpolation), _remap(last, map1, interpolation)  # (h, w, 3) aligned to tau
        seen0, seen1 = self._seen(stretch, (w0, w1), (map0, map1), backgrounds, mesh.size, tau)
        if self._dis is not None:  # one resampling of each end: the residual shift moves the maps, not the pixels
            g0, g1 = cv2.cvtColor(w0, cv2.COLOR_RGB2GRAY), cv2.cvtColor(w1, cv2.COLOR_RGB2GRAY)
            f01, f10 = self._dis.calc(g0, g1, None), self._dis.calc(g1, g0, None)  # (h, w, 2)
            trust = np.minimum(seen0, seen1)[..., None]  # where an end does not see the face its flow is noise
            map0, map1 = _shift(map0, tau * trust * f10), _shift(map1, (1.0 - tau) * trust * f01)
            w0, w1 = _remap(first, map0, interpolation), _remap(last, map1, interpolation)
            seen0, seen1 = self._seen(stretch, (w0, w1), (map0, map1), backgrounds, mesh.size, tau)
        face = blend_seen(w0, w1, seen0, seen1, np.float32(tau))
        alpha = face_alpha(mesh.points_at(tau), box, mesh.size, self.config) * (index >= 0)
        return FaceLayer(box, face, alpha, w0, w1, seen0, seen1)

    def _seen(self, stretch: np.ndarray, warped: tuple[np.ndarray, np.ndarray], maps: tuple[np.ndarray, np.ndarray],
              backgrounds: tuple[np.ndarray, np.ndarray] | None, size: float,
              tau: float) -> tuple[np.ndarray, np.ndarray]:
        """(h, w) float32 per end: how well it sees the pixel (step 4): unmagnified, and agreeing with the person's
        silhouette at tau (person inside it, background outside it; its own silhouette edge, half backdrop,
        agrees with neither)."""
        config = self.config
        worth = [config.magnified_seen + (1.0 - config.magnified_seen) * s for s in stretch]
        if backgrounds is None:
            return worth[0], worth[1]
        people = [_person(warped[k], _remap(backgrounds[k], maps[k]), config.background_levels) for k in (0, 1)]
        radius = max(1, int(round(config.silhouette_frac * size)))
        shape = _silhouette_at(people[0] > 0.5, people[1] > 0.5, tau, radius)  # (h, w) in [0, 1]
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
        seen = []
        for k in (0, 1):
            inside, outside = cv2.erode(people[k], kernel), 1.0 - cv2.dilate(people[k], kernel)
            agree = shape * inside + (1.0 - shape) * outside
            seen.append(worth[k] * (config.background_seen + agree))
        return seen[0], seen[1]


def _person(warped: np.ndarray, background: np.ndarray, levels: tuple[float, float]) -> np.ndarray:
    """(h, w) float32 in [0, 1]: the end shows the person, not its background (colour distance between levels)."""
    low, high = levels
    distance = cv2.absdiff(warped, background).max(axis=2).astype(np.float32)  # (h, w)
    return np.clip((cv2.GaussianBlur(distance, (0, 0), 1.5) - low) / (high - low), 0.0, 1.0)


def _silhouette_at(person0: np.ndarray, person1: np.ndarray, tau: float, feather: int) -> np.ndarray:
    """(h, w) float32: the person's shape at tau, the zero set of (1 - tau) d0 + tau d1 (d: signed distance to an
    end's silhouette, positive inside), feathered over `feather` px: it moves from one end's edge to the other's."""
    def signed(inside: np.ndarray) -> np.ndarray:
        mask = inside.astype(np.uint8)
        return cv2.distanceTransform(mask, cv2.DIST_L2, 3) - cv2.distanceTransform(1 - mask, cv2.DIST_L2, 3)
    distance = (1.0 - tau) * signed(person0) + tau * signed(person1)
    return np.clip(0.5 + distance / (2.0 * feather), 0.0, 1.0).astype(np.float32)


def blend_seen(warped0: np.ndarray, warped1: np.ndarray, seen0: np.ndarray, seen1: np.ndarray,
               tau: np.ndarray | float, contrast: float = 4.0) -> np.ndarray:
    """(h, w, 3) uint8 the aligned ends mixed with weights (1 - tau) s0^c, tau s1^c (c = `contrast`: the end that
    sees a pixel clearly better wins it, even late or early in the window); tau a scalar or (h, w) per-pixel
    time. Where neither end sees a pixel, the plain (1 - tau, tau) dissolve."""
    weight0 = (1.0 - tau) * (np.power(seen0, contrast) + 1e-6) + 1e-9
    weight1 = tau * (np.power(seen1, contrast) + 1e-6) + 1e-9
    total = weight0 + weight1
    return cv2.blendLinear(warped0, warped1, (weight0 / total).astype(np.float32), (weight1 / total).astype(np.float32))


def _stretch_seen(mesh: FaceMesh, tau: float, index: np.ndarray, config: FaceMorphConfig) -> np.ndarray:
    """(2, h, w) float32: per end, its mesh triangle's area over the area at tau ramped between stretch_levels
    (0 where the triangle is folded or magnified from a sliver), rastered by `index` and smoothed."""
    size = np.maximum(np.abs(_signed_areas(mesh.points_at(tau), mesh.triangles)), 1e-6)  # (T,)
    facing = np.sign(_signed_areas(mesh.points_at(0.5), mesh.triangles))  # the orientation of the mesh's shape
    low, high = config.stretch_levels
    out = []
    for end in (mesh.points0, mesh.points1):
        ratio = _signed_areas(end, mesh.triangles) * facing / size  # (T,) < 0: folded in this end
        per_triangle = np.clip((ratio - low) / (high - low), 0.0, 1.0).astype(np.float32)
        raster = np.where(index >= 0, per_triangle[np.maximum(index, 0)], 1.0).astype(np.float32)  # (h, w)
        sigma = max(1.0, 0.5 * config.feather_frac * mesh.size)
        out.append(cv2.GaussianBlur(raster, (0, 0), sigma))
    return np.stack(out)


def _remap(image: np.ndarray, coords: np.ndarray, interpolation: int = cv2.INTER_LINEAR) -> np.ndarray:
    """(h, w, 3) image sampled at coords (h, w, 2) float32 pixel positions (bilinear unless told), borders
    replicated."""
    return cv2.remap(image, coords[..., 0], coords[..., 1], interpolation, borderMode=cv2.BORDER_REPLICATE)


def _shift(coords: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """(h, w, 2) sampling positions moved along a flow: coords(x + flow(x)) (the map resampled, bilinear)."""
    height, width = coords.shape[:2]
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    return cv2.remap(coords, xs + flow[..., 0], ys + flow[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def _mesh_maps(mesh: FaceMesh, tau: float, width: int, height: int):
    """(box, index (h, w) int32, (map0, map1) (h, w, 2) float32): where each pixel of the box around the points at
    tau lies in each end, by the affine map of its mesh triangle (index: the triangle, -1 outside the mesh); None
    when the box is off the frame."""
    at_tau = mesh.points_at(tau)  # (Q, 2)
    box = _box(at_tau, width, height)
    x0, y0, x1, y1 = box
    if x1 - x0 < 2 or y1 - y0 < 2:
        return None
    index = _triangle_index(at_tau, mesh.triangles, box, mesh.far_to_near(tau))  # (h, w)
    ys, xs = np.mgrid[y0:y1, x0:x1].astype(np.float32)  # (h, w) each
    maps = []
    for end in (mesh.points0, mesh.points1):
        affine = _triangle_affines(at_tau, end, mesh.triangles).astype(np.float32)[np.maximum(index, 0)]  # (h, w, 3, 2)
        maps.append(np.stack([xs * affine[..., 0, 0] + ys * affine[..., 1, 0] + affine[..., 2, 0],
                              xs * affine[..., 0, 1] + ys * affine[..., 1, 1] + affine[..., 2, 1]], axis=-1))
    return box, index, maps


def morph_at(first: np.ndarray, last: np.ndarray, mesh: FaceMesh, tau: float,
             config: FaceMorphConfig = FaceMorphConfig(),
             backgrounds: tuple[np.ndarray, np.ndarray] | None = None) -> FaceLayer | None:
    """The FaceLayer of the frame at tau between `first` and `last` (H, W, 3); None when off the frame."""
    return FaceMorpher(config)(first, last, mesh, tau, backgrounds)


def face_alpha(points: np.ndarray, box: tuple[int, int, int, int], size: float,
               config: FaceMorphConfig = FaceMorphConfig()) -> np.ndarray:
    """(h, w) float32 feathered face opacity inside box from the (Q, 2) points at tau: the convex hull of the
    95 face points (the face oval, and the nose where a turned head shows it past the cheek)."""
    x0, y0, x1, y1 = box
    hull = cv2.convexHull(points[:FACE_POINT_COUNT].astype(np.float32)).reshape(-1, 2).astype(np.float64)
    centre = points[OVAL_ROWS].mean(axis=0)
    polygon = centre + config.mask_scale * (hull - centre) - np.array([x0, y0])
    alpha = np.zeros((y1 - y0, x1 - x0), np.float32)
    cv2.fillPoly(alpha, [np.round(polygon * 16.0).astype(np.int32)], 1.0, lineType=cv2.LINE_AA, shift=4)
    sigma = config.feather_frac * size
    return cv2.GaussianBlur(alpha, (0, 0), sigma) if sigma > 0.3 else alpha


# ---- eyes ----

def eye_corners(landmarks: np.ndarray | None, width: int, height: int) -> np.ndarray | None:
    """(2, 2, 2) pixel (x, y) of each eye's outer and inner corner from a (95, 3) landmark row; None without a face."""
    if not face_present(landmarks):
        return None
    return (landmarks[EYE_CORNER_ROWS, :2].astype(np.float64) * np.array([width, height])).reshape(2, 2, 2)


def eye_region(corners: np.ndarray, shape: tuple[int, int], axes: tuple[float, float] = (0.8, 0.6),
               feather: float = 0.3) -> tuple[tuple[int, int, int, int], np.ndarray] | None:
    """(box (x0, y0, x1, y1), (h, w) float32 weight inside it) of one eye in an image of `shape` (H, W), or None
    when off the image: the union over the placements `corners` (P, 2, 2) (pixel outer and inner corner of the
    eye, e.g. where each end puts it) of an ellipse about the corners' midpoint with semi-axes `axes` eye widths
    (corner to corner) along and across the corner line (lids and their creases, not the brow), its weight
    ramped (smoothstep) from 1 at `1 - feather` of its radius to 0 at `1 + feather`."""
    height, width = shape
    corners = np.asarray(corners, np.float64).reshape(-1, 2, 2)
    eye_width = np.maximum(np.linalg.norm(corners[:, 1] - corners[:, 0], axis=1), 1.0)  # (P,)
    centres = corners.mean(axis=1)  # (P, 2)
    reach = (1.0 + feather) * max(axes) * eye_width[:, None]  # (P, 1)
    (x0, y0), (x1, y1) = np.floor((centres - reach).min(axis=0)), np.ceil((centres + reach).max(axis=0)) + 1
    x0, y0, x1, y1 = int(max(0, x0)), int(max(0, y0)), int(min(width, x1)), int(min(height, y1))
    if x1 - x0 < 1 or y1 - y0 < 1:
        return None
    ys, xs = np.mgrid[y0:y1, x0:x1].astype(np.float64)
    weight = np.zeros((y1 - y0, x1 - x0), np.float64)
    for (outer, inner), centre, size in zip(corners, centres, eye_width):
        along = (inner - outer) / size
        dx, dy = xs - centre[0], ys - centre[1]
        u, v = (dx * along[0] + dy * along[1]) / (axes[0] * size), (-dx * along[1] + dy * along[0]) / (axes[1] * size)
        ramp = np.clip((1.0 + feather - np.sqrt(u * u + v * v)) / (2.0 * feather), 0.0, 1.0)
        weight = np.maximum(weight, ramp * ramp * (3.0 - 2.0 * ramp))
    return (x0, y0, x1, y1), weight.astype(np.float32)
