"""SQLite's one write lock: what a batch does before taking it, and how processes queue for it.

A batch's reports are applied to the connections' states in a read transaction before the write
lock (``domain.ingest.precompute_stats``); under the lock the batch takes a precomputed state only
where the stored row is still the one it started from and the batch makes the same calls. These
tests compare what is stored with what the batch computes under the lock alone: for every
recording in the fixtures, when another batch wrote the same connections in between, and when the
batch applies fewer reports than were precomputed.
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from rtk_sessions import migrations, stats
from rtk_sessions.clock import utc_now
from rtk_sessions.contract.ingest import Event, IngestBatch, PeerStats
from rtk_sessions.domain import accounts
from rtk_sessions.domain.ingest import ingest_batch, precompute_stats
from rtk_sessions.domain.samples import Precomputed
from rtk_sessions.importers import load_recording, to_ingest_events
from rtk_sessions.storage import blocks
from rtk_sessions.storage.engine import Database
from tests.conftest import FIXTURES, REAL_STATS

ACCOUNT = "a" * 32
RECORDINGS = [
    *sorted(REAL_STATS.glob("jitsi-rtcstats_*.rtcstats.jsonl")),
    FIXTURES / "webrtc-internals" / "chromium156-loopback.json",
]


def _events(path: Path) -> list[dict[str, Any]]:
    """Every recorded client's ingestion events, in timestamp order."""
    out: list[dict[str, Any]] = []
    for index, client in enumerate(load_recording(path).clients):
        out += to_ingest_events(
            client,
            peer_id=f"peer-{index}",
            meeting_id="meeting",
            session_id="session",
            meeting_title=path.name,
            id_prefix=str(index),
        )
    return sorted(out, key=lambda e: e["timestamp"])


def _batches(events: list[dict[str, Any]], size: int) -> list[list[Event]]:
    return [
        IngestBatch.model_validate({"events": events[start : start + size]}).events
        for start in range(0, len(events), size)
    ]


@pytest.fixture
def databases(tmp_path: Path) -> Iterator[tuple[tuple[Database, str], tuple[Database, str]]]:
    """Two empty SQLite databases, each with an app: (database, app id) twice."""
    out = []
    for name in ("plain", "early"):
        url = f"sqlite:///{tmp_path / name}.db"
        migrations.upgrade(url)
        db = Database(url)
        with db.unit_of_work() as s:
            out.append((db, accounts.create_app(s, ACCOUNT, name).id))
    yield out[0], out[1]
    for db, _ in out:
        db.dispose()


def _apply(db: Database, app_id: str, events: list[Event], early: Precomputed | None) -> None:
    with db.unit_of_work() as s:
        app = accounts.get_app(s, ACCOUNT, app_id)
        ingest_batch(s, app, events, now=utc_now(), precomputed=early)


def _precompute(db: Database, app_id: str, events: list[Event]) -> Precomputed:
    with db.unit_of_work(write=False) as s:
        return precompute_stats(s, app_id, events, now=utc_now())


def _stored(db: Database) -> dict[str, Any]:
    """What the sample store holds, without app ids (each database's app has its own)."""
    with db.engine.connect() as conn:
        block_rows = conn.execute(
            sa.text(
                "SELECT peer_id, kind, connection_id, start_ms, end_ms, row_count, rows"
                " FROM sample_blocks ORDER BY peer_id, kind, connection_id, start_ms"
            )
        ).all()
        state_rows = conn.execute(
            sa.text(
                "SELECT peer_id, connection_id, timestamp_ms, state FROM peer_connection_states"
                " ORDER BY peer_id, connection_id"
            )
        ).all()
    return {
        "blocks": [(*r[:6], blocks.decode_rows(r[6])) for r in block_rows],
        "states": [(*r[:3], blocks.decode_state(r[3])) for r in state_rows],
    }


class _CountPasses:
    """Counts the getStats passes (``stats.ingest_indexed``) the sample store runs."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls = 0
        original = stats.ingest_indexed

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls += 1
            return original(*args, **kwargs)

        monkeypatch.setattr(stats, "ingest_indexed", counted)  # read by domain.samples


@pytest.mark.parametrize("path", RECORDINGS, ids=[p.name for p in RECORDINGS])
def test_a_precomputed_batch_stores_what_the_lock_alone_computes(
    databases: tuple[tuple[Database, str], tuple[Database, str]],
    path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every recording, in 40-event batches (so that batches start from stored states): the
    blocks and states are the same bytes, and no getStats pass runs under the write lock."""
    (plain, plain_app), (early, early_app) = databases
    batches = _batches(_events(path), 40)
    reports = 0
    for events in batches:
        _apply(plain, plain_app, events, None)
        precomputed = _precompute(early, early_app, events)
        counter = _CountPasses(monkeypatch)
        _apply(early, early_app, events, precomputed)
        monkeypatch.undo()
        assert counter.calls == 0
        reports += sum(isinstance(e, PeerStats) for e in events)
    assert reports > 0
    stored = _stored(early)
    assert stored["blocks"] and stored == _stored(plain)


def test_a_connection_written_after_the_precompute_is_computed_again(
    databases: tuple[tuple[Database, str], tuple[Database, str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A batch precomputed against the states before another batch of the same connections
    was written (two processes: both read, one takes the lock first): its reports are applied
    again under the lock, to the states the other batch left; the stored result is the one of
    the two batches applied one after the other."""
    (plain, plain_app), (early, early_app) = databases
    path = REAL_STATS / "jitsi-rtcstats_google-standard-stats-p2p.rtcstats.jsonl"
    events = _events(path)
    stats_at = [i for i, e in enumerate(events) if e["type"] == "peer.stats"]
    middle = stats_at[len(stats_at) // 2]
    (first,) = _batches(events[:middle], len(events))
    (second,) = _batches(events[middle:], len(events))
    reports = sum(isinstance(e, PeerStats) for e in second)
    assert reports

    _apply(plain, plain_app, first, None)
    _apply(plain, plain_app, second, None)

    stale = _precompute(early, early_app, second)  # read before ``first`` is written
    _apply(early, early_app, first, _precompute(early, early_app, first))
    counter = _CountPasses(monkeypatch)
    _apply(early, early_app, second, stale)
    monkeypatch.undo()
    assert counter.calls == reports
    assert _stored(early) == _stored(plain)


@pytest.mark.parametrize("left_out", ["middle", "last"])
def test_a_batch_that_applies_other_reports_than_the_precompute_stores_its_own(
    databases: tuple[tuple[Database, str], tuple[Database, str]],
    monkeypatch: pytest.MonkeyPatch,
    left_out: str,
) -> None:
    """Precomputed with a report the batch then does not apply (in the middle of a
    connection's run: a call other than the one expected; at its end: fewer calls): the stored
    result is that of the reports the batch applied, without the left-out one."""
    (plain, plain_app), (early, early_app) = databases
    path = REAL_STATS / "jitsi-rtcstats_google-standard-stats-p2p.rtcstats.jsonl"
    (events,) = _batches(_events(path)[:60], 60)
    at = [i for i, e in enumerate(events) if isinstance(e, PeerStats)]
    assert len(at) > 4
    drop = at[len(at) // 2] if left_out == "middle" else at[-1]
    applied = events[:drop] + events[drop + 1 :]

    _apply(plain, plain_app, applied, None)
    precomputed = _precompute(early, early_app, events)
    counter = _CountPasses(monkeypatch)
    _apply(early, early_app, applied, precomputed)
    monkeypatch.undo()
    assert counter.calls > 0  # some reports were applied again under the lock
    assert _stored(early) == _stored(plain)


def test_a_writer_holds_the_lock_file_of_its_database(tmp_path: Path) -> None:
    """While a write transaction is open, ``<database>.write.lock`` is locked (``flock``), so a
    writer of another process waits in the kernel, not in SQLite's polling busy handler; a read
    transaction does not take it."""
    url = f"sqlite:///{tmp_path / 'rtk.db'}"
    migrations.upgrade(url)
    db = Database(url)
    lock_path = tmp_path / "rtk.db.write.lock"

    def locked() -> bool:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(fd)  # closing releases a lock taken here
        return False

    with db.unit_of_work(write=False):
        assert not locked()
    with db.unit_of_work() as s:
        accounts.create_app(s, ACCOUNT, "one")
        assert locked()
    assert not locked()

    other = Database(url)  # another process's writer, as far as the lock goes
    order: list[str] = []
    with db.unit_of_work() as s:
        accounts.create_app(s, ACCOUNT, "two")
        worker = threading.Thread(target=lambda: _write(other, order))
        worker.start()
        worker.join(0.5)
        assert worker.is_alive()  # waiting for the lock
        order.append("first")
    worker.join(30)
    assert order == ["first", "second"]
    with db.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM apps")).scalar() == 3
    other.dispose()
    db.dispose()


def _write(db: Database, order: list[str]) -> None:
    with db.unit_of_work() as s:
        accounts.create_app(s, ACCOUNT, "three")
    order.append("second")
