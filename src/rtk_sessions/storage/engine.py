"""Engine and unit of work for both databases."""

from __future__ import annotations

import contextlib
import fcntl
import functools
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Connection, CursorResult, Dialect, Engine, Result, create_engine, event
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import PoolProxiedConnection
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ClauseElement

from rtk_sessions.leader import sqlite_path

# SQLite memory (``config.Settings.sqlite_mmap_mb``/``sqlite_cache_mb``): each connection has its
# own memory map and page cache, and a process has up to 15 connections (SQLAlchemy's pool for a
# file: 5, plus 10 under load).
SQLITE_MMAP_MB = 0
SQLITE_CACHE_MB = 2


def _on_sqlite_connect(dbapi_conn: Any, _record: Any, *, mmap_mb: int, cache_mb: int) -> None:
    # pysqlite's own transaction handling defers BEGIN and breaks SAVEPOINTs; we emit BEGIN
    # ourselves (SQLAlchemy docs, "Serializable isolation / Savepoints / Transactional DDL" for
    # pysqlite).
    dbapi_conn.isolation_level = None
    cursor = dbapi_conn.cursor()
    # WAL lets readers proceed while ingestion writes.
    cursor.execute("PRAGMA journal_mode = WAL")
    # Committed in WAL mode and synchronous=NORMAL is durable across a process crash.
    cursor.execute("PRAGMA synchronous = NORMAL")
    cursor.execute("PRAGMA foreign_keys = ON")
    # Wait for the writer instead of failing with "database is locked".
    cursor.execute("PRAGMA busy_timeout = 30000")
    # Memory per worker (docs/performance.md: at most 250 MB): each connection has its own page
    # cache and its own memory map of the file, whose resident pages all count in the process's
    # RSS; the map is off by default (Settings.sqlite_mmap_mb: list latencies were the same
    # without it, the file being in the operating system's cache either way).
    cursor.execute(f"PRAGMA mmap_size = {int(mmap_mb) * 1024 * 1024}")
    cursor.execute(f"PRAGMA cache_size = {-int(cache_mb) * 1024}")
    cursor.close()


READ_ONLY = "rtk_read_only"  # execution option of the engine that read units of work use


def _on_sqlite_begin(conn: Any) -> None:
    # Writers: IMMEDIATE takes the write lock up front, so two writers queue instead of deadlocking
    # on upgrade. Readers: a deferred BEGIN takes no lock at all; in WAL mode it reads a snapshot
    # while a writer works, so list requests neither wait for ingestion nor hold it up.
    # On the driver's connection: through ``exec_driver_sql`` the statement cost as much as
    # SQLAlchemy's whole checkout of a pooled connection (docs/performance.md).
    read_only = conn.get_execution_options().get(READ_ONLY, False)
    conn.connection.driver_connection.execute("BEGIN" if read_only else "BEGIN IMMEDIATE")


def _on_sqlite_close(dbapi_conn: Any, _record: Any) -> None:
    # SQLite's recommendation for connections that have run queries: refresh the planner
    # statistics of the tables whose size changed a lot (cheap when nothing needs doing).
    with contextlib.suppress(Exception):  # closing must not fail over a statistics refresh
        dbapi_conn.execute("PRAGMA optimize")


def _on_postgresql_connect(dbapi_conn: Any, _record: Any) -> None:
    # Times come back as aware datetimes in the session's time zone: in UTC they carry
    # ``datetime.UTC`` itself, which clock.iso formats without converting (a list page formats
    # a hundred). Every query that needs a day names its zone (``timezone('UTC', ...)``).
    autocommit = dbapi_conn.autocommit
    dbapi_conn.autocommit = True
    try:
        dbapi_conn.execute("SET TIME ZONE 'UTC'")
    finally:
        dbapi_conn.autocommit = autocommit


def make_engine(
    url: str,
    *,
    sqlite_mmap_mb: int = SQLITE_MMAP_MB,
    sqlite_cache_mb: int = SQLITE_CACHE_MB,
    **kwargs: Any,
) -> Engine:
    """An engine for ``url`` (already normalized by ``config.normalize_database_url``).

    sqlite_mmap_mb: SQLite's memory map per connection (``PRAGMA mmap_size``), MB; 0: none.
    sqlite_cache_mb: SQLite's page cache per connection (``PRAGMA cache_size``), MB."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False}, **kwargs)
        on_connect = functools.partial(
            _on_sqlite_connect, mmap_mb=sqlite_mmap_mb, cache_mb=sqlite_cache_mb
        )
        event.listen(engine, "connect", on_connect)
        event.listen(engine, "begin", _on_sqlite_begin)
        event.listen(engine, "close", _on_sqlite_close)
        return engine
    engine = create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10, **kwargs)
    event.listen(engine, "connect", _on_postgresql_connect)
    return engine


@contextmanager
def _flocked(path: Path) -> Iterator[None]:
    """An exclusive ``flock`` on ``path`` (created if missing), waited for; closing the file
    releases it."""
    with open(path, "a+b") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        yield


class Database:
    """An engine plus a sessionmaker; ``unit_of_work()`` commits on success, rolls back on error."""

    def __init__(
        self,
        url: str,
        *,
        sqlite_mmap_mb: int = SQLITE_MMAP_MB,
        sqlite_cache_mb: int = SQLITE_CACHE_MB,
    ) -> None:
        """sqlite_mmap_mb, sqlite_cache_mb: see ``make_engine`` (SQLite only)."""
        self.url = url
        self.engine = make_engine(
            url, sqlite_mmap_mb=sqlite_mmap_mb, sqlite_cache_mb=sqlite_cache_mb
        )
        self.dialect = self.engine.dialect.name
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._read_engine = self.engine.execution_options(**{READ_ONLY: True})
        self._read_sessions = sessionmaker(self._read_engine, expire_on_commit=False)
        # SQLite has one writer at a time; serializing our own writers in-process avoids busy waits.
        # Re-entrant: ``write_turn`` holds it around a read and the write that follows.
        self._write_lock = threading.RLock() if self.dialect == "sqlite" else None
        # ... and across processes (``serve --workers N``, the CLI) with a ``flock`` on a file
        # beside the database: the kernel wakes the next writer when the lock is released, where
        # SQLite's busy handler would poll with sleeps of up to 100 ms.
        path = sqlite_path(url)
        self._write_lock_path = path.with_name(path.name + ".write.lock") if path else None

    @contextmanager
    def unit_of_work(self, *, write: bool = True) -> Iterator[Session]:
        """One transaction; ``write=False`` promises it only reads (SQLite: no write lock taken;
        a write in it may then fail with "database is locked" instead of waiting)."""
        lock = self._write_lock if write else None
        with contextlib.ExitStack() as stack:
            if lock is not None:
                stack.enter_context(lock)
                if self._write_lock_path is not None:
                    stack.enter_context(_flocked(self._write_lock_path))
            maker = self._sessions if write else self._read_sessions
            with maker() as session, session.begin():
                yield session

    @contextmanager
    def write_turn(self) -> Iterator[None]:
        """This process's turn among its own writers: on SQLite the lock every write
        ``unit_of_work`` of the process takes (re-entrant), without the database's write lock
        that serializes all processes; on PostgreSQL nothing. For work that prepares a write,
        such as an ingestion batch's precompute: it then overlaps with other processes' writes,
        not with this process's (whose threads would only take turns on the GIL)."""
        with self._write_lock or contextlib.nullcontext():
            yield

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        """One read-only transaction on a Core connection, for reads that build no ORM objects
        (a session list: the ORM session's own bookkeeping cost as much as its statements).
        Same isolation as ``unit_of_work(write=False)`` (SQLite: a deferred BEGIN, no lock)."""
        with self._read_engine.connect() as conn, conn.begin():
            yield conn

    @contextmanager
    def reading_raw(self, *, one_statement: bool = False) -> Iterator[RawConnection]:
        """``reading`` on the driver's connection itself, for reads that are all ``Prepared``
        (the commonest session lists): SQLAlchemy's ``Connection``, its transaction and its
        events cost about a tenth of such a request. Same isolation (SQLite: a deferred BEGIN;
        PostgreSQL: the driver's own transaction); committed at the end, rolled back on error.

        one_statement: on PostgreSQL the caller runs a single statement, which is then its own
        transaction (the driver in autocommit, without the BEGIN and COMMIT that each cost a
        round trip to the server); a second statement would read another snapshot. SQLite
        ignores it: its transaction costs no round trip, and the reads keep one snapshot."""
        pooled = self.engine.raw_connection()
        driver: Any = pooled.driver_connection
        alone = one_statement and self.dialect == "postgresql"
        try:
            if self.dialect == "sqlite":
                driver.execute("BEGIN")
            elif alone:
                driver.autocommit = True
            yield RawConnection(self.engine.dialect, pooled)
            if not alone:
                pooled.commit()
        except BaseException:
            if not alone:
                pooled.rollback()
            raise
        finally:
            if alone:
                try:
                    driver.autocommit = False
                except Exception:  # a broken connection: never back to the pool in autocommit
                    pooled.invalidate()
            pooled.close()

    def dispose(self) -> None:
        self.engine.dispose()


@dataclass(frozen=True, slots=True)
class RawConnection:
    """A pooled driver connection in a transaction (``Database.reading_raw``): what ``Prepared``
    runs on, like a ``Connection``'s ``dialect`` and ``connection``."""

    dialect: Dialect
    connection: PoolProxiedConnection


class Prepared:
    """A SELECT compiled once per dialect and run on a cursor of the driver (DB-API), in the
    transaction of the connection given: no statement-cache lookup, parameter processing,
    execution context or result object at each execution (hot reads, such as the three
    statements of a list page; through ``exec_driver_sql`` each cost about a tenth of the
    request, docs/performance.md).

    Its parameters must be values the driver takes as they are (str, int, float, None: no
    column-type conversion is applied), and its rows are the driver's tuples (times as stored:
    ``storage.types.stored_iso``/``stored_time``). Errors are the driver's own exceptions, not
    SQLAlchemy's wrappers of them."""

    def __init__(self, statement: ClauseElement) -> None:
        self.statement = statement
        self._compiled: dict[str, tuple[str, tuple[str, ...] | None]] = {}

    def rows(
        self, conn: Connection | RawConnection, params: Mapping[str, Any]
    ) -> Sequence[tuple[Any, ...]]:
        """The rows of the statement with ``params`` (by bind parameter name), as tuples."""
        compiled = self._compiled.get(conn.dialect.name)
        if compiled is None:
            done = cast(SQLCompiler, self.statement.compile(dialect=conn.dialect))
            names = tuple(done.positiontup or ()) if done.positional else None
            compiled = self._compiled[conn.dialect.name] = (str(done), names)
        sql, names = compiled
        args = dict(params) if names is None else tuple(params[name] for name in names)
        cursor = conn.connection.cursor()
        try:
            cursor.execute(sql, args)
            return cast("Sequence[tuple[Any, ...]]", cursor.fetchall())
        finally:
            cursor.close()


def rowcount(result: Result[Any]) -> int:
    """The rows an UPDATE or DELETE matched (the result of a DML statement is a CursorResult)."""
    return cast("CursorResult[Any]", result).rowcount or 0
