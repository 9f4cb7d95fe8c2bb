"""Hand clarity (CyberHost): standard deviation of the Laplacian of the grey hand crop; high = sharp."""
from __future__ import annotations

import cv2
import numpy as np

MIN_CROP_PIXELS = 3  # a crop thinner than this has no meaningful Laplacian


def laplacian_std(grey: np.ndarray) -> float:
    """Std of the 3x3 Laplacian of a (h, w) uint8 grey image (float32 arithmetic, reflected border)."""
    laplacian = cv2.Laplacian(grey, cv2.CV_32F, ksize=1)  # (h, w) float32
    _, std = cv2.meanStdDev(laplacian)
    return float(std[0, 0])


def boxes_to_pixels(boxes: np.ndarray, width: int, height: int) -> np.ndarray:
    """(K, 4) normalised [x0, y0, x1, y1] -> (K, 4) int pixel bounds, clipped to the image (NaN rows -> 0)."""
    scale = np.array([width, height, width, height], np.float64)
    pixels = np.nan_to_num(np.asarray(boxes, np.float64) * scale, nan=0.0)  # (K, 4)
    pixels[:, :2] = np.floor(pixels[:, :2])
    pixels[:, 2:] = np.ceil(pixels[:, 2:])
    limits = np.array([width, height, width, height])
    return np.clip(pixels, 0, limits).astype(np.int64)


def hand_clarity(rgb: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """(K,) float32 clarity of each normalised hand box (K, 4) in a full-resolution (H, W, 3) uint8 frame.

    NaN for absent boxes (NaN coordinates) and crops smaller than 3 px on a side.
    """
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    scores = np.full(boxes.shape[0], np.nan, np.float32)  # (K,)
    present = ~np.isnan(boxes).any(axis=1)
    pixels = boxes_to_pixels(boxes, rgb.shape[1], rgb.shape[0])  # (K, 4)
    for slot in np.flatnonzero(present):  # K <= 2 hands
        x0, y0, x1, y1 = pixels[slot]
        if x1 - x0 < MIN_CROP_PIXELS or y1 - y0 < MIN_CROP_PIXELS:
            continue
        grey = cv2.cvtColor(rgb[y0:y1, x0:x1], cv2.COLOR_RGB2GRAY)  # (h, w) uint8
        scores[slot] = laplacian_std(grey)
    return scores
