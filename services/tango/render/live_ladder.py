"""The live resolution ladder: a new stream gets the tallest height this replica can still render in real time,
and each stream draws its frames a rung lower while it cannot keep up.

Load is measured, not assumed. A live session's load is the render work of its segments (frames,
transitions, encoding, outputs: their `timings_s`) per second of media they cover, over its recent segments.
The cost of a new stream at a rung is predicted from the work per megapixel measured on this replica (a
running mean over every segment it rendered; `initial_cost` before the first). The tallest rung whose
prediction, added to the load of the streams already live, fits within `budget` is chosen; the lowest rung
when none does. Measured on 2 cores (`tango live bench`, the 22 s speaker, one stream): a load of 0.46 at 360
rows with lip sync (its lips warped to the speech; 0.32 before the warp, 0.20 / 0.30 / 0.52 at 360 / 480 / 720
without lip sync); with the budget of 0.55 a stream gets 360 rows there, a second stream in the same process the
lowest rung (two streams of one Python process contend for its interpreter lock: a second stream is better
served by a second render replica).

Mid-stream, the picture keeps the size it opened with (a broadcast output's raster does not change under its
player), but the frames of a segment may be drawn on a lower rung, down to `floor` rows, and scaled up to it
(`LiveLoad.next_height`): one rung lower as soon as the stream falls behind real time (a further segment was
ready before this one was drawn), one rung taller again after `CALM_SEGMENTS` on time (5 s); a stream that falls
behind right after climbing waits twice as long before it climbs again (up to `MAX_CALM_SEGMENTS`). Lateness
decides, not a prediction: much of a segment's work does not shrink with its pixels (lip sync's planning, a
Triton call, encoding the picture), so a load model per megapixel sent two streams that kept real time at 360
and 240 rows down to 180 and never back (`tango live bench`, 2 streams, 5 minutes: 99.5 % of the media).
"""
from __future__ import annotations

import threading
from collections import deque
from typing import Callable

RECENT_SEGMENTS = 20
# render seconds per megapixel-second before a replica has measured its own: 2 cores, lip sync on, 360 rows
INITIAL_COST = 1.8
RENDER_FLOOR = 180  # the lowest rung a stream's frames are drawn at mid-stream
CALM_SEGMENTS = 10  # segments on time in a row before a stream draws a rung taller again (5 s of 0.5-s segments)
MAX_CALM_SEGMENTS = 80  # the longest wait after repeated bounces (40 s)
DOWN_EVERY = 3  # segments between two steps down (the backlog of the first needs them to drain)


class LiveLoad:
    """One live session's load (render seconds per media second, reported segment by segment) and the rung its
    frames are drawn at (`next_height`)."""

    def __init__(self, ladder: "HeightLadder", height: int, source_height: int, source_width: int):
        self.ladder = ladder
        self.rungs = ladder.render_rungs(height)  # the picture's own height first, then the lower ones
        self.rung = 0
        self._source = (source_height, source_width)
        self._recent: deque[tuple[float, float]] = deque(maxlen=RECENT_SEGMENTS)  # (work s, media s)
        self._calm = 0  # segments on time since the last step
        self._calm_needed = CALM_SEGMENTS
        self._climbed = False  # the last step was up
        self._since_down = DOWN_EVERY
        self.steps = {"down": 0, "up": 0}

    @property
    def height(self) -> int:
        """Rows the stream's frames are drawn at now."""
        return self.rungs[self.rung]

    @property
    def load(self) -> float:
        """Its recent render work per media second (before its first segment: the replica's prediction)."""
        work, media = (sum(v) for v in zip(*tuple(self._recent))) if self._recent else (0.0, 0.0)  # a snapshot
        return work / media if media > 0 else self.ladder.predict(_megapixels(self.height, *self._source))

    def add(self, work_s: float, media_s: float) -> None:
        self._recent.append((work_s, media_s))
        if self.rung == 0:  # what `predict` is asked: a stream drawn at its picture's height
            self.ladder.learn(work_s, media_s * _megapixels(self.height, *self._source))

    def next_height(self, behind: bool) -> int:
        """The rows to draw the next segment at; `behind`: another whole segment was ready before this one."""
        self._since_down += 1
        if behind:
            self._calm = 0
            if self.rung + 1 < len(self.rungs) and self._since_down >= DOWN_EVERY:
                if self._climbed:  # it climbed too soon: wait longer before the next climb
                    self._calm_needed = min(2 * self._calm_needed, MAX_CALM_SEGMENTS)
                self.rung, self._since_down, self._climbed = self.rung + 1, 0, False
                self._stepped("down")
            return self.height
        self._calm += 1
        if self._calm >= self._calm_needed:
            self._climbed = False  # the last climb held
            if self.rung > 0:
                self.rung, self._calm, self._climbed = self.rung - 1, 0, True
                self._stepped("up")
        return self.height

    def _stepped(self, direction: str) -> None:
        self.steps[direction] += 1
        self.ladder.on_step(direction)

    def close(self) -> None:
        self.ladder.release(self)


class HeightLadder:
    def __init__(self, rungs: tuple[int, ...], budget: float, initial_cost: float = INITIAL_COST,
                 floor: int = RENDER_FLOOR, on_step: Callable[[str], None] = lambda direction: None):
        self.rungs = tuple(sorted(rungs, reverse=True))
        self.budget = budget
        self.floor = floor
        self.on_step = on_step  # told "down" / "up" whenever a stream changes rung (the service's metrics)
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

    def render_rungs(self, height: int) -> tuple[int, ...]:
        """The heights a stream of a `height`-row picture may draw its frames at: its own, then the lower rungs and
        the floor (a floor of 0: its own only)."""
        if self.floor <= 0:
            return (height,)
        return tuple(sorted({height, *(r for r in (*self.rungs, self.floor) if r < height)}, reverse=True))

    def open(self, source_height: int, source_width: int, asked: int = 0) -> tuple[int, LiveLoad]:
        """The height of a new stream of a source of this size (`asked` when the caller chose one), and its load
        tracker (close it when the stream ends)."""
        with self._lock:
            taken = sum(live.load for live in self._live)
            rungs = [min(r, source_height) for r in self.rungs]
            height = asked or next((r for r in rungs if taken + self.predict(
                _megapixels(r, source_height, source_width)) <= self.budget), rungs[-1])
            load = LiveLoad(self, height, source_height, source_width)
            self._live.append(load)
        return height, load

    def release(self, load: LiveLoad) -> None:
        with self._lock:
            if load in self._live:
                self._live.remove(load)


def _megapixels(height: int, source_height: int, source_width: int) -> float:
    return height * round(source_width * height / source_height) / 1e6
