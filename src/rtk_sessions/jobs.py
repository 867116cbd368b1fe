"""Durable background jobs in the database (the ``jobs`` table), for SQLite and PostgreSQL.

Life of a job::

    queued --claim--> running --handler ok--> done
       ^                 |
       +-- retry (backoff) +--handler raised--> failed (attempts used up, or PermanentJobError)

* **One active job per key.** ``active_key`` (``kind:key``) is unique and set only while a job is
  queued or running, so ``enqueue`` for a key that already has one returns that one instead; two
  concurrent enqueues race on the constraint and the loser reads the winner's job.
* **Claiming** is one conditional ``UPDATE ... WHERE id = :id AND <still claimable>``; its row
  count says whether this worker got the job. Claimable: queued with ``run_after <= now``, or
  running with an expired lease. PostgreSQL also picks the candidate with ``FOR UPDATE SKIP
  LOCKED``; SQLite serializes writers anyway.
* **Leases.** A claimed job carries ``locked_by`` and ``locked_until``; while the handler runs, a
  heartbeat renews the lease every third of ``job_lease_secs``. If the process dies, the lease runs
  out and any worker (for instance the restarted server) claims the job again.
* **Fencing.** A handler computes outside any transaction and returns a function that writes its
  result. The runner calls it in the transaction that marks the job done, and only if the job is
  still running under this worker's lease: a worker that lost its lease cannot write a result.
* **Retries.** A failed attempt is queued again after ``job_backoff_secs * 2**(attempt-1)`` (at
  most ``job_backoff_max_secs``, plus up to 10% jitter); after ``job_max_attempts`` attempts the job
  is ``failed``. ``last_error`` keeps the latest error either way.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session as DB

from rtk_sessions import observability
from rtk_sessions.clock import utc_now
from rtk_sessions.storage.engine import Database, rowcount
from rtk_sessions.storage.tables import JobRow

log = logging.getLogger("rtk_sessions.jobs")

QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"

Commit = Callable[[DB], None]
Handler = Callable[[JobRow], Commit | None]


class PermanentJobError(Exception):
    """A job that can never succeed (its input is gone): failed at once, not retried."""


class LostLease(Exception):
    """The job is no longer running under this worker (its lease ran out and it was reclaimed)."""


def active_key(kind: str, key: str) -> str:
    return f"{kind}:{key}"


def enqueue(
    db: DB,
    kind: str,
    key: str,
    *,
    now: datetime,
    max_attempts: int,
    app_id: str | None = None,
    payload: dict[str, Any] | None = None,
) -> tuple[JobRow, bool]:
    """Queue a job for ``key`` unless one is already queued or running; returns (job, created).

    Runs in a SAVEPOINT, so losing the race against a concurrent enqueue leaves the caller's
    transaction usable.
    """
    existing = find_active(db, kind, key)
    if existing is not None:
        return existing, False
    job = JobRow(
        id=str(uuid.uuid4()),
        kind=kind,
        key=key,
        app_id=app_id,
        active_key=active_key(kind, key),
        status=QUEUED,
        attempts=0,
        max_attempts=max_attempts,
        run_after=now,
        payload=payload,
        created_at=now,
        updated_at=now,
    )
    try:
        with db.begin_nested():
            db.add(job)
            db.flush()
    except IntegrityError:
        existing = find_active(db, kind, key)
        if existing is None:  # the other job finished in between; very unlikely, let caller retry
            raise
        return existing, False
    return job, True


def find_active(db: DB, kind: str, key: str) -> JobRow | None:
    return db.scalar(select(JobRow).where(JobRow.active_key == active_key(kind, key)))


def latest(db: DB, kind: str, key: str) -> JobRow | None:
    return db.scalar(
        select(JobRow)
        .where(JobRow.kind == kind, JobRow.key == key)
        .order_by(JobRow.created_at.desc(), JobRow.id.desc())
        .limit(1)
    )


def backoff(attempt: int, base: float, cap: float) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1-based), before jitter."""
    return min(cap, base * 2.0 ** max(0, attempt - 1))


@dataclass
class JobSettings:
    lease_secs: float = 30.0
    poll_secs: float = 1.0
    backoff_secs: float = 5.0
    backoff_max_secs: float = 600.0


class JobRunner:
    """One worker thread that claims and runs jobs, plus the heartbeat that renews its lease."""

    def __init__(
        self,
        db: Database,
        handlers: dict[str, Handler],
        settings: JobSettings | None = None,
        *,
        worker_id: str | None = None,
        idle: Callable[[], None] | None = None,
    ) -> None:
        self.db = db
        self.handlers = handlers
        self.settings = settings or JobSettings()
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.idle = idle
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._current: str | None = None
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="rtk-jobs", daemon=True)
        self._heartbeat = threading.Thread(target=self._beat, name="rtk-jobs-lease", daemon=True)

    # ---- control ---------------------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()
        self._heartbeat.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop claiming; wait up to ``timeout`` for the job in hand. A job still running then keeps
        its lease until it runs out, and is claimed again by the next worker."""
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=timeout)
        self._heartbeat.join(timeout=2)

    def notify(self) -> None:
        """Look for work now (a job was just queued in this process)."""
        self._wake.set()

    # ---- one step (public for tests) ---------------------------------------------------------

    def claim(self, now: datetime | None = None) -> JobRow | None:
        now = now or utc_now()
        claimable = or_(
            and_(JobRow.status == QUEUED, JobRow.run_after <= now),
            and_(JobRow.status == RUNNING, JobRow.locked_until < now),
        )
        kinds = JobRow.kind.in_(list(self.handlers))
        with self.db.unit_of_work() as s:
            query = select(JobRow.id).where(claimable, kinds).order_by(JobRow.run_after).limit(1)
            if self.db.dialect == "postgresql":
                query = query.with_for_update(skip_locked=True)
            job_id = s.scalar(query)
            if job_id is None:
                return None
            claimed = rowcount(
                s.execute(
                    update(JobRow)
                    .where(JobRow.id == job_id, claimable)
                    .values(
                        status=RUNNING,
                        locked_by=self.worker_id,
                        locked_until=now + timedelta(seconds=self.settings.lease_secs),
                        attempts=JobRow.attempts + 1,
                        updated_at=now,
                    )
                    .execution_options(synchronize_session=False)
                )
            )
            if claimed != 1:
                return None
            job = s.execute(
                select(JobRow).where(JobRow.id == job_id).execution_options(populate_existing=True)
            ).scalar_one()
            if job.attempts > job.max_attempts:
                # Its workers kept dying while running it (lease ran out every time).
                self._finish(s, job, FAILED, now, error=job.last_error or "worker lost the job")
                return None
            s.expunge(job)
            return job

    def run_one(self) -> bool:
        """Claim and run one job; False when there was nothing to do."""
        job = self.claim()
        if job is None:
            return False
        self.run(job)
        return True

    def run(self, job: JobRow) -> None:
        with self._lock:
            self._current = job.id
        try:
            handler = self.handlers[job.kind]
            try:
                commit = handler(job)
            except PermanentJobError as exc:
                self._failed(job, str(exc) or type(exc).__name__, permanent=True)
                return
            except Exception as exc:
                log.warning(
                    "job %s (%s %s) attempt %d failed: %s",
                    job.id,
                    job.kind,
                    job.key,
                    job.attempts,
                    exc,
                )
                self._failed(job, str(exc) or type(exc).__name__, permanent=False)
                return
            try:
                self._complete(job, commit)
            except LostLease:
                log.warning("job %s: lease lost; result discarded", job.id)
        finally:
            with self._lock:
                self._current = None

    # ---- internals -------------------------------------------------------------------------

    def _mine(self, s: DB, job: JobRow) -> JobRow:
        row = s.execute(
            select(JobRow).where(JobRow.id == job.id).execution_options(populate_existing=True)
        ).scalar_one_or_none()
        if row is None or row.status != RUNNING or row.locked_by != self.worker_id:
            raise LostLease(job.id)
        return row

    def _finish(self, s: DB, row: JobRow, status: str, now: datetime, error: str | None) -> None:
        row.status = status
        row.active_key = None
        row.locked_by = row.locked_until = None
        row.finished_at = row.updated_at = now
        if error is not None:
            row.last_error = error[:4000]

    def _complete(self, job: JobRow, commit: Commit | None) -> None:
        with self.db.unit_of_work() as s:
            row = self._mine(s, job)
            if commit is not None:
                commit(s)
            self._finish(s, row, DONE, utc_now(), error=None)

    def _failed(self, job: JobRow, error: str, *, permanent: bool) -> None:
        now = utc_now()
        try:
            with self.db.unit_of_work() as s:
                row = self._mine(s, job)
                final = permanent or row.attempts >= row.max_attempts
                observability.JOB_FAILURES.labels(job.kind, str(final).lower()).inc()
                if final:
                    self._finish(s, row, FAILED, now, error=error)
                    return
                delay = backoff(
                    row.attempts, self.settings.backoff_secs, self.settings.backoff_max_secs
                )
                delay *= 1 + random.random() * 0.1
                row.status = QUEUED
                row.run_after = now + timedelta(seconds=delay)
                row.locked_by = row.locked_until = None
                row.last_error = error[:4000]
                row.updated_at = now
        except LostLease:
            log.warning("job %s: lease lost before recording its failure", job.id)

    def _renew(self) -> None:
        with self._lock:
            job_id = self._current
        if job_id is None:
            return
        now = utc_now()
        with self.db.unit_of_work() as s:
            s.execute(
                update(JobRow)
                .where(
                    JobRow.id == job_id,
                    JobRow.status == RUNNING,
                    JobRow.locked_by == self.worker_id,
                )
                .values(locked_until=now + timedelta(seconds=self.settings.lease_secs))
                .execution_options(synchronize_session=False)
            )

    def _beat(self) -> None:
        interval = self.settings.lease_secs / 3
        while not self._stop.wait(interval):
            try:
                self._renew()
            except Exception:
                log.exception("renewing the job lease failed")

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                worked = self.run_one()
            except Exception:
                log.exception("job worker step failed")
                worked = False
            if worked:
                continue
            if self.idle is not None:
                try:
                    self.idle()
                except Exception:
                    log.exception("job worker idle task failed")
            self._wake.wait(self.settings.poll_secs)
            self._wake.clear()
