"""`tango live bench` counts stalls as a player sees them: it starts playing a buffer after the first segment
arrives, and a segment that arrives after its playback time stalls it, pushing its clock back by the lateness."""
from __future__ import annotations

from tango.cli.live_client import LiveRun
from tango.type.v1 import types_pb2


def _run(arrivals: list[float], length_s: float = 0.5) -> LiveRun:
    run = LiveRun()
    for k, arrived in enumerate(arrivals):
        run.segments.append(types_pb2.MediaSegment(index=k, start_s=k * length_s, duration_s=length_s))
        run.received_at.append(arrived)
    return run


def test_a_late_segment_stalls_once_and_pushes_the_clock_back():
    # playback starts at 10 + 1 s (two segments held); segment 3 is due at 12.5 and comes at 12.8
    run = _run([10.0, 10.4, 11.2, 12.8, 13.2, 13.7])
    assert run.stalled() == [(1.5, 0.3)]  # then segment 4 is due at 13.3 and segment 5 at 13.8: on time
    assert run.stalled(buffer_s=0.5) == [(1.5, 0.8)]  # a player holding half a second waits longer there
    assert run.stalls() == 1


def test_segments_on_time_never_stall():
    assert _run([10.0 + 0.5 * k for k in range(20)]).stalled() == []
