"""storage.bulk.insert_rows stores exactly what a Core insert stores, on both databases, and
fails like it (a duplicate key is an IntegrityError, which ingestion retries)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from rtk_sessions.config import normalize_database_url
from rtk_sessions.domain import accounts
from rtk_sessions.storage.bulk import insert_rows, one_of
from rtk_sessions.storage.engine import Database
from rtk_sessions.storage.tables import (
    IngestedEvent,
    Meeting,
    Peer,
    PeerEvent,
    Session,
    TranscriptSegmentRow,
)

T0 = datetime(2026, 3, 4, 5, 6, 7, 890_123, tzinfo=UTC)


def _peer(peer_id: str, session_id: str, app_id: str, meta: Any) -> dict[str, Any]:
    return {
        "id": peer_id,
        "session_id": session_id,
        "app_id": app_id,
        "user_id": None,
        "custom_participant_id": "c\t1\n",  # COPY's separators and escapes
        "display_name": "Pér \\ 日本 \U0001f600",
        "preset_name": None,
        "preset_view_type": "WEBINAR",
        "socket_session_id": None,
        "joined_at": T0,
        "left_at": None,
        # another time zone: stored as the same instant
        "last_seen_at": (T0 + timedelta(seconds=1)).astimezone(timezone(timedelta(hours=-7))),
        "last_received_at": T0 + timedelta(microseconds=1),
        "metadata": meta,
        "created_at": T0,
        "updated_at": T0,
    }


def _stored(db: Database, peer_ids: list[str]) -> list[dict[str, Any]]:
    with db.unit_of_work() as s:
        rows = s.execute(select(Peer.__table__).where(Peer.id.in_(peer_ids)).order_by(Peer.id))
        return [{k: v for k, v in row._mapping.items() if k != "id"} for row in rows]


def test_insert_rows_stores_what_a_core_insert_stores(database_url: str) -> None:
    db = Database(normalize_database_url(database_url))
    tag = uuid.uuid4().hex[:8]
    metas: list[Any] = [{}, {"a": [1, 2.5, None, "x"], "b": {"c": True}}, None]
    with db.unit_of_work() as s:
        app_id = accounts.create_app(s, "acct", f"bulk-{tag}").id
        s.add(Meeting(id=f"m-{tag}", app_id=app_id, created_at=T0, updated_at=T0))
        s.add(
            Session(
                id=f"s-{tag}",
                app_id=app_id,
                meeting_id=f"m-{tag}",
                status="LIVE",
                created_at=T0,
                started_at=T0,
                updated_at=T0,
            )
        )
    core = [_peer(f"core-{tag}-{i}", f"s-{tag}", app_id, m) for i, m in enumerate(metas)]
    bulk = [_peer(f"bulk-{tag}-{i}", f"s-{tag}", app_id, m) for i, m in enumerate(metas)]
    with db.unit_of_work() as s:
        s.execute(Peer.__table__.insert(), core)
        insert_rows(s, Peer.__table__, bulk)
        insert_rows(s, Peer.__table__, [])  # nothing to do
        segments = [
            {
                "session_id": f"s-{tag}",
                "app_id": app_id,
                "event_id": f"t{i}",
                "start_at": T0,
                "end_at": T0,
                "text": f"t\t{i}\n",
                "is_final": True,
                "created_at": T0,
            }
            for i in range(3)
        ]
        insert_rows(s, TranscriptSegmentRow.__table__, segments)  # an autoincrement key left out
    assert _stored(db, [p["id"] for p in bulk]) == _stored(db, [p["id"] for p in core])
    stored = _stored(db, [p["id"] for p in bulk])
    assert [p["metadata"] for p in stored] == metas
    assert stored[0]["last_seen_at"] == T0 + timedelta(seconds=1)
    assert stored[0]["display_name"] == "Pér \\ 日本 \U0001f600"
    with db.unit_of_work() as s:
        kept = s.execute(
            select(TranscriptSegmentRow.id, TranscriptSegmentRow.text)
            .where(TranscriptSegmentRow.session_id == f"s-{tag}")
            .order_by(TranscriptSegmentRow.id)
        ).all()
    assert [text for _, text in kept] == [f"t\t{i}\n" for i in range(3)]
    assert len({key for key, _ in kept}) == 3


def test_insert_rows_fails_as_an_integrity_error(database_url: str) -> None:
    db = Database(normalize_database_url(database_url))
    tag = uuid.uuid4().hex[:8]
    logged = {"app_id": f"app-{tag}", "event_id": "e", "received_at": T0}
    with pytest.raises(IntegrityError), db.unit_of_work() as s:
        insert_rows(s, IngestedEvent.__table__, [logged, logged])  # a duplicate key
    orphan = {
        "id": f"e-{tag}",
        "peer_id": f"nobody-{tag}",  # a foreign key to no peer
        "session_id": "s",
        "event_name": "PEER_CREATED",
        "minutes_consumed": 0.0,
        "created_at": T0,
        "updated_at": T0,
    }
    with pytest.raises(IntegrityError), db.unit_of_work() as s:
        insert_rows(s, PeerEvent.__table__, [orphan])


def test_one_of_selects_what_in_selects(database_url: str) -> None:
    db = Database(normalize_database_url(database_url))
    tag = uuid.uuid4().hex[:8]
    ids = [f"{tag}-{i}" for i in range(600)] + [f"{tag}-'\"\\,{{}}", f"{tag}-日本"]
    with db.unit_of_work() as s:
        insert_rows(
            s,
            IngestedEvent.__table__,
            [{"app_id": tag, "event_id": i, "received_at": T0} for i in ids[::2]],
        )
    wanted = [*ids, f"{tag}-absent"]
    with db.unit_of_work(write=False) as s:
        got = s.scalars(
            select(IngestedEvent.event_id).where(
                IngestedEvent.app_id == tag, one_of(s, IngestedEvent.event_id, wanted)
            )
        ).all()
        expected = s.scalars(
            select(IngestedEvent.event_id).where(
                IngestedEvent.app_id == tag, IngestedEvent.event_id.in_(wanted)
            )
        ).all()
    assert sorted(got) == sorted(expected) == sorted(ids[::2])
