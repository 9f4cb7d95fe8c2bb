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
   triangle it lies in, cv2.remap), the two aligned faces cross-dissolved with weights (1 - tau, tau).
5. Opacity: the convex hull of the face points at p(tau) (the oval, and the nose of a turned head), shrunk
   towards the oval's centroid by `mask_scale`, filled and feathered with a Gaussian of sigma `feather_frac` of
   the face size (sqrt of the oval's area).
"""
from __future__ import annotations

import dataclasses

import cv2
import numpy as np
from scipy.spatial import Delaunay

from tango.perception.face import ALIGN_ROWS, FACE_POINTS, OVAL_ROWS

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


@dataclasses.dataclass(frozen=True)
class FaceMesh:
    """The window's face points at both ends (pixels, ring included) and their shared triangulation."""

    points0: np.ndarray  # (Q, 2) float64 pixels at tau = 0
    points1: np.ndarray  # (Q, 2) float64 pixels at tau = 1
    triangles: np.ndarray  # (T, 3) int64 rows of the points
    size: float  # face size in pixels: sqrt of the mean oval area

    def points_at(self, tau: float) -> np.ndarray:
        return (1.0 - tau) * self.points0 + tau * self.points1  # (Q, 2)


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
    triangles = Delaunay(0.5 * (q0 + q1)).simplices.astype(np.int64)  # (T, 3)
    reference = _signed_areas(0.5 * (q0 + q1), triangles)
    total = float(np.abs(reference).sum())
    folded = max(float(np.abs(reference)[np.sign(_signed_areas(q, triangles)) != np.sign(reference)].sum()) / total
                 for q in (q0, q1))
    if folded > config.max_folded_frac:
        return FacePlan(None, "FOLDED", turn, folded)
    return FacePlan(FaceMesh(q0, q1, triangles, size), "", turn, folded)


def _triangle_affines(source: np.ndarray, target: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """(T, 3, 2) per-triangle affine maps [x, y, 1] @ A: source-triangle pixels -> target-triangle pixels."""
    ones = np.ones((len(triangles), 3, 1))
    a = np.concatenate([source[triangles], ones], axis=2)  # (T, 3, 3)
    return np.linalg.pinv(a) @ target[triangles]  # (T, 3, 2); pinv: degenerate triangles stay finite


def _triangle_index(points: np.ndarray, triangles: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """(h, w) int32 mesh triangle covering each pixel of the box (-1: none), drawn with 1/16 px vertices."""
    x0, y0, x1, y1 = box
    index = np.full((y1 - y0, x1 - x0), -1, np.int32)
    corners = np.round((points - np.array([x0, y0])) * 16.0).astype(np.int32)  # (Q, 2) fixed point, shift 4
    for number, triangle in enumerate(triangles):
        cv2.fillConvexPoly(index, corners[triangle], int(number), lineType=cv2.LINE_8, shift=4)
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

    def __call__(self, first: np.ndarray, last: np.ndarray, mesh: FaceMesh, tau: float) -> FaceLayer | None:
        maps = _mesh_maps(mesh, tau, first.shape[1], first.shape[0])
        if maps is None:
            return None
        box, inside, (map0, map1) = maps
        w0, w1 = _remap(first, map0), _remap(last, map1)  # (h, w, 3) each end aligned to the points at tau
        if self._dis is not None:  # one resampling of each end: the residual shift moves the maps, not the pixels
            g0, g1 = cv2.cvtColor(w0, cv2.COLOR_RGB2GRAY), cv2.cvtColor(w1, cv2.COLOR_RGB2GRAY)
            f01, f10 = self._dis.calc(g0, g1, None), self._dis.calc(g1, g0, None)  # (h, w, 2)
            map0, map1 = _shift(map0, tau * f10), _shift(map1, (1.0 - tau) * f01)
            w0, w1 = _remap(first, map0), _remap(last, map1)
        face = cv2.addWeighted(w0, 1.0 - tau, w1, tau, 0.0)  # (h, w, 3)
        alpha = face_alpha(mesh.points_at(tau), box, mesh.size, self.config) * inside
        return FaceLayer(box, face, alpha, w0, w1)


def _remap(image: np.ndarray, coords: np.ndarray) -> np.ndarray:
    """(h, w, 3) image sampled at coords (h, w, 2) float32 pixel positions, bilinear, borders replicated."""
    return cv2.remap(image, coords[..., 0], coords[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def _shift(coords: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """(h, w, 2) sampling positions moved along a flow: coords(x + flow(x)) (the map resampled, bilinear)."""
    height, width = coords.shape[:2]
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    return cv2.remap(coords, xs + flow[..., 0], ys + flow[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def _mesh_maps(mesh: FaceMesh, tau: float, width: int, height: int):
    """(box, inside (h, w) bool, (map0, map1) (h, w, 2) float32): where each pixel of the box around the points at
    tau lies in each end, by the affine map of its mesh triangle; None when the box is off the frame."""
    at_tau = mesh.points_at(tau)  # (Q, 2)
    box = _box(at_tau, width, height)
    x0, y0, x1, y1 = box
    if x1 - x0 < 2 or y1 - y0 < 2:
        return None
    index = _triangle_index(at_tau, mesh.triangles, box)  # (h, w)
    ys, xs = np.mgrid[y0:y1, x0:x1].astype(np.float32)  # (h, w) each
    maps = []
    for end in (mesh.points0, mesh.points1):
        affine = _triangle_affines(at_tau, end, mesh.triangles).astype(np.float32)[np.maximum(index, 0)]  # (h, w, 3, 2)
        maps.append(np.stack([xs * affine[..., 0, 0] + ys * affine[..., 1, 0] + affine[..., 2, 0],
                              xs * affine[..., 0, 1] + ys * affine[..., 1, 1] + affine[..., 2, 1]], axis=-1))
    return box, index >= 0, maps


def morph_at(first: np.ndarray, last: np.ndarray, mesh: FaceMesh, tau: float,
             config: FaceMorphConfig = FaceMorphConfig()) -> FaceLayer | None:
    """The FaceLayer of the frame at tau between `first` and `last` (H, W, 3); None when off the frame."""
    return FaceMorpher(config)(first, last, mesh, tau)


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
