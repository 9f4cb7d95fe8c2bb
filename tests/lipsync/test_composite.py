"""tango.lipsync.composite: the mouth lands where the face is, and nothing outside the mask changes."""
from __future__ import annotations

import numpy as np

from tango.lipsync.composite import composite_mouth
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
