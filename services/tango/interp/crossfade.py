"""Linear crossfade between the last frame before a jump and the first frame after it (the baseline)."""
from __future__ import annotations

import numpy as np


def crossfade(before: np.ndarray, after: np.ndarray, num_frames: int) -> np.ndarray:
    """(k,H,W,3) uint8, (k,H,W,3) uint8, n -> (n,H,W,3) uint8 at tau = i/(n+1), i = 1..n."""
    first = before[-1].astype(np.float32)  # (H, W, 3)
    last = after[0].astype(np.float32)
    taus = (np.arange(1, num_frames + 1, dtype=np.float32) / (num_frames + 1))[:, None, None, None]  # (n,1,1,1)
    frames = (1.0 - taus) * first[None] + taus * last[None]  # (n, H, W, 3)
    return np.clip(frames + 0.5, 0, 255).astype(np.uint8)
