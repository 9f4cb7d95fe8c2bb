"""Runs the store's jobs on this replica's bounded worker pool.

A dispatcher claims jobs from the shared store while a worker is free (new ones, and those whose replica
died: their lease expired); a heartbeat renews this replica's leases and hands on cancellations asked of
any replica. Any replica may accept a request: the job lands in the store and whoever has room runs it.
"""
from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Protocol

from google.protobuf.message import Message

from tango.artifacts.hashing import tenant_scope
from tango.orchestrator.job_context import JobContext
from tango.orchestrator.jobs import Claim, Job, JobState, JobStore, LeaseLost
from tango.orchestrator.metrics import OrchestratorMetrics
from tango.runtime.errors import Cancelled, TangoError

log = logging.getLogger(__name__)


class Pipeline(Protocol):
    kind: str
    stage_weights: dict[str, float]

    def target_of(self, request: Message) -> str: ...

    def parse(self, payload: bytes) -> Message: ...

    def run(self, request: Message, context: JobContext) -> Message: ...


@dataclass(frozen=True)
class Leasing:
    lease_s: float = 30.0  # a dead replica's jobs are taken over this long after its last renewal
    poll_s: float = 1.0  # how often an idle replica looks for claimable jobs
    counts_s: float = 15.0  # how often the store's jobs per state are counted for the metrics (a scan)

    @property
    def heartbeat_s(self) -> float:
        """Renewals (and cancellations asked of other replicas) travel at this pace."""
        return min(self.lease_s / 3.0, 2.0)


def replica_identity() -> str:
    """host:pid:nonce -- unique per process; the host and pid let a restart recognise its dead predecessor."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class JobRunner:
    def __init__(self, store: JobStore, pipelines: dict[str, Pipeline], workers: int, max_unfinished: int,
                 metrics: OrchestratorMetrics, leasing: Leasing = Leasing(), owner: str = ""):
        self.store = store
        self.metrics = metrics
        self.pipelines = pipelines
        self.max_unfinished = max_unfinished
        self.leasing = leasing
        self.owner = owner or replica_identity()
        self._workers = workers
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="job")
        self._running: dict[str, threading.Event] = {}  # job id -> its stop signal
        self._futures: set[Future] = set()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._counted_at = -float("inf")

    # ---- life cycle ---------------------------------------------------------------------------
    def start(self) -> None:
        """Frees the jobs of this process's dead predecessor on this host, then claims and renews."""
        for owner in self.store.owners():
            if _dead_predecessor(owner, self.owner):
                log.info("freeing the jobs of a dead predecessor", extra={"owner": owner})
                self.store.expire(owner)
        for target, name in ((self._dispatch, "job-dispatcher"), (self._heartbeat, "job-heartbeat")):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def shutdown(self, grace_s: float = 5.0) -> None:
        """Stops claiming; running jobs are interrupted and their leases released, so another replica (or the
        next start) resumes them at once."""
        self._stopping.set()
        self._wake.set()
        with self._lock:
            events, futures = list(self._running.values()), list(self._futures)
        for event in events:
            event.set()
        self._pool.shutdown(wait=False, cancel_futures=True)
        wait(futures, timeout=grace_s)
        for thread in self._threads:
            thread.join(timeout=grace_s)
        released = self.store.release(self.owner)
        if released:
            log.info("released unfinished jobs for another replica", extra={"jobs": released})

    # ---- requests -----------------------------------------------------------------------------
    def submit(self, kind: str, request_id: str, request: Message, tenant: str = "") -> Job:
        pipeline = self.pipelines[kind]
        job, created = self.store.create(kind, request_id, request.SerializeToString(deterministic=True),
                                         self.max_unfinished, target=pipeline.target_of(request), tenant=tenant)
        if created:
            self._wake.set()
        return job

    def cancel(self, job_id: str) -> Job:
        job = self.store.get(job_id)
        if job.state.done:
            return job
        job = self.store.request_cancel(job_id)
        with self._lock:
            event = self._running.get(job_id)
        if event is not None:
            event.set()
        return job

    # ---- dispatcher and heartbeat -------------------------------------------------------------
    def _dispatch(self) -> None:
        while not self._stopping.is_set():
            try:
                while self._free_workers() > 0 and not self._stopping.is_set():
                    claim = self.store.claim(self.owner, self.leasing.lease_s, tuple(self.pipelines))
                    if claim is None:
                        break
                    self._start(claim)
                self._publish_counts()
            except Exception:  # noqa: BLE001 - a store outage must not end the dispatcher; it retries
                log.exception("claiming jobs failed; retrying")
            self._wake.wait(self.leasing.poll_s)
            self._wake.clear()

    def _heartbeat(self) -> None:
        while not self._stopping.wait(self.leasing.heartbeat_s):
            with self._lock:  # before renewing: a job claimed after the renewal is not judged by it
                running = dict(self._running)
            try:
                held = self.store.renew(self.owner, self.leasing.lease_s)
            except Exception:  # noqa: BLE001 - the lease may still hold; the next beat tries again
                log.exception("renewing leases failed")
                continue
            for job_id, event in running.items():
                if held.get(job_id, True):  # cancel asked, or the lease is gone: stop working on it
                    event.set()

    def _free_workers(self) -> int:
        with self._lock:
            return self._workers - len(self._running)

    def _start(self, claim: Claim) -> None:
        if claim.taken_over_from:
            self.metrics.lease_takeovers.inc()
            log.info("job taken over", extra={"job": claim.job.id, "from": claim.taken_over_from})
        event = threading.Event()
        if claim.job.cancel_requested:
            event.set()
        with self._lock:
            self._running[claim.job.id] = event
            future = self._pool.submit(self._run, claim.job, event)
            self._futures.add(future)
        future.add_done_callback(self._forget)

    def _forget(self, future: Future) -> None:
        with self._lock:
            self._futures.discard(future)

    def _publish_counts(self) -> None:
        if time.monotonic() - self._counted_at < self.leasing.counts_s:
            return
        self._counted_at = time.monotonic()
        counts = self.store.counts()
        for state, count in counts.items():
            self.metrics.jobs_in_state.labels(state.value).set(count)
        self.metrics.queue_depth.set(counts[JobState.PENDING])

    # ---- one job ------------------------------------------------------------------------------
    def _run(self, job: Job, cancel: threading.Event) -> None:
        pipeline = self.pipelines[job.kind]
        context = JobContext(self.store, job.id, self.owner, pipeline.stage_weights, cancel, self.metrics, job.tenant)
        try:
            if job.cancel_requested:
                raise Cancelled("cancelled before it started", reason="JOB_CANCELLED")
            with tenant_scope(job.tenant):  # what the job makes and finds is its tenant's
                result = pipeline.run(pipeline.parse(job.request), context)
            self._end(job, JobState.SUCCEEDED, stage="done", progress=1.0, result=result.SerializeToString())
        except LeaseLost:
            log.warning("lease lost; another replica has the job", extra={"job": job.id})
        except Cancelled as error:
            if self._stopping.is_set() and not self.store.get(job.id).cancel_requested:
                log.info("job interrupted by shutdown; another replica resumes it", extra={"job": job.id})
            elif not self.store.get(job.id).cancel_requested:
                log.warning("lease lost; another replica has the job", extra={"job": job.id})
            else:
                self._fail(job, error, JobState.CANCELLED)
        except TangoError as error:
            self._fail(job, error, JobState.FAILED)
        except Exception as error:  # noqa: BLE001 - a job never takes the worker down
            log.exception("job crashed", extra={"job": job.id})
            self._fail(job, TangoError(f"internal error: {type(error).__name__}"), JobState.FAILED)
        finally:
            with self._lock:
                self._running.pop(job.id, None)
            self._wake.set()

    def _fail(self, job: Job, error: TangoError, state: JobState) -> None:
        log.info("job ended", extra={"job": job.id, "state": state.value, "reason": error.reason})
        self._end(job, state, error_code=error.code, error_reason=error.reason, error_message=error.message)

    def _end(self, job: Job, state: JobState, **fields) -> None:
        try:
            self.store.update(job.id, owner=self.owner, state=state, **fields)
        except LeaseLost:
            log.warning("lease lost before the end was written; another replica has the job", extra={"job": job.id})
            return
        self.metrics.jobs.labels(job.kind, state.value).inc()


def _dead_predecessor(owner: str, me: str) -> bool:
    """Whether `owner` was a process on this host that no longer runs (or whose pid this process reuses, as a
    restarted container's pid 1 does)."""
    theirs, mine = owner.split(":"), me.split(":")
    if len(theirs) != 3 or len(mine) != 3 or theirs[0] != mine[0] or owner == me or not theirs[1].isdigit():
        return False
    pid, my_pid = theirs[1], mine[1]
    if pid == my_pid:
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False
