"""The live resolution ladder: a new stream gets the tallest height this replica can still render in real time.

Load is measured, not assumed. A live session's load is the render work of its segments (frames,
transitions, encoding, outputs: their `timings_s`) per second of media they cover, over its recent segments.
The cost of a new stream at a rung is predicted from the work per megapixel measured on this replica (a
running mean over every segment it rendered; `initial_cost` before the first). The tallest rung whose
prediction, added to the load of the streams already live, fits within `budget` is chosen; the lowest rung
when none does. Measured on 2 cores (`tango live bench`, the 22 s speaker, one stream): a load of 0.32 at 360
rows and 0.47 at 480 with lip sync (0.20 / 0.30 / 0.52 at 360 / 480 / 720 without); with the budget of 0.45 a
stream gets 360 rows there, a second stream in the same process the lowest rung (two streams of one Python
process contend for its interpreter lock: a second stream is better served by a second render replica).
"""
from __future__ import annotations

import threading
from collections import deque

RECENT_SEGMENTS = 20
# render seconds per megapixel-second before a replica has measured its own: 2 cores, lip sync on, 360 rows
INITIAL_COST = 1.8


class LiveLoad:
    """One live session's load (render seconds per media second), reported segment by segment."""

    def __init__(self, ladder: "HeightLadder", megapixels: float):
        self.ladder = ladder
        self.megapixels = megapixels
        self._recent: deque[tuple[float, float]] = deque(maxlen=RECENT_SEGMENTS)

    @property
    def load(self) -> float:
        work, media = (sum(v) for v in zip(*self._recent)) if self._recent else (0.0, 0.0)
        return work / media if media > 0 else self.ladder.predict(self.megapixels)

    def add(self, work_s: float, media_s: float) -> None:
        self._recent.append((work_s, media_s))
        self.ladder.learn(work_s, media_s * self.megapixels)

    def close(self) -> None:
        self.ladder.release(self)


class HeightLadder:
    def __init__(self, rungs: tuple[int, ...], budget: float, initial_cost: float = INITIAL_COST):
        self.rungs = tuple(sorted(rungs, reverse=True))
        self.budget = budget
        self._work = 0.0
        self._megapixel_s = 0.0
        self._initial = initial_cost
        self._live: list[LiveLoad] = []
        self._lock = threading.Lock()

    def predict(self, megapixels: float) -> float:
        """Expected load of a stream of frames of `megapixels`."""
        cost = self._work / self._megapixel_s if self._megapixel_s > 0 else self._initial
        return cost * megapixels

    def learn(self, work_s: float, megapixel_s: float) -> None:
        with self._lock:
            self._work += work_s
            self._megapixel_s += megapixel_s

    def open(self, source_height: int, source_width: int, asked: int = 0) -> tuple[int, LiveLoad]:
        """The height of a new stream of a source of this size (`asked` when the caller chose one), and its load
        tracker (close it when the stream ends)."""
        with self._lock:
            taken = sum(live.load for live in self._live)
            rungs = [min(r, source_height) for r in self.rungs]
            height = asked or next((r for r in rungs if taken + self.predict(
                _megapixels(r, source_height, source_width)) <= self.budget), rungs[-1])
            load = LiveLoad(self, _megapixels(height, source_height, source_width))
            self._live.append(load)
        return height, load

    def release(self, load: LiveLoad) -> None:
        with self._lock:
            if load in self._live:
                self._live.remove(load)


def _megapixels(height: int, source_height: int, source_width: int) -> float:
    return height * round(source_width * height / source_height) / 1e6
