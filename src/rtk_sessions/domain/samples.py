"""The sample store: what ingestion keeps of getStats reports, and what a peer report reads back.

Two tables (``storage.tables``):

- ``peer_connection_states``: one row per peer connection, read once (``FOR UPDATE``) and written
  once by every batch that touches the connection. It holds the cursor (the compacted last report
  and its time, for the next deltas), the client's stream labels, the selected candidate pairs,
  the running cumulative block of every stream kind (``stats.KindAccumulator``) and the list of
  small blocks not yet compacted (the "tail").
- ``sample_blocks``: the sample rows, compressed, one block per (connection, kind) per batch. A
  batch of fewer than ``SEAL_ROWS`` rows of a kind leaves a small block in the tail, merged with
  the tail's newest blocks that are no larger (``TAIL_BLOCKS``); once the tail and the new rows
  reach ``SEAL_ROWS`` rows, or the tail ``TAIL_BLOCKS`` blocks, they are rewritten as one block.
  So a busy client sending 100-event batches writes ~100-row blocks straight away, and a client
  sending one report at a time ends up with the same blocks after extra writes.

A peer report reads the peer's state rows and blocks (two indexed queries), merges the
connections' accumulators and splices the blocks' JSON into the report without parsing it, unless
blocks of one kind overlap in time (several connections), when their rows are merged by timestamp.

Idempotency of ``peer.stats``: a report whose time is not after the connection's cursor is a
replay or arrived late; it changes nothing (``SampleWriter.apply_report`` answers False).

Work before the write lock (SQLite): ``precompute`` applies a batch's reports to the connections'
states as a read transaction sees them, before the caller takes SQLite's one write lock (the
getStats pass, the accumulators, the rows' JSON: what ``apply_report`` does). The batch's writer,
under the lock, takes a precomputed state instead of the stored one when the stored row is still
the one the precompute started from, and then, as long as the batch makes the same calls of
``apply_report`` for that connection (the same report objects, arguments, in the same order),
answers them from it. Anything else (another batch wrote the connection meanwhile, a different
call) and the writer applies the reports itself, from the stored state, as without a precompute:
either way the state and rows are those of the same pure computation.
"""

from __future__ import annotations

import copy
import hashlib
import math
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import (
    ColumnClause,
    Integer,
    bindparam,
    delete,
    literal_column,
    select,
    tuple_,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session as DB

from rtk_sessions import stats
from rtk_sessions.storage import partitions
from rtk_sessions.storage.blocks import (
    decode_rows,
    decode_state,
    encode_rows,
    encode_state,
    join_rows,
)
from rtk_sessions.storage.engine import rowcount
from rtk_sessions.storage.tables import PeerConnectionState, SampleBlock

__all__ = [
    "SEAL_ROWS",
    "TAIL_BLOCKS",
    "ConnectionState",
    "Precomputed",
    "PruneResult",
    "SampleWriter",
    "StoredQuality",
    "precompute",
    "prune",
    "read_quality",
    "read_stored_quality",
]

#: Rows of one kind of one connection that make a compacted block (4 minutes of a 2-second stream).
SEAL_ROWS = 120
#: Small blocks a tail may hold: at that many, the next batch merges them (and its rows) into one
#: block, sealed or, below SEAL_ROWS rows, the tail's new first block. Before that, a batch merges
#: its rows with the newest tail blocks that are no larger than what is merged (a binary counter),
#: so a short-lived peer leaves no block per report and, with one report a batch, a row is
#: rewritten about log2(SEAL_ROWS) times (7) before its block is sealed (on PostgreSQL every
#: rewrite leaves a dead row version until VACUUM).
TAIL_BLOCKS = 8

_KIND_INDEX = {kind: index for index, kind in enumerate(stats.KINDS)}
_STATE_VERSION = 1


def _accumulator(kind: str) -> stats.KindAccumulator:
    return stats.KindAccumulator(kind)


@dataclass
class _Pending:
    """Rows of one kind produced by this batch: (timestamp ms, public row JSON)."""

    rows: list[tuple[float, bytes]] = field(default_factory=list)


@dataclass
class ConnectionState:
    """The state of one peer connection (see the module docstring).

    - timestamp_ms: the time of the last applied report (W3C ``timestamp``, epoch ms), None
      before the first.
    - report: the compacted last report (``stats.compact_report``), None before the first; while
      a batch applies reports, ``index`` holds the last one instead (``cursor()`` compacts it).
    - labels: the client's stream labels (JSON objects, docs/ingest.md ``labels``).
    - pairs: ``{"role pair_id": [first_seen_ms, CandidatePair]}``.
    - accumulators: running cumulative block per kind index (``stats.KINDS``).
    - tail: per kind index, the small blocks not yet compacted: ``[[start_ms, end_ms, rows]]``.
    - last_start: per kind index, the newest block's ``start_ms`` (block keys stay unique).
    """

    peer_id: str
    connection_id: str
    timestamp_ms: float | None = None
    report: dict[str, Any] | None = None
    labels: list[Any] = field(default_factory=list)
    pairs: dict[str, list[Any]] = field(default_factory=dict)
    accumulators: dict[int, stats.KindAccumulator] = field(default_factory=dict)
    tail: dict[int, list[list[int]]] = field(default_factory=dict)
    last_start: dict[int, int] = field(default_factory=dict)
    stored: bool = False
    pending: dict[int, _Pending] = field(default_factory=dict)
    #: ``stats.ReportIndex`` of the last report applied by this batch (the next one's previous)
    index: stats.ReportIndex | None = field(default=None, repr=False, compare=False)
    #: per ``pairs`` key selected by this batch, the index and ``transport`` of the last report
    #: that selected it: its entry is made from that report once, when the state is written
    pair_sources: dict[str, tuple[stats.ReportIndex, str | None]] = field(
        default_factory=dict, repr=False, compare=False
    )

    def cursor(self) -> dict[str, Any] | None:
        """The cursor to store: the last report, compacted (``stats.compact_indexed``)."""
        if self.index is not None:
            self.report = stats.compact_indexed(self.index)
            self.index = None
        return self.report

    def to_json(self) -> dict[str, Any]:
        return {
            "v": _STATE_VERSION,
            "report": self.cursor(),
            "labels": self.labels,
            "pairs": self.pair_entries(),
            "acc": {str(k): acc.to_state() for k, acc in self.accumulators.items()},
            "tail": {str(k): v for k, v in self.tail.items() if v},
            "last": {str(k): v for k, v in self.last_start.items()},
        }

    @classmethod
    def from_json(
        cls, peer_id: str, connection_id: str, timestamp_ms: float, data: Mapping[str, Any]
    ) -> ConnectionState:
        accumulators = {}
        for key, value in (data.get("acc") or {}).items():
            index = int(key)
            accumulators[index] = stats.KindAccumulator.from_state(stats.KINDS[index], value)
        return cls(
            peer_id=peer_id,
            connection_id=connection_id,
            timestamp_ms=timestamp_ms,
            report=data.get("report"),
            labels=list(data.get("labels") or []),
            pairs=dict(data.get("pairs") or {}),
            accumulators=accumulators,
            tail={int(k): [list(b) for b in v] for k, v in (data.get("tail") or {}).items()},
            last_start={int(k): int(v) for k, v in (data.get("last") or {}).items()},
            stored=True,
        )

    def add_rows(self, rows: Iterable[stats.SampleRow], thresholds: stats.QualityThresholds) -> int:
        """Account ``rows`` (one report's) in the cumulative state and queue them for storage."""
        count = 0
        accumulators = self.accumulators
        pending_of = self.pending
        dumps = orjson.dumps
        for row in rows:
            index = _KIND_INDEX[row.kind]
            acc = accumulators.get(index)
            if acc is None:
                acc = accumulators[index] = _accumulator(row.kind)
            values = row.values
            acc.add(values, thresholds)
            # One comprehension, not a list of the private keys then a copy that loses them
            # (a sixth fewer instructions a row); row keys are names, never empty.
            public = {k: v for k, v in values.items() if k[0] != "_"}
            pending = pending_of.get(index)
            if pending is None:
                pending = pending_of[index] = _Pending()
            pending.rows.append((row.timestamp_ms, dumps(public)))
            count += 1
        return count

    def select_pairs(
        self,
        pairs: Sequence[tuple[str, str, Any]],
        index: stats.ReportIndex,
        transport: str | None,
        now_ms: float,
    ) -> None:
        """The selected candidate pairs ``(role, pair_id, _)`` of the latest report, ``index``'s
        (``stats.ingest_indexed(..., pair_entries=False)``); each keeps when it was first seen
        and takes its entry from the last report that selected it. The entries are made only by
        ``pair_entries``: a later report of the batch that selects the same pair replaces its
        entry, so making it for every report would be work thrown away."""
        sources = self.pair_sources
        for role, pair_id, _ in pairs:
            key = f"{role} {pair_id}"
            known = self.pairs.get(key)
            self.pairs[key] = [known[0] if known else now_ms, None]
            sources[key] = (index, transport)

    def pair_entries(self) -> dict[str, list[Any]]:
        """``pairs``, the entries that ``select_pairs`` left to make made (from the last report
        that selected each pair: ``stats.candidate_pairs_indexed``, once per report)."""
        made: dict[int, dict[str, dict[str, Any]]] = {}
        for key, (index, transport) in self.pair_sources.items():
            entries = made.get(id(index))
            if entries is None:
                entries = made[id(index)] = {
                    f"{role} {pair_id}": data
                    for role, pair_id, data in stats.candidate_pairs_indexed(
                        index, transport=transport
                    )
                }
            self.pairs[key][1] = entries[key]
        self.pair_sources = {}
        return self.pairs


def _floor_ms(value: float) -> int:
    return math.floor(value) if math.isfinite(value) else 0


#: A stored state row as ``SampleWriter.load`` reads it: (``timestamp_ms``, raw ``state``); None
#: for a connection without one.
_StoredRow = tuple[float, bytes] | None
#: One call of ``apply_report``: (report, timestamp ms, transport, labels, what it answered).
_Call = tuple[Any, float, str | None, list[Any], bool]


@dataclass
class _Replay:
    """A connection as ``precompute`` left it: the stored row it started from, the state after
    the batch's reports, and the calls that made it."""

    start: _StoredRow
    state: ConnectionState
    calls: list[_Call]


@dataclass
class Precomputed:
    """What ``precompute`` did for a batch, per ``(peer_id, connection_id)``; each connection's
    state is taken (once) by the writer of the batch."""

    thresholds: stats.QualityThresholds
    connections: dict[tuple[str, str], _Replay] = field(default_factory=dict)


class SampleWriter:
    """The sample store's side of one ingestion batch, inside the caller's transaction.

    ``load`` the connections a batch touches (one query), apply reports to the states it returns,
    then ``flush`` once: new blocks (``COPY`` on PostgreSQL), compactions, and the states.
    """

    def __init__(
        self,
        db: DB,
        app_id: str,
        thresholds: stats.QualityThresholds,
        *,
        now: datetime,
        precomputed: Precomputed | None = None,
    ) -> None:
        """precomputed: ``precompute``'s work for this batch, taken where it still holds (the
        module docstring)."""
        self.db = db
        self.received_day = partitions.day_number(now)
        self.app_id = app_id
        self.thresholds = thresholds
        self._states: dict[tuple[str, str], ConnectionState] = {}
        self._touched: dict[tuple[str, str], ConnectionState] = {}
        self.rows_written = 0  # sample rows flushed by this writer
        if precomputed is not None and precomputed.thresholds != thresholds:
            precomputed = None
        self._precomputed = precomputed
        # The stored row each loaded state was read from.
        self._start: dict[tuple[str, str], _StoredRow] = {}
        # The calls of ``apply_report`` so far, per connection (``precompute`` reads them).
        self._calls: dict[tuple[str, str], list[_Call]] = {}
        # Connections whose state is a precomputed one, and how many of its calls were answered.
        self._replaying: dict[tuple[str, str], _Replay] = {}
        self._answered: dict[tuple[str, str], int] = {}

    def load(self, keys: Iterable[tuple[str, str]]) -> None:
        """Read the states of ``(peer_id, connection_id)`` keys (on PostgreSQL locked, in order)."""
        wanted = {k for k in keys if k not in self._states}
        if not wanted:
            return
        peers = sorted({peer for peer, _ in wanted})
        table = PeerConnectionState.__table__
        stmt = (
            select(table.c.peer_id, table.c.connection_id, table.c.timestamp_ms, table.c.state)
            .where(table.c.app_id == self.app_id, table.c.peer_id.in_(peers))
            .order_by(table.c.peer_id, table.c.connection_id)
            .with_for_update()
        )
        # The states table is written only by this writer's flush: pending ORM changes (peers
        # joined or touched by the batch) cannot change the answer, so they are not flushed
        # here, once per newly seen connection, but with the rest of the batch.
        with self.db.no_autoflush:
            found = self.db.execute(stmt).all()
        start: dict[tuple[str, str], _StoredRow] = dict.fromkeys(wanted)
        for peer_id, connection_id, timestamp_ms, raw in found:
            key = (peer_id, connection_id)
            if key in wanted:
                start[key] = (timestamp_ms, raw)
        self._start.update(start)
        taken = self._precomputed.connections if self._precomputed is not None else {}
        for key, row in start.items():
            replay = taken.get(key)
            if replay is not None and replay.start == row:
                del taken[key]  # once: the batch's writer changes it
                self._states[key] = replay.state
                self._replaying[key] = replay
                self._answered[key] = 0
            else:
                self._states[key] = self._decoded(key, row)

    @staticmethod
    def _decoded(key: tuple[str, str], row: _StoredRow) -> ConnectionState:
        if row is None:
            return ConnectionState(peer_id=key[0], connection_id=key[1])
        return ConnectionState.from_json(key[0], key[1], row[0], decode_state(row[1]))

    def state(self, peer_id: str, connection_id: str) -> ConnectionState:
        """The state of a connection (loaded first if ``load`` did not include it)."""
        key = (peer_id, connection_id)
        if key not in self._states:
            self.load([key])
        return self._states[key]

    def apply_report(
        self,
        peer_id: str,
        connection_id: str,
        *,
        timestamp_ms: float,
        report: Any,
        transport: str | None,
        labels: list[Any],
    ) -> bool:
        """Apply one getStats report of a connection; False when it is not after the cursor
        (a replay, or a report that arrived after a newer one: nothing changes)."""
        key = (peer_id, connection_id)
        st = self.state(peer_id, connection_id)
        replay = self._replaying.get(key)
        if replay is not None:
            answered = self._answered[key]
            if answered < len(replay.calls):
                same, at, by, with_labels, applied = replay.calls[answered]
                if (
                    same is report
                    and at == timestamp_ms
                    and by == transport
                    and with_labels == labels
                ):
                    self._answered[key] = answered + 1
                    if applied:
                        self._touched[key] = st
                    return applied
            st = self._stop_replay(key)
        calls = self._calls.get(key)
        if calls is None:
            calls = self._calls[key] = []
        applied = self._apply(st, report, timestamp_ms, transport, labels)
        calls.append((report, timestamp_ms, transport, labels, applied))
        return applied

    def _stop_replay(self, key: tuple[str, str]) -> ConnectionState:
        """The connection's state as if no precomputed state had been taken: decoded from the
        stored row, with the calls answered so far applied again."""
        replay, answered = self._replaying.pop(key), self._answered.pop(key)
        st = self._states[key] = self._decoded(key, replay.start)
        self._touched.pop(key, None)
        calls = self._calls[key] = []
        for report, timestamp_ms, transport, labels, _ in replay.calls[:answered]:
            applied = self._apply(st, report, timestamp_ms, transport, labels)
            calls.append((report, timestamp_ms, transport, labels, applied))
        return st

    def _apply(
        self,
        st: ConnectionState,
        report: Any,
        timestamp_ms: float,
        transport: str | None,
        labels: list[Any],
    ) -> bool:
        peer_id, connection_id = st.peer_id, st.connection_id
        if st.timestamp_ms is not None and timestamp_ms <= st.timestamp_ms:
            return False
        labels = labels or st.labels
        rows, pairs, index = stats.ingest_indexed(
            st.index if st.index is not None else st.report,
            report,
            namespace=f"{peer_id}:{connection_id}",
            transport=transport,
            labels=[stats.StreamLabel.from_mapping(label) for label in labels],
            thresholds=self.thresholds,
            pair_entries=False,
        )
        st.add_rows(rows, self.thresholds)
        st.select_pairs(pairs, index, transport, timestamp_ms)
        st.index = index  # compacted once, when the state is written (cursor())
        st.labels = labels
        st.timestamp_ms = timestamp_ms
        self._touched[(peer_id, connection_id)] = st
        return True

    def flush(self) -> None:
        """Write this batch's blocks and compactions, then the touched states."""
        for key, replay in list(self._replaying.items()):
            if self._answered[key] < len(replay.calls):  # the precompute made more calls
                self._stop_replay(key)
        self._replaying, self._answered = {}, {}
        inserts: list[dict[str, Any]] = []
        merges: list[tuple[ConnectionState, int, list[list[int]], list[tuple[float, bytes]]]] = []
        for st in self._touched.values():
            for index, pending in st.pending.items():
                rows = sorted(pending.rows, key=lambda r: r[0])  # stable: ties keep report order
                self.rows_written += len(rows)
                tail = st.tail.get(index) or []
                keep = list(tail)  # the tail blocks left as they are
                full = sum(b[2] for b in tail) + len(rows) >= SEAL_ROWS
                if full or len(tail) >= TAIL_BLOCKS - 1:
                    keep = []
                else:
                    # The newest blocks no larger than what is merged so far join the new rows
                    # (a binary counter): a row is rewritten about log2(SEAL_ROWS / rows a batch)
                    # times before it is sealed, not once every TAIL_BLOCKS - 1 batches.
                    merged = len(rows)
                    while keep and keep[-1][2] <= merged:
                        merged += keep.pop()[2]
                if len(keep) < len(tail):
                    merges.append((st, index, tail[len(keep) :], rows))
                    st.tail[index] = keep
                    continue
                block = self._block(st, index, rows)
                inserts.append(block)
                if len(rows) < SEAL_ROWS:
                    st.tail.setdefault(index, []).append(
                        [block["start_ms"], block["end_ms"], block["row_count"]]
                    )
            st.pending = {}
        if merges:
            inserts.extend(self._compact(merges))
        self._insert_blocks(inserts)
        self._write_states()
        self._touched = {}

    def _block(
        self,
        st: ConnectionState,
        index: int,
        rows: list[tuple[float, bytes]],
        *,
        start_ms: int | None = None,
        prefix: list[bytes] | None = None,
        prefix_rows: int = 0,
    ) -> dict[str, Any]:
        if start_ms is None:
            start_ms = _floor_ms(rows[0][0])
            newest = st.last_start.get(index)
            if newest is not None and start_ms <= newest:
                start_ms = newest + 1  # a block's key must be unique within its stream kind
            st.last_start[index] = start_ms
        fragments = [*(prefix or []), *(r[1] for r in rows)]
        return {
            "app_id": self.app_id,
            "peer_id": st.peer_id,
            "kind": index,
            "connection_id": st.connection_id,
            "start_ms": start_ms,
            "received_day": self.received_day,
            "end_ms": max(start_ms, _floor_ms(rows[-1][0])),
            "row_count": prefix_rows + len(rows),
            "rows": encode_rows(fragments),
        }

    def _compact(
        self, merges: list[tuple[ConnectionState, int, list[list[int]], list[tuple[float, bytes]]]]
    ) -> list[dict[str, Any]]:
        """Rewrite the newest blocks of each tail with its new rows as one block (a read, a
        delete); the block goes after the tail blocks ``flush`` kept."""
        table = SampleBlock.__table__
        cols = (table.c.app_id, table.c.peer_id, table.c.kind, table.c.connection_id)
        keys = [
            (self.app_id, st.peer_id, index, st.connection_id, block[0])
            for st, index, tail, _ in merges
            for block in tail
        ]
        stored: dict[tuple[Any, ...], bytes] = {}
        for start in range(0, len(keys), 200):
            chunk = keys[start : start + 200]
            where = tuple_(*cols, table.c.start_ms).in_(chunk)
            for row in self.db.execute(select(*cols, table.c.start_ms, table.c.rows).where(where)):
                stored[tuple(row[:5])] = row[5]
            self.db.execute(delete(table).where(where))
        out = []
        for st, index, tail, rows in merges:
            prefix = []
            count = 0
            for entry in tail:
                data = stored.get((self.app_id, st.peer_id, index, st.connection_id, entry[0]))
                if data is not None:  # gone only if retention removed it meanwhile
                    prefix.append(decode_rows(data))
                    count += entry[2]
            block = self._block(
                st, index, rows, start_ms=tail[0][0], prefix=prefix, prefix_rows=count
            )
            if block["row_count"] < SEAL_ROWS:  # after the blocks the merge left (flush)
                st.tail.setdefault(index, []).append(
                    [block["start_ms"], block["end_ms"], block["row_count"]]
                )
            out.append(block)
        return out

    def _insert_blocks(self, blocks: list[dict[str, Any]]) -> None:
        if not blocks:
            return
        table = SampleBlock.__table__
        if self.db.get_bind().dialect.name != "postgresql":
            self.db.execute(table.insert(), blocks)
            return
        import psycopg

        names = [c.name for c in table.columns]
        dbapi = self.db.connection().connection.driver_connection
        assert isinstance(dbapi, psycopg.Connection)
        try:
            statement = f"COPY sample_blocks ({', '.join(names)}) FROM STDIN"
            with dbapi.cursor() as cur, cur.copy(statement) as copy:
                for block in blocks:
                    copy.write_row([block[n] for n in names])
        except psycopg.errors.IntegrityError as exc:  # a concurrent batch won: the caller retries
            raise IntegrityError("COPY sample_blocks", None, exc) from exc

    def _write_states(self) -> None:
        table = PeerConnectionState.__table__
        fresh: list[dict[str, Any]] = []
        changed: list[dict[str, Any]] = []
        for st in self._touched.values():
            values = {
                "b_app": self.app_id,
                "b_peer": st.peer_id,
                "b_conn": st.connection_id,
                "b_ts": st.timestamp_ms,
                "b_state": encode_state(st.to_json()),
            }
            (changed if st.stored else fresh).append(values)
            st.stored = True
        if fresh:
            self.db.execute(
                table.insert().values(
                    app_id=bindparam("b_app"),
                    peer_id=bindparam("b_peer"),
                    connection_id=bindparam("b_conn"),
                    timestamp_ms=bindparam("b_ts"),
                    state=bindparam("b_state"),
                ),
                fresh,
            )
        if changed:
            self.db.execute(
                update(table)
                .where(
                    table.c.app_id == bindparam("b_app"),
                    table.c.peer_id == bindparam("b_peer"),
                    table.c.connection_id == bindparam("b_conn"),
                )
                .values(timestamp_ms=bindparam("b_ts"), state=bindparam("b_state")),
                changed,
            )


def precompute(
    db: DB,
    app_id: str,
    reports: Sequence[tuple[str, str, float, Any, str | None, list[Any]]],
    thresholds: stats.QualityThresholds,
    *,
    now: datetime,
) -> Precomputed:
    """Apply a batch's reports to the connections' states as ``db`` (a read transaction) has
    them, writing nothing. ``reports``: ``SampleWriter.apply_report``'s arguments ``(peer_id,
    connection_id, timestamp ms, report, transport, labels)`` in the order the batch applies
    them. The batch's ``SampleWriter`` takes the result where it still holds (the module
    docstring)."""
    writer = SampleWriter(db, app_id, thresholds, now=now)
    writer.load((peer_id, connection_id) for peer_id, connection_id, *_ in reports)
    for peer_id, connection_id, timestamp_ms, report, transport, labels in reports:
        writer.apply_report(
            peer_id,
            connection_id,
            timestamp_ms=timestamp_ms,
            report=report,
            transport=transport,
            labels=labels,
        )
    return Precomputed(
        thresholds,
        {
            key: _Replay(writer._start[key], writer._states[key], calls)
            for key, calls in writer._calls.items()
        },
    )


@dataclass(frozen=True)
class _StoredBlock:
    kind: int
    connection_id: str
    start_ms: int
    end_ms: int
    rows: bytes


def _kind_rows(blocks: list[_StoredBlock]) -> bytes:
    """The JSON array of a kind's rows in timestamp order (ms; ties in connection order)."""
    fragments = [decode_rows(b.rows) for b in blocks]
    overlapping = False
    newest = -math.inf
    for block in blocks:  # ordered by start_ms
        if block.start_ms <= newest:
            overlapping = True
            break
        newest = max(newest, block.end_ms)
    if not overlapping:
        return join_rows(fragments)
    rows: list[Any] = []
    for fragment in fragments:
        rows.extend(orjson.loads(b"[" + fragment + b"]"))
    rows.sort(key=lambda row: str(row.get("timestamp", "")) if isinstance(row, dict) else "")
    return orjson.dumps(rows)


@dataclass
class StoredQuality:
    """What ``read_stored_quality`` read: the report parts plus the inputs of issue detection.

    - quality / candidate_pairs: as ``read_quality`` returns them.
    - rows: ``{kind: JSON array bytes}`` of the kinds that have rows (empty without quality).
    - timed_pairs: ``(first seen epoch ms, CandidatePair)`` of every selected pair.
    - rows_digest: a digest of what ``rows`` was decoded from (the stored blocks, compressed, with
      their kinds and times: ``rows`` is a function of them; empty when no block was read).
    """

    quality: dict[str, Any]
    candidate_pairs: dict[str, list[dict[str, Any]]]
    rows: dict[str, bytes] = field(default_factory=dict)
    timed_pairs: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    rows_digest: bytes = b""

    def detected_issues(
        self,
        events: Iterable[tuple[float, str, Mapping[str, Any]]],
        device_updates: Mapping[str, Sequence[Any]],
        thresholds: stats.IssueThresholds | None = None,
    ) -> list[dict[str, Any]]:
        """``stats.detect_issues`` over the stored rows (parsed here), pairs, the peer's client
        events ``(epoch ms, name, metadata)`` and device update lists.

        The result is cached in the process by a digest of all those inputs (content-addressed,
        so never stale): a peer whose data did not change is not parsed and judged again. The
        first read of a 2-hour peer (14 400 rows) spends about 0.1–0.3 s here, a cached one a
        digest of its 150 kB of stored blocks (``rows_digest``); a digest of the 4.7 MB of rows
        they decode to was half of a cached report's instructions (``bench/peer_report.py
        --callgrind``, docs/performance.md)."""
        events = list(events)
        digest = hashlib.blake2b(digest_size=20)
        digest.update(self.rows_digest)
        digest.update(
            orjson.dumps(
                [self.timed_pairs, events, device_updates],
                option=orjson.OPT_NON_STR_KEYS,
                default=str,
            )
        )
        key = (digest.digest(), thresholds)
        with _ISSUES_LOCK:
            cached = _ISSUES_CACHE.get(key)
            if cached is not None:
                _ISSUES_CACHE.move_to_end(key)
                return copy.deepcopy(cached)
        rows = {kind: orjson.loads(raw) for kind, raw in self.rows.items()}
        found = stats.detect_issues(
            rows,
            pairs=self.timed_pairs,
            events=events,
            device_updates=device_updates,
            thresholds=thresholds,
        )
        with _ISSUES_LOCK:
            _ISSUES_CACHE[key] = copy.deepcopy(found)
            while len(_ISSUES_CACHE) > _ISSUES_CACHE_SIZE:
                _ISSUES_CACHE.popitem(last=False)
        return found


#: Detected issues by input digest (``StoredQuality.detected_issues``), least recently used first.
_ISSUES_CACHE: OrderedDict[tuple[bytes, stats.IssueThresholds | None], list[dict[str, Any]]] = (
    OrderedDict()
)
_ISSUES_CACHE_SIZE = 256
_ISSUES_LOCK = threading.Lock()


def read_quality(
    db: DB, app_id: str, peer_id: str, *, with_quality: bool = True
) -> tuple[dict[str, Any], dict[str, list[dict[str, Any]]]]:
    """The peer report's ``quality`` object and its candidate pairs, from stored state.

    Returns ``(quality, candidate_pairs)``: ``quality`` has the 8 row arrays as
    ``orjson.Fragment`` (serialize with orjson) and the 8 ``{kind}_cumulative`` blocks, or is
    ``{}`` for a peer without sample rows (and when ``with_quality`` is false: the blocks are not
    read then); ``candidate_pairs`` is ``{role: [CandidatePair]}`` in the order the pairs were
    first seen.
    """
    stored = read_stored_quality(db, app_id, peer_id, with_quality=with_quality)
    return stored.quality, stored.candidate_pairs


def read_stored_quality(
    db: DB, app_id: str, peer_id: str, *, with_quality: bool = True
) -> StoredQuality:
    """``read_quality``'s result with the raw row arrays and pair times kept (``StoredQuality``)."""
    table = PeerConnectionState.__table__
    merged: dict[int, stats.KindAccumulator] = {}
    pairs: list[tuple[float, str, str, str, dict[str, Any]]] = []
    for connection_id, timestamp_ms, raw in db.execute(
        select(table.c.connection_id, table.c.timestamp_ms, table.c.state).where(
            table.c.app_id == app_id, table.c.peer_id == peer_id
        )
    ):
        st = ConnectionState.from_json(peer_id, connection_id, timestamp_ms, decode_state(raw))
        for index, acc in st.accumulators.items():
            if index in merged:
                merged[index].merge(acc)
            else:
                merged[index] = acc
        for key, (first_seen, data) in st.pairs.items():
            role, _, pair_id = key.partition(" ")
            pairs.append((first_seen, connection_id, pair_id, role, data))
    by_role: dict[str, list[dict[str, Any]]] = {
        "producing_transport": [],
        "consuming_transport": [],
    }
    timed: list[tuple[float, dict[str, Any]]] = []
    for first_seen, _, _, role, data in sorted(pairs, key=lambda p: p[:3]):
        by_role.setdefault(role, []).append(data)
        timed.append((first_seen, data))
    if not with_quality:
        return StoredQuality({}, by_role, timed_pairs=timed)
    blocks = SampleBlock.__table__
    by_kind: dict[int, list[_StoredBlock]] = {}
    digest = hashlib.blake2b(digest_size=20)
    for kind, connection_id, start_ms, end_ms, rows in db.execute(
        select(
            blocks.c.kind, blocks.c.connection_id, blocks.c.start_ms, blocks.c.end_ms, blocks.c.rows
        )
        .where(blocks.c.app_id == app_id, blocks.c.peer_id == peer_id)
        .order_by(blocks.c.kind, blocks.c.start_ms, blocks.c.connection_id)
    ):
        by_kind.setdefault(kind, []).append(
            _StoredBlock(kind, connection_id, start_ms, end_ms, rows)
        )
        # all that _kind_rows decodes and orders by (the header's length of rows delimits them)
        digest.update(orjson.dumps([kind, connection_id, start_ms, end_ms, len(rows)]))
        digest.update(rows)
    cumulative = {index: acc.block() for index, acc in merged.items()}
    if not by_kind and not any(cumulative.values()):
        return StoredQuality({}, by_role, timed_pairs=timed)  # a peer without telemetry
    quality: dict[str, Any] = {}
    raw_rows: dict[str, bytes] = {}
    for index, kind in enumerate(stats.KINDS):
        raw = _kind_rows(by_kind.get(index, []))
        quality[kind] = orjson.Fragment(raw)
        if index in by_kind:
            raw_rows[kind] = raw
    for index, kind in enumerate(stats.KINDS):
        quality[f"{kind}_cumulative"] = cumulative.get(index, {})
    return StoredQuality(quality, by_role, raw_rows, timed, digest.digest())


@dataclass(frozen=True)
class PruneResult:
    """What ``prune`` removed: the first day kept, daily partitions dropped, blocks deleted."""

    cutoff_day: int
    partitions_dropped: list[str]
    blocks_deleted: int


def prune(db: DB, *, now: datetime, retention_days: float, batch: int = 5000) -> PruneResult:
    """Delete the sample blocks received more than ``retention_days`` days before ``now``.

    Retention counts from when the server received the rows (an imported recording of an old call
    is kept as long as a live call). Days are whole UTC days: blocks of the day that is
    ``retention_days`` back stay until that day has passed. On PostgreSQL the daily partitions
    before the cutoff are dropped, then any such blocks in the default partition are deleted; on
    SQLite blocks are deleted in batches of ``batch`` rows. Connection states (the cumulative
    blocks, candidate pairs) stay: a peer report keeps its ``*_cumulative`` blocks and loses rows.
    """
    cutoff_day = partitions.day_number(now - timedelta(days=retention_days))
    dropped = partitions.drop_before(db.connection(), cutoff_day)
    table = SampleBlock.__table__
    old = table.c.received_day < cutoff_day
    deleted = 0
    if db.get_bind().dialect.name == "postgresql":
        deleted = rowcount(db.execute(delete(table).where(old)))
    else:
        rowid: ColumnClause[int] = literal_column("rowid", Integer)
        while True:
            ids = select(rowid).select_from(table).where(old).limit(batch).scalar_subquery()
            count = rowcount(db.execute(delete(table).where(rowid.in_(ids))))
            deleted += count
            if count < batch:
                break
    return PruneResult(cutoff_day, dropped, deleted)
