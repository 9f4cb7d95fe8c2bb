"""Measure a transition method on real gaps: cut gap_len real frames out of a video at many positions,
regenerate them from the k frames on each side, and compare with the frames that were cut."""
from __future__ import annotations

import functools
import time
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from tango.interp.metrics import l1, psnr, ssim
from tango.interp.transition import TransitionInterpolator
from tango.media.video import iter_frames, probe_video
from tango.runtime.errors import InvalidArgument

# (before (k, H, W, 3) uint8, after (k, H, W, 3) uint8, n) -> (n, H, W, 3) uint8
Interpolate = Callable[[np.ndarray, np.ndarray, int], np.ndarray]


def gap_starts(frame_count: int, gaps: int, gap_len: int, k: int, seed: int) -> np.ndarray:
    """(gaps,) int64 first removed frame of each gap; windows [start-k, start+gap_len+k) never overlap.

    The video is cut into `gaps` equal segments and each window is placed at a random offset in its own.
    """
    window = gap_len + 2 * k
    segment = frame_count // gaps
    if gaps < 1 or segment < window:
        raise InvalidArgument(f"{frame_count} frames cannot hold {gaps} gaps of {gap_len} frames with k={k}",
                              reason="VIDEO_TOO_SHORT")
    rng = np.random.default_rng(seed)
    offsets = rng.integers(0, segment - window + 1, size=gaps)  # (gaps,)
    return np.arange(gaps, dtype=np.int64) * segment + offsets + k


def load_windows(video_path: Path, starts: np.ndarray, gap_len: int, k: int, max_side: int | None) -> dict[int, np.ndarray]:
    """{frame index: (H, W, 3) uint8} of every frame inside a gap window, downscaled to max_side."""
    wanted = np.unique(np.concatenate([np.arange(s - k, s + gap_len + k) for s in starts]))
    keep = frozenset(int(i) for i in wanted)
    frames: dict[int, np.ndarray] = {}
    for frame in iter_frames(video_path, max_frames=int(wanted[-1]) + 1):
        if frame.index in keep:
            frames[frame.index] = _downscale(frame.rgb, max_side)
    return frames


def _downscale(rgb: np.ndarray, max_side: int | None) -> np.ndarray:
    height, width = rgb.shape[:2]
    if max_side is None or max(height, width) <= max_side:
        return rgb
    scale = max_side / max(height, width)
    size = (round(width * scale) // 2 * 2, round(height * scale) // 2 * 2)
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)


def evaluate_interpolation(
    video_path: Path | str, method: str = "flow", gaps: int = 30, gap_len: int = 8, k: int = 2, seed: int = 0,
    max_side: int | None = 640, interpolate: Interpolate | None = None,
) -> dict:
    """Mean psnr (dB), ssim, l1 (0..1) over all regenerated frames and seconds per generated frame.

    `interpolate(before, after, n)` draws the frames; default: the weight-free `method` ("flow" / "crossfade").
    """
    video_path = Path(video_path)
    info = probe_video(video_path)
    starts = gap_starts(info.frame_count, gaps, gap_len, k, seed)
    frames = load_windows(video_path, starts, gap_len, k, max_side)
    if interpolate is None:
        interpolate = functools.partial(TransitionInterpolator().interpolate, method=method)
    scores = {"psnr": [], "ssim": [], "l1": []}
    seconds = 0.0
    for start in starts:
        before = np.stack([frames[i] for i in range(start - k, start)])  # (k, H, W, 3)
        after = np.stack([frames[i] for i in range(start + gap_len, start + gap_len + k)])  # (k, H, W, 3)
        began = time.perf_counter()
        generated = interpolate(before, after, gap_len)  # (gap_len, H, W, 3)
        seconds += time.perf_counter() - began
        for offset, image in enumerate(generated):
            real = frames[int(start) + offset]
            scores["psnr"].append(psnr(real, image))
            scores["ssim"].append(ssim(real, image))
            scores["l1"].append(l1(real, image))
    height, width = frames[int(starts[0])].shape[:2]
    generated_count = len(starts) * gap_len
    return {
        "method": method, "video": video_path.name, "gaps": int(len(starts)), "gap_len": gap_len, "k": k,
        "width": int(width), "height": int(height), "frames_generated": generated_count,
        **{name: float(np.mean(values)) for name, values in scores.items()},
        "seconds_per_frame": seconds / generated_count,
    }
