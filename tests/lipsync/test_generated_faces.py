"""tango.lipsync.mouths.GeneratedFaces: on a generated frame the mouth goes where the face is drawn, not where the
straight blend of its window's ends puts it (the interpolator's head moves on a curve)."""
from __future__ import annotations

import cv2
import numpy as np
from support import shared_media

from tango.lipsync.bank import SpeakerMouths
from tango.lipsync.composite import CompositeConfig, composite_mouth
from tango.lipsync.mouth_search import MouthBank
from tango.lipsync.mouth_shape import ShapeBasis
from tango.lipsync.mouths import GeneratedFaces, MouthCompositor, MouthPlan, moved_onto
from tango.lipsync.mouth_shape import ALIGN_ROWS
from tango.perception.face import FACE_OVAL, FACE_POINTS

_RIGID = {33: (-35, -20), 133: (-12, -20), 362: (12, -20), 263: (35, -20), 168: (0, -20), 6: (0, -10),
          1: (0, 8), 4: (0, 5), 2: (0, 14), 98: (-10, 13), 327: (10, 13)}


def _face3d(centre: tuple[float, float]) -> np.ndarray:
    """(95, 3) pixels, a frontal face ~100 px wide (as in test_composite): oval an ellipse, lips and cheeks a ring."""
    points = np.zeros((len(FACE_POINTS), 3), np.float32)
    for row, index in enumerate(FACE_POINTS):
        if index in _RIGID:
            points[row, :2] = _RIGID[index]
        elif index in FACE_OVAL:
            angle = 2 * np.pi * FACE_OVAL.index(index) / len(FACE_OVAL) - np.pi / 2
            points[row, :2] = (45 * np.cos(angle), 60 * np.sin(angle))
        else:
            angle = 2 * np.pi * (row % 20) / 20
            points[row, :2] = (18 * np.cos(angle), 30 + 8 * np.sin(angle))
    points[:, :2] += np.asarray(centre, np.float32)
    return points


def test_the_blend_moves_onto_the_meshed_face_unless_it_is_implausibly_far():
    blend = _face3d((200, 200))
    found = blend + np.array([6.0, -3.0, 0.0], np.float32)
    np.testing.assert_allclose(moved_onto(blend, found, 0.35), found, atol=1e-3)
    assert moved_onto(blend, blend + np.array([40.0, 0, 0], np.float32), 0.35) is None  # > 0.35 x 70 px
    assert moved_onto(blend, blend + np.array([1.0, 0, 0], np.float32), 0.35, 0.02) is None  # < 0.02 x 70 px
    np.testing.assert_allclose(moved_onto(blend, found, 0.35, 0.02), found, atol=1e-3)
    broken = found.copy()
    broken[0] = np.nan
    assert moved_onto(blend, broken, 0.35) is None


def _compositor(face: np.ndarray, frame_state: np.ndarray, finder) -> MouthCompositor:
    frames = len(frame_state)
    bank = MouthBank(coefficients=np.zeros((1, 2), np.float32), visemes=None, head_pose=np.zeros((1, 3), np.float32),
                     usable=np.ones(1, bool), next_frame=np.array([-1]), lips=np.zeros((1, 40, 2), np.float32))
    speakers = SpeakerMouths(template=np.zeros((11, 3)), basis=ShapeBasis(np.zeros(2), np.eye(2), np.ones(2)),
                             bank=bank, landmarks=face[None] / np.array([400, 400, 400], np.float32),
                             video=np.zeros(1, np.int32), local=np.zeros(1, np.int64),
                             offsets=np.zeros(1, np.int64), model=None, face_ratio=1.0)
    plan = MouthPlan(mouth=np.zeros(frames, np.int64), frame_state=frame_state,
                     face=np.repeat(speakers.landmarks, frames, axis=0), head_pose=np.zeros((frames, 3), np.float32),
                     left={}, source="model", jumps=0, seconds=0.0, fade_state=np.full(frames, -1),
                     fade_weight=np.zeros(frames, np.float32))
    source = np.random.default_rng(1).integers(0, 255, (400, 400, 3), np.uint8)
    return MouthCompositor(speakers, plan, lambda v, indices: {i: source for i in indices}, [np.zeros(1, np.int64)],
                           generated_faces=finder)


def test_a_generated_frame_gets_its_mouth_where_its_face_is_found():
    face = _face3d((200, 200))
    calls = []

    class Finder:  # the face drawn 6 px right of the blend
        def calibrate(self, key, frame, known):
            calls.append(("calibrate", key))

        def __call__(self, frame, blend, key=None):
            calls.append(blend)
            return blend + np.array([6.0, 0.0, 0.0], np.float32)

    compositor = _compositor(face, np.array([0, -1]), Finder())
    frame = np.full((400, 400, 3), 128, np.uint8)
    real = compositor(0, frame.copy())
    assert calls == [("calibrate", 0)]  # a real frame keeps its own mesh (the one before a window calibrates)
    generated = compositor(1, frame.copy())
    assert len(calls) == 2
    np.testing.assert_allclose(calls[1], face, atol=1e-3)
    source, config = compositor._cache[0], CompositeConfig()
    size = np.array([400, 400, 400], np.float32)
    planned, mouth = compositor.plan.face[1] * size, compositor.speakers.landmarks[0] * size
    expected = composite_mouth(frame, planned + np.array([6.0, 0, 0], np.float32), source, mouth, config)
    np.testing.assert_array_equal(generated, expected)
    np.testing.assert_array_equal(real, composite_mouth(frame, planned, source, mouth, config))
    assert not np.array_equal(generated, real)


def test_the_finder_takes_off_its_offset_from_perception_on_the_real_frame_before():
    known, true = _face3d((200, 200)), _face3d((206, 197))
    bias = np.array([2.0, 1.5, 0.0], np.float32)  # this mesher vs perception's, the same on every frame
    finder = GeneratedFaces()
    finder._mesh_face = lambda frame, near: (known if near is known else true) + bias
    frame = np.zeros((400, 400, 3), np.uint8)
    finder.calibrate(7, frame, known)
    np.testing.assert_allclose(finder(frame, _face3d((200, 200)), key=7), true, atol=1e-3)
    np.testing.assert_allclose(finder(frame, _face3d((200, 200)), key=8), true + bias, atol=1e-3)  # another window


def test_the_face_mesh_finds_a_shifted_face():
    """A real frame shifted by (7, -4) px stands in for a generated frame whose head is off the blend."""
    from tango.media.video import read_frames
    from tango.perception.face import _solutions

    frame = read_frames(shared_media("video/mimictalk_German_20s.mp4"), [30])[30]
    height, width = frame.shape[:2]
    with _solutions().face_mesh.FaceMesh(static_image_mode=True, max_num_faces=1, refine_landmarks=True) as mesh:
        result = mesh.process(frame)
    points = result.multi_face_landmarks[0].landmark
    blend = np.array([(points[i].x * width, points[i].y * height, points[i].z * width) for i in FACE_POINTS],
                     np.float32)
    shifted = cv2.warpAffine(frame, np.float32([[1, 0, 7], [0, 1, -4]]), (width, height),
                             borderMode=cv2.BORDER_REPLICATE)
    finder = GeneratedFaces()
    moved = finder(shifted, blend)
    assert moved is not None and finder.report()["meshed"] == 1
    move = (moved[ALIGN_ROWS, :2] - blend[ALIGN_ROWS, :2]).mean(axis=0)
    np.testing.assert_allclose(move, [7, -4], atol=1.5)
    finder.close()
