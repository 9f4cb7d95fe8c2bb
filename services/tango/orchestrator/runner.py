"""Runs jobs on a bounded worker pool; resumes unfinished jobs after a restart; cancels on request."""
from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

from google.protobuf.message import Message

from tango.orchestrator.job_context import JobContext
from tango.orchestrator.jobs import Job, JobState, JobStore
from tango.orchestrator.metrics import OrchestratorMetrics
from tango.runtime.errors import Cancelled, TangoError

log = logging.getLogger(__name__)


class Pipeline(Protocol):
    kind: str
    stage_weights: dict[str, float]

    def target_of(self, request: Message) -> str: ...

    def parse(self, payload: bytes) -> Message: ...

    def run(self, request: Message, context: JobContext) -> Message: ...


class JobRunner:
    def __init__(self, store: JobStore, pipelines: dict[str, Pipeline], workers: int, max_unfinished: int,
                 metrics: OrchestratorMetrics):
        self.store = store
        self.metrics = metrics
        self.pipelines = pipelines
        self.max_unfinished = max_unfinished
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="job")
        self._cancel_events: dict[str, threading.Event] = {}
        self._lock = threading.Lock()
        self._shutting_down = False

    def submit(self, kind: str, request_id: str, request: Message) -> Job:
        pipeline = self.pipelines[kind]
        job, created = self.store.create(kind, request_id, request.SerializeToString(deterministic=True), self.max_unfinished)
        if created:
            job = self.store.update(job.id, target=pipeline.target_of(request))
            self._schedule(job)
        return job

    def resume_unfinished(self) -> list[str]:
        """After a restart: every PENDING/RUNNING job runs again from its first stage. Stages are
        content-addressed, so the work finished before the restart is found in the store, not redone."""
        resumed = []
        for job in self.store.unfinished():
            job = self.store.update(job.id, state=JobState.PENDING, resumes=job.resumes + 1)
            self._schedule(job)
            self.metrics.jobs_resumed.inc()
            resumed.append(job.id)
        return resumed

    def cancel(self, job_id: str) -> Job:
        job = self.store.get(job_id)
        if job.state.done:
            return job
        self.store.update(job_id, cancel_requested=1)
        with self._lock:
            event = self._cancel_events.get(job_id)
        if event is not None:
            event.set()
        return self.store.get(job_id)

    def shutdown(self, wait: bool = False) -> None:
        """Stops taking jobs; running ones are interrupted and stay RUNNING in the database, so the next
        start resumes them."""
        with self._lock:
            events = list(self._cancel_events.values())
        self._shutting_down = True
        for event in events:
            event.set()
        self._pool.shutdown(wait=wait, cancel_futures=True)

    def _schedule(self, job: Job) -> None:
        event = threading.Event()
        if job.cancel_requested:
            event.set()
        with self._lock:
            self._cancel_events[job.id] = event
        self._pool.submit(self._run, job.id, event)

    def _run(self, job_id: str, cancel: threading.Event) -> None:
        job = self.store.get(job_id)
        pipeline = self.pipelines[job.kind]
        context = JobContext(self.store, job_id, pipeline.stage_weights, cancel, self.metrics)
        try:
            if job.cancel_requested:
                raise Cancelled("cancelled before it started", reason="JOB_CANCELLED")
            self.store.update(job_id, state=JobState.RUNNING)
            result = pipeline.run(pipeline.parse(job.request), context)
            self.store.update(job_id, state=JobState.SUCCEEDED, stage="done", progress=1.0,
                              result=result.SerializeToString())
            self.metrics.jobs.labels(job.kind, JobState.SUCCEEDED.value).inc()
        except Cancelled as error:
            if self._shutting_down and not self.store.get(job_id).cancel_requested:
                log.info("job interrupted by shutdown; it resumes on the next start", extra={"job": job_id})
                return
            self._fail(job_id, error, JobState.CANCELLED)
        except TangoError as error:
            self._fail(job_id, error, JobState.FAILED)
        except Exception as error:  # noqa: BLE001 - a job never takes the worker down
            log.exception("job crashed", extra={"job": job_id})
            self._fail(job_id, TangoError(f"internal error: {type(error).__name__}"), JobState.FAILED)
        finally:
            with self._lock:
                self._cancel_events.pop(job_id, None)

    def _fail(self, job_id: str, error: TangoError, state: JobState) -> None:
        log.info("job ended", extra={"job": job_id, "state": state.value, "reason": error.reason})
        self.metrics.jobs.labels(self.store.get(job_id).kind, state.value).inc()
        self.store.update(job_id, state=state, error_code=error.code, error_reason=error.reason,
                          error_message=error.message)

