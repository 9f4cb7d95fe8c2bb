"""Real output frames, fetched from the frame source in bounded sorted runs and brought to output size.

The frame source is `(video_index, frame_indices: list[int]) -> dict[int, rgb (H, W, 3) uint8]`. Real
output frames are grouped into fetches of consecutive output frames of one video whose source indices
ascend with gaps of at most `max_fetch_gap` (a reader seeks once and decodes forward), at most
`fetch_chunk_frames` per fetch, so memory holds one fetch plus the interpolator's look-ahead — never a
whole video.
"""
from __future__ import annotations

import time
from collections import deque
from typing import Callable, Iterator

import cv2
import numpy as np

from tango.render.schedule import FrameSchedule
from tango.runtime.errors import CorruptMedia

FrameSource = Callable[[int, list[int]], dict[int, np.ndarray]]


def capped_size(height: int, width: int, max_height: int) -> tuple[int, int]:
    """(H, W) after downscaling to at most max_height rows, aspect kept (0 = no cap)."""
    if max_height <= 0 or height <= max_height:
        return height, width
    return max_height, max(2, int(round(width * max_height / height)))


def fetch_runs(schedule: FrameSchedule, chunk_frames: int, max_gap: int) -> list[np.ndarray]:
    """Output positions of the real frames, split into fetches (each an ascending (n,) int64 array)."""
    positions = np.flatnonzero(~schedule.generated)  # (R,)
    if positions.size == 0:
        return []
    video = schedule.video[positions]
    source = schedule.source[positions]
    step = np.diff(source)
    breaks = (np.diff(video) != 0) | (step < 0) | (step > max_gap)  # (R-1,)
    run_id = np.concatenate([[0], np.cumsum(breaks)])  # (R,)
    run_first = np.flatnonzero(np.concatenate([[True], breaks]))  # (runs,)
    rank = np.arange(positions.size) - run_first[run_id]
    chunk_key = run_id * (positions.size + 1) + rank // chunk_frames
    cuts = np.flatnonzero(np.diff(chunk_key)) + 1
    return np.split(positions, cuts)


class RealFrameStream:
    """Iterates (output index, rgb (H, W, 3) uint8) over the real frames of a schedule, in output order."""

    def __init__(self, schedule: FrameSchedule, frame_source: FrameSource, max_height: int,
                 chunk_frames: int, max_gap: int):
        self._schedule = schedule
        self._source = frame_source
        self._max_height = max_height
        self._runs: Iterator[np.ndarray] = iter(fetch_runs(schedule, chunk_frames, max_gap))
        self._buffer: deque[tuple[int, np.ndarray]] = deque()
        self.size: tuple[int, int] | None = None  # (H, W) output size, fixed by the first frame
        self.fetch_s = 0.0
        self.resize_s = 0.0
        self.frames_fetched = 0

    def frame_size(self) -> tuple[int, int]:
        """Output (H, W); fetches the first run if nothing was fetched yet."""
        if self.size is None:
            self._fill()
        if self.size is None:
            raise CorruptMedia("the render plan has no real frame to fetch")
        return self.size

    def next(self) -> tuple[int, np.ndarray]:
        if not self._buffer and not self._fill():
            raise CorruptMedia("frame source exhausted before the end of the render plan")
        return self._buffer.popleft()

    def peek(self, count: int) -> list[tuple[int, np.ndarray]]:
        """The next `count` items without consuming them (fewer at the end of the stream)."""
        while len(self._buffer) < count and self._fill():
            pass
        return [self._buffer[i] for i in range(min(count, len(self._buffer)))]

    def _fill(self) -> bool:
        positions = next(self._runs, None)
        if positions is None:
            return False
        video = int(self._schedule.video[positions[0]])
        wanted = self._schedule.source[positions]  # (n,)
        unique = np.unique(wanted).tolist()
        started = time.perf_counter()
        frames = self._source(video, unique)
        self.fetch_s += time.perf_counter() - started
        missing = [i for i in unique if i not in frames]
        if missing:
            raise CorruptMedia(
                f"video {video}: frame source returned no frame {missing[:5]}",
                metadata={"video": video, "missing": len(missing)},
            )
        started = time.perf_counter()
        resized = {i: self._to_output_size(frames[i], video, i) for i in unique}
        self.resize_s += time.perf_counter() - started
        self.frames_fetched += len(unique)
        self._buffer.extend((int(p), resized[int(s)]) for p, s in zip(positions, wanted))
        return True

    def _to_output_size(self, rgb: np.ndarray, video: int, index: int) -> np.ndarray:
        if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
            raise CorruptMedia(f"video {video} frame {index}: {rgb.shape} {rgb.dtype} is not (H, W, 3) uint8")
        if self.size is None:
            self.size = capped_size(rgb.shape[0], rgb.shape[1], self._max_height)
        height, width = self.size
        if rgb.shape[:2] == (height, width):
            return rgb
        return cv2.resize(rgb, (width, height), interpolation=cv2.INTER_AREA)
