"""tango.lipsync.composite: the mouth lands where the face is, and nothing outside the mask changes."""
from __future__ import annotations

import numpy as np

from tango.lipsync.composite import CompositeConfig, composite_mouth, turned_alike
from tango.perception.face import point_rows

# a plausible frontal face: canonical 2-D positions (pixels, face ~100 px wide) of the stored mesh points
_TEMPLATE = {33: (-35, -20), 133: (-12, -20), 362: (12, -20), 263: (35, -20), 168: (0, -20), 6: (0, -10),
             1: (0, 8), 4: (0, 5), 2: (0, 14), 98: (-10, 13), 327: (10, 13)}


def _face_points(centre: tuple[float, float], scale: float = 1.0) -> np.ndarray:
    """(95, 2) a frontal face: the oval an ellipse (half-axes 45 x 60 px), cheeks and lips inside it."""
    from tango.perception.face import FACE_OVAL, FACE_POINTS

    points = np.zeros((len(FACE_POINTS), 2), np.float32)
    for row, index in enumerate(FACE_POINTS):
        if index in _TEMPLATE:
            points[row] = _TEMPLATE[index]
        elif index in FACE_OVAL:
            angle = 2 * np.pi * FACE_OVAL.index(index) / len(FACE_OVAL) - np.pi / 2  # 10 on top, clockwise
            points[row] = (45 * np.cos(angle), 60 * np.sin(angle))
        else:  # lips and cheeks: a ring below the nose
            angle = 2 * np.pi * (row % 20) / 20
            points[row] = (18 * np.cos(angle), 30 + 8 * np.sin(angle))
    return points * scale + np.asarray(centre, np.float32)


def test_only_the_lower_face_changes_and_follows_the_face():
    frame = np.full((240, 320, 3), 90, np.uint8)
    source = np.full((240, 320, 3), 90, np.uint8)
    source[130:150, 140:180] = 250  # a bright "mouth" below the nose of a face centred at (160, 110)
    out = composite_mouth(frame, _face_points((200, 120)), source, _face_points((160, 110)))
    assert out is not None and out.dtype == np.uint8
    changed = np.abs(out.astype(int) - frame).sum(axis=2) > 0
    ys, xs = np.nonzero(out[..., 0] > 200)  # the mouth moved with the face: +40 px, +10 px
    assert abs(xs.mean() - 200) < 3 and abs(ys.mean() - 150) < 3
    nose_y = 120 + 13
    assert not changed[: nose_y - 2].any()  # nothing above the nose base
    assert not changed[:, :120].any() and not changed[:, 285:].any()


def test_face_too_small_is_left():
    frame = np.zeros((60, 60, 3), np.uint8)
    assert composite_mouth(frame, _face_points((30, 30), 0.1), frame, _face_points((30, 30), 0.1)) is None


def test_rows_of_the_stored_subset():
    rows = point_rows((33, 263))
    assert rows.shape == (2,) and rows[0] != rows[1]


def _turned(points: np.ndarray, yaw_deg: float, pitch_deg: float, scale: float, shift: tuple[float, float]) -> np.ndarray:
    """(95, 3) the same 3-D face turned (yaw about y, then pitch about x), scaled and shifted in the image."""
    yaw, pitch = np.radians(yaw_deg), np.radians(pitch_deg)
    r_yaw = np.array([[np.cos(yaw), 0, np.sin(yaw)], [0, 1, 0], [-np.sin(yaw), 0, np.cos(yaw)]])
    r_pitch = np.array([[1, 0, 0], [0, np.cos(pitch), -np.sin(pitch)], [0, np.sin(pitch), np.cos(pitch)]])
    return scale * points @ (r_pitch @ r_yaw).T + np.array([*shift, 0.0])


def _face_3d() -> np.ndarray:
    """(95, 3) a face with depth: the nose forward, the mouth and chin set back from it."""
    flat = _face_points((0.0, 0.0))
    depth = -0.004 * (flat**2).sum(axis=1)  # a dome: the centre of the face nearest the camera
    return np.concatenate([flat, depth[:, None]], axis=1).astype(np.float64)


def test_carried_points_follow_the_output_head():
    from tango.lipsync.composite import carried_points

    face = _face_3d()
    frame = _turned(face, 15.0, -8.0, 1.1, (200.0, 120.0))
    source = _turned(face, -10.0, 6.0, 0.9, (160.0, 110.0))
    carried = carried_points(frame, source)
    assert carried is not None and np.abs(carried - frame[:, :2]).max() < 1e-6
    assert carried_points(frame[:, :2], source[:, :2]) is None  # 2-D points: no head to carry by


def test_turned_source_mouth_lands_where_the_output_head_holds_it():
    face = _face_3d()
    frame_points = _turned(face, 12.0, 0.0, 1.0, (200.0, 120.0))
    source_points = _turned(face, -12.0, 0.0, 1.0, (160.0, 110.0))
    from tango.perception.face import FACE_POINTS

    mouth_row = FACE_POINTS.index(13)  # the upper lip's inner midpoint
    source = np.full((240, 320, 3), 90, np.uint8)
    x, y = source_points[mouth_row, :2].round().astype(int)
    source[y - 2:y + 3, x - 2:x + 3] = 250  # a bright mark on the source's lip
    frame = np.full((240, 320, 3), 90, np.uint8)
    out = composite_mouth(frame, frame_points, source, source_points)
    assert out is not None
    ys, xs = np.nonzero(out[..., 0] > 170)
    assert np.hypot(xs.mean() - frame_points[mouth_row, 0], ys.mean() - frame_points[mouth_row, 1]) < 1.5


def test_thin_plate_passes_through_its_sites_and_keeps_an_affine_field():
    from tango.lipsync.composite import _thin_plate

    rng = np.random.default_rng(0)
    sites = rng.uniform(0, 100, (30, 2))
    bumps = rng.normal(0, 2, (30, 2))
    assert np.abs(_thin_plate(sites, bumps, smooth=0.0)(sites) - bumps).max() < 1e-6
    affine = sites @ np.array([[0.1, -0.05], [0.02, 0.2]]) + [3.0, -1.0]
    queries = rng.uniform(0, 100, (50, 2))
    expected = queries @ np.array([[0.1, -0.05], [0.02, 0.2]]) + [3.0, -1.0]
    assert np.abs(_thin_plate(sites, affine)(queries) - expected).max() < 1e-6


def test_a_mouth_is_pasted_only_on_a_head_turned_alike():
    """The one rule the compositor and the lip-sync eval share (the eval once skipped it and missed 53 frames
    the demo left with the reference's mouth)."""
    limit = CompositeConfig().max_pose_deg
    assert turned_alike(np.array([limit, 0.0, -limit]), np.zeros(3))
    assert not turned_alike(np.array([0.0, limit + 0.5, 0.0]), np.zeros(3))
    assert not turned_alike(np.array([np.nan, 0.0, 0.0]), np.zeros(3))  # an unknown pose never is


def _oval_hull(points: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    import cv2
    from tango.perception.face import OVAL_ROWS

    mask = np.zeros(shape, np.uint8)
    cv2.fillConvexPoly(mask, cv2.convexHull(points[OVAL_ROWS].round().astype(np.int32)), 1)
    return mask.astype(bool)


def test_a_wider_source_jaw_never_lays_skin_beyond_the_output_face():
    """The demo's pale band beside the jaw: the mask's soft edge once reached past the output's face oval."""
    from tango.perception.face import OVAL_ROWS

    frame_points = _face_points((160, 120))
    source_points = frame_points.copy()
    centre = frame_points[OVAL_ROWS].mean(axis=0)
    source_points[OVAL_ROWS] = centre + 1.3 * (frame_points[OVAL_ROWS] - centre)  # a longer, wider jaw
    frame = np.full((240, 320, 3), 90, np.uint8)
    source = np.full((240, 320, 3), 200, np.uint8)  # brighter than the colour gain can match
    out = composite_mouth(frame, frame_points, source, source_points)
    assert out is not None
    changed = np.abs(out.astype(int) - frame).sum(axis=2) > 0
    assert changed.sum() > 500  # the lower face was pasted
    assert not (changed & ~_oval_hull(frame_points, frame.shape[:2])).any()


def test_the_source_backdrop_never_comes_in():
    """A narrower source face: the output pixels that sample the source beyond its own oval are left."""
    from tango.perception.face import OVAL_ROWS

    frame_points = _face_points((160, 120))
    source_points = frame_points.copy()
    centre = frame_points[OVAL_ROWS].mean(axis=0)
    source_points[OVAL_ROWS] = centre + np.array([0.6, 1.0]) * (frame_points[OVAL_ROWS] - centre)
    source = np.full((240, 320, 3), 250, np.uint8)  # bright backdrop
    source[_oval_hull(source_points, source.shape[:2])] = 150  # the face
    frame = np.full((240, 320, 3), 90, np.uint8)
    out = composite_mouth(frame, frame_points, source, source_points)
    assert out is not None and (out != frame).any()
    assert out.max() < 180  # the face x the smallest gain is ~128; the backdrop's would be > 200


def test_an_offset_field_is_exact_where_asked_and_close_to_it_elsewhere():
    from tango.lipsync.composite import _offset_field

    rng = np.random.default_rng(1)
    lips, still = rng.uniform(35, 65, (12, 2)), rng.uniform(5, 95, (12, 2))  # moved points, and held ones
    sites, values = np.concatenate([lips, still]), np.concatenate([rng.normal(0, 2, (12, 2)), np.zeros((12, 2))])
    exact_everywhere = _offset_field(sites, values, (0, 0, 100, 90), step=1)
    mixed = _offset_field(sites, values, (0, 0, 100, 90), step=4, exact=(30, 25, 70, 60))
    assert np.abs(mixed[25:60, 30:70] - exact_everywhere[25:60, 30:70]).max() < 1e-4
    assert np.abs(mixed - exact_everywhere).max() < 0.5  # the 4-pixel grid, resized, elsewhere


def test_lips_of_a_head_turned_the_other_way_land_by_the_3d_placement_not_the_2d_one():
    """Lips set forward of the eyes (as on a real face), source turned 14 degrees left, output 14 right: the 2-D
    fit of the eyes and nose puts them ~10 px off; the 3-D placements (the default "piecewise" and "head3d")
    within 2 px. (On the 22 s speaker, its true held-out mouth pasted on the base frames, re-meshed: LMD 0.0217
    with "rigid2d", 0.0198 "head3d", 0.0175 "piecewise", 5 folds.)"""
    import dataclasses

    from tango.lipsync.mouth_shape import LIP_ROWS
    from tango.perception.face import FACE_POINTS

    face = _face_3d()
    face[LIP_ROWS, 2] -= 15.0
    frame_points = _turned(face, 14.0, 0.0, 1.0, (200.0, 120.0))
    source_points = _turned(face, -14.0, 0.0, 1.0, (160.0, 110.0))

    def miss(placement: str) -> float:
        """Largest distance (px) from where a mark on a source lip point lands to where the output holds it."""
        config = dataclasses.replace(CompositeConfig(), placement=placement)
        misses = []
        for index in (61, 291, 0, 17):  # mouth corners, upper and lower lip midpoints
            row = FACE_POINTS.index(index)
            source = np.full((240, 320, 3), 90, np.uint8)
            x, y = source_points[row, :2].round().astype(int)
            source[y - 1:y + 2, x - 1:x + 2] = 250
            out = composite_mouth(np.full((240, 320, 3), 90, np.uint8), frame_points, source, source_points, config)
            assert out is not None
            ys, xs = np.nonzero(out[..., 0] > 150)
            misses.append(float(np.hypot(xs.mean() - frame_points[row, 0], ys.mean() - frame_points[row, 1])))
        return max(misses)

    assert CompositeConfig().placement == "piecewise"
    assert miss("piecewise") < 2.0 and miss("head3d") < 2.0
    assert miss("rigid2d") > 5.0
