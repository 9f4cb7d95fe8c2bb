"""The persistent job store: idempotent creation, the in-flight bound, paging, resumable state."""
from __future__ import annotations

import pytest

from tango.orchestrator.jobs import JobState, JobStore
from tango.runtime import errors


def test_request_id_makes_creation_idempotent(tmp_path):
    store = JobStore(tmp_path / "jobs.sqlite")
    first, created = store.create("speaker", "req-1", b"payload", max_unfinished=4)
    again, created_again = store.create("speaker", "req-1", b"payload", max_unfinished=4)
    assert created and not created_again and again.id == first.id
    with pytest.raises(errors.AlreadyExists) as caught:
        store.create("speaker", "req-1", b"other payload", max_unfinished=4)
    assert caught.value.reason == "REQUEST_ID_REUSED"


def test_bound_on_jobs_in_flight(tmp_path):
    store = JobStore(tmp_path / "jobs.sqlite")
    jobs = [store.create("reenactment", "", b"x", max_unfinished=2)[0] for _ in range(2)]
    with pytest.raises(errors.TooManyJobs) as caught:
        store.create("reenactment", "", b"x", max_unfinished=2)
    assert caught.value.code == "RESOURCE_EXHAUSTED"
    store.update(jobs[0].id, state=JobState.SUCCEEDED)
    store.create("reenactment", "", b"x", max_unfinished=2)  # room again


def test_state_survives_reopening_and_lists_unfinished(tmp_path):
    path = tmp_path / "jobs.sqlite"
    store = JobStore(path)
    running = store.create("speaker", "a", b"1", 10)[0]
    done = store.create("speaker", "b", b"2", 10)[0]
    store.update(running.id, state=JobState.RUNNING, stage="graph", progress=0.5)
    store.update(done.id, state=JobState.FAILED, error_code="INVALID_ARGUMENT", error_reason="SILENT_AUDIO")
    store.close()
    reopened = JobStore(path)
    assert [j.id for j in reopened.unfinished()] == [running.id]
    assert reopened.get(running.id).stage == "graph" and reopened.get(done.id).error_reason == "SILENT_AUDIO"
    page, token = reopened.list(1, "")
    assert len(page) == 1 and token == "1"
    assert len(reopened.list(1, token)[0]) == 1
    with pytest.raises(errors.NotFound):
        reopened.get("missing")
