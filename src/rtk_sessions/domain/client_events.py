"""Client events (``peer.event``) of peers: stored a block per peer and batch
(``storage.tables.ClientEventBlock``), read back by the peer report and by ingestion's replay
check.

A batch reads every block of the peers it has client events for (the replay check needs every id
the peer has), so a peer's blocks are merged: the batch that would write a peer's ``MERGE_AT``-th
block writes one block of all its events instead, and deletes the others. A batch reads at most
``MERGE_AT - 1`` rows a peer however many batches the peer sent, and a peer of single-event
batches is not a row per event."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session as DB

from rtk_sessions.storage.blocks import decode_events, encode_events
from rtk_sessions.storage.bulk import one_of
from rtk_sessions.storage.tables import ClientEventBlock

__all__ = ["ClientEvent", "StoredEvents", "peer_events", "read_stored", "write_blocks"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_CHUNK = 500  # peer ids a query
#: A peer's blocks are merged into one when a batch would write this many.
MERGE_AT = 16


@dataclass(frozen=True, slots=True)
class ClientEvent:
    """One client event of a peer. ``event_id``: None for events applied before migration 0006b
    (their ids are in ``ingested_events``)."""

    name: str
    timestamp: datetime  # aware, UTC
    meta: dict[str, Any] | None
    event_id: str | None


@dataclass
class StoredEvents:
    """What the blocks of one peer hold: the ids of its client events, its next block's ``seq``,
    how many blocks it has, and their entries in the order applied (as
    ``storage.blocks.encode_events`` takes them, for a merge)."""

    ids: set[str] = field(default_factory=set)
    next_seq: int = 0
    blocks: int = 0
    entries: list[list[Any]] = field(default_factory=list)


def _entry(event: ClientEvent) -> list[Any]:
    return [event.event_id, event.name, (event.timestamp - _EPOCH) // _MICROSECOND, event.meta]


def _event(entry: list[Any]) -> ClientEvent:
    event_id, name, micros, meta = entry
    return ClientEvent(name, _EPOCH + timedelta(microseconds=micros), meta, event_id)


def decode(block: bytes) -> list[ClientEvent]:
    """The events of a block (``ClientEventBlock.events``, ``storage.blocks.encode_events`` of
    their entries) in the order applied. raises zlib.error or ValueError."""
    return [_event(entry) for entry in decode_events(block)]


def read_stored(db: DB, app_id: str, peer_ids: Iterable[str]) -> dict[str, StoredEvents]:
    """The stored event ids and next ``seq`` of each of the app's peers ``peer_ids`` (every one
    of them in the answer; a peer without blocks has none and 0)."""
    wanted = sorted(set(peer_ids))
    out = {peer_id: StoredEvents() for peer_id in wanted}
    table = ClientEventBlock.__table__
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start : start + _CHUNK]
        stmt = (
            select(table.c.peer_id, table.c.seq, table.c.events)
            .where(table.c.app_id == app_id, one_of(db, table.c.peer_id, chunk))
            .order_by(table.c.peer_id, table.c.seq)
        )
        for peer_id, seq, raw in db.execute(stmt):
            stored = out[peer_id]
            stored.next_seq = seq + 1
            stored.blocks += 1
            entries = decode_events(bytes(raw))
            stored.entries.extend(entries)
            stored.ids.update(e[0] for e in entries if e[0] is not None)
    return out


def write_blocks(
    db: DB,
    app_id: str,
    events: Sequence[tuple[str, ClientEvent]],
    stored: dict[str, StoredEvents],
) -> None:
    """Insert one block per peer of ``(peer_id, event)`` pairs (in the order applied), numbered
    after the peer's ``stored`` blocks (``read_stored`` in the same transaction); where that block
    would be the peer's ``MERGE_AT``-th, it holds the stored events too and the stored blocks are
    deleted. A concurrent batch that wrote the same peer's block first makes the insert fail
    (IntegrityError: the caller applies the batch again)."""
    by_peer: dict[str, list[ClientEvent]] = {}
    for peer_id, event in events:
        by_peer.setdefault(peer_id, []).append(event)
    if not by_peer:
        return
    table = ClientEventBlock.__table__
    rows = []
    for peer_id, applied in by_peer.items():
        known = stored.setdefault(peer_id, StoredEvents())
        new = [_entry(e) for e in applied]
        known.entries.extend(new)
        if known.blocks + 1 >= MERGE_AT:
            db.execute(
                delete(table).where(
                    table.c.app_id == app_id,
                    table.c.peer_id == peer_id,
                    table.c.seq < known.next_seq,
                )
            )
            known.blocks, block = 1, encode_events(known.entries)
        else:
            known.blocks, block = known.blocks + 1, encode_events(new)
        rows.append({"app_id": app_id, "peer_id": peer_id, "seq": known.next_seq, "events": block})
        known.next_seq += 1
        known.ids.update(e.event_id for e in applied if e.event_id is not None)
    db.execute(table.insert(), rows)


def peer_events(db: DB, app_id: str, peer_id: str) -> list[ClientEvent]:
    """The client events of a peer in time order; equal times in the order applied."""
    table = ClientEventBlock.__table__
    stmt = (
        select(table.c.events)
        .where(table.c.app_id == app_id, table.c.peer_id == peer_id)
        .order_by(table.c.seq)
    )
    events = [e for raw in db.scalars(stmt) for e in decode(bytes(raw))]
    events.sort(key=lambda e: e.timestamp)  # stable: ties keep the order applied
    return events
