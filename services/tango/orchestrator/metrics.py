from __future__ import annotations

from tango.runtime.metrics import ServiceMetrics


class OrchestratorMetrics(ServiceMetrics):
    def __init__(self) -> None:
        super().__init__("orchestrator")
        self.jobs = self.counter("jobs_total", "Jobs ended, by kind and final state", ("kind", "state"))
        self.stage_seconds = self.histogram("stage_seconds", "Wall time of one job stage", ("stage",))
        self.stage_retries = self.counter("stage_retries_total", "Retried stage attempts", ("stage",))
        self.lease_takeovers = self.counter("lease_takeovers_total",
                                            "Jobs this replica took over from a replica that died or stopped")
        self.jobs_in_state = self.gauge("store_jobs", "Jobs in the shared store by state", ("state",))
        self.queue_depth = self.gauge("queue_depth", "Jobs in the shared store waiting for a replica (PENDING)")
        self.live_streams = self.gauge("live_streams", "Live streams this replica conducts now")
