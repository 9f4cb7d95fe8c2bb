"""Two orchestrator job runners (replicas) in one process on one real PostgreSQL store: the work is shared,
a cancel asked of either replica stops the job where it runs, and a replica that stops hands its running
job to the other at once. (Killing a replica's process is tested on the local mesh, test_takeover.)"""
from __future__ import annotations

import threading
import time
import uuid
from collections import Counter

import psycopg
import pytest
from google.protobuf import wrappers_pb2

from tango.orchestrator.job_context import JobContext
from tango.orchestrator.jobs import JobState, JobStore
from tango.orchestrator.metrics import OrchestratorMetrics
from tango.orchestrator.runner import JobRunner, Leasing

LEASING = Leasing(lease_s=3.0, poll_s=0.1)


class CountingPipeline:
    """Three stages of `step_s` each, checking for cancellation; counts the runs it finished per request."""

    kind = "reenactment"
    stage_weights = {"a": 1.0, "b": 1.0, "c": 1.0}

    def __init__(self, step_s: float):
        self.step_s = step_s
        self.started: Counter[str] = Counter()
        self.finished: Counter[str] = Counter()
        self.lock = threading.Lock()

    def target_of(self, request) -> str:
        return request.value

    def parse(self, payload: bytes):
        return wrappers_pb2.StringValue.FromString(payload)

    def run(self, request, context: JobContext):
        with self.lock:
            self.started[request.value] += 1
        for stage in self.stage_weights:
            with context.stage(stage):
                deadline = time.monotonic() + self.step_s
                while time.monotonic() < deadline:
                    context.check_cancelled()
                    time.sleep(0.02)
        with self.lock:
            self.finished[request.value] += 1
        return wrappers_pb2.StringValue(value=f"done {request.value}")


@pytest.fixture
def store(postgres):
    name = f"runner_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres, autocommit=True) as connection:
        connection.execute(f"CREATE DATABASE {name}")
    opened = JobStore.open(postgres.replace("/postgres?", f"/{name}?"))
    yield opened
    opened.close()


def replica(store: JobStore, pipeline: CountingPipeline, name: str) -> JobRunner:
    runner = JobRunner(store, {"reenactment": pipeline}, workers=2, max_unfinished=20, metrics=OrchestratorMetrics(),
                       leasing=LEASING, owner=name)
    runner.start()
    return runner


def wait_done(store: JobStore, job_id: str, timeout_s: float = 30.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job = store.get(job_id)
        if job.state.done:
            return job
        time.sleep(0.05)
    raise AssertionError(f"{job_id} not done: {store.get(job_id)}")


def wait_running_on(store: JobStore, job_id: str, timeout_s: float = 10.0) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job = store.get(job_id)
        if job.state == JobState.RUNNING and job.owner and job.stage:
            return job.owner
        time.sleep(0.02)
    raise AssertionError(f"{job_id} never ran")


def test_two_replicas_share_the_work_and_finish_each_job_once(store):
    pipeline = CountingPipeline(step_s=0.1)
    runners = [replica(store, pipeline, name) for name in ("a", "b")]
    jobs = [runners[i % 2].submit("reenactment", f"req-{i}", wrappers_pb2.StringValue(value=f"job{i}"))
            for i in range(8)]
    owners = Counter()
    for job in jobs:
        done = wait_done(store, job.id)
        assert done.state == JobState.SUCCEEDED and done.progress == 1.0
        assert wrappers_pb2.StringValue.FromString(done.result).value == f"done {done.target}"
    for runner in runners:  # a job's end is counted just after it is written: count once the workers are done
        runner.shutdown()
    for runner in runners:
        owners[runner.owner] = int(runner.metrics.jobs.labels("reenactment", "SUCCEEDED")._value.get())
    assert pipeline.finished == Counter({f"job{i}": 1 for i in range(8)})
    assert sum(owners.values()) == 8 and min(owners.values()) >= 1, owners


def test_a_cancel_asked_of_either_replica_stops_the_job(store):
    pipeline = CountingPipeline(step_s=5.0)
    a = replica(store, pipeline, "a")
    job = a.submit("reenactment", "", wrappers_pb2.StringValue(value="long"))
    assert wait_running_on(store, job.id) == "a"
    b = replica(store, pipeline, "b")
    b.cancel(job.id)  # b does not run it; a learns it at its next renewal
    done = wait_done(store, job.id, timeout_s=LEASING.heartbeat_s + 5)
    assert done.state == JobState.CANCELLED and done.error_reason == "JOB_CANCELLED"
    assert pipeline.finished["long"] == 0
    for runner in (a, b):
        runner.shutdown()


def test_a_stopping_replica_hands_its_job_to_the_other_at_once(store):
    pipeline = CountingPipeline(step_s=0.6)
    a = replica(store, pipeline, "a")
    job = a.submit("reenactment", "", wrappers_pb2.StringValue(value="moved"))
    assert wait_running_on(store, job.id) == "a"
    b = replica(store, pipeline, "b")
    stopped = time.monotonic()
    a.shutdown()
    assert wait_running_on(store, job.id) == "b"
    assert time.monotonic() - stopped < LEASING.lease_s  # released, not waited out
    done = wait_done(store, job.id)
    assert done.state == JobState.SUCCEEDED and done.resumes == 1
    assert pipeline.started["moved"] == 2 and pipeline.finished["moved"] == 1
    assert b.metrics.lease_takeovers._value.get() == 1
    b.shutdown()


def test_a_restart_recognises_its_dead_predecessor_on_this_host_only():
    import os
    import subprocess
    import sys

    from tango.orchestrator.runner import _dead_predecessor

    me = f"pod-1:{os.getpid()}:aaaa"
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    assert _dead_predecessor(f"pod-1:{int(gone.stdout)}:bbbb", me)  # that process has ended
    assert _dead_predecessor(f"pod-1:{os.getpid()}:bbbb", me)  # a restarted container reuses the pid
    assert not _dead_predecessor(f"pod-1:{os.getppid()}:bbbb", me)  # alive on this host: its lease holds
    assert not _dead_predecessor(f"pod-2:{int(gone.stdout)}:bbbb", me)  # another host: only leases tell
    assert not _dead_predecessor(me, me) and not _dead_predecessor("a", me)
