"""Ingestion retries PostgreSQL deadlocks and serialization failures (issue 9, defect 4).

Under concurrent ingestion PostgreSQL may pick a batch's transaction as the victim of a deadlock
(``40P01``) or, at a stricter isolation, of a serialization failure (``40001``); both mean "run it
again", and ``api.ingest.apply_batch`` does (a bounded number of times) before answering. Here the
errors are made to happen inside the batch's transaction, after its writes:

- on both databases, psycopg's ``DeadlockDetected``/``SerializationFailure`` wrapped in
  SQLAlchemy's ``OperationalError``, as the driver delivers them;
- on PostgreSQL also raised by the server itself (``RAISE ... USING ERRCODE``), and a real
  deadlock between two concurrent clients' batches: each takes two locks in the opposite order
  inside its transaction, PostgreSQL aborts one of them (the one with the shorter
  ``deadlock_timeout``).

Each answer must be 200 with every event accepted once; with the retry removed (only
``IntegrityError`` retried, as before the fix) each of these answers 500.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import psycopg
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session as DB

from rtk_sessions.api import ingest as ingest_api
from rtk_sessions.clock import iso
from rtk_sessions.domain.ingest import ingest_batch
from rtk_sessions.storage.engine import Database
from rtk_sessions.storage.tables import IngestedEvent, PeerEvent
from tests.conftest import LiveServer, Tenant
from tests.helpers import ingest_url
from tests.reliability.conftest import dialect

RealIngest = Callable[..., Any]


def _batch(peer: str) -> list[dict[str, Any]]:
    """A peer's join, a chat message and its leave: the leave locks the session row."""
    meeting = f"m-{uuid.uuid4()}"
    now = datetime.now(UTC).timestamp() * 1000
    return [
        {
            "id": f"{peer}:join",
            "type": "peer.joined",
            "timestamp": iso(datetime.fromtimestamp(now / 1000 - 5, UTC)),
            "peer_id": peer,
            "meeting_id": meeting,
        },
        {
            "id": f"{peer}:chat",
            "type": "chat.message",
            "timestamp": now - 2000,
            "peer_id": peer,
            "payload_type": "TEXT_MESSAGE",
            "payload": "hello",
        },
        {"id": f"{peer}:left", "type": "peer.left", "timestamp": now - 1000, "peer_id": peer},
    ]


def _post(tenant: Tenant, events: list[dict[str, Any]]) -> httpx.Response:
    return httpx.post(
        ingest_url(tenant),
        json={"events": events},
        headers={"Authorization": f"Bearer {tenant.token}"},
        timeout=120,
    )


def _stored(server: LiveServer, tenant: Tenant, peer: str) -> tuple[int, int]:
    """(ingested_events rows of the peer's events, peer events of the peer)."""
    db: Database = server.app.state.db
    with db.unit_of_work(write=False) as s:
        logged = s.scalar(
            select(func.count()).where(
                IngestedEvent.app_id == tenant.app_id, IngestedEvent.event_id.like(f"{peer}:%")
            )
        )
        events = s.scalar(select(func.count()).where(PeerEvent.peer_id == peer))
    return int(logged or 0), int(events or 0)


class Injector:
    """Wraps ``ingest_batch`` as ``api.ingest`` calls it: the first ``failures`` calls apply the
    batch (its writes happen) and then fail with ``make_error(session)``."""

    def __init__(self, real: RealIngest, failures: int, make_error: Callable[[DB], None]) -> None:
        self.real, self.failures, self.make_error = real, failures, make_error
        self.calls = 0
        self.lock = threading.Lock()

    def __call__(self, session: DB, *args: Any, **kwargs: Any) -> Any:
        result = self.real(session, *args, **kwargs)
        with self.lock:
            self.calls += 1
            fail = self.calls <= self.failures
        if fail:
            session.flush()
            self.make_error(session)
        return result


def _driver_error(cls: type[psycopg.Error]) -> Callable[[DB], None]:
    def fail(_: DB) -> None:
        raise OperationalError("INSERT ...", None, cls(f"injected {cls.__name__}"))

    return fail


def _server_error(condition: str) -> Callable[[DB], None]:
    """PostgreSQL raises the error itself: the driver and SQLAlchemy map it as in production."""

    def fail(session: DB) -> None:
        session.execute(
            text(f"DO $$ BEGIN RAISE EXCEPTION 'injected' USING ERRCODE = '{condition}'; END $$")
        )

    return fail


def _cases(url: str) -> Iterator[tuple[str, Callable[[DB], None]]]:
    yield "driver DeadlockDetected", _driver_error(psycopg.errors.DeadlockDetected)
    yield "driver SerializationFailure", _driver_error(psycopg.errors.SerializationFailure)
    if dialect(url) == "postgresql":
        yield "server deadlock_detected", _server_error("deadlock_detected")
        yield "server serialization_failure", _server_error("serialization_failure")


def test_deadlocks_and_serialization_failures_are_retried(
    quiet_server: LiveServer, own_tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = ingest_batch
    for name, make_error in _cases(quiet_server.database_url):
        for failures in (1, ingest_api._ATTEMPTS - 1):  # once; all but the last attempt
            injector = Injector(real, failures, make_error)
            monkeypatch.setattr(ingest_api, "ingest_batch", injector)
            peer = f"p-{uuid.uuid4()}"
            response = _post(own_tenant, _batch(peer))
            assert response.status_code == 200, (name, failures, response.text)
            # the failed attempts were rolled back whole: the last one applied everything anew
            assert response.json()["data"] == {"accepted": 3, "duplicates": 0}, name
            assert injector.calls == failures + 1, name
            assert _stored(quiet_server, own_tenant, peer) == (3, 3), name
            # and a replay is all duplicates
            monkeypatch.setattr(ingest_api, "ingest_batch", real)
            again = _post(own_tenant, _batch(peer))
            assert again.status_code == 200, again.text
            assert again.json()["data"] == {"accepted": 0, "duplicates": 3}, name


def test_retries_are_bounded(
    quiet_server: LiveServer, own_tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A conflict that never clears is not retried forever: after ``_ATTEMPTS`` attempts the
    batch fails (a 5xx, which the collector resends later) and nothing of it is stored."""
    injector = Injector(ingest_batch, 1000, _driver_error(psycopg.errors.DeadlockDetected))
    monkeypatch.setattr(ingest_api, "ingest_batch", injector)
    peer = f"p-{uuid.uuid4()}"
    response = _post(own_tenant, _batch(peer))
    assert 500 <= response.status_code < 600, response.text
    assert response.json()["success"] is False
    assert injector.calls == ingest_api._ATTEMPTS
    assert _stored(quiet_server, own_tenant, peer) == (0, 0)


def test_other_database_errors_are_not_retried(
    quiet_server: LiveServer, own_tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    injector = Injector(ingest_batch, 1000, _driver_error(psycopg.errors.DiskFull))
    monkeypatch.setattr(ingest_api, "ingest_batch", injector)
    response = _post(own_tenant, _batch(f"p-{uuid.uuid4()}"))
    assert 500 <= response.status_code < 600, response.text
    assert injector.calls == 1


class CrossedLocks:
    """The first two calls of ``ingest_batch`` (two concurrent batches) each take a
    transaction-level advisory lock, wait for each other, apply their batch, and take the other's
    lock: a real deadlock (the batches' own row locks may join the cycle).
    The second caller waits longest before checking for deadlocks, so PostgreSQL aborts the
    first one's transaction (with ``deadlock_detected``); later calls (its retry) take no locks."""

    KEYS = (0x52_54_4B_01, 0x52_54_4B_02)

    def __init__(self, real: RealIngest) -> None:
        self.real = real
        self.calls = 0
        self.lock = threading.Lock()
        self.barrier = threading.Barrier(2, timeout=60)
        self.deadlocks = 0

    def __call__(self, session: DB, *args: Any, **kwargs: Any) -> Any:
        with self.lock:
            self.calls += 1
            turn = self.calls
        if turn > 2:
            return self.real(session, *args, **kwargs)
        first, second = self.KEYS if turn == 1 else self.KEYS[::-1]
        # the victim is the one whose deadlock_timeout runs out first
        session.execute(text(f"SET LOCAL deadlock_timeout = '{'200ms' if turn == 1 else '30s'}'"))
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": first})
        self.barrier.wait()
        try:
            result = self.real(session, *args, **kwargs)  # the batch's inserts and row locks
            session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": second})
        except OperationalError as exc:  # here or, waiting for a row lock, in the batch
            if getattr(exc.orig, "sqlstate", None) == "40P01":
                with self.lock:
                    self.deadlocks += 1
            raise
        return result


def test_concurrent_batches_that_deadlock_are_retried(
    quiet_server: LiveServer, own_tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two clients' batches deadlock for real on PostgreSQL; both are acknowledged, each event
    stored once. (SQLite serialises writers: there is nothing to deadlock.)"""
    if dialect(quiet_server.database_url) != "postgresql":
        pytest.skip("SQLite has one writer at a time: no deadlocks to retry")
    crossed = CrossedLocks(ingest_batch)
    monkeypatch.setattr(ingest_api, "ingest_batch", crossed)
    peers = [f"p-{uuid.uuid4()}" for _ in range(2)]
    answers: dict[str, httpx.Response] = {}

    def client(peer: str) -> None:
        answers[peer] = _post(own_tenant, _batch(peer))

    threads = [threading.Thread(target=client, args=(p,)) for p in peers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert crossed.deadlocks == 1, (crossed.calls, {p: a.text for p, a in answers.items()})
    for peer in peers:
        assert answers[peer].status_code == 200, answers[peer].text
        assert answers[peer].json()["data"] == {"accepted": 3, "duplicates": 0}
        assert _stored(quiet_server, own_tenant, peer) == (3, 3)
    assert crossed.calls == 3  # two first attempts, one retry
