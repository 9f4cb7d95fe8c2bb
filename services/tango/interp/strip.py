"""A PNG contact strip of transition windows at source scale: one row per (window, model), tiles
before | generated frames | after, each row labelled on a band above it."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import cv2
import numpy as np

LABEL_BAND_PX = 28
GAP_PX = 4


@dataclasses.dataclass(frozen=True)
class StripRow:
    label: str
    tiles: np.ndarray  # (m, h, w, 3) uint8 RGB: before, generated..., after


def crop_box(heat: np.ndarray, size: int) -> tuple[int, int, int, int]:
    """[x0, y0, x1, y1] of a size x size box (clipped to the frame) centred on the peak of a blurred heat map."""
    height, width = heat.shape
    side_w, side_h = min(size, width), min(size, height)
    smooth = cv2.GaussianBlur(heat.astype(np.float32), (0, 0), max(2.0, size / 8))
    if not np.any(smooth > 0):
        cy, cx = height // 2, width // 2
    else:
        cy, cx = np.unravel_index(int(np.argmax(smooth)), smooth.shape)
    x0 = int(np.clip(cx - side_w // 2, 0, width - side_w))
    y0 = int(np.clip(cy - side_h // 2, 0, height - side_h))
    return x0, y0, x0 + side_w, y0 + side_h


def write_strip(path: Path, rows: list[StripRow]) -> Path:
    """Writes the rows (tiles of one row share a size) as one PNG; an empty list writes a 1x1 black image."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not rows:
        cv2.imwrite(str(path), np.zeros((1, 1, 3), np.uint8))
        return path
    width = max(r.tiles.shape[0] * (r.tiles.shape[2] + GAP_PX) for r in rows)
    bands = []
    for row in rows:
        count, height, tile_w = row.tiles.shape[:3]
        band = np.full((LABEL_BAND_PX + height + GAP_PX, width, 3), 255, np.uint8)
        for i, tile in enumerate(row.tiles):
            x = i * (tile_w + GAP_PX)
            band[LABEL_BAND_PX:LABEL_BAND_PX + height, x:x + tile_w] = tile
        cv2.putText(band, row.label, (6, LABEL_BAND_PX - 8), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (0, 0, 0), 2, cv2.LINE_AA)
        bands.append(band)
    image = np.concatenate(bands, axis=0)  # (total, width, 3) RGB
    if not cv2.imwrite(str(path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_PNG_COMPRESSION, 6]):
        raise OSError(f"could not write {path}")
    return path
