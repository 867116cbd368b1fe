"""A batch of many joins and leaves of the same sessions ends exactly where the same events sent
one per batch end: counts and their peak, consumed time, peers, peer events, webhook deliveries.

Ingestion applies a batch's lifecycle events to its sessions in memory and writes its peers in one
statement at the end (domain/ingest.py); sending the events one at a time reads and writes the
database at every step instead, so the two must agree.
"""

from __future__ import annotations

import json
import threading
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from rtk_sessions.api.deps import AppScope
from rtk_sessions.api.ingest import apply_batch, parse_batch
from rtk_sessions.config import Settings, normalize_database_url
from rtk_sessions.domain import accounts, webhooks
from rtk_sessions.domain.ingest import ingest_batch
from rtk_sessions.domain.lifecycle import fold_session_counts, fold_session_day_counts, sweep
from rtk_sessions.storage.engine import Database
from rtk_sessions.storage.tables import (
    ChatMessageRow,
    Meeting,
    Peer,
    PeerEvent,
    Session,
    SessionCount,
    SessionDayCount,
    WebhookDeliveryRow,
)

T0 = 1_780_000_000_000  # ms
# (peer, join s, leave s or None) of two meetings: "named" sends its session id, "newest" lets
# the service pick the meeting's session. Leaves interleave with joins so that the number present
# rises and falls within one batch: peak 4 in "named" (at 8 s: p2, p3, p4, p5), 3 in "newest".
Plan = list[tuple[str, float, float | None]]
NAMED: Plan = [
    ("p0", 0, 1.5),
    ("p1", 1, 2.5),
    ("p2", 2, 30),
    ("p3", 3, 9.5),
    ("p4", 7, 12),
    ("p5", 8, None),
    ("p6", 10, 11),
    ("p7", 13, 14),
]
NEWEST: Plan = [("q0", 0.5, 4), ("q1", 1, 2), ("q2", 3, 5), ("q3", 3.5, None), ("q4", 4.5, 6)]


def _events(tag: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    for meeting, plan in (("named", NAMED), ("newest", NEWEST)):
        for peer, joined, left in plan:
            join = {
                "id": f"{tag}-{peer}:j",
                "type": "peer.joined",
                "peer_id": f"{tag}-{peer}",
                "timestamp": T0 + int(joined * 1000),
                "meeting_id": f"{tag}-m-{meeting}",
                "meeting_title": meeting,
                "participant": {"display_name": peer, "user_id": f"u-{peer}"},
            }
            if meeting == "named":
                join["session_id"] = f"{tag}-s-named"
            events.append(join)
            events.append(
                {
                    "id": f"{tag}-{peer}:meta",
                    "type": "peer.metadata",
                    "peer_id": f"{tag}-{peer}",
                    "timestamp": T0 + int(joined * 1000) + 100,
                    "sdk_name": "web",
                    "pc_metadata": {"peer": peer},
                }
            )
            if left is not None:
                events.append(
                    {
                        "id": f"{tag}-{peer}:l",
                        "type": "peer.left",
                        "peer_id": f"{tag}-{peer}",
                        "timestamp": T0 + int(left * 1000),
                    }
                )
    events.sort(key=lambda e: e["timestamp"])
    return events


def _peak(plan: Plan) -> int:
    steps = sorted(
        [(joined, 1) for _, joined, _ in plan]
        + [(left, -1) for _, _, left in plan if left is not None]
    )
    present = peak = 0
    for _, step in steps:
        present += step
        peak = max(peak, present)
    return peak


def _ingest(db: Database, scope: AppScope, events: list[dict[str, Any]]) -> None:
    settings = Settings()
    body = json.dumps({"events": events}).encode()
    apply_batch(db, settings, scope, parse_batch(body, settings))


def _state(db: Database, app_id: str, tag: str) -> dict[str, Any]:
    """Everything the events wrote, with the tag and the random ids taken out."""

    def clean(value: Any) -> Any:
        text = json.dumps(value, default=str, sort_keys=True).replace(tag, "T")
        for session_id, name in ids.items():
            text = text.replace(session_id, name)
        return json.loads(text)

    with db.unit_of_work(write=False) as s:
        sessions = s.scalars(
            select(Session).where(Session.app_id == app_id).order_by(Session.meeting_id)
        ).all()
        ids = {x.id: f"session-{x.meeting_display_name}" for x in sessions}
        skip = {"id", "app_id", "search_text"}
        out: dict[str, Any] = {
            "sessions": [
                {k: v for k, v in vars(x).items() if not k.startswith("_") and k not in skip}
                for x in sessions
            ]
        }
        peers = s.scalars(select(Peer).where(Peer.app_id == app_id).order_by(Peer.id)).all()
        out["peers"] = [
            {
                k: v
                for k, v in vars(p).items()
                if not k.startswith("_") and k not in {"app_id", "last_received_at"}
            }
            for p in peers
        ]
        out["peer_events"] = [
            (e.peer_id, e.session_id, e.event_name, e.minutes_consumed, e.created_at)
            for e in s.scalars(
                select(PeerEvent)
                .where(PeerEvent.peer_id.in_([p.id for p in peers]))
                .order_by(PeerEvent.peer_id, PeerEvent.created_at, PeerEvent.event_name)
            )
        ]
        deliveries = []
        for row in s.scalars(select(WebhookDeliveryRow).where(WebhookDeliveryRow.app_id == app_id)):
            body = json.loads(row.body)
            for key in ("eventId", "deliveryId", "webhookId", "appId", "createdAt"):
                body.pop(key)
            deliveries.append(json.dumps(clean(body), sort_keys=True))
        out["deliveries"] = sorted(deliveries)
    cleaned: dict[str, Any] = clean(out)
    return cleaned


def _app_with_webhook(db: Database, name: str) -> str:
    """A new app of account "acct" with a webhook on every event (its deliveries are part of the
    compared state); returns its id."""
    with db.unit_of_work() as s:
        app_id = accounts.create_app(s, "acct", name).id
        webhook = webhooks.WebhookInput(
            name="all", url="http://127.0.0.1:9/hook", events=list(webhooks.EVENTS)
        )
        webhooks.create_webhook(s, app_id, webhook, now=datetime.now(UTC), allow_private=True)
    return app_id


def test_one_batch_ends_where_one_event_per_batch_ends(database_url: str) -> None:
    db = Database(normalize_database_url(database_url))
    states = []
    for way in ("one", "each", "split"):
        tag = f"{way}-{uuid.uuid4().hex[:8]}"
        app_id = _app_with_webhook(db, tag)
        scope = AppScope("acct", app_id)
        events = _events(tag)
        if way == "one":
            _ingest(db, scope, events)
        elif way == "each":
            for event in events:
                _ingest(db, scope, [event])
        else:  # the joins, then the rest: stored peers leave and change
            _ingest(db, scope, [e for e in events if e["type"] == "peer.joined"])
            _ingest(db, scope, [e for e in events if e["type"] != "peer.joined"])
        _ingest(db, scope, events)  # a replay changes nothing
        states.append(_state(db, app_id, tag))
    one, each, split = states
    assert one == each
    named, newest = one["sessions"]
    assert named["meeting_display_name"] == "named"
    assert named["max_concurrent_participants"] == _peak(NAMED) == 4
    assert newest["max_concurrent_participants"] == _peak(NEWEST) == 3
    assert (named["live_participants"], newest["live_participants"]) == (1, 1)
    assert named["status"] == newest["status"] == "LIVE"
    spent = sum(left - joined for _, joined, left in NAMED if left is not None)
    assert abs(named["consumed_secs"] - spent) < 1e-6
    assert named["last_left_at"] == str(datetime.fromtimestamp(T0 / 1000 + 30, UTC))
    assert len(one["peers"]) == len(NAMED) + len(NEWEST)
    assert all(p["meta"]["sdk_name"] == "web" for p in one["peers"])
    names = [json.loads(d)["event"] for d in one["deliveries"]]
    assert names.count("meeting.started") == 2
    assert names.count("meeting.participantJoined") == len(NAMED) + len(NEWEST)
    assert names.count("meeting.participantLeft") == len(NAMED) + len(NEWEST) - 2
    # Split, all joins come first: the peak is every peer of a meeting; the rest is the same.
    peaks = [x.pop("max_concurrent_participants") for x in split["sessions"]]
    assert peaks == [len(NAMED), len(NEWEST)]
    for x in one["sessions"]:
        x.pop("max_concurrent_participants")
    assert one == split


def test_a_batch_that_joins_the_peers_an_ended_session_had(database_url: str) -> None:
    """A session that ended (keep-alive passed) and a late join after its end: one batch and one
    event per batch both open a new session, and the ended one keeps its counts."""
    db = Database(normalize_database_url(database_url))
    results = []
    for way in ("one", "each"):
        tag = f"{way}-{uuid.uuid4().hex[:8]}"
        with db.unit_of_work() as s:
            app_id = accounts.create_app(s, "acct", tag).id
        scope = AppScope("acct", app_id)
        first = [e for e in _events(tag) if "-q" in e["peer_id"]]
        _ingest(db, scope, first)
        with db.unit_of_work() as s:  # q3 times out, then the session ends
            sweep(s, now=datetime.now(UTC) + timedelta(days=1), peer_timeout=timedelta(0))
        later = [
            {**e, "id": e["id"] + ":again", "peer_id": e["peer_id"] + "-again"}
            for e in first
            if e["type"] != "peer.metadata"
        ]
        later = [{**e, "timestamp": e["timestamp"] + 3_600_000} for e in later]
        if way == "one":
            _ingest(db, scope, later)
        else:
            for event in later:
                _ingest(db, scope, [event])
        state = _state(db, app_id, tag)
        results.append(
            [
                (x["status"], x["live_participants"], x["max_concurrent_participants"])
                for x in state["sessions"]
            ]
        )
    # _state lists sessions by meeting only, and both are of one meeting: in no set order.
    assert sorted(results[0]) == sorted(results[1]) == [("ENDED", 0, 3), ("LIVE", 1, 3)]


def _sessions_batch(tag: str, sessions: int, peers: int = 2) -> list[dict[str, Any]]:
    """``bench/run.py``'s lifecycle batch, smaller: each of ``sessions`` new sessions (of a new
    meeting each) is joined then left by ``peers`` peers, long ago (the sweeper ends them)."""
    events: list[dict[str, Any]] = []
    for s in range(sessions):
        for p in range(peers):
            peer = f"{tag}-{s}-{p}"
            events.append(
                {"id": f"{peer}:j", "type": "peer.joined", "peer_id": peer, "timestamp": T0 + p,
                 "meeting_id": f"m-{tag}-{s}", "session_id": f"s-{tag}-{s}",
                 "participant": {"display_name": peer}}
            )  # fmt: skip
            events.append(
                {"id": f"{peer}:l", "type": "peer.left", "peer_id": peer, "timestamp": T0 + 60_000}
            )
    return events


def _counts(db: Database, app_id: str) -> tuple[dict[str, int], dict[str, int], int]:
    """(session_counts as the lists read it: sum(n) per status; the sessions counted by brute
    force; the number of session_counts rows of the app)."""
    with db.engine.connect() as conn:
        kept = {
            status: int(n)
            for status, n in conn.execute(
                select(SessionCount.status, func.sum(SessionCount.n))
                .where(SessionCount.app_id == app_id)
                .group_by(SessionCount.status)
            )
            if n
        }
        actual = {
            status: int(n)
            for status, n in conn.execute(
                select(Session.status, func.count())
                .where(Session.app_id == app_id, Session.parent_session_id.is_(None))
                .group_by(Session.status)
            )
        }
        rows = conn.scalar(
            select(func.count()).select_from(SessionCount).where(SessionCount.app_id == app_id)
        )
    return kept, actual, int(rows or 0)


def _day_counts(db: Database, app_id: str) -> tuple[dict[tuple[str, str], int], ...]:
    """(session_day_counts as deep list pages read it: sum(n) per (status, day), zeros left out;
    the same by brute force over the app's top-level sessions)."""
    with db.engine.connect() as conn:
        kept = {
            (status, str(day)[:10]): int(n)
            for status, day, n in conn.execute(
                select(SessionDayCount.status, SessionDayCount.day, func.sum(SessionDayCount.n))
                .where(SessionDayCount.app_id == app_id)
                .group_by(SessionDayCount.status, SessionDayCount.day)
            )
            if n
        }
        actual: dict[tuple[str, str], int] = {}
        for status, created in conn.execute(
            select(Session.status, Session.created_at).where(
                Session.app_id == app_id, Session.parent_session_id.is_(None)
            )
        ):
            key = (status, created.astimezone(UTC).date().isoformat())
            actual[key] = actual.get(key, 0) + 1
    return kept, actual


def test_concurrent_batches_and_sweeps_keep_session_counts_exact(own_database_url: str) -> None:
    """Batches of new sessions from 4 threads at once, and a sweeper ending them and folding
    session_counts meanwhile: the counts the lists read equal the sessions, at the end and after
    the last sweep and fold (migration 0007l: each transaction counts in rows of its own).

    On a database of its own: the suite's shared server sweeps and folds the shared one every
    0.2 s, and its sweeper skips the sessions another one holds (SKIP LOCKED), so the last sweep
    here could leave them to it (CI saw 80 of 160 still LIVE right after it)."""
    db = Database(normalize_database_url(own_database_url))
    tag = uuid.uuid4().hex[:8]
    with db.unit_of_work() as s:
        app_id = accounts.create_app(s, "acct", f"counts-{tag}").id
    scope = AppScope("acct", app_id)
    threads, batches, per_batch = 4, 4, 10
    errors: list[BaseException] = []
    done = threading.Event()

    def send(index: int) -> None:
        try:
            for b in range(batches):
                _ingest(db, scope, _sessions_batch(f"{tag}-{index}-{b}", per_batch))
        except BaseException as exc:
            errors.append(exc)

    def sweeper() -> None:
        try:
            while not done.is_set():
                with db.unit_of_work() as s:
                    sweep(s, now=datetime.now(UTC), peer_timeout=timedelta(days=1))
                with db.unit_of_work() as s:
                    fold_session_counts(s)
                    fold_session_day_counts(s)
        except BaseException as exc:
            errors.append(exc)

    senders = [threading.Thread(target=send, args=(i,)) for i in range(threads)]
    background = threading.Thread(target=sweeper)
    background.start()
    for t in senders:
        t.start()
    for t in senders:
        t.join()
    done.set()
    background.join()
    assert not errors
    kept, actual, _ = _counts(db, app_id)
    assert kept == actual
    assert sum(actual.values()) == threads * batches * per_batch
    kept_days, actual_days = _day_counts(db, app_id)
    assert kept_days == actual_days
    with db.unit_of_work() as s:
        sweep(s, now=datetime.now(UTC), peer_timeout=timedelta(days=1))
    with db.unit_of_work() as s:
        fold_session_counts(s)
        fold_session_day_counts(s)
    kept, actual, rows = _counts(db, app_id)
    assert kept == actual == {"ENDED": threads * batches * per_batch}
    assert rows <= 2  # folded: one base row per status (LIVE's may remain, holding 0)
    kept_days, actual_days = _day_counts(db, app_id)
    assert kept_days == actual_days
    assert sum(kept_days.values()) == threads * batches * per_batch
    db.dispose()


@pytest.mark.postgres
def test_a_batch_does_not_wait_for_another_batchs_session_count(own_database_url: str) -> None:
    """PostgreSQL: a batch that starts sessions of an app while another one that started
    sessions of the same app has not committed yet goes through without waiting for it (0003's
    counter row was locked by the first until its commit), and a fold meanwhile leaves the open
    transaction's count to a later fold; the counts are exact once both committed. On a database
    of its own, where no other sweeper ends these sessions or folds their counts."""
    if not own_database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL: SQLite has one writer at a time")
    db = Database(normalize_database_url(own_database_url))
    tag = uuid.uuid4().hex[:8]
    with db.unit_of_work() as s:
        app_id = accounts.create_app(s, "acct", f"wait-{tag}").id
    scope = AppScope("acct", app_id)
    settings = Settings()
    finished = threading.Event()
    errors: list[BaseException] = []

    def second() -> None:
        try:
            _ingest(db, scope, _sessions_batch(f"{tag}-b", 5))
            with db.unit_of_work() as s:
                fold_session_counts(s)
            finished.set()
        except BaseException as exc:
            errors.append(exc)

    with db.unit_of_work() as s:
        app = accounts.get_app(s, "acct", app_id)
        batch = parse_batch(
            json.dumps({"events": _sessions_batch(f"{tag}-a", 5)}).encode(), settings
        )
        ingest_batch(s, app, batch.events, now=datetime.now(UTC))
        other = threading.Thread(target=second)
        other.start()
        waited = not finished.wait(timeout=20)
    other.join()
    assert not errors
    assert not waited, "the second batch waited for the first one's transaction"
    kept, actual, _ = _counts(db, app_id)
    assert kept == actual == {"LIVE": 10}
    with db.unit_of_work() as s:
        assert fold_session_counts(s) == 1  # the first batch's row, committed after the fold
    kept, actual, rows = _counts(db, app_id)
    assert kept == actual and rows == 1
    db.dispose()


def _mixed_events(tag: str) -> list[dict[str, Any]]:
    """New sessions joined, then read back from the database within the batch: a chat message
    in a session the batch created, a breakout room whose parent it created, and joins and leaves
    of both after those reads."""

    def join(peer: str, at: int, session: str, **extra: Any) -> dict[str, Any]:
        return {"id": f"{tag}-{peer}:j", "type": "peer.joined", "peer_id": f"{tag}-{peer}",
                "timestamp": T0 + at, "meeting_id": f"{tag}-m-{session}",
                "session_id": f"{tag}-s-{session}", "meeting_title": session,
                "participant": {"display_name": peer}, **extra}  # fmt: skip

    def chat(peer: str, at: int) -> dict[str, Any]:
        return {"id": f"{tag}-{peer}:c{at}", "type": "chat.message", "peer_id": f"{tag}-{peer}",
                "timestamp": T0 + at, "payload_type": "TEXT_MESSAGE", "payload": "hi"}  # fmt: skip

    def left(peer: str, at: int) -> dict[str, Any]:
        return {"id": f"{tag}-{peer}:l", "type": "peer.left", "peer_id": f"{tag}-{peer}",
                "timestamp": T0 + at}  # fmt: skip

    return [
        join("a1", 0, "main"),
        join("a2", 1000, "main"),
        chat("a1", 2000),
        join("a3", 3000, "main"),
        left("a2", 4000),
        join("b1", 5000, "room", parent_session_id=f"{tag}-s-main"),
        join("b2", 6000, "room"),
        chat("b2", 7000),
        left("b1", 8000),
        join("a4", 9000, "main"),
        left("a1", 10000),
    ]


def test_a_batch_that_reads_back_the_sessions_it_created(database_url: str) -> None:
    """Sessions and meetings a batch creates are written at its end, unless an event reads them
    from the database before (chat, a breakout's parent): the batch still ends where one event
    per batch ends, and its replay changes nothing."""
    db = Database(normalize_database_url(database_url))
    states = []
    for way in ("one", "each"):
        tag = f"{way}-{uuid.uuid4().hex[:8]}"
        app_id = _app_with_webhook(db, tag)
        scope = AppScope("acct", app_id)
        events = _mixed_events(tag)
        if way == "one":
            _ingest(db, scope, events)
        else:
            for event in events:
                _ingest(db, scope, [event])
        _ingest(db, scope, events)
        state = _state(db, app_id, tag)
        with db.unit_of_work(write=False) as s:
            chats = s.execute(
                select(ChatMessageRow.session_id, func.count())
                .where(ChatMessageRow.session_id.like(f"{tag}-%"))
                .group_by(ChatMessageRow.session_id)
                .order_by(ChatMessageRow.session_id)
            ).all()
            meetings = s.scalars(
                select(Meeting.title).where(Meeting.app_id == app_id).order_by(Meeting.title)
            ).all()
        state["chats"] = [(sid.replace(tag, "T"), n) for sid, n in chats]
        state["meetings"] = list(meetings)
        states.append(state)
    one, each = states
    assert one == each
    main, room = one["sessions"]
    assert (main["live_participants"], main["max_concurrent_participants"]) == (2, 3)
    assert (room["live_participants"], room["max_concurrent_participants"]) == (1, 2)
    assert room["parent_session_id"] == "T-s-main"
    assert one["chats"] == [("T-s-main", 1), ("T-s-room", 1)]
    assert one["meetings"] == ["main", "room"]
