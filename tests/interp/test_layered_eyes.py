"""The layered interpolator's eyes (step 7): a lid that differs between the ends of a jump (open at one, lowered at
the other) is shown once, from one end, never as two lids dissolved into each other."""
from __future__ import annotations

import dataclasses

import cv2
import numpy as np

from tango.interp import face_morph
from tango.interp.flow import _warp
from tango.interp.flow import warp_maps
from tango.interp.flow import cubic_where
from tango.interp.layered import LayeredConfig, LayeredInterpolator
from tango.perception.face import EYE_CORNER_ROWS

HEIGHT, WIDTH = 160, 200
EYES = np.array([[[52.0, 70.0], [80.0, 70.0]], [[120.0, 70.0], [148.0, 70.0]]])  # (eye, outer/inner, xy) pixels


def face(open_eyes: bool) -> np.ndarray:
    """(H, W, 3) uint8 a smooth skin texture with two eyes: open (white, dark iris) or closed (lid, lash line)."""
    rng = np.random.default_rng(3)
    small = rng.integers(150, 220, (HEIGHT // 10, WIDTH // 10, 3), dtype=np.uint8)
    image = cv2.resize(small, (WIDTH, HEIGHT), interpolation=cv2.INTER_CUBIC)
    for (outer, inner) in EYES:
        centre = tuple(int(v) for v in (outer + inner) / 2)
        if open_eyes:
            cv2.ellipse(image, centre, (14, 7), 0, 0, 360, (235, 235, 235), -1)
            cv2.circle(image, centre, 6, (40, 25, 20), -1)
        else:
            cv2.ellipse(image, centre, (14, 7), 0, 0, 360, (200, 150, 130), -1)
            cv2.ellipse(image, centre, (14, 7), 0, 10, 170, (30, 20, 20), 2)  # the lash line of the lowered lid
    return image


def landmarks() -> np.ndarray:
    """(2, 95, 3) normalised face points of both context frames, eye corners on the drawn eyes."""
    rng = np.random.default_rng(0)
    points = np.column_stack([rng.uniform(40, 160, 95), rng.uniform(30, 140, 95), np.zeros(95)])
    points[EYE_CORNER_ROWS, :2] = EYES.reshape(4, 2)
    return np.stack([points / np.array([WIDTH, HEIGHT, WIDTH])] * 2).astype(np.float32)


def draw(config: LayeredConfig) -> tuple[np.ndarray, list[tuple[np.ndarray, np.ndarray]]]:
    """(3, H, W, 3) frames of a window from open to closed eyes, and per frame both ends warped to its time."""
    before, after = np.stack([face(True)] * 2), np.stack([face(False)] * 2)
    masks = np.ones((2, HEIGHT, WIDTH), np.float32)
    engine = LayeredInterpolator(config)
    out = engine(before, after, 3, masks_before=masks, masks_after=masks, landmarks_before=landmarks(),
                 landmarks_after=landmarks())
    field = engine._flow._flow_field(before[-1], after[0], before[-2], after[1])
    field = dataclasses.replace(field, outer_step=0.25)
    warped = []
    for tau in (0.25, 0.5, 0.75):
        f_t0, f_t1 = engine._flow._flows_from_t(field, tau)
        ends = _warp(before[-1], f_t0), _warp(after[0], f_t1)
        if config.sharp_where_disagree:  # resampled as the interpolator resamples them where they disagree
            disagree = config.switch.disagreement(*ends)
            ends = cubic_where(cv2.cvtColor(before[-1], cv2.COLOR_RGB2GRAY), warp_maps(f_t0), ends[0], disagree), \
                cubic_where(cv2.cvtColor(after[0], cv2.COLOR_RGB2GRAY), warp_maps(f_t1), ends[1], disagree)
        warped.append(ends)
    return out, warped


def grey(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32)


def in_eyes(values: np.ndarray) -> float:
    """Mean of an (H, W) image over the eyes' boxes."""
    return float(np.mean([values[62:79, 52:81].mean(), values[62:79, 120:149].mean()]))


def test_an_eye_that_differs_between_the_ends_is_drawn_from_one_end_not_dissolved():
    out, warped = draw(LayeredConfig())
    for frame, (end0, end1) in zip(out, warped):  # tau 1/4, 1/2, 3/4: each frame's eyes are one warped end's
        assert in_eyes(np.abs(grey(end0) - grey(end1))) > 20.0  # the lids differ
        distance0, distance1 = in_eyes(np.abs(grey(frame) - grey(end0))), in_eyes(np.abs(grey(frame) - grey(end1)))
        assert min(distance0, distance1) < 1.0
    assert in_eyes(np.abs(grey(out[0]) - grey(warped[0][0]))) < 1.0  # end 0's eyes first, end 1's last
    assert in_eyes(np.abs(grey(out[-1]) - grey(warped[-1][1]))) < 1.0
    dissolved, _ = draw(LayeredConfig(eye_switch=False))
    middle, (end0, end1) = dissolved[1], warped[1]  # without the switch: both lids at half strength
    assert min(in_eyes(np.abs(grey(middle) - grey(end0))), in_eyes(np.abs(grey(middle) - grey(end1)))) > 10.0


def test_eyes_that_agree_keep_the_flows_blend():
    before = after = np.stack([face(True)] * 2)
    after = after.copy()
    after[:, 100:, :] = np.clip(after[:, 100:, :].astype(int) + 40, 0, 255).astype(np.uint8)  # not the eyes
    masks = np.ones((2, HEIGHT, WIDTH), np.float32)
    kwargs = dict(masks_before=masks, masks_after=masks, landmarks_before=landmarks(), landmarks_after=landmarks())
    with_switch = LayeredInterpolator()(before, after, 3, **kwargs)
    without = LayeredInterpolator(LayeredConfig(eye_switch=False))(before, after, 3, **kwargs)
    assert np.array_equal(with_switch[:, 55:85], without[:, 55:85])  # the eyes' rows: nothing to switch


def test_eye_region_is_the_union_of_the_placements_and_fades_out():
    one = face_morph.eye_region(EYES[0][None], (HEIGHT, WIDTH))
    (x0, y0, x1, y1), weight = one
    centre = (EYES[0].mean(axis=0) - np.array([x0, y0])).astype(int)
    assert weight[centre[1], centre[0]] == 1.0 and weight[0, 0] == 0.0 and weight.max() <= 1.0
    moved = EYES[0] + np.array([10.0, 0.0])
    (bx0, _, bx1, _), both = face_morph.eye_region(np.stack([EYES[0], moved]), (HEIGHT, WIDTH))
    assert bx0 == x0 and bx1 > x1 and both.sum() > weight.sum()
    assert face_morph.eye_region(EYES[0][None] + 1000.0, (HEIGHT, WIDTH)) is None  # off the image
