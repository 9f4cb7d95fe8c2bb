"""The landmark-aligned face morph of the layered interpolator: its plan, its warp, the interface checks, and
the hardest head-turn jump of the 22 s speaker (real frames, face mesh run here; skipped without them)."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from tango.interp import face_morph
from tango.interp.face_morph import FACE_POINT_COUNT, FaceMorphConfig, FaceMorpher, plan
from tango.interp.layered import LayeredConfig, LayeredInterpolator
from tango.interp.transition import TransitionInterpolator
from tango.perception.face import FACE_POINTS, OVAL_ROWS
from tango.runtime.errors import InvalidArgument

HEIGHT, WIDTH = 160, 200
VIDEO = Path(__file__).resolve().parents[2].parent / "shared" / "media" / "video" / "tango_female_test_V1_22s.mp4"


def face_points(centre_x: float, centre_y: float = 80.0, radius: float = 40.0, seed: int = 0) -> np.ndarray:
    """(95, 3) normalised landmarks: the oval on an ellipse, the other points scattered inside it."""
    rng = np.random.default_rng(seed)
    pixels = np.zeros((FACE_POINT_COUNT, 3), np.float64)
    angles = np.linspace(0.0, 2.0 * np.pi, len(OVAL_ROWS), endpoint=False)
    pixels[OVAL_ROWS, 0] = centre_x + radius * 0.8 * np.sin(angles)
    pixels[OVAL_ROWS, 1] = centre_y - radius * np.cos(angles)
    inner = np.setdiff1d(np.arange(FACE_POINT_COUNT), OVAL_ROWS)
    r, a = 0.7 * np.sqrt(rng.random(inner.size)), rng.random(inner.size) * 2.0 * np.pi
    pixels[inner, 0] = centre_x + radius * 0.8 * r * np.sin(a)
    pixels[inner, 1] = centre_y + radius * r * np.cos(a)
    return (pixels / np.array([WIDTH, HEIGHT, WIDTH])).astype(np.float32)


def texture(shift_x: int = 0) -> np.ndarray:
    """(H, W, 3) uint8 smooth random texture (flow and remap can follow it), moved right by shift_x."""
    rng = np.random.default_rng(7)
    import cv2
    small = rng.integers(0, 255, (HEIGHT // 8, (WIDTH + 64) // 8, 3), dtype=np.uint8)
    big = cv2.resize(small, ((WIDTH + 64), HEIGHT), interpolation=cv2.INTER_CUBIC)
    return np.ascontiguousarray(big[:, 32 - shift_x:32 - shift_x + WIDTH])


def test_plan_needs_a_face_at_both_ends_and_comparable_points():
    points = face_points(100.0)
    assert plan(points, np.full_like(points, np.nan), WIDTH, HEIGHT).reason == "NO_FACE"
    assert plan(None, points, WIDTH, HEIGHT).reason == "NO_FACE"
    same = plan(points, points, WIDTH, HEIGHT)
    assert same.mesh is not None and same.reason == "" and same.turn_deg < 1e-3 and same.folded_frac == 0.0
    mirrored = points.copy()
    mirrored[:, 0] = 2 * mirrored[:, 0].mean() - mirrored[:, 0]  # every triangle flips: not the same surface
    assert plan(points, mirrored, WIDTH, HEIGHT).reason in ("FOLDED", "TURN")
    tiny = plan(face_points(100.0, radius=8.0), face_points(100.0, radius=8.0), WIDTH, HEIGHT)
    assert tiny.reason == "SMALL_FACE"


def test_head_turn_is_the_rotation_of_the_3d_points():
    points = face_points(100.0).astype(np.float64)
    scale = np.array([WIDTH, HEIGHT, WIDTH])
    pixels = points * scale
    centre = pixels.mean(axis=0)
    angle = np.radians(30.0)
    yaw = np.array([[np.cos(angle), 0, np.sin(angle)], [0, 1, 0], [-np.sin(angle), 0, np.cos(angle)]])
    turned = ((pixels - centre) @ yaw.T + centre) / scale
    assert face_morph.head_turn_deg(points, turned, WIDTH, HEIGHT) == pytest.approx(30.0, abs=0.01)
    assert plan(points, turned, WIDTH, HEIGHT, FaceMorphConfig(max_turn_deg=20.0)).reason == "TURN"


@pytest.mark.parametrize("refine", [False, True])
def test_the_face_at_half_way_is_the_moved_face_not_a_double_exposure(refine):
    first, last = texture(0), texture(24)  # the whole picture moved 24 px right
    mesh = plan(face_points(90.0), face_points(114.0), WIDTH, HEIGHT).mesh
    layer = FaceMorpher(FaceMorphConfig(refine=refine))(first, last, mesh, 0.5)
    truth = texture(12)  # half way
    x0, y0, x1, y1 = layer.box
    solid = layer.alpha > 0.9
    assert solid.sum() > 1000
    error = np.abs(layer.face.astype(int) - truth[y0:y1, x0:x1])[solid].mean()
    blend = np.abs((first.astype(int) + last) // 2 - truth)[y0:y1, x0:x1][solid].mean()  # what a dissolve shows
    assert error < 3.0 < blend


def test_face_opacity_is_the_feathered_face():
    mesh = plan(face_points(100.0), face_points(100.0), WIDTH, HEIGHT).mesh
    layer = FaceMorpher()(texture(), texture(), mesh, 0.3)
    x0, y0 = layer.box[:2]
    assert layer.alpha[80 - y0, 100 - x0] > 0.99  # the face's centre
    assert layer.alpha.max() <= 1.0 + 1e-6 and layer.alpha.min() >= 0.0
    assert layer.alpha[0, 0] < 0.01  # the box corner: outside the oval
    assert 0.05 < layer.alpha[80 - y0, 100 - 32 - x0] < 0.95  # the oval's edge is feathered


def squeezed_right_half(points: np.ndarray, factor: float = 0.15) -> np.ndarray:
    """The face points with the right half of the face pressed towards the centre line (a head turned away)."""
    squeezed = points.copy()
    centre = points[OVAL_ROWS, 0].mean()
    right = squeezed[:, 0] > centre
    squeezed[right, 0] = centre + factor * (squeezed[right, 0] - centre)
    return squeezed


def test_a_side_an_end_sees_only_as_a_sliver_comes_from_the_other_end():
    """End 1 shows the right half of the face foreshortened to a sliver: drawn at tau it would be magnified (the
    stretched cheek edge, the second nose). There the face is end 0's alone; on the left half both ends mix."""
    points0 = face_points(100.0)
    points1 = squeezed_right_half(points0)
    mesh = plan(points0, points1, WIDTH, HEIGHT, FaceMorphConfig(max_folded_frac=1.0)).mesh
    first, last = texture(0), 255 - texture(0)  # different pictures: any share of end 1 shows
    layer = FaceMorpher(FaceMorphConfig(refine=False))(first, last, mesh, 0.5)
    x0, y0 = layer.box[:2]
    right = (slice(70 - y0, 90 - y0), slice(112 - x0, 118 - x0))  # inside the right half of the face at tau
    left = (slice(70 - y0, 90 - y0), slice(80 - x0, 88 - x0))
    assert layer.seen1[right].max() < 0.05 and layer.seen0[right].min() > 0.95
    assert np.abs(layer.face[right].astype(int) - layer.warped0[right]).max() <= 2
    mixed = np.abs(layer.face[left].astype(int) - layer.warped0[left]).mean()
    assert mixed > 20  # the left half: both ends seen, the dissolve
    assert layer.seen1[left].min() > 0.95


def test_where_an_end_shows_its_background_inside_the_face_the_other_ends_face_is_drawn():
    points = face_points(100.0)
    mesh = plan(points, points, WIDTH, HEIGHT).mesh
    first, last = texture(0), texture(0).copy()
    background = np.zeros_like(first)
    background[...] = (20, 120, 230)  # the speaker's backdrop
    last[60:100, 100:130] = background[60:100, 100:130]  # landmarks put end 1's face over its backdrop there
    morpher = FaceMorpher(FaceMorphConfig(refine=False))
    layer = morpher(first, last, mesh, 0.7, (background, background))
    x0, y0 = layer.box[:2]
    patch = (slice(70 - y0, 90 - y0), slice(108 - x0, 122 - x0))
    assert np.abs(layer.face[patch].astype(int) - first[70:90, 108:122]).max() <= 2  # no backdrop in the face
    blind = morpher(first, last, mesh, 0.7)  # without the backgrounds: the dissolve lets the backdrop in
    assert np.abs(blind.face[patch].astype(int) - first[70:90, 108:122]).mean() > 20


def test_the_silhouette_at_tau_moves_from_one_ends_edge_to_the_others():
    """The ends' silhouettes (already aligned by the mesh) differ by a band at the edge: at tau the edge lies
    tau of the way across it, one edge, not the union or the overlap of both."""
    ys, xs = np.mgrid[0:60, 0:120]
    person0 = (xs - 50) ** 2 + (ys - 30) ** 2 < 20 ** 2  # edges at 30 and 70 on the middle row
    person1 = (xs - 62) ** 2 + (ys - 30) ** 2 < 20 ** 2  # edges at 42 and 82
    for tau in (0.0, 0.25, 0.5, 0.75, 1.0):
        row = np.flatnonzero(face_morph._silhouette_at(person0, person1, tau, 1)[30] > 0.5)
        assert abs(row[0] - (30 + 12 * tau)) <= 1.0 and abs(row[-1] - (70 + 12 * tau)) <= 1.0


def test_where_the_face_folds_over_itself_the_nearer_surface_is_drawn():
    points = np.array([[10.0, 10.0], [30.0, 10.0], [20.0, 30.0], [12.0, 12.0], [34.0, 14.0], [22.0, 34.0]])
    triangles = np.array([[0, 1, 2], [3, 4, 5]])
    for near, far in ((0, 1), (1, 0)):
        depth = np.zeros(6)
        depth[triangles[far]] = 5.0  # further from the camera
        mesh = face_morph.FaceMesh(points, points, triangles, 20.0, depth, depth)
        index = face_morph._triangle_index(points, triangles, (0, 0, 40, 40), mesh.far_to_near(0.5))
        assert index[15, 20] == near  # the overlap shows the nearer triangle, whatever the drawing order


def layered_window(shift: int = 24):
    before, after = np.stack([texture(0)] * 2), np.stack([texture(shift)] * 2)
    masks = np.ones((2, HEIGHT, WIDTH), np.float32)
    return before, after, masks


def test_layered_without_landmarks_or_without_a_face_draws_as_before():
    before, after, masks = layered_window()
    engine = TransitionInterpolator()
    old = engine.interpolate(before, after, 3, "layered", masks_before=masks, masks_after=masks)
    absent = np.full((2, FACE_POINT_COUNT, 3), np.nan, np.float32)
    present = np.stack([face_points(100.0)] * 2)
    no_face = engine.interpolate(before, after, 3, "layered", masks_before=masks, masks_after=masks,
                                 landmarks_before=present, landmarks_after=absent)
    assert np.array_equal(old, no_face)


def test_layered_morphs_the_face_where_the_flow_fails():
    before, after, masks = layered_window()
    rng = np.random.default_rng(1)
    after[:, 40:120, 60:140] = rng.integers(0, 255, (80, 80, 3), dtype=np.uint8)  # the face: no flow follows noise
    points0, points1 = np.stack([face_points(90.0)] * 2), np.stack([face_points(114.0)] * 2)
    engine = LayeredInterpolator(LayeredConfig(face_min_turn_deg=0.0, eye_switch=False))  # the synthetic face only moves
    field = engine._flow._flow_field(before[-1], after[0], None, None)
    chosen, d_morph, d_flow = engine.face_choice(before[-1], after[0], field, points0, points1)
    assert chosen.mesh is not None and np.isfinite(d_morph) and np.isfinite(d_flow)
    with_face = engine(before, after, 3, masks_before=masks, masks_after=masks, landmarks_before=points0,
                       landmarks_after=points1)
    without = engine(before, after, 3, masks_before=masks, masks_after=masks)
    changed = np.abs(with_face.astype(int) - without).max(axis=(0, 3)) > 0  # (H, W)
    face_box = face_morph._box(0.5 * (chosen.mesh.points0 + chosen.mesh.points1), WIDTH, HEIGHT)
    outside = np.ones_like(changed)
    outside[face_box[1]:face_box[3], face_box[0]:face_box[2]] = False
    if d_morph <= d_flow:
        assert changed.any() and not changed[outside].any()  # only the face is redrawn
    else:
        assert not changed.any()


@pytest.mark.parametrize("before_points, after_points, message", [
    (np.zeros((2, 95, 3), np.float32), None, "both ends"),
    (np.zeros((1, 95, 3), np.float32), np.zeros((2, 95, 3), np.float32), "must be (2, 95, 3)"),
    (np.zeros((2, 68, 3), np.float32), np.zeros((2, 68, 3), np.float32), "must be (2, 95, 3)"),
    (np.zeros((2, 95, 3), np.int32), np.zeros((2, 95, 3), np.int32), "float"),
    (np.where(np.arange(95)[None, :, None] == 3, np.nan, np.full((2, 95, 3), 0.5)).astype(np.float32),
     np.full((2, 95, 3), 0.5, np.float32), "all finite"),
    (np.full((2, 95, 3), 9.0, np.float32), np.full((2, 95, 3), 0.5, np.float32), "outside"),
])
def test_bad_landmarks_are_refused_with_a_reason(before_points, after_points, message):
    before, after, masks = layered_window()
    with pytest.raises(InvalidArgument) as caught:
        TransitionInterpolator().interpolate(before, after, 2, "layered", masks_before=masks, masks_after=masks,
                                             landmarks_before=before_points, landmarks_after=after_points)
    assert caught.value.reason == "BAD_TRANSITION_INPUT" and message in caught.value.message


def _mesh_landmarks(frames: dict[int, np.ndarray], box: tuple[int, int, int]) -> dict[int, np.ndarray]:
    """MediaPipe face mesh (static mode) on a square crop (x0, y0, side) of each frame -> (95, 3) normalised."""
    mp = pytest.importorskip("mediapipe")
    import cv2
    x0, y0, side = box
    found = {}
    with mp.solutions.face_mesh.FaceMesh(static_image_mode=True, max_num_faces=1, refine_landmarks=True) as mesh:
        for index, rgb in frames.items():
            height, width = rgb.shape[:2]
            crop = cv2.resize(rgb[y0:y0 + side, x0:x0 + side], (256, 256), interpolation=cv2.INTER_AREA)
            result = mesh.process(crop)
            if not result.multi_face_landmarks:
                pytest.skip("no face found in the test frames")
            points = result.multi_face_landmarks[0].landmark
            pixels = np.array([(points[i].x, points[i].y, points[i].z) for i in FACE_POINTS]) * side
            pixels += np.array([x0, y0, 0.0])
            found[index] = (pixels / np.array([width, height, width])).astype(np.float32)
    return found


def test_hardest_head_turn_of_the_22s_speaker_is_aligned_better_by_landmarks_than_by_flow():
    """Frames 319 -> 456 of the 22 s speaker: the head turns ~45 degrees (the flow's double exposure)."""
    if not VIDEO.is_file():
        pytest.skip(f"{VIDEO} is missing")
    from tango.media.video import read_frames
    frames = read_frames(VIDEO, [318, 319, 456, 457])
    points = _mesh_landmarks({319: frames[319], 456: frames[456]}, (400, 120, 380))
    before, after = np.stack([frames[318], frames[319]]), np.stack([frames[456], frames[457]])
    engine = LayeredInterpolator()
    field = engine._flow._flow_field(before[-1], after[0], before[0], after[1])
    field = dataclasses.replace(field, outer_step=1.0 / 9)
    chosen, d_morph, d_flow = engine.face_choice(before[-1], after[0], field, points[319][None], points[456][None])
    assert chosen.mesh is not None, chosen.reason
    assert chosen.turn_deg > engine.config.face_min_turn_deg
    assert d_morph < d_flow  # the faces aligned by their points differ less than the flow-warped ones: morphed
    refined = engine._face(before[-1], after[0], chosen.mesh, 0.5)  # with the residual flow inside the face
    from tango.interp.layered import _mean_difference
    # where both ends see the face (elsewhere one end alone is drawn and the residual flow is not trusted)
    both = refined.alpha * np.minimum(refined.seen0, refined.seen1)
    assert both.sum() > 0.25 * refined.alpha.sum()
    assert _mean_difference(refined.warped0, refined.warped1, both) < 0.8 * d_flow
