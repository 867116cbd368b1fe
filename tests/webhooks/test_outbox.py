"""The outbox on the ingestion hot path, counted in SQL statements (no timing): an app without
webhooks costs one subscription query per cache lifetime and nothing per event; with webhooks, a
batch's deliveries are one INSERT; a batch that fails leaves none."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, func, select

from rtk_sessions.clock import iso
from rtk_sessions.config import normalize_database_url
from rtk_sessions.contract.ingest import IngestBatch
from rtk_sessions.domain import accounts, webhooks
from rtk_sessions.domain.ingest import ingest_batch
from rtk_sessions.errors import BadRequest
from rtk_sessions.storage.engine import Database
from rtk_sessions.storage.tables import WebhookDeliveryRow


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(normalize_database_url(database_url))
    yield database
    database.dispose()


def _batch(meeting_id: str, n: int, at: datetime) -> list[dict[str, Any]]:
    peers = [f"peer-{uuid.uuid4()}" for _ in range(n)]
    events: list[dict[str, Any]] = []
    for i, peer in enumerate(peers):
        events.append(
            {
                "id": f"j-{peer}",
                "type": "peer.joined",
                "timestamp": iso(at + timedelta(seconds=i)),
                "peer_id": peer,
                "meeting_id": meeting_id,
                "participant": {"display_name": f"P{i}"},
            }
        )
        events.append(
            {
                "id": f"c-{peer}",
                "type": "chat.message",
                "timestamp": iso(at + timedelta(seconds=i + 1)),
                "peer_id": peer,
                "payload_type": "TEXT_MESSAGE",
                "payload": "hi",
            }
        )
    return events


def test_statements_per_batch(db: Database) -> None:
    statements: list[str] = []

    def count(_c: Any, _cur: Any, statement: str, *_a: Any) -> None:
        statements.append(statement)

    webhooks.configure_cache(db.engine, 60.0)
    with db.unit_of_work() as s:
        app = accounts.create_app(s, uuid.uuid4().hex, "outbox")
    app_id = app.id

    def ingest(events: list[dict[str, Any]]) -> list[str]:
        statements.clear()
        batch = IngestBatch.model_validate({"events": events})
        with db.unit_of_work() as s:
            ingest_batch(
                s, accounts.get_app(s, app.account_id, app_id), batch.events, now=datetime.now(UTC)
            )
        return [x for x in statements if "webhook" in x.lower()]

    event.listen(db.engine, "before_cursor_execute", count)
    now = datetime.now(UTC)
    first = ingest(_batch(str(uuid.uuid4()), 20, now))
    assert len(first) == 1 and first[0].lstrip().upper().startswith("SELECT")  # cache miss
    assert ingest(_batch(str(uuid.uuid4()), 20, now)) == []  # cached: no round trip at all
    with db.unit_of_work() as s:
        webhooks.create_webhook(
            s,
            app_id,
            webhooks.WebhookInput(
                "h", "https://example.com/", ["meeting.participantJoined", "meeting.started"]
            ),
            now=now,
            allow_private=True,
        )
    touched = ingest(_batch(str(uuid.uuid4()), 20, now))
    selects = [x for x in touched if x.lstrip().upper().startswith("SELECT")]
    inserts = [x for x in touched if x.lstrip().upper().startswith("INSERT")]
    assert len(selects) == 1 and len(inserts) == 1, touched  # one lookup, one bulk insert
    with db.unit_of_work(write=False) as s:
        n = s.scalar(select(func.count()).where(WebhookDeliveryRow.app_id == app_id))
    assert n == 21  # meeting.started + 20 joins
    unknown = {"id": "x", "type": "peer.left", "timestamp": iso(now), "peer_id": "nobody"}
    bad = [*_batch(str(uuid.uuid4()), 3, now), unknown]
    with pytest.raises(BadRequest):
        ingest(bad)
    with db.unit_of_work(write=False) as s:
        assert s.scalar(select(func.count()).where(WebhookDeliveryRow.app_id == app_id)) == 21
    event.remove(db.engine, "before_cursor_execute", count)


def test_prune_deletes_old_delivered_rows_with_their_attempts(db: Database) -> None:
    from sqlalchemy import update

    from rtk_sessions.storage.tables import WebhookAttemptRow

    now = datetime.now(UTC)
    with db.unit_of_work() as s:
        app = accounts.create_app(s, uuid.uuid4().hex, "prune")
        webhooks.create_webhook(
            s,
            app.id,
            webhooks.WebhookInput("h", "https://example.com/", ["meeting.participantJoined"]),
            now=now,
            allow_private=True,
        )
    batch = IngestBatch.model_validate({"events": _batch(str(uuid.uuid4()), 3, now)})
    with db.unit_of_work() as s:
        ingest_batch(s, accounts.get_app(s, app.account_id, app.id), batch.events, now=now)
    with db.unit_of_work() as s:
        seqs = list(
            s.scalars(
                select(WebhookDeliveryRow.seq)
                .where(WebhookDeliveryRow.app_id == app.id)
                .order_by(WebhookDeliveryRow.seq)
            )
        )
        assert len(seqs) == 3
        for seq, age in ((seqs[0], 40), (seqs[1], 1)):
            s.execute(
                update(WebhookDeliveryRow)
                .where(WebhookDeliveryRow.seq == seq)
                .values(status="delivered", delivered_at=now - timedelta(days=age))
            )
            s.add(WebhookAttemptRow(delivery_seq=seq, attempt=1, started_at=now, worker="t"))
    with db.unit_of_work() as s:
        assert webhooks.prune_delivered(s, before=now - timedelta(days=30)) == 1
    with db.unit_of_work(write=False) as s:
        left = list(
            s.scalars(select(WebhookDeliveryRow.seq).where(WebhookDeliveryRow.app_id == app.id))
        )
        attempts = list(
            s.scalars(
                select(WebhookAttemptRow.delivery_seq).where(
                    WebhookAttemptRow.delivery_seq.in_(seqs)
                )
            )
        )
    assert sorted(left) == seqs[1:]  # the recent delivered one and the pending one stay
    assert attempts == [seqs[1]]
