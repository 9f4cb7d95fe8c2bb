"""tango.lipsync.composite lip warp: the pasted lips move by the asked fraction of the way to the target lips,
and no pixel outside the mask changes."""
from __future__ import annotations

import cv2
import numpy as np

from tango.lipsync.composite import CompositeConfig, composite_mouth, lip_shift
from tango.lipsync.mouth_shape import LIP_ROWS
from tango.perception.face import ALIGN_ROWS, INNER_ROWS, OUTER_ROWS
from test_composite import _face_points

_ANGLES = np.linspace(0.0, 2.0 * np.pi, 21)[:-1]


def _speaking_face(centre: tuple[float, float]) -> np.ndarray:
    """(95, 3) the synthetic frontal face with an open mouth: outer lips 36 x 16 px, inner 28 x 8 px."""
    points = _face_points(centre).astype(np.float64)
    mouth = np.array([centre[0], centre[1] + 30.0])
    points[OUTER_ROWS] = mouth + np.c_[18.0 * np.cos(_ANGLES), 8.0 * np.sin(_ANGLES)]
    points[INNER_ROWS] = mouth + np.c_[14.0 * np.cos(_ANGLES), 4.0 * np.sin(_ANGLES)]
    return np.c_[points, np.zeros(len(points))]


def _textured(shape: tuple[int, int], level: int) -> np.ndarray:
    image = np.full((*shape, 3), level, np.uint8)
    image[::7] = level - 30  # texture: "unchanged" means bit-identical, not merely an equal flat grey
    return image


def test_lip_shift_is_the_asked_fraction_of_the_template_step_in_output_pixels():
    face = _speaking_face((160.0, 110.0))
    interocular = np.linalg.norm(face[ALIGN_ROWS[0], :2] - face[ALIGN_ROWS[3], :2])
    template = (face[ALIGN_ROWS] - face[ALIGN_ROWS].mean(axis=0)) / interocular  # inter-ocular 1
    mouth = np.zeros((len(LIP_ROWS), 2))
    target = np.zeros_like(mouth)
    target[:, 1] = 0.04  # the target's lips lie 0.04 inter-ocular lower
    shift = lip_shift(face, template, target, mouth, CompositeConfig(lip_warp=0.5))
    np.testing.assert_allclose(shift, np.c_[np.zeros(len(mouth)), np.full(len(mouth), 0.02 * interocular)], atol=1e-6)
    capped = lip_shift(face, template, 10 * target, mouth, CompositeConfig(lip_warp=0.5, lip_warp_cap=0.1))
    np.testing.assert_allclose(np.linalg.norm(capped, axis=1), 0.1 * 36.0, rtol=1e-6)  # 0.1 mouth widths
    assert lip_shift(face, template, target, mouth, CompositeConfig(lip_warp=0.0)) is None


def test_the_warp_moves_a_lip_point_by_its_shift_and_leaves_the_outside_identical():
    frame, face = _textured((240, 320), 90), _speaking_face((160.0, 110.0))
    row = int(np.where(LIP_ROWS == OUTER_ROWS[5])[0][0])  # the lower lip's middle
    dot = np.round(face[LIP_ROWS[row], :2]).astype(int)
    source = _textured((240, 320), 150)
    source[dot[1], dot[0]] = 255
    shift = np.zeros((len(LIP_ROWS), 2))
    shift[:20, 1] = np.where(np.sin(_ANGLES) > 0, 3.0, 0.0)  # the outer lower lip goes 3 px down
    shift[20:, 1] = np.where(np.sin(_ANGLES) > 0, 3.0, 0.0)
    plain = composite_mouth(frame, face, source, face)
    warped = composite_mouth(frame, face, source, face, CompositeConfig(), shift)
    bright = warped[..., 0].astype(float) - np.median(warped[dot[1] - 8: dot[1] + 8, dot[0] - 8: dot[0] + 8, 0])
    ys, xs = np.nonzero(bright > 40)
    weight = bright[ys, xs]
    assert abs(np.average(xs, weights=weight) - dot[0]) < 0.3
    assert abs(np.average(ys, weights=weight) - (dot[1] + 3.0)) < 0.3
    # outside the unwarped composite's mask (2 px off its soft edge, where the weight rounds to nothing)
    untouched = cv2.erode((plain == frame).all(axis=-1).astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    assert untouched.sum() > frame.shape[0] * frame.shape[1] // 2
    np.testing.assert_array_equal(warped[untouched], frame[untouched])
    upper = np.round(face[LIP_ROWS[15], :2]).astype(int)  # the upper lip's middle was not asked to move
    np.testing.assert_array_equal(warped[upper[1] - 6, upper[0]], plain[upper[1] - 6, upper[0]])
