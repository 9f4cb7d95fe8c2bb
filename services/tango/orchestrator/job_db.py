"""Where job records live: SQLite (the embedded default of the local mesh) or PostgreSQL (clusters, where
several orchestrator replicas share one store), behind one small interface.

Both speak the same SQL, written with `?` placeholders; the differences are named here once: the clock
(`now`, the database's own, so that leases do not depend on the replicas' clocks agreeing), row locks
that skip rows another replica holds, and the column types of the migrations. Migrations are versioned
and applied at start inside one transaction that holds the store's lock, so two replicas starting
together apply each exactly once.
"""
from __future__ import annotations

import sqlite3
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Protocol, Sequence

from tango.runtime.errors import FailedPrecondition, Unavailable

STORE_LOCK = 0x7A6E6F  # advisory lock key (PostgreSQL) of exclusive transactions: migrations, job creation

# (version, statements); `{blob}` and `{real}` are the dialect's column types.
MIGRATIONS: tuple[tuple[int, tuple[str, ...]], ...] = (
    (1, (
        """CREATE TABLE IF NOT EXISTS jobs (
            id TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            request_id TEXT,
            request {blob} NOT NULL,
            state TEXT NOT NULL,
            stage TEXT NOT NULL DEFAULT '',
            progress {real} NOT NULL DEFAULT 0,
            stage_done INTEGER NOT NULL DEFAULT 0,
            stage_total INTEGER NOT NULL DEFAULT 0,
            timings TEXT NOT NULL DEFAULT '[]',
            target TEXT NOT NULL DEFAULT '',
            result {blob},
            error_code TEXT,
            error_reason TEXT,
            error_message TEXT,
            cancel_requested INTEGER NOT NULL DEFAULT 0,
            resumes INTEGER NOT NULL DEFAULT 0,
            created {real} NOT NULL,
            updated {real} NOT NULL
        )""",
        "CREATE UNIQUE INDEX IF NOT EXISTS jobs_request_id ON jobs(kind, request_id) WHERE request_id IS NOT NULL",
        "CREATE INDEX IF NOT EXISTS jobs_created ON jobs(created)",
    )),
    (2, (  # leases: the replica working on a job and until when its claim holds
        "ALTER TABLE jobs ADD COLUMN owner TEXT",
        "ALTER TABLE jobs ADD COLUMN lease_until {real} NOT NULL DEFAULT 0",
        "CREATE INDEX IF NOT EXISTS jobs_claim ON jobs(state, lease_until)",
    )),
    (3, (  # tenants: a job is its caller's tenant's; request ids are unique per tenant; who owns which speaker/media
        "ALTER TABLE jobs ADD COLUMN tenant TEXT NOT NULL DEFAULT ''",
        "DROP INDEX IF EXISTS jobs_request_id",
        "CREATE UNIQUE INDEX IF NOT EXISTS jobs_tenant_request_id ON jobs(tenant, kind, request_id) "
        "WHERE request_id IS NOT NULL",
        "CREATE INDEX IF NOT EXISTS jobs_tenant_created ON jobs(tenant, created)",
        """CREATE TABLE IF NOT EXISTS owned (
            tenant TEXT NOT NULL,
            kind TEXT NOT NULL,
            name TEXT NOT NULL,
            created {real} NOT NULL,
            PRIMARY KEY (tenant, kind, name)
        )""",
    )),
    (4, (  # a tenant's tags on a speaker's footage: gestures that script cues pin to words, spans never to show
        """CREATE TABLE IF NOT EXISTS speaker_tags (
            tenant TEXT NOT NULL,
            speaker TEXT NOT NULL,
            name TEXT NOT NULL,
            reference INTEGER NOT NULL,
            start_s {real} NOT NULL,
            end_s {real} NOT NULL,
            avoid INTEGER NOT NULL DEFAULT 0,
            created {real} NOT NULL,
            PRIMARY KEY (tenant, speaker, name)
        )""",
    )),
)


class Transaction(Protocol):
    def query(self, sql: str, args: Sequence[Any] = ()) -> list[dict]: ...

    def execute(self, sql: str, args: Sequence[Any] = ()) -> int: ...


class Database(Protocol):
    dialect: str
    now: str  # SQL expression: the database's clock in Unix seconds
    skip_locked: str  # suffix of a SELECT that locks its rows and skips those locked by others

    def transaction(self, exclusive: bool = False) -> Iterator[Transaction]: ...

    def query(self, sql: str, args: Sequence[Any] = ()) -> list[dict]: ...

    def execute(self, sql: str, args: Sequence[Any] = ()) -> int: ...

    def close(self) -> None: ...


def open_database(location: str | Path, pool_size: int = 8, timeout_s: float = 30.0) -> Database:
    """A `postgresql://` (or `postgres://`) DSN opens PostgreSQL; anything else is a SQLite file path."""
    text = str(location)
    if text.startswith(("postgresql://", "postgres://")):
        database: Database = PostgresDatabase(text, pool_size, timeout_s)
    else:
        database = SqliteDatabase(Path(text), timeout_s)
    migrate(database)
    return database


def migrate(database: Database) -> list[int]:
    """Applies the migrations this store lacks, in order; returns the versions applied now."""
    types = {"sqlite": {"blob": "BLOB", "real": "REAL"}, "postgresql": {"blob": "BYTEA", "real": "DOUBLE PRECISION"}}
    applied_now = []
    with database.transaction(exclusive=True) as tx:
        tx.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied REAL NOT NULL)")
        done = {row["version"] for row in tx.query("SELECT version FROM schema_migrations")}
        newest = max(v for v, _ in MIGRATIONS)
        if done and max(done) > newest:
            raise FailedPrecondition(f"the job store has schema {max(done)}, newer than this orchestrator's {newest}",
                                     reason="JOB_STORE_TOO_NEW")
        for version, statements in MIGRATIONS:
            if version in done:
                continue
            for statement in statements:
                tx.execute(statement.format(**types[database.dialect]))
            tx.execute(f"INSERT INTO schema_migrations (version, applied) VALUES (?, {database.now})", (version,))
            applied_now.append(version)
    return applied_now


class SqliteDatabase:
    """One connection shared by the process's threads (serialised by a lock); other processes on the same
    file wait on SQLite's own lock (WAL journal, busy timeout)."""

    dialect = "sqlite"
    now = "((julianday('now') - 2440587.5) * 86400.0)"
    skip_locked = ""  # a write transaction (BEGIN IMMEDIATE) locks the whole file

    def __init__(self, path: Path, timeout_s: float):
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None, timeout=timeout_s)
        self._db.row_factory = sqlite3.Row
        self._lock = threading.RLock()
        deadline = time.monotonic() + timeout_s
        while True:  # switching to WAL takes a lock SQLite's busy timeout does not wait for
            try:
                with self._lock:
                    self._db.execute("PRAGMA journal_mode=WAL")
                break
            except sqlite3.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    @contextmanager
    def transaction(self, exclusive: bool = False) -> Iterator[Transaction]:
        with self._lock:  # every write transaction is exclusive in SQLite
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def query(self, sql: str, args: Sequence[Any] = ()) -> list[dict]:
        with self._lock:
            return [dict(row) for row in self._db.execute(sql, tuple(args)).fetchall()]

    def execute(self, sql: str, args: Sequence[Any] = ()) -> int:
        with self._lock:
            return self._db.execute(sql, tuple(args)).rowcount

    def close(self) -> None:
        with self._lock:
            self._db.close()


class PostgresDatabase:
    """A psycopg 3 connection pool; statements autocommit; exclusive transactions hold the store's advisory lock."""

    dialect = "postgresql"
    now = "extract(epoch from clock_timestamp())::double precision"
    skip_locked = " FOR UPDATE SKIP LOCKED"

    def __init__(self, dsn: str, pool_size: int, timeout_s: float):
        from psycopg.rows import dict_row
        from psycopg_pool import ConnectionPool, PoolTimeout

        self._pool = ConnectionPool(dsn, min_size=1, max_size=max(pool_size, 2), timeout=timeout_s, open=False,
                                    kwargs={"autocommit": True, "row_factory": dict_row}, name="tango-jobs")
        try:
            self._pool.open(wait=True, timeout=timeout_s)
        except PoolTimeout as error:
            self._pool.close()
            raise Unavailable(f"the job store at {_redacted(dsn)} does not answer: {error}",
                              reason="JOB_STORE_UNAVAILABLE") from error

    @contextmanager
    def transaction(self, exclusive: bool = False) -> Iterator[Transaction]:
        with self._pool.connection() as connection, connection.transaction():
            tx = _PostgresTransaction(connection)
            if exclusive:
                tx.query("SELECT pg_advisory_xact_lock(?)", (STORE_LOCK,))
            yield tx

    def query(self, sql: str, args: Sequence[Any] = ()) -> list[dict]:
        with self._pool.connection() as connection:
            return _PostgresTransaction(connection).query(sql, args)

    def execute(self, sql: str, args: Sequence[Any] = ()) -> int:
        with self._pool.connection() as connection:
            return _PostgresTransaction(connection).execute(sql, args)

    def close(self) -> None:
        self._pool.close()


class _PostgresTransaction:
    def __init__(self, connection):
        self._connection = connection

    def query(self, sql: str, args: Sequence[Any] = ()) -> list[dict]:
        cursor = self._connection.execute(_pg(sql), tuple(args))
        return [_plain(row) for row in cursor.fetchall()] if cursor.description else []

    def execute(self, sql: str, args: Sequence[Any] = ()) -> int:
        return self._connection.execute(_pg(sql), tuple(args)).rowcount


def _pg(sql: str) -> str:
    """`?` placeholders (SQLite's) as psycopg's `%s`; no statement here contains a literal `?` or `%`."""
    return sql.replace("?", "%s")


def _plain(row: dict) -> dict:
    return {k: bytes(v) if isinstance(v, memoryview) else v for k, v in row.items()}


def _redacted(dsn: str) -> str:
    """The DSN without its password, for messages."""
    head, at, tail = dsn.rpartition("@")
    if not at:
        return dsn
    scheme, _, user = head.partition("://")
    return f"{scheme}://{user.split(':', 1)[0]}:***@{tail}"
