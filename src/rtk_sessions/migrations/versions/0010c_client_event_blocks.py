"""Client events stored a block per peer and batch instead of a row per event.

``client_events`` held a row per ``peer.event`` (a 24-byte tuple header, a bigint key and its
index, the peer and event ids, the name, a JSONB document) plus an entry in the
``(peer_id, event_id)`` unique index that recognised replays: about 290 bytes an event on
PostgreSQL, 28 bytes a sample in ``bench/bytes_per_sample.py --postgresql-only``.
``client_event_blocks`` holds the events one batch applied for one peer as one zlib-compressed
JSON array (``storage.blocks.encode_events``: event id, name, time in epoch microseconds,
metadata), keyed by ``(app_id, peer_id, seq)``: a replay is recognised by the ids in the peer's
blocks, and two concurrent batches of one peer collide on the key (one is applied again).
``app_id`` leads the key, as Citus needs (docs/deployment.md).

The upgrade moves every peer's rows into one block (``seq`` 0, in the order of their ids; rows of
a peer that no longer exists have no app and no reader, and are dropped); the downgrade writes the
blocks' events back as rows, in ``(peer, seq, position)`` order, so their new ids keep the order
applied. PostgreSQL: the blocks' table keeps a block up to a page in its row
(``toast_tuple_target``), as ``sample_blocks``.

Revision ID: 0010c
Revises: 0009b
Create Date: 2026-11-30
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from rtk_sessions.storage.types import UTCDateTime

revision = "0010c"
down_revision = "0009b"
branch_labels = None
depends_on = None

_TOAST_TARGET = 8160
_BATCH = 1000  # rows or blocks a statement
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")

_blocks = sa.table(
    "client_event_blocks",
    sa.column("app_id", sa.String()),
    sa.column("peer_id", sa.String()),
    sa.column("seq", sa.Integer()),
    sa.column("events", sa.LargeBinary()),
)
_rows = sa.table(
    "client_events",
    sa.column("id", sa.BigInteger()),
    sa.column("peer_id", sa.String()),
    sa.column("name", sa.String()),
    sa.column("timestamp", UTCDateTime()),
    sa.column("metadata", _JSON),
    sa.column("event_id", sa.String()),
)
_peers = sa.table("peers", sa.column("id", sa.String()), sa.column("app_id", sa.String()))


def upgrade() -> None:
    from rtk_sessions.storage.blocks import encode_events

    conn = op.get_bind()
    op.create_table(
        "client_event_blocks",
        sa.Column("app_id", sa.String(length=64), nullable=False),
        sa.Column("peer_id", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("events", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("app_id", "peer_id", "seq", name=op.f("pk_client_event_blocks")),
        postgresql_with={"toast_tuple_target": _TOAST_TARGET},
    )
    rows = conn.execute(
        sa.select(
            _peers.c.app_id,
            _rows.c.peer_id,
            _rows.c.event_id,
            _rows.c.name,
            _rows.c.timestamp,
            _rows.c.metadata,
        )
        .join(_peers, _peers.c.id == _rows.c.peer_id)
        .order_by(_rows.c.peer_id, _rows.c.id)
        .execution_options(yield_per=_BATCH)
    )
    out: list[dict[str, Any]] = []
    key: tuple[str, str] | None = None
    entries: list[list[Any]] = []

    def close() -> None:
        if key is not None and entries:
            out.append(
                {"app_id": key[0], "peer_id": key[1], "seq": 0, "events": encode_events(entries)}
            )
        if len(out) >= _BATCH:
            conn.execute(_blocks.insert(), out)
            out.clear()

    for app_id, peer_id, event_id, name, at, meta in rows:
        if key != (app_id, peer_id):
            close()
            key, entries = (app_id, peer_id), []
        entries.append([event_id, name, (at - _EPOCH) // _MICROSECOND, meta])
    close()
    if out:
        conn.execute(_blocks.insert(), out)
    op.drop_table("client_events")


def downgrade() -> None:
    from rtk_sessions.storage.blocks import decode_events

    conn = op.get_bind()
    op.create_table(
        "client_events",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("peer_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("timestamp", UTCDateTime(timezone=True), nullable=False),
        sa.Column("metadata", _JSON, nullable=True),
        sa.Column("event_id", sa.String(length=128), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_client_events")),
    )
    op.create_index(
        "uq_client_events_peer_event", "client_events", ["peer_id", "event_id"], unique=True
    )
    blocks = conn.execute(
        sa.select(_blocks.c.peer_id, _blocks.c.events)
        .order_by(_blocks.c.app_id, _blocks.c.peer_id, _blocks.c.seq)
        .execution_options(yield_per=_BATCH)
    )
    out: list[dict[str, Any]] = []
    insert = _rows.insert()
    for peer_id, raw in blocks:
        for event_id, name, micros, meta in decode_events(bytes(raw)):
            out.append(
                {
                    "peer_id": peer_id,
                    "name": name,
                    "timestamp": _EPOCH + timedelta(microseconds=micros),
                    "metadata": meta,
                    "event_id": event_id,
                }
            )
        if len(out) >= _BATCH:
            conn.execute(insert, out)  # in list order: the ids keep the order applied
            out = []
    if out:
        conn.execute(insert, out)
    op.drop_table("client_event_blocks")
