"""What a running pipeline sees of its job: stages with timings, progress, and cancellation.

Every write is fenced by the replica's lease: once another replica has taken the job over, the next write
raises LeaseLost and this replica stops working on it."""
from __future__ import annotations

import json
import threading
import time
from contextlib import contextmanager
from typing import Callable, Iterator

from tango.orchestrator.jobs import JobStore
from tango.orchestrator.metrics import OrchestratorMetrics
from tango.runtime.errors import Cancelled


class JobContext:
    def __init__(self, store: JobStore, job_id: str, owner: str, stage_weights: dict[str, float],
                 cancel: threading.Event, metrics: OrchestratorMetrics, tenant: str = ""):
        self.store = store
        self.owner = owner
        self.metrics = metrics
        self.job_id = job_id
        self.tenant = tenant  # whose job this is: what it makes is that tenant's
        self.cancel = cancel
        total = sum(stage_weights.values()) or 1.0
        self._weights = {k: v / total for k, v in stage_weights.items()}
        self._done_weight = 0.0
        self._stage = ""
        self._timings: list[dict] = []
        self._last_report = 0.0

    def should_stop(self) -> bool:
        return self.cancel.is_set()

    def check_cancelled(self) -> None:
        if self.cancel.is_set():
            raise Cancelled("the operation was cancelled", reason="JOB_CANCELLED")

    @contextmanager
    def stage(self, name: str) -> Iterator[dict]:
        """Runs one stage: records its name, progress share and wall time. Yields the timing record."""
        self.check_cancelled()
        self._stage = name
        record = {"stage": name, "seconds": 0.0, "attempts": 1}
        self._timings.append(record)
        self._write(stage=name, progress=self._done_weight, stage_done=0, stage_total=0,
                          timings=json.dumps(self._timings))
        started = time.perf_counter()
        try:
            yield record
        finally:
            record["seconds"] = round(time.perf_counter() - started, 3)
            self.metrics.stage_seconds.labels(name).observe(record["seconds"])
            self._write(timings=json.dumps(self._timings))
        self._done_weight += self._weights.get(name, 0.0)
        self._write(progress=min(self._done_weight, 1.0))

    def progress(self, done: int, total: int) -> None:
        """Progress inside the current stage; written at most 4 times a second."""
        now = time.monotonic()
        if now - self._last_report < 0.25 and done != total:
            return
        self._last_report = now
        share = self._weights.get(self._stage, 0.0) * (done / total if total else 0.0)
        self._write(stage_done=done, stage_total=total, progress=min(self._done_weight + share, 1.0))

    def attempt(self, record: dict) -> Callable[[int], None]:
        """Callback for `with_retries`: records (and publishes) the attempt number of a stage."""

        def on_attempt(number: int) -> None:
            record["attempts"] = number
            if number > 1:
                self.metrics.stage_retries.labels(record["stage"]).inc()
                self._write(timings=json.dumps(self._timings))

        return on_attempt

    def _write(self, **fields) -> None:
        self.store.update(self.job_id, owner=self.owner, **fields)

    @property
    def timings(self) -> list[dict]:
        return list(self._timings)
