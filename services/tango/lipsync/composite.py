"""Putting a reference mouth into an output frame: align by the rigid face, match colour, feathered blend.

1. Alignment (`CompositeConfig.placement`): the 3-D similarity (Umeyama) of the rigid face points (eye
   corners, nose bridge, tip and base; mesh z in x's pixels) carries every source mesh point to where the
   output's head holds it (`carried_points`): a source head pitched or turned otherwise than the output's
   projects its mouth elsewhere under the nose, and foreshortened. The source is warped by the 2-D
   similarity that best takes its lips to their carried places, plus a smooth correction: the thin-plate
   spline through the remaining offsets of the carried points (all but the face oval, whose silhouette
   depth the mesh only guesses), zero on the patch border ("piecewise", the default). "head3d" is the
   similarity alone; "rigid2d" the 2-D similarity of the rigid points (the method before). Measured on
   held-out spans (re-meshed composites against the chosen mouths' own lips, 2 folds of the 22 s speaker):
   the re-meshed lips moved off the chosen ones by 0.0139 inter-ocular with "rigid2d", 0.0124 with
   "head3d", 0.0117 with "piecewise"; for mouths of heads turned further (the lip oracle) 0.028 / 0.023 /
   0.015. Either way the mouth sits where the output's head holds it, not where a 2-D fit of the eyes and
   nose puts it (on the German clip: 0.0110 with "rigid2d", 0.0079 with "head3d", 5 folds). `tango lipsync
   eval` (5 folds, lip warp on) with "rigid2d" / "head3d" / "piecewise": LMD reduction 22 s speaker 15.0 /
   25.9 / 28.8 %, German 26.1 / 34.6 / 37.2 %; the true held-out mouth pasted instead (22 s): LMD 0.0217 /
   0.0198 / 0.0175. That oracle's remaining error still grows with the yaw between the two heads (0.0104
   under 5 degrees, 0.018 at 15-20) although every mesh point lands where the output's head holds it: a
   mask of the lips alone leaves it as it is (0.0175), carrying with the mesh depth rescaled (x0.6, x1.6)
   does worse (only the depth the measurement uses agrees with it), and taking out of truth and output
   alike the mesher's own pose-dependent reading (on the 22 s speaker's footage the meshed lips drift in the
   pose-free frame by 0.0010 inter-ocular per degree of yaw, R^2 0.62) leaves the growth too; what is left
   is likely the texture between the points (teeth behind the lips, shading), not measured further. A
   perfect drawing gains little: the chosen mouths' own lips moved half way to the targets, undrawn, score
   30.1 % on the 22 s speaker (44.6 % German) against the drawn 28.8 (37.2).
   Lip warp (`lip_shift`, `CompositeConfig.lip_warp`): the pasted lips are then moved part of the way from
   the chosen mouth's own lips to the target lips the plan predicted from the speech (Video Rewrite, Bregler
   1997, warps its mouth images likewise): a second thin-plate field through the 40 lip points' moves, held
   still at the rest of the face, the lower face's outline and the patch border, its largest move capped at
   `lip_warp_cap` mouth widths. The pixels stay the speaker's own, only moved. Half way (0.5, set a priori):
   LMD reduction (`tango lipsync eval`, 5 folds) 22 s speaker 27.9 -> 29.0 %, German 31.8 -> 35.6 %; the whole
   way (1.0) 28.6 / 35.1 % (re-meshing follows ~0.6 of a warp, and larger warps re-mesh noisier).
2. Mask: the lower face — nose base, inner cheeks, and the jaw from one mouth corner's side under the chin
   to the other — of BOTH the output face and the warped source face (their union, so neither chin shows
   twice), grown by `grow` (inter-ocular units). It is then cut to where the pasted pixels are face in BOTH
   the source (the source's face oval taken through the warp's own sampling map, thin-plate correction
   included: a source turned away never brings its backdrop into the output's cheek) and the output
   (inside its own face oval, not grown: a source jaw wider or longer than the output's never lays skin
   over the output's backdrop). The cut mask is eroded and blurred by
   `feather`, and clamped by a narrower feather of the two ovals, so its soft edge lies inside both faces
   and the weight is exactly 0 outside them.
3. Colour: a smooth per-pixel gain, the ratio of the output's and the warped source's pixels averaged
   under the mask with a wide Gaussian, clamped; it follows shading that drifts across the face.
4. Blend: out = a * source + (1 - a) * frame inside the mask's bounding box; every pixel where a = 0 is
   left bit-identical.
"""
from __future__ import annotations

import dataclasses

import cv2
import numpy as np

from tango.perception.face import FACE_OVAL, FACE_POINTS, LEFT_CORNER_ROW, RIGHT_CORNER_ROW, point_rows
from tango.lipsync.mouth_shape import ALIGN_ROWS, LIP_ROWS, similarity_fit

# the lower face, as mesh indices: nose base, inner cheeks, oval from cheek to cheek under the chin
_LOWER_FACE = point_rows((98, 2, 327, 425, 411, 427, 397, 365, 379, 378, 400, 377, 152,
                          148, 176, 149, 150, 136, 172, 207, 187, 205))
_NOSE_BASE = point_rows((98, 2, 327))
_OVAL = point_rows(FACE_OVAL)
# the points that steer the piecewise warp: all but the face oval, whose silhouette depth the mesh guesses
_WARP_ROWS = np.setdiff1d(np.arange(len(FACE_POINTS)), _OVAL)
_STILL_ROWS = np.setdiff1d(_WARP_ROWS, LIP_ROWS)  # what the lip warp holds still: nose, eyes, cheeks


@dataclasses.dataclass(frozen=True)
class CompositeConfig:
    grow: float = 0.06  # mask dilation, in inter-ocular distances
    feather: float = 0.10  # blur of the mask edge, in inter-ocular distances
    gain_range: tuple[float, float] = (0.85, 1.18)  # colour gain clamp per channel
    colour_sigma: float = 0.35  # width of the colour-matching Gaussian, in inter-ocular distances
    min_interocular_px: float = 12.0  # smaller faces are left alone
    max_pose_deg: float = 20.0  # a mouth whose head is turned further from the output's is not pasted
    placement: str = "piecewise"  # "piecewise" | "head3d" | "rigid2d": see `placement_matrix`, `_sampling_map`
    lip_warp: float = 0.5  # fraction of the way the pasted lips are warped to the target's (`lip_shift`)
    lip_warp_cap: float = 0.15  # largest lip point move, in mouth widths


def turned_alike(mouth_pose: np.ndarray, frame_pose: np.ndarray, config: CompositeConfig = CompositeConfig()) -> bool:
    """Whether a mouth of a head posed `mouth_pose` (yaw, pitch, roll degrees) may be pasted on a head posed
    `frame_pose`: every angle within `max_pose_deg` (an unknown pose never is)."""
    return bool((np.abs(mouth_pose - frame_pose) <= config.max_pose_deg).all())


def _similarity(source_px: np.ndarray, target_px: np.ndarray) -> np.ndarray | None:
    """(2, 3) least-squares similarity (Umeyama) mapping source (P, 2) onto target (P, 2), or None."""
    if not (np.isfinite(source_px).all() and np.isfinite(target_px).all()):
        return None
    scale, rotation, translation = similarity_fit(source_px[None].astype(np.float64), target_px.astype(np.float64))
    return np.concatenate([scale[0] * rotation[0], translation[0][:, None]], axis=1)


def carried_points(frame_points: np.ndarray, source_points: np.ndarray) -> np.ndarray | None:
    """(95, 2) where the source's mesh points belong in the output frame: the 3-D similarity of the rigid face
    points (source onto output, z in x's pixels) carries every point, then the view drops z. A source head
    pitched or turned otherwise than the output's projects its mouth elsewhere under the nose (and
    foreshortened); carried this way it lands where the output's head holds it."""
    if frame_points.shape[1] < 3 or not (np.isfinite(source_points).all() and np.isfinite(frame_points).all()):
        return None
    scale, rotation, shift = similarity_fit(source_points[None, ALIGN_ROWS].astype(np.float64),
                                            frame_points[ALIGN_ROWS].astype(np.float64))
    return (scale[0] * source_points.astype(np.float64) @ rotation[0].T + shift[0])[:, :2]


def placement_matrix(frame_points: np.ndarray, source_points: np.ndarray, how: str = "head3d") -> np.ndarray | None:
    """(2, 3) image map of the source onto the output frame. points (95, 2 or 3) pixels (z in x's pixels).

    "rigid2d" (or 2-D points): the 2-D similarity of the rigid face points. Otherwise the 2-D similarity that
    best takes the source's lips to their `carried_points`."""
    carried = None if how == "rigid2d" else carried_points(frame_points, source_points)
    if carried is None:
        return _similarity(source_points[ALIGN_ROWS, :2], frame_points[ALIGN_ROWS, :2])
    return _similarity(source_points[LIP_ROWS, :2], carried[LIP_ROWS])


def _thin_plate(sites: np.ndarray, values: np.ndarray, smooth: float = 1e-3):
    """The thin-plate spline through `values` (P, 2) at `sites` (P, 2), as a function of queries (Q, 2) -> (Q, 2);
    `smooth` (relative to the kernel's scale) keeps near-coincident sites from fighting."""
    centre, scale = sites.mean(axis=0), max(float(np.ptp(sites, axis=0).max()), 1e-6)
    sites = (sites - centre) / scale

    def kernel(a: np.ndarray, b: np.ndarray) -> np.ndarray:  # (A, B) r^2 log r
        r2 = np.maximum((a**2).sum(1)[:, None] + (b**2).sum(1)[None, :] - 2.0 * a @ b.T, 1e-12)
        return 0.5 * r2 * np.log(r2)

    count = len(sites)
    affine = np.concatenate([np.ones((count, 1)), sites], axis=1)  # (P, 3)
    system = np.zeros((count + 3, count + 3))
    system[:count, :count] = kernel(sites, sites) + smooth * np.eye(count)
    system[:count, count:], system[count:, :count] = affine, affine.T
    rhs = np.concatenate([values, np.zeros((3, values.shape[1]))])
    try:
        weights = np.linalg.solve(system, rhs)  # (P + 3, 2)
    except np.linalg.LinAlgError:  # degenerate sites (never seen on a meshed face): no correction
        return lambda queries: np.zeros((len(queries), values.shape[1]))

    def at(queries: np.ndarray) -> np.ndarray:
        queries = (queries - centre) / scale
        query_affine = np.concatenate([np.ones((len(queries), 1)), queries], axis=1)
        return kernel(queries, sites) @ weights[:count] + query_affine @ weights[count:]
    return at


def _grid(box: tuple[int, int, int, int], step: int = 1) -> tuple[np.ndarray, tuple[int, int]]:
    """((Q, 2) float64 x, y of a grid over `box` about `step` pixels apart, its (rows, columns)): the points that
    `cv2.resize` of the grid's values to the box's size puts at their places (every pixel's centre for step 1)."""
    x0, y0, x1, y1 = box
    columns, rows = -(-(x1 - x0) // step), -(-(y1 - y0) // step)
    xs = x0 + (np.arange(columns) + 0.5) * (x1 - x0) / columns - 0.5
    ys = y0 + (np.arange(rows) + 0.5) * (y1 - y0) / rows - 0.5
    xs, ys = np.meshgrid(xs, ys)
    return np.stack([xs.ravel(), ys.ravel()], axis=1), xs.shape


def _offset_field(sites: np.ndarray, values: np.ndarray, box: tuple[int, int, int, int], step: int = 6,
                  exact: tuple[int, int, int, int] | None = None) -> np.ndarray:
    """(h, w, 2) float32 smooth output-pixel offsets over `box`: the thin-plate spline through `values` (P, 2) at
    `sites` (P, 2) and zero on the box's border (continuous where the mask ends); evaluated on a grid of `step`
    pixels (coarse where it is smooth), then resized, and at every pixel of `exact` (a part of the box where it
    bends within a pixel or two)."""
    x0, y0, x1, y1 = box
    border = np.array([[x0, y0], [x1, y0], [x0, y1], [x1, y1], [(x0 + x1) / 2, y0], [(x0 + x1) / 2, y1],
                       [x0, (y0 + y1) / 2], [x1, (y0 + y1) / 2]], np.float64)
    spline = _thin_plate(np.concatenate([sites, border]), np.concatenate([values, np.zeros_like(border)]))
    grid, shape = _grid(box, step)
    offset = cv2.resize(spline(grid).reshape(*shape, 2).astype(np.float32), (x1 - x0, y1 - y0),
                        interpolation=cv2.INTER_LINEAR)
    if exact is not None:
        ex0, ey0, ex1, ey1 = exact
        grid, shape = _grid(exact)
        offset[ey0 - y0:ey1 - y0, ex0 - x0:ex1 - x0] = spline(grid).reshape(*shape, 2)
    return offset


def _sampling_map(matrix: np.ndarray, offset: np.ndarray | None,
                  box: tuple[int, int, int, int]) -> tuple[np.ndarray, np.ndarray]:
    """(h, w) float32 source x and y sampled by each output pixel of `box`: the inverse of the similarity,
    after taking away `offset` (h, w, 2), the smooth output-pixel correction (`_offset_field`) where given."""
    x0, y0, x1, y1 = box
    ys, xs = np.mgrid[y0:y1, x0:x1].astype(np.float32)  # (h, w) output pixel coordinates
    if offset is not None:
        xs, ys = xs - offset[..., 0], ys - offset[..., 1]
    inverse = cv2.invertAffineTransform(matrix)
    map_x = inverse[0, 0] * xs + inverse[0, 1] * ys + inverse[0, 2]
    map_y = inverse[1, 0] * xs + inverse[1, 1] * ys + inverse[1, 2]
    return map_x.astype(np.float32), map_y.astype(np.float32)


def lip_shift(frame_points: np.ndarray, template: np.ndarray, target_lips: np.ndarray, mouth_lips: np.ndarray,
              config: "CompositeConfig") -> np.ndarray | None:
    """(40, 2) output pixels by which the pasted mouth's lip points (`LIP_ROWS`) move: `config.lip_warp` of the
    way from the mouth's own lips to the target's, both (40, 2) in the pose-free template frame (`mouth_shape`),
    carried into the output by the inverse of the 3-D similarity fitting its face's rigid points (frame_points
    (95, 3) pixels, z in x's pixels) to `template` (A, 3); the largest point move is capped at
    `lip_warp_cap` mouth widths (the whole field scaled, so the shape is kept). None: no warp."""
    step = np.zeros((len(LIP_ROWS), 3))
    step[:, :2] = config.lip_warp * (np.asarray(target_lips, np.float64) - mouth_lips)
    if config.lip_warp == 0 or frame_points.shape[1] < 3 or not (
            np.isfinite(step).all() and np.isfinite(frame_points).all()):
        return None
    scale, rotation, _ = similarity_fit(frame_points[None, ALIGN_ROWS].astype(np.float64), template.astype(np.float64))
    shift = (step @ rotation[0] / scale[0])[:, :2]  # R^T d / s: template offsets back to output pixels
    width = float(np.linalg.norm(frame_points[LEFT_CORNER_ROW, :2] - frame_points[RIGHT_CORNER_ROW, :2]))
    largest = float(np.linalg.norm(shift, axis=1).max())
    return shift * min(1.0, config.lip_warp_cap * width / max(largest, 1e-9))


def _lip_warp(lips: np.ndarray, shift: np.ndarray, anchors: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """(h, w, 2) offset field moving the pasted lips (40, 2 output pixels, where they land unwarped) by `shift`
    (40, 2), held still at `anchors` (P, 2: the rest of the face and the mask's outline) and the box border. Its
    sites are the lips' destinations, so that the output pixel there samples exactly the source's lip point;
    evaluated at every pixel within a quarter mouth width of the lips (the inner lips lie a pixel or two apart and
    may move apart), on a 4-pixel grid beyond, where it is smooth (lip sync 56.7 -> 19.3 ms per output frame on
    the German anchor, 49.0 -> 32.2 on the 22 s speaker, `make bench`)."""
    inside = (anchors[:, 0] > box[0]) & (anchors[:, 0] < box[2]) & (anchors[:, 1] > box[1]) & (anchors[:, 1] < box[3])
    sites = np.concatenate([lips + shift, anchors[inside]])
    ends = np.concatenate([lips, lips + shift])
    margin = 0.25 * float(np.ptp(ends[:, 0]))
    low, high = np.floor(ends.min(axis=0) - margin).astype(int), np.ceil(ends.max(axis=0) + margin).astype(int) + 1
    exact = (max(low[0], box[0]), max(low[1], box[1]), min(high[0], box[2]), min(high[1], box[3]))
    return _offset_field(sites, np.concatenate([shift, np.zeros_like(anchors[inside])]), box, step=4, exact=exact)


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


def _source_face(oval: np.ndarray, map_x: np.ndarray, map_y: np.ndarray) -> np.ndarray:
    """(h, w) uint8 255 where the output pixel samples the source inside the source's face oval (hull of
    (P, 2) source pixels): the warp's own map, so the smooth correction (which the oval does not steer)
    cannot bring the source's backdrop into the output's cheek."""
    x0, y0 = np.floor(oval.min(axis=0)).astype(int) - 1
    x1, y1 = np.ceil(oval.max(axis=0)).astype(int) + 2
    hull = _hull_mask([oval], (x0, y0, x1, y1))
    return cv2.remap(hull, map_x - x0, map_y - y0, cv2.INTER_NEAREST, borderMode=cv2.BORDER_CONSTANT, borderValue=0)


def _alpha(frame_points: np.ndarray, warped_points: np.ndarray, source_face: np.ndarray,
           box: tuple[int, int, int, int], interocular: float, config: "CompositeConfig") -> np.ndarray:
    """(h, w) float32 blend weight: the lower face, cut to both faces, with its soft edge inside them.

    source_face (h, w): where the warp samples the source's face. The lower face (grown by `grow`, its
    outline from both faces' points) is cut to the INTERSECTION of the two faces' ovals, not grown: grown
    past the output's jaw, the feathered edge laid the source's skin over the backdrop beside the jaw (a
    pale band in the demo). The body's edge is eroded then blurred (`feather`); a second, narrower feather
    of the ovals' intersection keeps the weight ~0 (< 0.002) at the outline, and outside it is exactly 0."""
    grow, feather = config.grow * interocular, config.feather * interocular
    lower = cv2.dilate(_hull_mask([frame_points[_LOWER_FACE], warped_points[_LOWER_FACE]], box), _disc(grow))
    inside = source_face & _hull_mask([frame_points[_OVAL]], box)
    mask = lower & inside
    nose_y = float(min(frame_points[_NOSE_BASE, 1].mean(), warped_points[_NOSE_BASE, 1].mean())) - box[1]
    mask[: max(int(round(nose_y)), 0)] = 0  # never above the nose base
    sigma = max(feather / 2.0, 0.5)
    body = cv2.GaussianBlur(cv2.erode(mask, _disc(feather / 2)).astype(np.float32) / 255.0, (0, 0), sigma)
    edge = cv2.GaussianBlur(cv2.erode(inside, _disc(1.5 * sigma)).astype(np.float32) / 255.0, (0, 0), sigma / 2)
    return np.where(inside > 0, np.minimum(body, edge), 0.0).astype(np.float32)


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
                    config: CompositeConfig = CompositeConfig(), shift: np.ndarray | None = None) -> np.ndarray | None:
    """frame, source (H, W, 3) uint8 at output size; points (95, 3) pixels, z in x's pixels ((95, 2): the
    rigid 2-D placement); shift (40, 2) output pixels moving the pasted lips (`lip_shift`). None when it
    cannot be done."""
    height, width = frame.shape[:2]
    interocular = float(np.linalg.norm(frame_points[ALIGN_ROWS[0], :2] - frame_points[ALIGN_ROWS[3], :2]))
    if not np.isfinite(interocular) or interocular < config.min_interocular_px:
        return None
    matrix = placement_matrix(frame_points, source_points, config.placement)
    if matrix is None:
        return None
    warped_points = source_points[:, :2] @ matrix[:, :2].T + matrix[:, 2]  # (95, 2) by the similarity alone
    carried = carried_points(frame_points, source_points) if config.placement == "piecewise" else None
    residual = None if carried is None else carried - warped_points  # (95, 2) what the piecewise warp adds
    warped_points = warped_points if carried is None else carried  # where the source's points land
    frame_points = frame_points[:, :2]
    margin = (config.grow + config.feather) * interocular + 2
    stacked = np.concatenate([frame_points[_LOWER_FACE], warped_points[_LOWER_FACE]])
    x0, y0 = np.floor(stacked.min(axis=0) - margin).astype(int)
    x1, y1 = np.ceil(stacked.max(axis=0) + margin).astype(int)
    box = (max(x0, 0), max(y0, 0), min(x1, width), min(y1, height))
    if box[2] - box[0] < 4 or box[3] - box[1] < 4:
        return None
    offset = None if carried is None else _offset_field(carried[_WARP_ROWS], residual[_WARP_ROWS], box)
    if shift is not None:
        anchors = np.concatenate([warped_points[_STILL_ROWS], frame_points[_LOWER_FACE], warped_points[_LOWER_FACE]])
        warp = _lip_warp(warped_points[LIP_ROWS], shift, anchors, box)
        offset = warp if offset is None else offset + warp
    map_x, map_y = _sampling_map(matrix, offset, box)
    source_face = _source_face(source_points[_OVAL, :2], map_x, map_y)
    alpha = _alpha(frame_points, warped_points, source_face, box, interocular, config)  # (h, w)
    if not (alpha > 0).any():
        return None
    patch = cv2.remap(source, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE).astype(np.float32)
    region = frame[box[1]:box[3], box[0]:box[2]].astype(np.float32)
    patch *= _colour_gain(region, patch, alpha, config.colour_sigma * interocular, config.gain_range)
    blended = alpha[..., None] * patch + (1.0 - alpha[..., None]) * region
    out = frame.copy()
    changed = alpha > 0
    out[box[1]:box[3], box[0]:box[2]][changed] = np.clip(blended[changed] + 0.5, 0, 255).astype(np.uint8)
    return out
