"""The shared job store, on SQLite and on a real PostgreSQL: idempotent creation, the in-flight bound, paging,
leases (claim, renewal, take-over after expiry, fenced writes), cancellation in the store, migrations."""
from __future__ import annotations

import sqlite3
import threading
import time
import uuid

import psycopg
import pytest

from tango.orchestrator.job_db import MIGRATIONS, open_database
from tango.orchestrator.jobs import JobState, JobStore, LeaseLost
from tango.orchestrator.tenancy import SPEAKER, Tenancy
from tango.runtime import errors


@pytest.fixture(params=["sqlite", "postgresql"])
def location(request, tmp_path):
    """Where a fresh, empty store lives: a SQLite file, or a new database in the session's PostgreSQL."""
    if request.param == "sqlite":
        return str(tmp_path / "jobs.sqlite")
    dsn = request.getfixturevalue("postgres")
    name = f"jobs_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(dsn, autocommit=True) as connection:
        connection.execute(f"CREATE DATABASE {name}")
    return dsn.replace("/postgres?", f"/{name}?")


@pytest.fixture
def store(location):
    opened = JobStore.open(location)
    yield opened
    opened.close()


def test_request_id_makes_creation_idempotent(store):
    first, created = store.create("speaker", "req-1", b"payload", max_unfinished=4)
    again, created_again = store.create("speaker", "req-1", b"payload", max_unfinished=4)
    assert created and not created_again and again.id == first.id
    with pytest.raises(errors.AlreadyExists) as caught:
        store.create("speaker", "req-1", b"other payload", max_unfinished=4)
    assert caught.value.reason == "REQUEST_ID_REUSED"


def test_tenants_see_only_their_own_jobs_and_own_their_request_ids(store):
    ours, _ = store.create("speaker", "req-1", b"ours", max_unfinished=4, tenant="newsroom")
    theirs, created = store.create("speaker", "req-1", b"theirs", max_unfinished=4, tenant="sports")
    assert created and theirs.id != ours.id and theirs.tenant == "sports"
    assert store.get(ours.id, "newsroom").request == b"ours"
    with pytest.raises(errors.NotFound) as caught:
        store.get(ours.id, "sports")
    assert caught.value.reason == "OPERATION_NOT_FOUND"
    assert [j.id for j in store.list(10, "", tenant="sports")[0]] == [theirs.id]
    assert store.list(10, "", tenant="")[0] == []
    tenancy = Tenancy(store.db)
    tenancy.grant("newsroom", SPEAKER, "speakers/b", "speakers/a")
    tenancy.grant("newsroom", SPEAKER, "speakers/a")  # granted again: no error, no duplicate
    assert tenancy.owns("newsroom", SPEAKER, "speakers/a") and not tenancy.owns("sports", SPEAKER, "speakers/a")
    assert tenancy.names("newsroom", SPEAKER, 1, "") == (["speakers/a"], "speakers/b")
    assert tenancy.names("sports", SPEAKER, 10, "") == ([], "")


def test_bound_on_jobs_in_flight(store):
    jobs = [store.create("reenactment", "", b"x", max_unfinished=2)[0] for _ in range(2)]
    with pytest.raises(errors.TooManyJobs) as caught:
        store.create("reenactment", "", b"x", max_unfinished=2)
    assert caught.value.code == "RESOURCE_EXHAUSTED"
    store.update(jobs[0].id, state=JobState.SUCCEEDED)
    store.create("reenactment", "", b"x", max_unfinished=2)  # room again


def test_state_survives_reopening_and_pages(location):
    store = JobStore.open(location)
    running = store.create("speaker", "a", b"1", 10, target="speakers/x")[0]
    done = store.create("speaker", "b", b"2", 10)[0]
    store.update(running.id, state=JobState.RUNNING, stage="graph", progress=0.5)
    store.update(done.id, state=JobState.FAILED, error_code="INVALID_ARGUMENT", error_reason="SILENT_AUDIO")
    store.close()
    reopened = JobStore.open(location)
    assert reopened.get(running.id).stage == "graph" and reopened.get(running.id).target == "speakers/x"
    assert reopened.get(done.id).error_reason == "SILENT_AUDIO"
    assert reopened.counts()[JobState.RUNNING] == 1 and reopened.counts()[JobState.FAILED] == 1
    page, token = reopened.list(1, "")
    assert len(page) == 1 and token == "1"
    assert len(reopened.list(1, token)[0]) == 1
    for bad in ("-1", "x"):
        with pytest.raises(errors.InvalidArgument):
            reopened.list(1, bad)
    with pytest.raises(errors.NotFound):
        reopened.get("missing")
    reopened.close()


def test_a_lease_excludes_others_until_it_expires_then_the_job_is_taken_over(store):
    job = store.create("speaker", "", b"x", 4)[0]
    first = store.claim("replica-a", lease_s=0.5)
    assert first.job.id == job.id and first.job.owner == "replica-a" and first.taken_over_from is None
    assert first.job.state == JobState.RUNNING
    assert store.claim("replica-b", lease_s=0.5) is None  # held
    assert store.renew("replica-a", 0.5) == {job.id: False}
    store.update(job.id, owner="replica-a", stage="graph")
    time.sleep(0.7)  # replica-a stops renewing: dead
    second = store.claim("replica-b", lease_s=30)
    assert second.job.id == job.id and second.taken_over_from == "replica-a" and second.job.resumes == 1
    with pytest.raises(LeaseLost):  # the old owner's writes are fenced off
        store.update(job.id, owner="replica-a", stage="render")
    assert store.renew("replica-a", 30) == {}
    store.update(job.id, owner="replica-b", state=JobState.SUCCEEDED)
    finished = store.get(job.id)
    assert finished.state == JobState.SUCCEEDED and finished.owner is None and finished.stage == "graph"


def test_release_hands_jobs_over_at_once_and_cancellation_lives_in_the_store(store):
    running = store.create("speaker", "", b"1", 4)[0]
    queued = store.create("speaker", "", b"2", 4)[0]
    assert store.claim("replica-a", 30).job.id == running.id
    assert store.request_cancel(queued.id).state == JobState.CANCELLED  # nobody worked on it yet
    store.request_cancel(running.id)
    assert store.renew("replica-a", 30) == {running.id: True}  # the owner learns it at its next renewal
    assert store.release("replica-a") == 1
    taken = store.claim("replica-b", 30)
    assert taken.job.id == running.id and taken.taken_over_from == "released" and taken.job.cancel_requested
    assert store.claim("replica-b", 30) is None


def test_concurrent_replicas_claim_every_job_exactly_once(store):
    ids = {store.create("reenactment", "", b"x", 100)[0].id for _ in range(40)}
    claimed: list[tuple[str, str]] = []
    lock = threading.Lock()

    def replica(name: str) -> None:
        while (claim := store.claim(name, 30)) is not None:
            with lock:
                claimed.append((name, claim.job.id))

    threads = [threading.Thread(target=replica, args=(f"r{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(job for _, job in claimed) == sorted(ids)


def test_migrations_apply_once_and_upgrade_an_old_sqlite_store(tmp_path):
    path = tmp_path / "old.sqlite"
    old = sqlite3.connect(path)  # the schema before leases (migration 1 only), with one unfinished job
    old.executescript(";".join(s.format(blob="BLOB", real="REAL") for s in MIGRATIONS[0][1]))
    old.execute("INSERT INTO jobs (id, kind, request, state, created, updated) VALUES ('j', 'speaker', x'00', "
                "'RUNNING', 1, 1)")
    old.commit()
    old.close()
    store = JobStore.open(path)
    assert store.claim("replica-a", 30).job.id == "j"  # the upgraded row is claimable
    versions = [r["version"] for r in store.db.query("SELECT version FROM schema_migrations ORDER BY version")]
    assert versions == [v for v, _ in MIGRATIONS]
    store.close()
    open_database(path).close()  # nothing left to apply


def test_replicas_starting_together_migrate_once(location):
    opened = []
    threads = [threading.Thread(target=lambda: opened.append(JobStore.open(location))) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(opened) == 3
    rows = opened[0].db.query("SELECT version FROM schema_migrations")
    assert sorted(r["version"] for r in rows) == [v for v, _ in MIGRATIONS]
    for store in opened:
        store.close()
