"""Job records in a shared store: what was asked, who works on it, where it is, and how it ended.

Requests and results are stored as serialized protobuf (a safe, typed format). Every replica of the
orchestrator sees the same records: a replica *claims* a job (a lease on the row), renews the lease while
it works and writes the job's progress only while it still holds it (fenced writes); a job whose lease
expired -- its replica died -- is claimed by another replica and resumed from its first stage, whose
content-addressed work is found in the artifact store, not redone. Cancellation is a flag in the record,
seen by the working replica at its next renewal.

Each job belongs to the tenant of the caller that made it (`tenant`; "" where the orchestrator runs without
authentication). Reads given a tenant see only that tenant's jobs: another's is NOT_FOUND, as if it did not
exist; a request id is unique per tenant.
"""
from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from tango.orchestrator.job_db import Database, open_database
from tango.runtime.errors import AlreadyExists, Cancelled, InvalidArgument, NotFound, TooManyJobs

CHANGE_POLL_S = 0.5  # how often a waiter looks for changes written by other replicas
UNFINISHED = "state IN ('PENDING','RUNNING')"


class JobState(str, Enum):
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"

    @property
    def done(self) -> bool:
        return self in (JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED)


@dataclass(frozen=True)
class Job:
    id: str
    kind: str
    request_id: str | None
    request: bytes
    state: JobState
    stage: str
    progress: float
    stage_done: int
    stage_total: int
    timings: str
    target: str
    result: bytes | None
    error_code: str | None
    error_reason: str | None
    error_message: str | None
    cancel_requested: bool
    resumes: int
    created: float
    updated: float
    tenant: str = ""
    owner: str | None = None  # the replica holding the job's lease

    @property
    def name(self) -> str:
        return f"operations/{self.id}"


class LeaseLost(Cancelled):
    """This replica no longer holds the job: its lease expired and another replica took it over."""

    def __init__(self, job_id: str):
        super().__init__(f"operation {job_id} is now worked on by another replica", reason="JOB_LEASE_LOST")


@dataclass(frozen=True)
class Claim:
    job: Job
    taken_over_from: str | None  # the replica whose lease had expired (or was released); None for a new job


class JobStore:
    def __init__(self, database: Database):
        self.db = database
        self._changed = threading.Condition()  # wakes waiters of this process at once; others are polled

    @classmethod
    def open(cls, location: str | Path, pool_size: int = 8) -> "JobStore":
        """A SQLite file path or a `postgresql://` DSN."""
        return cls(open_database(location, pool_size))

    # ---- creating and reading -----------------------------------------------------------------
    def create(self, kind: str, request_id: str, request: bytes, max_unfinished: int,
               target: str = "", tenant: str = "") -> tuple[Job, bool]:
        """Inserts a PENDING job; with a `request_id` this tenant already used, returns that job instead."""
        with self.db.transaction(exclusive=True) as tx:
            if request_id:
                rows = tx.query("SELECT * FROM jobs WHERE tenant=? AND kind=? AND request_id=?",
                                (tenant, kind, request_id))
                if rows:
                    if bytes(rows[0]["request"]) != request:
                        raise AlreadyExists(f"request_id {request_id!r} was used for a different request",
                                            reason="REQUEST_ID_REUSED")
                    return _job(rows[0]), False
            unfinished = tx.query(f"SELECT COUNT(*) AS n FROM jobs WHERE {UNFINISHED}")[0]["n"]
            if unfinished >= max_unfinished:
                raise TooManyJobs(f"{unfinished} jobs in flight (limit {max_unfinished}); retry later")
            now, job_id = time.time(), uuid.uuid4().hex
            tx.execute("INSERT INTO jobs (id, kind, request_id, request, state, target, created, updated, tenant) "
                       "VALUES (?,?,?,?,?,?,?,?,?)",
                       (job_id, kind, request_id or None, request, JobState.PENDING.value, target, now, now, tenant))
            job = _job(tx.query("SELECT * FROM jobs WHERE id=?", (job_id,))[0])
        self._notify()
        return job, True

    def get(self, job_id: str, tenant: str | None = None) -> Job:
        """The job; given a tenant, only if it is that tenant's (else NOT_FOUND, like a job that never was)."""
        if tenant is None:
            rows = self.db.query("SELECT * FROM jobs WHERE id=?", (job_id,))
        else:
            rows = self.db.query("SELECT * FROM jobs WHERE id=? AND tenant=?", (job_id, tenant))
        if not rows:
            raise NotFound(f"operation {job_id!r} does not exist", reason="OPERATION_NOT_FOUND")
        return _job(rows[0])

    def list(self, page_size: int, page_token: str, kind: str = "", tenant: str = "") -> tuple[list[Job], str]:
        size = page_size if page_size > 0 else 50
        try:
            offset = int(page_token) if page_token else 0
        except ValueError as exc:
            raise InvalidArgument(f"bad page token {page_token!r}", reason="BAD_PAGE_TOKEN") from exc
        if offset < 0:
            raise InvalidArgument(f"bad page token {page_token!r}", reason="BAD_PAGE_TOKEN")
        query, args = "SELECT * FROM jobs WHERE tenant=?", [tenant]
        if kind:
            query, args = query + " AND kind=?", [*args, kind]
        rows = self.db.query(query + " ORDER BY created DESC, id LIMIT ? OFFSET ?", (*args, size + 1, offset))
        return [_job(r) for r in rows[:size]], str(offset + size) if len(rows) > size else ""

    def counts(self) -> dict[JobState, int]:
        """Jobs per state, and (under PENDING) those queued."""
        rows = self.db.query("SELECT state, COUNT(*) AS n FROM jobs GROUP BY state")
        found = {JobState(r["state"]): int(r["n"]) for r in rows}
        return {state: found.get(state, 0) for state in JobState}

    # ---- leases -------------------------------------------------------------------------------
    def claim(self, owner: str, lease_s: float, kinds: tuple[str, ...] = ()) -> Claim | None:
        """Takes the oldest job nobody holds (new, released, or whose lease expired) for `lease_s` seconds."""
        now = self.db.now
        kind_filter = f" AND kind IN ({','.join('?' * len(kinds))})" if kinds else ""
        with self.db.transaction() as tx:
            rows = tx.query(f"SELECT id, state, owner FROM jobs WHERE {UNFINISHED} AND lease_until < {now}"
                            f"{kind_filter} ORDER BY created LIMIT 1{self.db.skip_locked}", kinds)
            if not rows:
                return None
            old = rows[0]
            resumed = old["state"] == JobState.RUNNING.value
            tx.execute(f"UPDATE jobs SET owner=?, lease_until={now} + ?, state='RUNNING', resumes=resumes + ?, "
                       "updated=? WHERE id=?", (owner, lease_s, int(resumed), time.time(), old["id"]))
            job = _job(tx.query("SELECT * FROM jobs WHERE id=?", (old["id"],))[0])
        self._notify()
        return Claim(job, (old["owner"] or "released") if resumed else None)

    def renew(self, owner: str, lease_s: float) -> dict[str, bool]:
        """Extends every lease `owner` holds; returns {job id: cancel requested} for the jobs still its own."""
        rows = self.db.query(f"UPDATE jobs SET lease_until={self.db.now} + ? WHERE owner=? AND state='RUNNING' "
                             "RETURNING id, cancel_requested", (lease_s, owner))
        return {r["id"]: bool(r["cancel_requested"]) for r in rows}

    def release(self, owner: str) -> int:
        """Gives up `owner`'s leases at once (a graceful stop): the jobs stay RUNNING, claimable right away."""
        released = self.db.execute("UPDATE jobs SET owner=NULL, lease_until=0 WHERE owner=? AND state='RUNNING'",
                                   (owner,))
        self._notify()
        return released

    def expire(self, owner: str) -> int:
        """Ends the lease of a replica known to be dead, so its jobs are claimable now."""
        return self.db.execute("UPDATE jobs SET lease_until=0 WHERE owner=? AND state='RUNNING'", (owner,))

    def owners(self) -> list[str]:
        rows = self.db.query("SELECT DISTINCT owner FROM jobs WHERE owner IS NOT NULL AND state='RUNNING'")
        return [r["owner"] for r in rows]

    # ---- writing ------------------------------------------------------------------------------
    def update(self, job_id: str, owner: str | None = None, **fields) -> Job:
        """Writes fields of a job; with `owner`, only while that replica holds it (else LeaseLost)."""
        fields["updated"] = time.time()
        if isinstance(fields.get("state"), JobState):
            fields["state"] = fields["state"].value
        if fields.get("state") in _DONE:
            fields.update(owner=None, lease_until=0)
        assignments = ", ".join(f"{k}=?" for k in fields)
        fence, args = ("id=? AND owner=?", (job_id, owner)) if owner else ("id=?", (job_id,))
        rows = self.db.query(f"UPDATE jobs SET {assignments} WHERE {fence} RETURNING *", (*fields.values(), *args))
        if not rows:
            if owner:  # taken over, or deleted: either way no longer this replica's to write
                raise LeaseLost(job_id)
            self.get(job_id)  # NotFound
        self._notify()
        return _job(rows[0])

    def request_cancel(self, job_id: str) -> Job:
        """A job nobody works on yet ends CANCELLED now; a running one is flagged for its replica."""
        now = time.time()
        self.db.execute("UPDATE jobs SET state='CANCELLED', error_code='CANCELLED', error_reason='JOB_CANCELLED', "
                        "error_message='cancelled before it started', cancel_requested=1, updated=? "
                        "WHERE id=? AND state='PENDING' AND owner IS NULL", (now, job_id))
        self.db.execute(f"UPDATE jobs SET cancel_requested=1, updated=? WHERE id=? AND {UNFINISHED}", (now, job_id))
        self._notify()
        return self.get(job_id)

    def delete(self, job_id: str) -> None:
        self.get(job_id)
        self.db.execute("DELETE FROM jobs WHERE id=?", (job_id,))

    def wait_for_change(self, job_id: str, since: float, timeout_s: float) -> Job:
        """Blocks until the job's `updated` moves past `since` (or the timeout), then returns it."""
        deadline = time.monotonic() + timeout_s
        while True:
            job = self.get(job_id)
            remaining = deadline - time.monotonic()
            if job.updated > since or job.state.done or remaining <= 0:
                return job
            with self._changed:
                self._changed.wait(min(remaining, CHANGE_POLL_S))

    def close(self) -> None:
        self.db.close()

    def _notify(self) -> None:
        with self._changed:
            self._changed.notify_all()


_DONE = {s.value for s in JobState if s.done}


def _job(row: dict) -> Job:
    values = {k: v for k, v in row.items() if k != "lease_until"}
    values["state"] = JobState(values["state"])
    values["cancel_requested"] = bool(values["cancel_requested"])
    values["request"] = bytes(values["request"])
    values["result"] = bytes(values["result"]) if values["result"] is not None else None
    return Job(**values)
