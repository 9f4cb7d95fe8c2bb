"""Metrics of the render service (`tango_render_*`). Not to be confused with `render.metrics`, the motion
metrics of a rendered video written to its sidecar."""
from __future__ import annotations

from tango.runtime.metrics import ServiceMetrics


class RenderServiceMetrics(ServiceMetrics):
    def __init__(self) -> None:
        super().__init__("render")
        self.videos = self.counter("videos_total", "Render requests answered, by cache outcome", ("cache",))
        self.render_seconds = self.histogram("render_seconds", "Wall time of one render request", ("cache",))
        self.frames = self.counter("frames_rendered_total", "Output frames rendered (cache misses only)")
        self.fallback_windows = self.counter("fallback_windows_total",
                                             "Transition windows drawn by the fallback interpolator")
        self.live_rung_steps = self.counter("live_rung_steps_total",
                                            "Live streams that began drawing their frames a rung lower (down: they "
                                            "fell behind real time) or taller again (up)",
                                            ("direction",))
