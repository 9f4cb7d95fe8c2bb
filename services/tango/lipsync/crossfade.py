"""Crossfading the mouth at a jump between runs of reference frames, so that it does not pop.

The mouth search strings together short runs of consecutive reference frames. Where a new run starts
(output frame n shows r_n != next(r_{n-1}), and it is not a hold), the mouth switches in one frame from one
moment of the footage to another: an open mouth may close at once while the speech keeps it open. Over
the first `frames` frames of the new run, the mouth the previous run would have shown next (its
continuation, next^(k+1)(r_{n-1}) at the run's k-th frame) is composited as well, and the two composited
patches are blended with weight w_k = 1 - (k + 1) / (frames + 1) on the continuation (1 frame: 1/2; 2
frames: 2/3, 1/3). Only pixels that either composite changed are blended: every pixel outside both mouth
masks stays bit-identical to the frame.
"""
from __future__ import annotations

import numpy as np


def run_starts(path: np.ndarray, next_frame: np.ndarray) -> np.ndarray:
    """(N,) bool: output frame n starts a new run (neither the continuation nor a hold of frame n - 1)."""
    path = np.asarray(path, np.int64)
    start = np.zeros(len(path), bool)
    start[1:] = (path[1:] != next_frame[path[:-1]]) & (path[1:] != path[:-1])
    return start


def fade_schedule(path: np.ndarray, next_frame: np.ndarray, usable: np.ndarray,
                  frames: int) -> tuple[np.ndarray, np.ndarray]:
    """(N,) int64 continuation state blended into each output frame (-1: none) and (N,) float32 its weight.

    path (N,): the reference state of each output frame; next_frame (R,): following state (-1 at a video's
    end); usable (R,): states that may be shown."""
    path = np.asarray(path, np.int64)
    n = len(path)
    state = np.full(n, -1, np.int64)
    weight = np.zeros(n, np.float32)
    if n == 0 or frames <= 0:
        return state, weight
    index = np.arange(n)
    start = run_starts(path, next_frame)
    first = np.maximum.accumulate(np.where(start, index, 0))  # (N,) the frame that began n's run
    offset = index - first  # (N,) 0 at the jump itself
    faded = (first > 0) & (offset < frames)
    follow = np.where(faded, path[np.maximum(first - 1, 0)], -1)  # (N,) the previous run's last state
    for step in range(frames):  # advance each faded frame offset + 1 steps along its video
        moving = faded & (offset >= step) & (follow >= 0)
        follow[moving] = next_frame[follow[moving]]
    ok = faded & (follow >= 0)
    ok[ok] = usable[follow[ok]]
    state[ok] = follow[ok]
    weight[ok] = 1.0 - (offset[ok] + 1) / (frames + 1)
    return state, weight


def blend_mouths(frame: np.ndarray, primary: np.ndarray, secondary: np.ndarray, weight: float) -> np.ndarray:
    """(H, W, 3) uint8: (1 - weight) * primary + weight * secondary where either differs from `frame`;
    every other pixel is `frame`'s own."""
    changed = np.any((primary != frame) | (secondary != frame), axis=-1)  # (H, W)
    out = frame.copy()
    mixed = (1.0 - weight) * primary[changed].astype(np.float32) + weight * secondary[changed].astype(np.float32)
    out[changed] = np.clip(np.rint(mixed), 0, 255).astype(frame.dtype)
    return out
