"""The durable job runner (rtk_sessions.jobs) on SQLite and PostgreSQL, driven step by step."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import delete, select
from sqlalchemy.orm import Session as DB

from rtk_sessions import jobs
from rtk_sessions.clock import utc_now
from rtk_sessions.config import normalize_database_url
from rtk_sessions.storage.engine import Database
from rtk_sessions.storage.tables import JobRow

FAST = jobs.JobSettings(lease_secs=1.0, poll_secs=0.05, backoff_secs=0.2, backoff_max_secs=1.0)


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(normalize_database_url(database_url))
    yield database
    database.dispose()


@pytest.fixture
def kind() -> str:
    """A job kind of this test only (the shared database also has the live server's jobs)."""
    return f"t{uuid.uuid4().hex[:10]}"


def enqueue(db: Database, kind: str, key: str, attempts: int = 3) -> JobRow:
    with db.unit_of_work() as s:
        job, created = jobs.enqueue(s, kind, key, now=utc_now(), max_attempts=attempts)
        assert created
        return job


def row(db: Database, job_id: str) -> JobRow:
    with db.unit_of_work(write=False) as s:
        job = s.get(JobRow, job_id)
        assert job is not None
        return job


def test_success_runs_commit_in_the_finishing_transaction(db: Database, kind: str) -> None:
    seen: list[tuple[str, str]] = []

    def handler(job: JobRow) -> jobs.Commit:
        def commit(s: DB) -> None:
            found = s.get(JobRow, job.id)
            assert found is not None
            seen.append((job.key, found.status))

        return commit

    job = enqueue(db, kind, "a")
    runner = jobs.JobRunner(db, {kind: handler}, FAST)
    assert runner.run_one() is True
    assert runner.run_one() is False
    assert seen == [("a", "running")]
    done = row(db, job.id)
    assert (done.status, done.attempts, done.active_key, done.locked_by) == ("done", 1, None, None)


def test_failure_is_retried_with_backoff_then_succeeds(db: Database, kind: str) -> None:
    calls = []

    def handler(job: JobRow) -> None:
        calls.append(time.monotonic())
        if len(calls) < 3:
            raise RuntimeError(f"backend down ({len(calls)})")

    job = enqueue(db, kind, "b", attempts=5)
    runner = jobs.JobRunner(db, {kind: handler}, FAST)
    assert runner.run_one()
    first = row(db, job.id)
    assert first.status == "queued" and first.attempts == 1
    assert first.last_error == "backend down (1)"
    assert first.run_after > utc_now()  # not before the backoff
    assert runner.run_one() is False
    deadline = time.monotonic() + 10
    while row(db, job.id).status != "done":
        runner.run_one()
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert len(calls) == 3
    assert calls[1] - calls[0] >= 0.2 and calls[2] - calls[1] >= 0.4  # 0.2 s, then doubled
    final = row(db, job.id)
    assert final.attempts == 3 and final.last_error == "backend down (2)"


def test_attempts_run_out_and_permanent_errors_fail_at_once(db: Database, kind: str) -> None:
    def flaky(job: JobRow) -> None:
        raise RuntimeError("always")

    def gone(job: JobRow) -> None:
        raise jobs.PermanentJobError("input is gone")

    job = enqueue(db, kind, "c", attempts=2)
    runner = jobs.JobRunner(db, {kind: flaky}, jobs.JobSettings(backoff_secs=0.01))
    runner.run_one()
    time.sleep(0.05)
    runner.run_one()
    failed = row(db, job.id)
    assert (failed.status, failed.attempts, failed.last_error) == ("failed", 2, "always")
    assert failed.active_key is None
    # a failed job frees its key: a new one can be queued
    again = enqueue(db, kind, "c")
    assert again.id != job.id

    other = f"{kind}x"
    job2 = enqueue(db, other, "d", attempts=5)
    jobs.JobRunner(db, {other: gone}, FAST).run_one()
    assert (row(db, job2.id).status, row(db, job2.id).attempts) == ("failed", 1)


def test_one_active_job_per_key_under_concurrency(db: Database, kind: str) -> None:
    barrier = threading.Barrier(10)
    results: list[tuple[str, bool]] = []

    def worker() -> None:
        barrier.wait()
        with db.unit_of_work() as s:
            job, created = jobs.enqueue(s, kind, "same", now=utc_now(), max_attempts=3)
            results.append((job.id, created))

    threads = [threading.Thread(target=worker) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 10
    assert len({job_id for job_id, _ in results}) == 1
    assert sum(created for _, created in results) == 1


def test_each_job_is_claimed_once_by_competing_workers(db: Database, kind: str) -> None:
    ids = {enqueue(db, kind, f"k{i}").id for i in range(12)}
    # Leases longer than the test: a claimed job is never finished here, so with FAST's 1 s lease
    # a loaded machine would let a runner reclaim it (correctly) and the count would be off.
    held = replace(FAST, lease_secs=600.0)
    runners = [jobs.JobRunner(db, {kind: lambda job: None}, held) for _ in range(4)]
    claimed: list[str] = []
    lock = threading.Lock()

    def drain(runner: jobs.JobRunner) -> None:
        while True:
            job = runner.claim()
            if job is None:
                return
            with lock:
                claimed.append(job.id)

    threads = [threading.Thread(target=drain, args=(r,)) for r in runners]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(claimed) == sorted(ids)


def test_expired_lease_is_reclaimed_and_the_old_worker_is_fenced(db: Database, kind: str) -> None:
    results: list[str] = []

    def handler(job: JobRow) -> jobs.Commit:
        return lambda s: results.append(job.id)

    job = enqueue(db, kind, "lease")
    dead = jobs.JobRunner(db, {kind: handler}, FAST, worker_id="dead")
    alive = jobs.JobRunner(db, {kind: handler}, FAST, worker_id="alive")
    t0 = utc_now()  # explicit instants: the machine's load cannot expire the lease early
    taken = dead.claim(now=t0)
    assert taken is not None and taken.id == job.id
    assert alive.claim(now=t0 + timedelta(seconds=0.5)) is None  # leased
    assert alive.claim(now=t0 + timedelta(seconds=1.5)) is not None  # lease ran out
    # the first worker comes back: its result must not be written
    dead.run(taken)
    assert results == []
    assert row(db, job.id).locked_by == "alive"


def test_heartbeat_keeps_a_long_job_leased(db: Database, kind: str) -> None:
    release = threading.Event()

    def slow(job: JobRow) -> None:
        release.wait(10)

    job = enqueue(db, kind, "slow")
    runner = jobs.JobRunner(db, {kind: slow}, FAST)
    other = jobs.JobRunner(db, {kind: slow}, FAST)
    runner.start()
    try:
        deadline = time.monotonic() + 5
        while row(db, job.id).status != "running":
            assert time.monotonic() < deadline
            time.sleep(0.02)
        # The heartbeat renews the lease: wait (bounded) until it has been pushed past two whole
        # leases beyond the first; no other worker can claim it before the renewed expiry.
        first = row(db, job.id).locked_until
        assert first is not None
        deadline = time.monotonic() + 30
        while (renewed := row(db, job.id).locked_until) is None or renewed < first + timedelta(
            seconds=2 * FAST.lease_secs
        ):
            assert time.monotonic() < deadline, "the heartbeat never renewed the lease"
            time.sleep(0.05)
        assert other.claim(now=renewed - timedelta(seconds=0.1)) is None
        release.set()
        deadline = time.monotonic() + 5
        while row(db, job.id).status != "done":
            assert time.monotonic() < deadline
            time.sleep(0.02)
        assert row(db, job.id).attempts == 1
    finally:
        release.set()
        runner.stop()


def test_a_job_whose_workers_keep_dying_fails(db: Database, kind: str) -> None:
    job = enqueue(db, kind, "poison", attempts=2)
    runner = jobs.JobRunner(db, {kind: lambda j: None}, FAST)
    later = utc_now()
    for _ in range(2):  # claimed, then the worker "dies" (never finishes)
        later += timedelta(seconds=2)
        assert runner.claim(now=later) is not None
    later += timedelta(seconds=2)
    assert runner.claim(now=later) is None
    assert row(db, job.id).status == "failed"


def test_backoff_doubles_up_to_the_cap() -> None:
    assert [jobs.backoff(n, 5, 60) for n in range(1, 7)] == [5, 10, 20, 40, 60, 60]


@pytest.fixture(autouse=True)
def _cleanup(db: Database, kind: str) -> Iterator[None]:
    yield
    with db.unit_of_work() as s:
        s.execute(delete(JobRow).where(JobRow.kind.startswith(kind)))
        assert s.scalar(select(JobRow.id).where(JobRow.kind == kind)) is None
