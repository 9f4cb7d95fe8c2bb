"""The layered interpolator, its background plate and person masks, on synthetic scenes."""
from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest

from tango.interp.face_morph import blend_seen
from tango.interp.flow import FlowInterpolator, _FlowField
from tango.interp.flow import _warp
from tango.interp.flow import remap, warp_maps
from tango.interp.flow import cubic_where
from tango.interp.holes import carried_masks, person_preference
from tango.interp.layered import LayeredConfig, LayeredInterpolator
from tango.interp.masks import bounding_box, dilate, erode, refine_mask
from tango.interp.plate import build_plate, masked_median
from tango.interp.smear import end_speeds
from tango.interp.transition import TransitionInterpolator
from tango.runtime.errors import InvalidArgument
from test_jump_measures import SIZE, backdrop, scene


def window(x0: float, x1: float):
    """Two frames on each side of a jump of the figure from column x0 to x1, with exact masks."""
    (a, ma), (b, mb) = scene(x0), scene(x1)
    return np.stack([a, a]), np.stack([b, b]), np.stack([ma, ma]), np.stack([mb, mb])


def test_the_plate_shows_where_the_person_is_absent_and_where_it_has_left():
    before, after, masks_before, masks_after = window(20, 130)  # no overlap: no flow can follow this
    plate = backdrop()
    frames = LayeredInterpolator()(before, after, 4, masks_before=masks_before, masks_after=masks_after, plate=plate)
    flow = FlowInterpolator()(before, after, 4)
    assert frames.shape == (4, *SIZE, 3) and frames.dtype == np.uint8
    error = np.abs(frames.astype(int) - plate).max(axis=-1)  # (4, H, W)
    far = dilate(np.maximum(masks_before[0], masks_after[0]), 30) < 0.5  # absent from both ends, far from both
    assert error[:, far].max() <= 2
    left = (masks_before[0] > 0.5) & (erode(masks_before[0], 3) > 0.5)  # the figure's old place, inner part
    assert error[-1][left].mean() < 3.0  # gone at the last frame: the plate, not a fading copy
    assert np.abs(flow[-1].astype(int) - plate).max(axis=-1)[left].mean() > 10.0  # (flow leaves a ghost there)
    arrived = erode(masks_after[0], 3) > 0.5
    assert error[0][arrived].mean() < 3.0  # not there yet at the first frame


def test_without_a_plate_the_ends_fill_the_background():
    before, after, masks_before, masks_after = window(20, 130)
    frames = LayeredInterpolator()(before, after, 3, masks_before=masks_before, masks_after=masks_after)
    far = dilate(np.maximum(masks_before[0], masks_after[0]), 30) < 0.5
    assert np.abs(frames.astype(int) - backdrop()).max(axis=-1)[:, far].max() <= 2


def test_small_motion_follows_the_flow_interpolator():
    before, after, masks_before, masks_after = window(40, 46)
    layered = LayeredInterpolator()(before, after, 3, masks_before=masks_before, masks_after=masks_after,
                                    plate=backdrop())
    flow = FlowInterpolator()(before, after, 3)
    assert np.abs(layered.astype(int) - flow).mean() < 1.0


def test_transition_interpolator_dispatches_layered_and_needs_masks():
    before, after, masks_before, masks_after = window(40, 52)
    engine = TransitionInterpolator()
    frames = engine.interpolate(before, after, 2, "layered", masks_before=masks_before, masks_after=masks_after)
    assert frames.shape == (2, *SIZE, 3)
    with pytest.raises(InvalidArgument) as missing:
        engine.interpolate(before, after, 2, "layered")
    assert missing.value.reason == "MASKS_REQUIRED"
    with pytest.raises(InvalidArgument):
        engine.interpolate(before, after, 2, "layered", masks_before=masks_before[:, :8], masks_after=masks_after)
    assert engine.interpolate(before, after, 2, "flow").shape == (2, *SIZE, 3)  # the Triton path is unchanged


def test_identical_ends_are_repeated():
    before, _, masks, _ = window(40, 40)
    frames = LayeredInterpolator()(before, before, 3, masks_before=masks, masks_after=masks)
    assert all(np.array_equal(f, before[-1]) for f in frames)


def test_masked_median_ignores_covered_samples():
    values = np.array([10, 200, 30, 40], np.uint8).reshape(4, 1, 1, 1).repeat(3, axis=3)  # (T, 1, 1, 3)
    visible = np.array([True, False, True, True]).reshape(4, 1, 1)
    median, count = masked_median(values, visible)
    assert median[0, 0].tolist() == [30, 30, 30] and count[0, 0] == 3
    median, count = masked_median(values, np.zeros_like(visible))
    assert count[0, 0] == 0


def test_plate_recovers_the_background_behind_a_moving_person():
    frames, masks = zip(*(scene(x) for x in range(10, 150, 14)))  # (T,) figure sweeping the frame
    plate = build_plate(np.stack(frames), np.stack(masks))
    seen = plate.seen > 0
    assert seen.mean() > 0.95
    assert np.abs(plate.image.astype(int) - backdrop())[seen].max() <= 1


def test_refined_mask_follows_the_image_edges():
    frame, mask = scene(60)
    low = mask[::6, ::6] > 0.5  # (24, 32) coarse binary mask, as perception stores it
    soft = refine_mask(frame, low)
    assert soft.shape == SIZE and soft.dtype == np.float32 and 0.0 <= soft.min() and soft.max() <= 1.0
    assert np.mean((soft > 0.5) == (mask > 0.5)) > 0.97


def test_imprecise_flow_is_blended_and_failed_flow_is_cut():
    """Warped ends differing by < agree_levels[0] (flow merely imprecise) keep the plain blend; a part
    differing by far more switches quickly, as one piece (no double exposure)."""
    switch = LayeredConfig().switch
    low, high = switch.agree_levels
    base = np.full((*SIZE, 3), 100, np.uint8)
    near = base + np.uint8(low - 2)
    np.testing.assert_allclose(switch.tau(0.3, switch.disagreement(base, near)), 0.3, atol=1e-6)
    far = base.copy()
    far[20:80, 20:80] = 100 + int(high) + 40
    cut = switch.tau(0.3, switch.disagreement(base, far))
    assert cut[50, 50] < 0.3 - 0.15 and abs(cut[5, SIZE[1] - 5] - 0.3) < 1e-6


def test_a_turning_face_switches_only_where_both_ends_see_it():
    """Where the aligned faces differ the switch cuts (end 0 before tau = 1/2), but only where both ends see the pixel:
    where end 0 barely does (a cheek foreshortened by the turn), end 1, which sees it, keeps it. The switch alone forced
    end 0's stretched cheek there (the demo's frame 75: a dark patch on the turning cheek)."""
    switch = LayeredConfig().switch
    end0, end1 = np.full((40, 40, 3), 60, np.uint8), np.full((40, 40, 3), 200, np.uint8)
    seen0, seen1 = np.ones((40, 40), np.float32), np.ones((40, 40), np.float32)
    seen0[:, :20] = 0.1  # end 0 sees the left half poorly
    cut = switch.tau(0.4, switch.disagreement(end0, end1))  # the ends differ everywhere: end 0 at tau 0.4
    face = blend_seen(end0, end1, seen0, seen1, switch.where_seen(cut, 0.4, seen0, seen1))
    assert face[20, 35, 0] <= 62 and face[20, 5, 0] >= 195  # the cut where both see; the end that sees, elsewhere
    assert blend_seen(end0, end1, seen0, seen1, cut)[20, 5, 0] <= 62  # the switch alone: end 0's pixels


def test_a_failed_part_switches_out_to_its_edge():
    """The switch's region reaches past a failed part's edge: at tau 0.4 the part's rim shows the earlier end as its
    inside does. Without the growth the disagreement's soft ramp crossed the rim and drew the later end's part there
    as an outline (the demo's raised hand at frame 28)."""
    base = np.full((480, 640, 3), 20, np.uint8)
    far = base.copy()
    far[120:360, 160:400] = 160  # half size: rows 60-180, columns 80-200
    rim = (slice(60, 180), [80, 81, 198, 199])  # the part's outermost half-size pixels
    for grow in (True, False):
        switch = dataclasses.replace(LayeredConfig(), switch_grow=grow).switch
        disagree = switch.disagreement(base, far, (320, 240))
        t = switch.tau(0.4, switch.region(disagree, None, 640))
        assert t[120, 140] == 0.0  # the part's inside: the earlier end
        assert (t[rim].max() == 0.0) if grow else (t[rim].max() > 0.05)
        assert abs(t[5, 5] - 0.4) < 1e-6  # far from the part: the plain blend


def test_where_the_ends_disagree_their_occlusion_masks_do_not_pick_the_end():
    """The flow failed (the ends disagree): its occlusion masks are noise too, so past the middle the frame is
    mostly the later end even where the failed flow calls that end occluded (demo frame 285: patches of the
    earlier end's backdrop torn into the later end's cheek)."""
    layered = LayeredInterpolator()
    first, last = np.zeros((*SIZE, 3), np.uint8), np.full((*SIZE, 3), 200, np.uint8)
    zero, ones = np.zeros((*SIZE, 2), np.float32), np.ones(SIZE, np.float32)
    field = _FlowField(f01=zero, f10=zero, occ0=ones, occ1=np.zeros(SIZE, np.float32))  # I1 "sees" nothing
    masks = np.full(SIZE, 0.0, np.float32)
    layers = layered._layers(first, last, masks, masks, None)
    assert layers.empty
    frame = layered._frame_at(first, last, None, layers, field, 0.6)  # past the switch: the later end
    assert np.abs(frame.astype(int) - 200).max() <= 2


def test_a_part_that_disagrees_fully_shows_one_end_in_the_middle_frame():
    """An odd window's middle frame (tau = 1/2) shows a failed part from one end, the later one (as the eyes
    switch), not a 50/50 double exposure (demo frames 28-30: a translucent raised hand over the lap's two hands);
    where the ends agree it stays the plain blend."""
    layered = LayeredInterpolator()
    zero, seen = np.zeros((*SIZE, 2), np.float32), np.zeros(SIZE, np.float32)
    field = _FlowField(f01=zero, f10=zero, occ0=seen, occ1=seen)
    first, far, near = (np.full((*SIZE, 3), level, np.uint8) for level in (0, 200, 8))
    layers = layered._layers(first, far, seen, seen, None)  # no person anywhere: the person layer alone
    assert np.abs(layered._frame_at(first, far, None, layers, field, 0.5).astype(int) - 200).max() <= 1
    assert layered._frame_at(first, far, None, layers, field, 0.5 - layered.config.switch_width).max() <= 1
    assert np.abs(layered._frame_at(first, near, None, layers, field, 0.5).astype(int) - 4).max() <= 1


def test_a_part_moving_at_both_ends_keeps_the_blend_and_one_standing_at_an_end_switches():
    """Where the warped ends disagree and the outer frames show the part moving fast at both ends (a continuous fast
    motion: the real in-between frames are smeared there, as the blend is) the frame is the plain blend; where it
    stands at one end (a fist that opens, a head turned between clips) the quick switch still shows one end; without
    outer frames no speed is known and it switches. A part slower than `blur_speeds[0]` at both ends shows no smear and
    cuts: the demo's raised hand, 1.3 px a frame at its end, was half faded at tau = 1/2 under a gate from 1 px."""
    layered = LayeredInterpolator()
    slow, fast = layered.config.blur_speeds
    first, last = np.zeros((*SIZE, 3), np.uint8), np.full((*SIZE, 3), 200, np.uint8)
    zero, seen = np.zeros((*SIZE, 2), np.float32), np.zeros(SIZE, np.float32)
    moving = np.zeros((*SIZE, 2), np.float32)
    moving[..., 0] = fast + 2.0  # px per video frame
    masks = np.zeros(SIZE, np.float32)
    layers = layered._layers(first, last, masks, masks, None)

    def frame_at(f0m: np.ndarray | None, f12: np.ndarray | None, tau: float = 0.3) -> np.ndarray:
        field = _FlowField(f01=zero, f10=zero, occ0=seen, occ1=seen, f0m=f0m, f12=f12, outer_step=0.2)
        speeds = end_speeds(field, layered.config.blur_reach_frac)
        return layered._frame_at(first, last, None, layers, field, tau, speeds=speeds).astype(int)

    assert np.abs(frame_at(moving, moving) - 60).max() <= 2  # (1 - 0.3) * 0 + 0.3 * 200
    assert frame_at(moving, zero).max() <= 2 and frame_at(zero, moving).max() <= 2  # t' = 0 at tau = 0.3
    assert frame_at(None, None).max() <= 2
    hand = np.zeros((*SIZE, 2), np.float32)
    hand[..., 0] = 1.3
    assert frame_at(hand, hand, 0.5).min() >= 198  # switched by tau = 1/2, not a half-faded part
    speeds = end_speeds(_FlowField(f01=zero, f10=zero, occ0=seen, occ1=seen, f0m=moving, f12=zero), 0.05)
    np.testing.assert_allclose(speeds[0], fast + 2.0, rtol=1e-4)
    np.testing.assert_allclose(speeds[1], 0.0)


def test_where_the_flow_tears_the_body_open_the_ends_fill_it_not_the_backdrop():
    """Both ends show the figure at a pixel, but the flows send each end's warp past it onto the backdrop (a hard
    jump's flow: speaker12's yellow wall torn into the jacket): the hole takes the ends' plain mix, the figure's own
    colours; the backdrop around the figure stays the warps'."""
    frame, mask = scene(76)  # the figure spans columns 76-116, rows 48-96, at both ends
    zero, shift = np.zeros((*SIZE, 2), np.float32), np.zeros((*SIZE, 2), np.float32)
    shift[..., 0] = 100.0  # F01 = +100 px, F10 = -100 px: at tau = 1/2 end 0 samples x - 50, end 1 x + 50
    field = _FlowField(f01=shift, f10=-shift, occ0=zero[..., 0], occ1=zero[..., 0])
    frames = {}
    for fill in (True, False):
        layered = LayeredInterpolator(LayeredConfig(fill_holes=fill))
        layers = layered._layers(frame, frame, mask, mask, None)
        frames[fill] = layered._frame_at(frame, frame, None, layers, field, 0.5).astype(int)
    core = erode(mask, 6) > 0.5
    assert np.abs(frames[True] - frame)[core].mean() < 2.0  # the figure, not the backdrop
    assert np.abs(frames[False] - frame)[core].mean() > 30.0  # (without: the backdrop drawn into it)
    far = dilate(mask, 20) < 0.5
    np.testing.assert_array_equal(frames[True][far], frames[False][far])


def test_where_the_ends_disagree_the_end_whose_warp_samples_the_person_weighs_more():
    """Inside the person at tau, an end whose warp samples its backdrop (carried mask 0) gets `floor` of its weight
    where the ends disagree, the other end keeps its weight; where they agree nothing changes; outside the person the
    preference turns round."""
    ones, zeros = np.ones((4, 4), np.float32), np.zeros((4, 4), np.float32)
    disagree = np.ones((8, 8), np.float32)
    disagree[:, :4] = 0.0
    inside = person_preference((zeros, ones, ones), ones, disagree, 0.05)
    np.testing.assert_allclose(inside[0][:, 4:], 0.05, atol=1e-6)
    np.testing.assert_allclose(inside[1], 1.0, atol=1e-6)
    np.testing.assert_allclose(inside[0][:, :4], 1.0, atol=1e-6)
    outside = person_preference((zeros, ones, zeros), zeros, disagree, 0.05)
    np.testing.assert_allclose(outside[0], 1.0, atol=1e-6)
    np.testing.assert_allclose(outside[1][:, 4:], 0.05, atol=1e-6)


def test_where_the_ends_disagree_they_get_the_bicubic_warps_detail():
    """A half-pixel warp of fine texture: bilinear where the weight (the disagreement) is 0; where it is 1, the
    bicubic warp's grey detail added to every channel (sharper: a bilinear warp at sub-pixel offsets averages
    neighbours), half of it at weight 1/2; the maps are `flow._warp`'s."""
    rng = np.random.default_rng(0)
    height, width = 100, 150
    image = cv2.GaussianBlur(rng.integers(0, 256, (height, width, 3), np.uint8), (0, 0), 0.7)
    flow = np.full((height, width, 2), 0.5, np.float32)
    maps = warp_maps(flow)
    bilinear = remap(image, maps)
    np.testing.assert_array_equal(bilinear, _warp(image, flow))
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    detail = remap(grey, maps, cv2.INTER_CUBIC).astype(int) - remap(grey, maps)  # (H, W)
    weight = np.zeros((height, width), np.float32)
    weight[:, :64] = 1.0
    weight[:, 64:70] = 0.5
    out = cubic_where(grey, maps, bilinear, weight).astype(int)
    expected = np.clip(bilinear + detail[..., None], 0, 255)
    assert np.abs(out[:, :64] - expected[:, :64]).max() <= 1
    np.testing.assert_array_equal(out[:, 70:], bilinear[:, 70:])
    half = np.clip(bilinear + detail[..., None] / 2.0, 0, 255)
    assert np.abs(out[:, 64:70] - half[:, 64:70]).max() <= 1.0
    cubic_grey = remap(grey, maps, cv2.INTER_CUBIC).astype(int)
    assert np.abs(cv2.cvtColor(out.astype(np.uint8), cv2.COLOR_RGB2GRAY)[:, 2:60] - cubic_grey[:, 2:60]).mean() < 1.0

    def sharpness(x: np.ndarray) -> float:
        return float(cv2.Laplacian(cv2.cvtColor(x[5:-5, 5:60], cv2.COLOR_RGB2GRAY), cv2.CV_32F).var())
    assert sharpness(out.astype(np.uint8)) > 1.3 * sharpness(bilinear)
    assert cubic_where(grey, maps, bilinear, np.zeros_like(weight)) is bilinear


def test_where_the_flow_follows_the_person_the_background_leaves_its_edge_alone():
    """A small move the flow follows: its two warped ends agree, so no ghost can appear, and the background
    layer (cut out by the coarse, feathered person shape) does not replace the flow's edge of the person (German
    speaker: a hair edge cut a few pixels off, differently each frame, raised the warp error)."""
    before, after, masks_before, masks_after = window(40, 46)
    flow = FlowInterpolator()(before, after, 3)
    kwargs = {"masks_before": masks_before, "masks_after": masks_after, "plate": backdrop()}
    gated = LayeredInterpolator()(before, after, 3, **kwargs)
    everywhere = LayeredInterpolator(LayeredConfig(background_where_disagree=False))(before, after, 3, **kwargs)
    moved = np.abs(gated.astype(int) - flow).max(axis=-1) > 10  # (3, H, W)
    assert moved.sum() < 150 < (np.abs(everywhere.astype(int) - flow).max(axis=-1) > 10).sum()


def test_person_shape_at_reduced_size_matches_full_size():
    """alpha_scale only changes how finely the (feathered) person shape is drawn, not where it is."""
    before, after, masks_before, masks_after = window(30, 60)
    coarse, fine = LayeredInterpolator(), LayeredInterpolator(LayeredConfig(alpha_scale=1))
    m0, m1 = masks_before[-1].astype(np.float32), masks_after[0].astype(np.float32)
    flow = np.zeros((*SIZE, 2), np.float32)
    flow[..., 0] = -15.0  # everything moves 15 px to the right by tau
    alphas = [engine._alpha(carried_masks(engine._layers(before[-1], after[0], m0, m1, None).masks_small, flow, flow,
                                          0.5)[2], SIZE[::-1]) for engine in (coarse, fine)]
    assert alphas[0].shape == alphas[1].shape == SIZE
    assert np.abs(alphas[0] - alphas[1]).mean() < 0.03
    assert alphas[1].max() > 0.9 and alphas[1].min() < 0.1


def test_background_drawn_inside_a_box_equals_the_whole_frame_cut_to_it():
    """The background layer is drawn only in the box where the person left; with a moving camera too."""
    assert bounding_box(np.pad(np.ones((3, 4), bool), ((5, 2), (7, 1)))) == (7, 5, 11, 8)
    before, after, masks_before, masks_after = window(20, 130)
    engine = LayeredInterpolator()
    layers = engine._layers(before[-1], after[0], masks_before[-1], masks_after[0], backdrop())
    pan = np.array([[1.0, 0.0, 6.0], [0.0, 1.0, -3.0], [0.0, 0.0, 1.0]])
    for moved in (layers, dataclasses.replace(layers, _path=(pan, pan, False))):
        whole = engine._background_at(before[-1], after[0], backdrop(), moved, 0.4, (0, 0, SIZE[1], SIZE[0]))
        part = engine._background_at(before[-1], after[0], backdrop(), moved, 0.4, (30, 20, 110, 90))
        assert whole.shape == (*SIZE, 3) and part.shape == (70, 80, 3)
        assert np.array_equal(part, whole[20:90, 30:110])


def _count_keypoints(monkeypatch) -> list[tuple[int, ...]]:
    """Records the image shape of every SIFT keypoint computation of the background estimator."""
    from tango.acinterp import background_guider

    calls: list[tuple[int, ...]] = []
    original = background_guider.keypoints

    def counted(image, mask, scale):
        calls.append(image.shape)
        return original(image, mask, scale)

    monkeypatch.setattr(background_guider, "keypoints", counted)
    return calls


def test_the_plates_keypoints_are_computed_once_for_many_windows(monkeypatch):
    """The plate is the same for every window of a speaker: its SIFT keypoints are kept (by content), and each
    window computes only its first frame's (the I0 -> I1 motion comes from the window's flow)."""
    calls = _count_keypoints(monkeypatch)
    engine = LayeredInterpolator()
    plate = backdrop()
    for x0, x1 in ((20, 130), (30, 120), (25, 110)):
        before, after, masks_before, masks_after = window(x0, x1)
        engine(before, after, 3, masks_before=masks_before, masks_after=masks_after, plate=plate.copy())
    assert len(calls) == 1 + 3  # the plate once, then I0 of each window


def test_a_window_whose_background_never_shows_estimates_no_homography(monkeypatch):
    calls = _count_keypoints(monkeypatch)
    before, after, masks_before, _ = window(40, 46)
    LayeredInterpolator()(before, after, 3, masks_before=masks_before, masks_after=masks_before, plate=backdrop())
    assert calls == []


def test_background_motion_is_fitted_to_the_flow_of_the_background():
    """A camera pan (6, -3) px between the ends is recovered from the window's own flow; a still camera is still."""
    from tango.interp.flow import FlowInterpolator as Flow

    engine = LayeredInterpolator()
    first, mask = scene(60)
    pan = np.float32([[1, 0, 6], [0, 1, -3]])
    last = cv2.warpAffine(first, pan, (SIZE[1], SIZE[0]), borderMode=cv2.BORDER_REFLECT)
    moved = cv2.warpAffine(mask, pan, (SIZE[1], SIZE[0]))
    for end, end_mask, shift in ((last, moved, (6.0, -3.0)), (first, mask, (0.0, 0.0))):
        field = Flow()._flow_field(first, end, None, None)
        layers = engine._layers(first, end, mask, end_mask, backdrop(), field)
        first_to_last, _, static = layers.path()
        np.testing.assert_allclose(first_to_last[:2, 2], shift, atol=0.5)
        np.testing.assert_allclose(first_to_last[:2, :2], np.eye(2), atol=0.01)
        assert static == (shift == (0.0, 0.0))
