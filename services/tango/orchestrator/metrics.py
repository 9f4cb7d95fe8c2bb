from __future__ import annotations

from tango.runtime.metrics import ServiceMetrics


class OrchestratorMetrics(ServiceMetrics):
    def __init__(self) -> None:
        super().__init__("orchestrator")
        self.jobs = self.counter("jobs_total", "Jobs ended, by kind and final state", ("kind", "state"))
        self.stage_seconds = self.histogram("stage_seconds", "Wall time of one job stage", ("stage",))
        self.stage_retries = self.counter("stage_retries_total", "Retried stage attempts", ("stage",))
        self.jobs_resumed = self.counter("jobs_resumed_total", "Unfinished jobs resumed after a restart")
