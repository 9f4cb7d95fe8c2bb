"""Segments and ranges: every analysis restarts MediaPipe's trackers at fixed frame boundaries, so ranges
aligned to those boundaries can be analysed apart (on several replicas) and merged into exactly the
artifact of one whole run.

Why restart: pose (landmark smoothing, a region of interest taken from the previous frame), hands and face
mesh track from frame to frame, so a frame's landmarks depend on every frame before it. A warm-up does not
make a range independent of its cut: on the 22 s reference, frames 60-119 analysed after a 30-frame warm-up
still differed from the continuous run on every frame (pose_image by up to 0.15, head pose by up to 1 degree).
Restarting the trackers every `segment_frames` in every run makes each segment depend on its own frames only
(body masks and hand clarity have no state; fresh graphs on the same frames give bit-identical outputs).
"""
from __future__ import annotations

import dataclasses
import math

from tango.runtime.errors import InvalidArgument


@dataclasses.dataclass(frozen=True)
class Span:
    """Frames [start, end) of an analysis whose whole budget is `budget` frames, cut every `segment` frames."""

    start: int
    end: int
    budget: int
    segment: int

    @property
    def frames(self) -> int:
        return self.end - self.start

    @property
    def whole(self) -> bool:
        return self.start == 0 and self.end == self.budget


def segment_frames(segment_s: float, fps: float, budget: int) -> int:
    """Frames per tracker segment: `segment_s` seconds at `fps` (0 s = one segment for the whole video)."""
    if segment_s < 0:
        raise InvalidArgument(f"segment_s must be >= 0, got {segment_s}")
    return max(1, int(round(segment_s * fps))) if segment_s > 0 else max(budget, 1)


def plan_ranges(budget: int, segment: int, max_ranges: int, min_range_frames: int) -> list[tuple[int, int]]:
    """Contiguous [start, end) ranges covering [0, budget): at most `max_ranges`, none shorter than
    `min_range_frames` (about), each starting on a segment boundary, as even as the boundaries allow."""
    segments = math.ceil(budget / segment)
    count = max(1, min(max_ranges, segments, budget // max(min_range_frames, 1)))
    inner = {round(i * budget / count / segment) * segment for i in range(1, count)}
    bounds = [0] + sorted(b for b in inner if 0 < b < budget) + [budget]
    return list(zip(bounds[:-1], bounds[1:]))


def check_range(start: int, end: int, budget: int, segment: int) -> Span:
    """The span of a requested range; InvalidArgument unless it lies in [0, budget) on segment boundaries."""
    if end == 0 and start == 0:
        return Span(0, budget, budget, segment)
    aligned = start % segment == 0 and (end % segment == 0 or end == budget)
    if not (0 <= start < end <= budget and aligned):
        raise InvalidArgument(
            f"frame range [{start}, {end}) must lie in [0, {budget}] on multiples of {segment} frames "
            "(take the ranges of PlanAnalysis)",
            reason="FRAME_RANGE_INVALID", metadata={"budget": budget, "segment_frames": segment},
        )
    return Span(start, end, budget, segment)
