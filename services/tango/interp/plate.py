"""A clean background plate of a speaker's footage: what the scene looks like without the person.

Given T reference frames and their person masks (source resolution, soft or binary):
1. each mask is dilated by `dilate_frac` of the long side (the low-resolution masks miss hair and
   fingers) and thresholded: a pixel is *seen* in frame t when it is not covered;
2. the plate pixel is the per-channel temporal median over the frames in which it is seen (the lower
   median when the count is even); `seen` counts them;
3. pixels seen too rarely (nearly always behind the person) are holes, filled by Telea inpainting (cv2.inpaint) at
   a reduced size (`inpaint_max_side`) and upsampled into the holes only.
The camera is assumed (nearly) static over the sampled frames; a transition registers the plate to its
own ends by homography (`tango.interp.layered`).
"""
from __future__ import annotations

import dataclasses

import cv2
import numpy as np

from tango.interp.masks import dilate

_UNSEEN = np.int16(1000)  # sorts after every uint8 value


@dataclasses.dataclass(frozen=True)
class PlateConfig:
    dilate_frac: float = 0.02  # mask dilation, fraction of the long side
    threshold: float = 0.3  # dilated soft mask above this = person
    min_seen_frac: float = 0.1  # seen in fewer than this fraction of the frames (at least 2) -> hole (inpainted):
    # rarely seen pixels sit at the dilated mask's rim and keep dark hair / clothes the 96 px mask missed
    inpaint_max_side: int = 320  # holes are inpainted at this long side
    inpaint_radius: int = 5
    rows_per_chunk: int = 64  # bounds the memory of the median


@dataclasses.dataclass(frozen=True)
class Plate:
    image: np.ndarray  # (H, W, 3) uint8 background with holes filled
    seen: np.ndarray  # (H, W) int32 frames in which each pixel was background

    @property
    def hole(self) -> np.ndarray:
        """(H, W) bool pixels that were never seen (inpainted)."""
        return self.seen == 0


def background_visibility(masks: np.ndarray, config: PlateConfig = PlateConfig()) -> np.ndarray:
    """(T, H, W) float32 person masks -> (T, H, W) bool: pixel shows background (mask dilated, thresholded)."""
    radius = int(round(config.dilate_frac * max(masks.shape[1:3])))
    return np.stack([dilate(m.astype(np.float32), radius) <= config.threshold for m in masks])


def masked_median(frames: np.ndarray, visible: np.ndarray, rows_per_chunk: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """(T, H, W, 3) uint8, (T, H, W) bool -> (median (H, W, 3) uint8 over visible samples, count (H, W) int32).

    Pixels with no visible sample get 0 and count 0.
    """
    _, height, width, _ = frames.shape
    median = np.zeros((height, width, 3), np.uint8)
    count = visible.sum(axis=0).astype(np.int32)  # (H, W)
    for top in range(0, height, rows_per_chunk):
        rows = slice(top, min(height, top + rows_per_chunk))
        values = frames[:, rows].astype(np.int16)  # (T, h, W, 3)
        values[~visible[:, rows]] = _UNSEEN
        values.sort(axis=0)
        middle = np.maximum(count[rows] - 1, 0) // 2  # (h, W) lower median's rank among the visible
        picked = np.take_along_axis(values, middle[None, :, :, None].repeat(3, axis=3), axis=0)[0]  # (h, W, 3)
        median[rows] = np.where(count[rows, :, None] > 0, picked, 0).astype(np.uint8)
    return median, count


def fill_holes(image: np.ndarray, hole: np.ndarray, max_side: int = 320, radius: int = 5) -> np.ndarray:
    """(H, W, 3) uint8 with (H, W) bool holes -> holes filled by Telea inpainting at <= max_side px."""
    if not hole.any():
        return image
    height, width = hole.shape
    scale = min(1.0, max_side / max(height, width))
    size = (max(8, round(width * scale)), max(8, round(height * scale)))
    small = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    small_hole = (cv2.resize(hole.astype(np.uint8), size, interpolation=cv2.INTER_LINEAR) > 0).astype(np.uint8)
    if small_hole.all():
        return image
    painted = cv2.inpaint(small, small_hole, radius, cv2.INPAINT_TELEA)  # (h, w, 3)
    painted = cv2.resize(painted, (width, height), interpolation=cv2.INTER_LINEAR)
    return np.where(hole[..., None], painted, image)


def build_plate(frames: np.ndarray, masks: np.ndarray, config: PlateConfig = PlateConfig()) -> Plate:
    """(T, H, W, 3) uint8 frames, (T, H, W) float32 person masks -> the background Plate."""
    visible = background_visibility(masks, config)  # (T, H, W)
    median, count = masked_median(frames, visible, config.rows_per_chunk)
    min_seen = max(2, int(np.ceil(config.min_seen_frac * len(frames))))
    count = np.where(count >= min(min_seen, len(frames)), count, 0).astype(np.int32)
    image = fill_holes(median, count == 0, config.inpaint_max_side, config.inpaint_radius)
    return Plate(image=image, seen=count)


def plate_samples(person_present: np.ndarray, count: int, excluded: set[int] = frozenset()) -> np.ndarray:
    """(T,) int64 frames with a person, spread evenly over the video, none of them in `excluded`."""
    present = np.flatnonzero(person_present)
    allowed = np.array([i for i in present if int(i) not in excluded], np.int64)
    if allowed.size == 0:
        return allowed
    picks = np.linspace(0, allowed.size - 1, min(count, allowed.size)).round().astype(np.int64)
    return np.unique(allowed[picks])


def plate_from_low_masks(frames: np.ndarray, low_masks: np.ndarray, config: PlateConfig = PlateConfig()) -> Plate:
    """(T, H, W, 3) uint8 frames and their (T, Hm, Wm) low-resolution person masks (perception's), upsampled
    bilinearly -> the background Plate."""
    height, width = frames.shape[1:3]
    masks = np.stack([cv2.resize(np.asarray(m, np.float32), (width, height), interpolation=cv2.INTER_LINEAR)
                      for m in low_masks])  # (T, H, W)
    return build_plate(frames, masks, config)
