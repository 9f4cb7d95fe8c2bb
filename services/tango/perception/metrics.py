from __future__ import annotations

from tango.runtime.metrics import ServiceMetrics


class PerceptionMetrics(ServiceMetrics):
    def __init__(self) -> None:
        super().__init__("perception")
        self.frames = self.counter("frames_analyzed_total", "Frames analysed by MediaPipe")
        self.analysis_seconds = self.histogram("analysis_seconds", "Wall time of one video analysis", ("cache",))
        self.frames_per_second = self.gauge("frames_per_second", "Throughput of the last analysis")
