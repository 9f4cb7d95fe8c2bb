"""Helpers shared by the ACInterp tests: synthetic frames and a Triton launch off the local mesh's ports."""
from __future__ import annotations

import cv2
import numpy as np

MESH_PORTS = range(50050, 50201)  # the local mesh's range: never bind there


def texture(height: int, width: int, seed: int = 0) -> np.ndarray:
    """(height, width, 3) uint8 smooth colour noise with detail at several scales (SIFT finds corners)."""
    rng = np.random.default_rng(seed)
    image = np.zeros((height, width, 3), np.float32)
    for cell in (4, 8, 16):
        coarse = rng.random((height // cell + 2, width // cell + 2, 3)).astype(np.float32)
        large = cv2.resize(coarse, (width + 2 * cell, height + 2 * cell), interpolation=cv2.INTER_CUBIC)
        image += large[:height, :width]
    image -= image.min()
    return (255 * image / image.max()).astype(np.uint8)


def moving_scene(count: int, height: int = 48, width: int = 64, start: int = 0, seed: int = 0) -> np.ndarray:
    """(count, height, width, 3) uint8: a textured background panning 1 px per frame and a red square
    ("person") moving 2 px per frame; `start` offsets the time so two calls give before/after a gap."""
    background = texture(height, width + count + start + 2, seed)
    frames = []
    for t in range(start, start + count):
        frame = np.ascontiguousarray(background[:, t:t + width])
        left = 8 + 2 * t % max(1, width - 24)
        frame[height // 3:height // 3 + 14, left:left + 14] = (220, 30, 30)
        frames.append(frame)
    return np.stack(frames)


def free_port_outside_mesh() -> int:
    from tango.triton.launcher import pick_free_port

    while True:
        port = pick_free_port()
        if port not in MESH_PORTS:
            return port
