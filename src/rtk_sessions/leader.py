"""Cross-process locks: who runs the session sweeper, and who applies migrations.

Every server process (uvicorn worker, or node behind a load balancer) starts a sweeper thread, but
only the one holding the *sweeper lock* sweeps (docs/deployment.md):

* **PostgreSQL**: a session-level advisory lock (``pg_try_advisory_lock``) held on a dedicated
  connection. The lock lives exactly as long as that database session: when the process dies the
  server ends the session and releases the lock, and the next ``acquire()`` of another process
  (every sweep interval) takes it. The connection also asks the server to notice a vanished host
  (TCP keepalives) or a hung one (``idle_session_timeout``, PostgreSQL 14+; the leader pings every
  sweep interval, which keeps it alive while the process runs). Advisory locks are scoped to one
  database, so servers of different databases on one PostgreSQL server do not compete.
* **SQLite**: an exclusive ``fcntl.flock`` on ``<database file>.sweeper.lock``. The kernel
  releases it when the process dies. SQLite serves one host, so a file lock covers every process
  that can open the database.

``migration_lock(url)`` serializes ``alembic upgrade`` in the same way (a blocking advisory lock,
or a blocking ``flock`` on ``<database file>.migrate.lock``), so processes that start together
migrate once: the first applies the revisions, the others then find the database at head.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Protocol

from sqlalchemy import Connection, create_engine, make_url, pool, text

log = logging.getLogger("rtk_sessions.leader")


def lock_key(name: str) -> int:
    """A stable signed 64-bit advisory-lock key for ``name`` (first 8 bytes of its SHA-256)."""
    return int.from_bytes(
        hashlib.sha256(f"rtk-sessions:{name}".encode()).digest()[:8], "big", signed=True
    )


SWEEPER_KEY = lock_key("sweeper")
MIGRATIONS_KEY = lock_key("migrations")


class Lock(Protocol):
    """A lock that one process at a time may hold."""

    def acquire(self) -> bool:
        """Take the lock if free, or check that it is still held; True while this process holds
        it. Never blocks for long; never raises for a database that is down (returns False)."""
        ...

    def release(self) -> None:
        """Give the lock up (idempotent)."""
        ...

    def dispose(self) -> None:
        """Release, and free what the lock holds open (its engine)."""
        ...

    @property
    def held(self) -> bool: ...


def sqlite_path(url: str) -> Path | None:
    """The database file of a SQLite URL; None for other databases and in-memory SQLite."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    database = parsed.database
    if not database or database == ":memory:" or database.startswith("file::memory:"):
        return None
    return Path(database)


class FileLock:
    """An exclusive, non-blocking ``flock`` on ``path`` (created if missing)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: IO[bytes] | None = None

    @property
    def held(self) -> bool:
        return self._file is not None

    def acquire(self) -> bool:
        if self._file is not None:
            return True
        f = open(self.path, "a+b")  # noqa: SIM115 - kept open while the lock is held
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.close()
            return False
        except BaseException:
            f.close()
            raise
        self._file = f
        return True

    def release(self) -> None:
        f, self._file = self._file, None
        if f is not None:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)
            f.close()

    def dispose(self) -> None:
        self.release()


class AdvisoryLock:
    """A PostgreSQL session-level advisory lock on its own connection (outside any pool).

    ``idle_timeout_secs`` bounds how long the server keeps the lock of a client that stopped
    talking to it (it must exceed the interval between ``acquire()`` calls of the holder).
    """

    def __init__(self, url: str, key: int, *, idle_timeout_secs: float = 60.0) -> None:
        self.key = key
        self.idle_timeout_ms = max(1000, int(idle_timeout_secs * 1000))
        self._engine = create_engine(
            url, poolclass=pool.NullPool, isolation_level="AUTOCOMMIT", connect_args=_KEEPALIVE
        )
        self._conn: Connection | None = None
        self._held = False

    @property
    def held(self) -> bool:
        return self._held

    def acquire(self) -> bool:
        try:
            if self._held:
                assert self._conn is not None
                self._conn.execute(text("SELECT 1"))  # still our session, so still our lock
                return True
            if self._conn is None:
                self._conn = self._connect()
            self._held = bool(
                self._conn.execute(
                    text("SELECT pg_try_advisory_lock(:k)"), {"k": self.key}
                ).scalar_one()
            )
            return self._held
        except Exception as exc:  # the connection broke: whatever we held, the server released
            if self._held:
                log.warning("lost the advisory lock %d: %s", self.key, exc)
            self._drop()
            return False

    def release(self) -> None:
        if self._conn is not None and self._held:
            # closing the connection below releases it anyway
            with contextlib.suppress(Exception):
                self._conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": self.key})
        self._drop()

    def dispose(self) -> None:
        self.release()
        self._engine.dispose()

    def _connect(self) -> Connection:
        conn = self._engine.connect()
        if conn.dialect.server_version_info >= (14,):  # type: ignore[operator]
            conn.execute(text(f"SET idle_session_timeout = {self.idle_timeout_ms}"))
        return conn

    def _drop(self) -> None:
        self._held = False
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception:
                conn.invalidate()


# libpq keepalives: this side notices a dead server in about 10 + 3 * 5 s.
_KEEPALIVE = {
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 3,
}


class AlwaysLeader:
    """For databases nothing else can open (in-memory SQLite): this process leads."""

    held = True

    def acquire(self) -> bool:
        return True

    def release(self) -> None:
        pass

    def dispose(self) -> None:
        pass


def sweeper_lock(url: str, *, interval_secs: float) -> Lock:
    """The sweeper's leader lock for the database at ``url`` (see the module docstring)."""
    if make_url(url).get_backend_name() == "postgresql":
        return AdvisoryLock(url, SWEEPER_KEY, idle_timeout_secs=max(30.0, 5 * interval_secs))
    path = sqlite_path(url)
    if path is None:
        return AlwaysLeader()
    return FileLock(path.with_name(path.name + ".sweeper.lock"))


@contextmanager
def migration_lock(url: str) -> Iterator[None]:
    """Hold the migration lock of the database at ``url`` (blocking) for the ``with`` body."""
    if make_url(url).get_backend_name() == "postgresql":
        engine = create_engine(url, poolclass=pool.NullPool, isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": MIGRATIONS_KEY})
                try:
                    yield
                finally:
                    conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": MIGRATIONS_KEY})
        finally:
            engine.dispose()
        return
    path = sqlite_path(url)
    if path is None:
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".migrate.lock"), "a+b") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)
