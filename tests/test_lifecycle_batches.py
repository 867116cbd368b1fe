"""A batch of many joins and leaves of the same sessions ends exactly where the same events sent
one per batch end: counts and their peak, consumed time, peers, peer events, webhook deliveries.

Ingestion applies a batch's lifecycle events to its sessions in memory and writes its peers in one
statement at the end (domain/ingest.py); sending the events one at a time reads and writes the
database at every step instead, so the two must agree.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from rtk_sessions.api.deps import AppScope
from rtk_sessions.api.ingest import apply_batch, parse_batch
from rtk_sessions.config import Settings, normalize_database_url
from rtk_sessions.domain import accounts, webhooks
from rtk_sessions.domain.lifecycle import sweep
from rtk_sessions.storage.engine import Database
from rtk_sessions.storage.tables import Peer, PeerEvent, Session, WebhookDeliveryRow

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


def test_one_batch_ends_where_one_event_per_batch_ends(database_url: str) -> None:
    db = Database(normalize_database_url(database_url))
    states = []
    for way in ("one", "each", "split"):
        tag = f"{way}-{uuid.uuid4().hex[:8]}"
        with db.unit_of_work() as s:
            app_id = accounts.create_app(s, "acct", tag).id
            webhook = webhooks.WebhookInput(
                name="all", url="http://127.0.0.1:9/hook", events=list(webhooks.EVENTS)
            )
            webhooks.create_webhook(s, app_id, webhook, now=datetime.now(UTC), allow_private=True)
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
    assert results[0] == results[1]
    assert sorted(results[0]) == [("ENDED", 0, 3), ("LIVE", 1, 3)]
