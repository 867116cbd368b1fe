"""Apply a batch of ingestion events (docs/ingest.md) inside the caller's transaction.

The life of a batch: the API (or the importer) validates it into ``contract.ingest`` events, then
``ingest_batch`` drops events whose ids were already applied, applies the rest in timestamp order
(peer lifecycle → sessions; getStats → ``stats.sample_rows`` → ``stats_samples``), and records their
ids. The caller commits once; only then is the batch acknowledged.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session as DB
from sqlalchemy.orm import make_transient_to_detached

from rtk_sessions import observability, stats
from rtk_sessions.clock import iso
from rtk_sessions.contract.ingest import (
    ChatMessage,
    Event,
    PeerClientEvent,
    PeerDevices,
    PeerDeviceSelected,
    PeerJoined,
    PeerLeft,
    PeerMetadata,
    PeerStats,
    TranscriptSegment,
)
from rtk_sessions.domain import conversation, summaries, webhooks
from rtk_sessions.domain.client_events import ClientEvent, StoredEvents, read_stored, write_blocks
from rtk_sessions.domain.lifecycle import (
    LOOK_UP,
    LookUp,
    PeerEventRows,
    Tally,
    insert_peer_events,
    join_session,
    leave_peer,
    record_join,
    sessions_for_update,
)
from rtk_sessions.domain.presets import view_type_of
from rtk_sessions.domain.samples import Precomputed, SampleWriter, precompute
from rtk_sessions.domain.useragent import describe
from rtk_sessions.errors import BadRequest, Forbidden
from rtk_sessions.security import ParticipantClaims
from rtk_sessions.storage.bulk import insert_rows, one_of
from rtk_sessions.storage.tables import (
    App,
    Base,
    IngestedEvent,
    Meeting,
    MeetingParticipant,
    Peer,
    PeerRow,
    Session,
    transient,
)

_ID_CHUNK = 500


@dataclass
class IngestResult:
    accepted: int = 0
    duplicates: int = 0
    stale: int = 0  # peer.stats not after its connection's cursor: replays (counted as duplicates)
    samples: int = 0  # sample rows stored (one per stream and report)


@dataclass
class _Context:
    db: DB
    app: App
    app_id: str  # app.id, read once (an ORM attribute)
    now: datetime
    claims: ParticipantClaims | None
    default_keep_alive: int
    thresholds: stats.QualityThresholds
    result: IngestResult
    samples: SampleWriter
    peers: dict[str, PeerRow] = field(default_factory=dict)
    absent: set[str] = field(default_factory=set)  # peer ids known not to exist (before joins)
    meetings: dict[str, Meeting | None] = field(default_factory=dict)  # locked; None: not found
    latest: dict[str, Session | None] = field(default_factory=dict)  # a meeting's newest session
    named: dict[str, Session | None] = field(default_factory=dict)  # sessions joins name, locked
    # Every session locked (_preload) or joined in the batch, by id. Also holds them: the ORM
    # session's identity map keeps objects only while someone refers to them.
    sessions: dict[str, Session] = field(default_factory=dict)
    # The counters of the sessions joined or left since the last _insert_new_sessions, by id:
    # the batch's joins and leaves change these, which that writes into the sessions.
    tallies: dict[str, Tally] = field(default_factory=dict)
    # Peers joined in this batch: plain objects (changed in place by later events of the batch),
    # inserted in one statement at its end (_insert_new_peers). Nothing in the batch reads them
    # back from the database; only peer_events refer to them (a foreign key), written after.
    new_peers: list[PeerRow] = field(default_factory=list)
    # Meetings and sessions created by joins of this batch, not yet inserted: transient objects
    # (their counters changed in place by later events), inserted together with their final
    # values before the peers (_insert_new_sessions), or earlier when something is about to read
    # the database (_materialize).
    new_meetings: list[Meeting] = field(default_factory=list)
    new_sessions: list[Session] = field(default_factory=list)
    # Stored peers the batch reads (_read_peers), also plain objects: their changed columns are
    # written back in a few statements at its end (_update_stored_peers), the values they were
    # read with here.
    stored_peers: dict[str, tuple[PeerRow, dict[str, Any]]] = field(default_factory=dict)
    view_types: dict[str, str | None] = field(default_factory=dict)  # preset name -> view type
    peer_events: PeerEventRows = field(default_factory=list)  # PEER_* rows, written at the end
    # (peer id, client event) in the order applied, written after the peers, a block per peer
    client_events: list[tuple[str, ClientEvent]] = field(default_factory=list)
    # the client-event blocks of the batch's peers already stored (their ids and next seq)
    stored_client: dict[str, StoredEvents] = field(default_factory=dict)
    late_chat: dict[str, Session] = field(default_factory=dict)  # chat reaching ENDED sessions
    late_transcript: dict[str, Session] = field(default_factory=dict)  # final segments, ditto


def ingest_batch(
    db: DB,
    app: App,
    events: Sequence[Event],
    *,
    now: datetime,
    claims: ParticipantClaims | None = None,
    default_keep_alive: int = 60,
    thresholds: stats.QualityThresholds | None = None,
    precomputed: Precomputed | None = None,
) -> IngestResult:
    """Apply ``events`` for ``app``; replayed event ids are skipped.

    claims: set when the caller holds a participant token: every event must then be that
    participant's, in that meeting. precomputed: ``precompute_stats`` of the same events, done
    before this transaction (taken where it still holds). raises BadRequest (an event cannot be
    applied; nothing of the batch may be committed), Forbidden (outside the participant token's
    scope).
    """
    result = IngestResult()
    app_id = app.id
    fresh: list[tuple[int, Event]] = []
    seen: set[str] = set()
    for index, event in enumerate(events):
        if event.id in seen:
            result.duplicates += 1
            continue
        seen.add(event.id)
        fresh.append((index, event))
    # peer.stats replays are recognised by their connection's cursor (samples.SampleWriter),
    # peer.event ones by the ids in their peer's client-event blocks (domain.client_events), every
    # other event by its id in ingested_events (where the ids of peer.event applied before
    # migration 0006b are too).
    logged = [e.id for _, e in fresh if not isinstance(e, PeerStats)]
    applied: set[str] = set()
    for chunk in _chunks(logged):
        applied.update(
            db.scalars(
                select(IngestedEvent.event_id).where(
                    IngestedEvent.app_id == app_id, one_of(db, IngestedEvent.event_id, chunk)
                )
            )
        )
    client = [e for _, e in fresh if isinstance(e, PeerClientEvent)]
    stored_client = read_stored(db, app_id, (e.peer_id for e in client))
    applied.update(e.id for e in client if e.id in stored_client[e.peer_id].ids)
    if applied:
        result.duplicates += sum(1 for _, e in fresh if e.id in applied)
        fresh = [(i, e) for i, e in fresh if e.id not in applied]
    # Stable: events with equal timestamps keep the order the client sent them in.
    fresh.sort(key=lambda item: item[1].timestamp)
    thresholds = thresholds or stats.QualityThresholds()
    ctx = _Context(
        db=db,
        app=app,
        app_id=app_id,
        now=now,
        claims=claims,
        default_keep_alive=default_keep_alive,
        thresholds=thresholds,
        result=result,
        samples=SampleWriter(db, app_id, thresholds, now=now, precomputed=precomputed),
        stored_client=stored_client,
    )
    _preload(ctx, [e for _, e in fresh])
    for index, event in fresh:
        try:
            _apply(ctx, event)
        except BadRequest as exc:
            raise BadRequest(f"events[{index}] ({event.type} {event.id}): {exc.message}") from exc
        except Forbidden as exc:
            raise Forbidden(f"events[{index}] ({event.type} {event.id}): {exc.message}") from exc
    _insert_new_sessions(ctx)
    _insert_new_peers(ctx)
    _update_stored_peers(ctx)
    insert_peer_events(db, ctx.peer_events)
    _insert_client_events(ctx)
    for session in ctx.late_chat.values():
        webhooks.chat_synced(db, session, now=now)
    for session in ctx.late_transcript.values():
        webhooks.transcript_ready(db, session, now=now)
    webhooks.flush_outbox(db)  # this batch's webhook deliveries, in one statement
    ctx.samples.flush()
    log = [
        {"app_id": app_id, "event_id": e.id, "received_at": now}
        for _, e in fresh
        if not isinstance(e, PeerStats | PeerClientEvent)
    ]
    insert_rows(db, IngestedEvent.__table__, log)
    db.flush()
    result.accepted = len(fresh) - result.stale
    result.duplicates += result.stale
    result.samples = ctx.samples.rows_written
    observability.note_ingest(result)  # counted once the batch is acknowledged
    return result


def precompute_stats(
    db: DB,
    app_id: str,
    events: Sequence[Event],
    *,
    now: datetime,
    thresholds: stats.QualityThresholds | None = None,
) -> Precomputed:
    """The getStats pass of the batch's ``peer.stats`` events (``domain.samples.precompute``), in
    the order ``ingest_batch`` applies them, in ``db``: a read transaction, before the write one
    that passes the result to ``ingest_batch``. On SQLite, whose one write lock serializes the
    batches of every process, the pass then runs while another process's batch writes. Writes
    nothing; never raises for an event ``ingest_batch`` would refuse (it computes rows for it,
    unused)."""
    seen: set[str] = set()
    fresh: list[PeerStats] = []
    for event in events:
        if event.id in seen:
            continue
        seen.add(event.id)
        if isinstance(event, PeerStats):
            fresh.append(event)
    fresh.sort(key=lambda e: e.timestamp)  # stable, as ingest_batch's order of all events
    reports = [(e.peer_id, e.connection_id, *_report_call(e)) for e in fresh]
    return precompute(db, app_id, reports, thresholds or stats.QualityThresholds(), now=now)


# (column name, attribute name) of every column of ``peers``.
_PEER_COLUMNS = [
    (column.name, Peer.__mapper__.get_property_by_column(column).key)
    for column in Peer.__table__.columns
]


@functools.cache
def _columns_of(model: type[Base]) -> list[tuple[str, str, Any]]:
    """(column name, attribute name, scalar Python default or None) of every column of
    ``model``'s table."""
    out = []
    for column in model.__table__.columns:
        default = column.default
        assert default is None or default.is_scalar, column  # callables: not supported here
        value = default.arg if default is not None else None  # type: ignore[attr-defined]
        out.append((column.name, model.__mapper__.get_property_by_column(column).key, value))
    return out


def _insert_objects(db: DB, model: type[Base], objects: list[Any]) -> None:
    """Insert transient ``objects`` of ``model`` in one statement (``insert_rows``), in id
    order, as the ORM would: an attribute never set takes its column's scalar default (set on the
    object too, so reading it later loads nothing); one set on none of them and without default
    is left out of the insert (SQL NULL, as the ORM leaves it: for a JSON column ``None`` would be
    JSON ``null``)."""
    columns = _columns_of(model)
    present: set[str] = set()
    for obj in objects:
        present.update(vars(obj))
    names = [(name, key) for name, key, default in columns if key in present or default is not None]
    rows = []
    for obj in sorted(objects, key=lambda o: o.id):
        values = vars(obj)
        for _, key, default in columns:
            if key not in values:
                values[key] = default
        rows.append({name: values[key] for name, key in names})
    insert_rows(db, model.__table__, rows)


def _insert_new_sessions(ctx: _Context) -> None:
    """Write the tallies into their sessions, then insert the meetings and sessions created since
    the last call, meetings first, each in id order (the order of their locks), with the values
    the batch's events gave them. They stay transient: nothing later in the batch changes them."""
    for tally in ctx.tallies.values():
        tally.store()
    ctx.tallies.clear()
    if ctx.new_meetings:
        _insert_objects(ctx.db, Meeting, ctx.new_meetings)
        ctx.new_meetings.clear()
    if ctx.new_sessions:
        _insert_objects(ctx.db, Session, ctx.new_sessions)
        ctx.new_sessions.clear()


def _materialize(ctx: _Context) -> None:
    """Write the tallies into their sessions, insert the meetings and sessions created so far and
    make them persistent ORM objects (later changes are written as updates), before an event that
    reads them from the database (conversation, a breakout's parent)."""
    pending: list[Any] = [*ctx.new_meetings, *ctx.new_sessions]
    _insert_new_sessions(ctx)
    if pending:
        for obj in pending:
            make_transient_to_detached(obj)
            ctx.db.add(obj)


def _insert_new_peers(ctx: _Context) -> None:
    """Insert the peers joined in this batch (one statement, after the sessions and meetings
    they belong to), with the values later events of the batch gave them."""
    if ctx.new_peers:
        rows = []
        for peer in ctx.new_peers:
            values = vars(peer)
            rows.append({name: values[key] for name, key in _PEER_COLUMNS})
        insert_rows(ctx.db, Peer.__table__, rows)  # flushes their sessions first
        ctx.new_peers.clear()


# The columns of ``peers`` that events change (``_touch``, ``leave_peer``, metadata events; the
# JSON one is replaced by a new object, never changed in place).
_PEER_CHANGES = ("last_seen_at", "last_received_at", "left_at", "updated_at", "meta")
_PEER_COLUMN_OF = {key: name for name, key in _PEER_COLUMNS}


def _update_stored_peers(ctx: _Context) -> None:
    """Write the columns the batch changed of the stored peers it read, in id order (the order of
    the ORM's updates: concurrent batches lock rows in one order), one executemany per run of
    peers with the same changed columns; only those columns, as the ORM would, so a concurrent
    change to another one (a kick's metadata) is not written over."""
    runs: list[tuple[tuple[str, ...], list[dict[str, Any]]]] = []
    for peer_id in sorted(ctx.stored_peers):
        peer, read = ctx.stored_peers[peer_id]
        now = vars(peer)
        changed = tuple(
            key for key in _PEER_CHANGES if now[key] is not read[key] and now[key] != read[key]
        )
        if changed:
            row = {f"b_{key}": now[key] for key in changed}
            row["b_id"] = peer_id
            if not runs or runs[-1][0] != changed:
                runs.append((changed, []))
            runs[-1][1].append(row)
    table = Peer.__table__
    for changed, rows in runs:
        columns: dict[str, Any] = {_PEER_COLUMN_OF[key]: bindparam(f"b_{key}") for key in changed}
        statement = update(table).where(table.c.id == bindparam("b_id")).values(columns)
        ctx.db.execute(statement, rows)
    ctx.stored_peers.clear()


def _insert_client_events(ctx: _Context) -> None:
    """Write the batch's client events in one statement (a block per peer), after their peers."""
    if ctx.client_events:
        ctx.db.flush()  # the peers they belong to first
        write_blocks(ctx.db, ctx.app_id, ctx.client_events, ctx.stored_client)


def _preload(ctx: _Context, events: Sequence[Event]) -> None:
    """Read (and lock) what the batch touches in a few queries instead of several per event.

    Peers (as plain objects: ``_update_stored_peers`` writes their changes); the meetings
    joined, locked in id order, and each one's newest session; the sessions of
    peers that leave, locked in id order (meetings first, then sessions, as every writer does, so
    concurrent batches cannot deadlock on them); the stats cursors.
    """
    db = ctx.db
    peer_ids: list[str] = sorted({e.peer_id for e in events if getattr(e, "peer_id", None)})  # type: ignore[misc]
    _read_peers(ctx, peer_ids)
    joins = [e for e in events if isinstance(e, PeerJoined) and e.peer_id not in ctx.peers]
    meeting_ids = sorted({m for e in joins if (m := _join_meeting_id(ctx, e)) is not None})
    for chunk in _chunks(meeting_ids):
        ctx.meetings.update(dict.fromkeys(chunk))
        for meeting in db.scalars(
            select(Meeting).where(Meeting.id.in_(chunk)).order_by(Meeting.id).with_for_update()
        ):
            ctx.meetings[meeting.id] = meeting
    named = {e.session_id for e in joins if e.session_id is not None}
    newest_of = sorted(
        {m for e in joins if e.session_id is None and (m := _join_meeting_id(ctx, e)) is not None}
    )
    leaving = {
        ctx.peers[e.peer_id].session_id
        for e in events
        if isinstance(e, PeerLeft) and e.peer_id in ctx.peers
    }
    ctx.named.update(dict.fromkeys(named))
    ctx.latest.update(dict.fromkeys(newest_of))
    ids = sorted(named | leaving)
    for start in range(0, max(len(ids), len(newest_of)), _ID_CHUNK):
        chunk_ids, chunk_meetings = (
            ids[start : start + _ID_CHUNK],
            newest_of[start : start + _ID_CHUNK],
        )
        for session in sessions_for_update(db, chunk_ids, chunk_meetings):
            ctx.sessions[session.id] = session
            if session.id in named:
                ctx.named[session.id] = session
            if session.meeting_id in ctx.latest and session.parent_session_id is None:
                known = ctx.latest[session.meeting_id]
                if known is None or (known.started_at, known.id) < (session.started_at, session.id):
                    ctx.latest[session.meeting_id] = session
    # Also the connections of peers not stored yet (joined later in the batch): none has a state
    # row, but reading them here costs nothing, and each would otherwise be one more query when
    # its first report is applied (``SampleWriter.state``).
    ctx.samples.load((e.peer_id, e.connection_id) for e in events if isinstance(e, PeerStats))


def _read_peers(ctx: _Context, peer_ids: list[str]) -> None:
    """Read the peers ``peer_ids`` into ``ctx.peers`` (the app's) and ``ctx.stored_peers``;
    those not stored go to ``ctx.absent``; another app's, to neither."""
    db = ctx.db
    table = Peer.__table__
    for chunk in _chunks(peer_ids):
        found = set()
        for row in db.execute(select(table).where(one_of(db, table.c.id, chunk))):
            read = row._mapping
            found.add(read["id"])
            if read["app_id"] == ctx.app_id:
                values: dict[str, Any] = {key: read[name] for name, key in _PEER_COLUMNS}
                peer = PeerRow(values)
                ctx.peers[peer.id] = peer
                ctx.stored_peers[peer.id] = (peer, dict(values))
        ctx.absent.update(set(chunk) - found)


def _chunks(values: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(values), _ID_CHUNK):
        yield values[start : start + _ID_CHUNK]


def _join_meeting_id(ctx: _Context, event: PeerJoined) -> str | None:
    return ctx.claims.meeting_id if ctx.claims is not None else event.meeting_id


def _apply(ctx: _Context, event: Event) -> None:
    match event:
        case PeerJoined():
            _peer_joined(ctx, event)
        case PeerLeft():
            peer = _touch(ctx, event.peer_id, event.timestamp)
            session = ctx.sessions.get(peer.session_id)
            leave_peer(
                ctx.db,
                peer,
                at=event.timestamp,
                now=ctx.now,
                events=ctx.peer_events,
                locked=True,
                session=session,
                counters=None if session is None else _tally(ctx, peer.session_id, session),
            )
        case PeerStats():
            _peer_stats(ctx, event)
        case PeerMetadata():
            _peer_metadata(ctx, event)
        case PeerDevices():
            peer = _touch(ctx, event.peer_id, event.timestamp)
            update = {
                "added": [d.model_dump(exclude_none=True) for d in event.added],
                "removed": [d.model_dump(exclude_none=True) for d in event.removed],
                "timestamp": iso(event.timestamp),
            }
            _append_meta(peer, f"{event.kind}_devices_updates", update)
        case PeerDeviceSelected():
            peer = _touch(ctx, event.peer_id, event.timestamp)
            selected = {
                "device": event.device.model_dump(exclude_none=True),
                "timestamp": iso(event.timestamp),
            }
            _append_meta(peer, "selected_device_updates", selected)
        case PeerClientEvent():
            peer = _touch(ctx, event.peer_id, event.timestamp)
            ctx.client_events.append(
                (
                    peer.id,
                    ClientEvent(
                        event.name, event.timestamp, dict(event.metadata) or None, event.id
                    ),
                )
            )
        case ChatMessage() | TranscriptSegment():
            _materialize(ctx)
            _conversation(ctx, event)


def _load_peer(ctx: _Context, peer_id: str) -> PeerRow | None:
    """The app's peer ``peer_id``, None when there is none. raises BadRequest (another app's)."""
    peer = ctx.peers.get(peer_id)
    if peer is None and peer_id not in ctx.absent:
        _read_peers(ctx, [peer_id])  # _preload read the peers of the batch's events: not these
        peer = ctx.peers.get(peer_id)
        if peer is None and peer_id not in ctx.absent:
            raise BadRequest(f"peer_id {peer_id} belongs to another app")
    return peer


#: ``Peer.last_received_at`` moves on only when it is this much behind the batch's time. The column
#: is indexed (the sweeper's stale-peer query), so writing it makes a peer update non-HOT on
#: PostgreSQL: a new index entry and a dead row version per batch. Stale peers are then found up
#: to this much early, against a timeout of a minute (``RTK_PEER_TIMEOUT_SECS``).
RECEIVED_QUANTUM = timedelta(seconds=1)


def _touch(ctx: _Context, peer_id: str, at: datetime) -> PeerRow:
    """The peer an event is about, marked as seen. raises BadRequest, Forbidden."""
    peer = _load_peer(ctx, peer_id)
    if peer is None:
        raise BadRequest(f"unknown peer_id {peer_id}: send its peer.joined first")
    if ctx.claims is not None and peer.user_id != ctx.claims.participant_id:
        raise Forbidden(f"peer {peer_id} is not this participant's")
    if (peer.meta or {}).get("kicked_at"):  # domain.active_session.KICKED
        raise Forbidden(f"peer {peer_id} was kicked from its session")
    if at > peer.last_seen_at:
        peer.last_seen_at = at
    if ctx.now - peer.last_received_at >= RECEIVED_QUANTUM:
        peer.last_received_at = ctx.now
    return peer


def _check_parent(ctx: _Context, parent_session_id: str) -> None:
    """A breakout room's parent must be a session of the same app (earlier in this batch or
    stored). raises BadRequest."""
    _materialize(ctx)
    app_id = ctx.db.scalar(select(Session.app_id).where(Session.id == parent_session_id))
    if app_id != ctx.app_id:
        raise BadRequest(f"parent_session_id {parent_session_id} is not a session of this app")


def _peer_joined(ctx: _Context, event: PeerJoined) -> None:
    existing = _load_peer(ctx, event.peer_id)
    if existing is not None:
        _touch(ctx, event.peer_id, event.timestamp)
        return
    info = event.participant
    meeting_id = event.meeting_id
    user_id = info.user_id
    custom_id, name, preset = info.custom_participant_id, info.display_name, info.preset_name
    if ctx.claims is not None:
        if meeting_id is not None and meeting_id != ctx.claims.meeting_id:
            raise Forbidden("participant token is for another meeting")
        if event.session_id is not None or event.parent_session_id is not None:
            raise Forbidden("a participant token cannot choose the session")
        meeting_id = ctx.claims.meeting_id
        participant = ctx.db.get(MeetingParticipant, ctx.claims.participant_id)
        if participant is None or participant.meeting_id != meeting_id:
            raise Forbidden("participant no longer exists")
        user_id = participant.id
        custom_id = participant.custom_participant_id
        name = name or participant.name
        preset = participant.preset_name
    if meeting_id is None:
        raise BadRequest("meeting_id is required")
    if event.parent_session_id is not None:
        _check_parent(ctx, event.parent_session_id)
    meeting = _meeting(ctx, meeting_id, event.meeting_title)
    preloaded: Session | LookUp | None = LOOK_UP
    if event.session_id is not None and event.session_id in ctx.named:
        preloaded = ctx.named[event.session_id]
    elif event.session_id is None and meeting_id in ctx.latest:
        preloaded = ctx.latest[meeting_id]
    session = join_session(
        ctx.db,
        ctx.app,
        meeting,
        at=event.timestamp,
        now=ctx.now,
        session_id=event.session_id,
        parent_session_id=event.parent_session_id,
        latest=preloaded,
        created=ctx.new_sessions,
    )
    if event.session_id is None:
        ctx.latest[meeting_id] = session
    else:
        ctx.named[event.session_id] = session
    session_id = session.id
    ctx.sessions[session_id] = session
    view_type: str | None = info.preset_view_type
    if view_type is None and preset is not None:
        if preset not in ctx.view_types:
            ctx.view_types[preset] = view_type_of(ctx.db, ctx.app_id, preset)
        view_type = ctx.view_types[preset]
    peer = PeerRow(
        {
            "id": event.peer_id,
            "session_id": session_id,
            "app_id": ctx.app_id,
            "user_id": user_id,
            "custom_participant_id": custom_id,
            "display_name": name,
            "preset_name": preset,
            "preset_view_type": view_type,
            "socket_session_id": event.socket_session_id,
            "joined_at": event.timestamp,
            "left_at": None,
            "last_seen_at": event.timestamp,
            "last_received_at": ctx.now,
            "meta": {},
            "created_at": event.timestamp,
            "updated_at": event.timestamp,
        }
    )
    ctx.new_peers.append(peer)
    ctx.peers[peer.id] = peer
    record_join(_tally(ctx, session_id, session), peer, ctx.peer_events)
    webhooks.participant_joined(ctx.db, session, peer, now=ctx.now)


def _tally(ctx: _Context, session_id: str, session: Session) -> Tally:
    """The counters of ``session`` (whose id is ``session_id``) for this batch's joins and
    leaves to change."""
    tally = ctx.tallies.get(session_id)
    if tally is None:
        tally = ctx.tallies[session_id] = Tally.of(session)
    return tally


def _meeting(ctx: _Context, meeting_id: str, title: str | None) -> Meeting:
    # Row lock: concurrent joins of one meeting must agree on its session (a no-op on SQLite,
    # whose single writer already serializes them).
    if meeting_id in ctx.meetings:  # locked by _preload
        meeting = ctx.meetings[meeting_id]
    else:
        meeting = ctx.db.get(Meeting, meeting_id, with_for_update=True)
    if meeting is None:
        values = {
            "id": meeting_id,
            "app_id": ctx.app_id,
            "title": title or "",
            "status": "ACTIVE",
            "record_on_start": False,
            "live_stream_on_start": False,
            "persist_chat": False,
            "summarize_on_end": False,
            "transcribe_on_end": False,
            "session_keep_alive_time_in_secs": ctx.default_keep_alive,
            "created_at": ctx.now,
            "updated_at": ctx.now,
        }
        meeting = transient(Meeting, values)
        ctx.new_meetings.append(meeting)  # inserted by _insert_new_sessions
        ctx.meetings[meeting_id] = meeting
    elif meeting.app_id != ctx.app_id:
        raise BadRequest(f"meeting_id {meeting_id} belongs to another app")
    return meeting


def _report_call(event: PeerStats) -> tuple[float, Any, str | None, list[Any]]:
    """``SampleWriter.apply_report``'s ``(timestamp_ms, report, transport, labels)`` for
    ``event``: one conversion for the batch and its precompute, whose calls must be equal."""
    return event.timestamp.timestamp() * 1000, event.stats, event.transport, event.labels


def _peer_stats(ctx: _Context, event: PeerStats) -> None:
    peer = _touch(ctx, event.peer_id, event.timestamp)
    timestamp_ms, report, transport, labels = _report_call(event)
    applied = ctx.samples.apply_report(
        peer.id,
        event.connection_id,
        timestamp_ms=timestamp_ms,
        report=report,
        transport=transport,
        labels=labels,
    )
    if not applied:
        ctx.result.stale += 1


def _peer_metadata(ctx: _Context, event: PeerMetadata) -> None:
    peer = _touch(ctx, event.peer_id, event.timestamp)
    meta = dict(peer.meta or {})
    if event.user_agent:
        browser, device = describe(event.user_agent)
        meta["browser_metadata"] = {**meta.get("browser_metadata", {}), **browser}
        meta["device_info"] = {**meta.get("device_info", {}), **device}
    for name in ("device_info", "browser_metadata", "ip_information", "native_metadata"):
        value = getattr(event, name)
        if value:
            meta[name] = {**meta.get(name, {}), **value}
    for name in ("sdk_name", "sdk_type", "sdk_version", "room_view_type"):
        value = getattr(event, name)
        if value:
            meta[name] = value
    if event.pc_metadata:
        entry = {**event.pc_metadata, "timestamp": iso(event.timestamp)}
        meta["pc_metadata"] = [*meta.get("pc_metadata", []), entry]
    peer.meta = meta


def _append_meta(peer: PeerRow, key: str, value: dict[str, Any]) -> None:
    meta = dict(peer.meta or {})
    meta[key] = [*meta.get(key, []), value]
    peer.meta = meta  # a new object: _update_stored_peers compares it with the dict read


def _conversation(ctx: _Context, event: ChatMessage | TranscriptSegment) -> None:
    peer = _touch(ctx, event.peer_id, event.timestamp) if event.peer_id else None
    if ctx.claims is not None:
        # A participant token speaks only as its own participant, in its own peer's session.
        if peer is None:
            raise Forbidden("a participant token must name its own peer_id")
        if event.meeting_id is not None and event.meeting_id != ctx.claims.meeting_id:
            raise Forbidden("participant token is for another meeting")
        if event.session_id is not None and event.session_id != peer.session_id:
            raise Forbidden("a participant token writes only to its own peer's session")
        who = event.sender if isinstance(event, ChatMessage) else event.speaker
        if who is not None and who.user_id not in (None, ctx.claims.participant_id):
            raise Forbidden("a participant token cannot speak for another participant")
    session = conversation.record(ctx.db, ctx.app, event, peer=peer, now=ctx.now)
    if isinstance(event, TranscriptSegment) and event.is_final:
        summaries.summarize_late_transcript(ctx.db, session, now=ctx.now)
    if session.status == "ENDED":
        if isinstance(event, ChatMessage):
            ctx.late_chat[session.id] = session
        elif event.is_final:
            ctx.late_transcript[session.id] = session
