"""Persistent job records in SQLite: what was asked, where it is, and how it ended.

Requests and results are stored as serialized protobuf (a safe, typed format). A restarted
orchestrator reads the unfinished jobs back and resumes them.
"""
from __future__ import annotations

import sqlite3
import threading
import time
import uuid
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from tango.runtime.errors import AlreadyExists, InvalidArgument, NotFound, TooManyJobs

SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    request_id TEXT,
    request BLOB NOT NULL,
    state TEXT NOT NULL,
    stage TEXT NOT NULL DEFAULT '',
    progress REAL NOT NULL DEFAULT 0,
    stage_done INTEGER NOT NULL DEFAULT 0,
    stage_total INTEGER NOT NULL DEFAULT 0,
    timings TEXT NOT NULL DEFAULT '[]',
    target TEXT NOT NULL DEFAULT '',
    result BLOB,
    error_code TEXT,
    error_reason TEXT,
    error_message TEXT,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    resumes INTEGER NOT NULL DEFAULT 0,
    created REAL NOT NULL,
    updated REAL NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS jobs_request_id ON jobs(kind, request_id) WHERE request_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS jobs_created ON jobs(created);
"""


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

    @property
    def name(self) -> str:
        return f"operations/{self.id}"


class JobStore:
    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None, timeout=30)
        self._db.row_factory = sqlite3.Row
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.executescript(SCHEMA)

    def create(self, kind: str, request_id: str, request: bytes, max_unfinished: int) -> tuple[Job, bool]:
        """Inserts a PENDING job; with a known `request_id` returns the existing job instead."""
        with self._lock:
            if request_id:
                row = self._db.execute("SELECT * FROM jobs WHERE kind=? AND request_id=?", (kind, request_id)).fetchone()
                if row is not None:
                    if bytes(row["request"]) != request:
                        raise AlreadyExists(f"request_id {request_id!r} was used for a different request",
                                            reason="REQUEST_ID_REUSED")
                    return _job(row), False
            unfinished = self._db.execute("SELECT COUNT(*) FROM jobs WHERE state IN ('PENDING','RUNNING')").fetchone()[0]
            if unfinished >= max_unfinished:

                raise TooManyJobs(f"{unfinished} jobs in flight (limit {max_unfinished}); retry later")
            now = time.time()
            job_id = uuid.uuid4().hex
            self._db.execute(
                "INSERT INTO jobs (id, kind, request_id, request, state, created, updated) VALUES (?,?,?,?,?,?,?)",
                (job_id, kind, request_id or None, request, JobState.PENDING.value, now, now),
            )
            self._changed.notify_all()
            return self._get(job_id), True

    def get(self, job_id: str) -> Job:
        with self._lock:
            return self._get(job_id)

    def list(self, page_size: int, page_token: str, kind: str = "") -> tuple[list[Job], str]:
        size = page_size if page_size > 0 else 50
        try:
            offset = int(page_token) if page_token else 0
        except ValueError as exc:
            raise InvalidArgument(f"bad page token {page_token!r}", reason="BAD_PAGE_TOKEN") from exc
        query, args = "SELECT * FROM jobs", []
        if kind:
            query, args = query + " WHERE kind=?", [kind]
        with self._lock:
            rows = self._db.execute(query + " ORDER BY created DESC LIMIT ? OFFSET ?", (*args, size + 1, offset)).fetchall()
        jobs = [_job(r) for r in rows[:size]]
        return jobs, str(offset + size) if len(rows) > size else ""

    def unfinished(self) -> list[Job]:
        with self._lock:
            rows = self._db.execute("SELECT * FROM jobs WHERE state IN ('PENDING','RUNNING') ORDER BY created").fetchall()
        return [_job(r) for r in rows]

    def update(self, job_id: str, **fields) -> Job:
        fields["updated"] = time.time()
        if isinstance(fields.get("state"), JobState):
            fields["state"] = fields["state"].value
        assignments = ", ".join(f"{k}=?" for k in fields)
        with self._lock:
            self._db.execute(f"UPDATE jobs SET {assignments} WHERE id=?", (*fields.values(), job_id))
            self._changed.notify_all()
            return self._get(job_id)

    def wait_for_change(self, job_id: str, since: float, timeout_s: float) -> Job:
        """Blocks until the job's `updated` moves past `since` (or the timeout), then returns it."""
        deadline = time.monotonic() + timeout_s
        with self._changed:
            while True:
                job = self._get(job_id)
                remaining = deadline - time.monotonic()
                if job.updated > since or job.state.done or remaining <= 0:
                    return job
                self._changed.wait(min(remaining, 1.0))

    def delete(self, job_id: str) -> None:
        with self._lock:
            self._get(job_id)
            self._db.execute("DELETE FROM jobs WHERE id=?", (job_id,))

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _get(self, job_id: str) -> Job:
        row = self._db.execute("SELECT * FROM jobs WHERE id=?", (job_id,)).fetchone()
        if row is None:
            raise NotFound(f"operation {job_id!r} does not exist", reason="OPERATION_NOT_FOUND")
        return _job(row)


def _job(row: sqlite3.Row) -> Job:
    values = dict(row)
    values["state"] = JobState(values["state"])
    values["cancel_requested"] = bool(values["cancel_requested"])
    values["request"] = bytes(values["request"])
    values["result"] = bytes(values["result"]) if values["result"] is not None else None
    return Job(**values)
