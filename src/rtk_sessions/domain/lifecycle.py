"""Session and peer lifecycle: joins, leaves, keep-alive and the sweeper (spec section 3).

A session goes LIVE on its first join, counts ``live_participants`` and their peak, and ENDS once
nobody has been in it for the meeting's ``session_keep_alive_time_in_secs``; its ``ended_at`` is
that instant (last leave + keep-alive), so it does not depend on when the sweeper ran.

Concurrency: every change to a session's counters happens under a row lock (``FOR UPDATE``, and
the meeting's row for joins), refreshed from the database, so concurrent joins of one meeting share
one session and no count is lost. SQLite ignores the locks; its single writer serializes instead.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    String,
    and_,
    bindparam,
    case,
    func,
    literal_column,
    or_,
    select,
    text,
    type_coerce,
)
from sqlalchemy.orm import Session as DB
from sqlalchemy.orm import aliased

from rtk_sessions.domain import webhooks
from rtk_sessions.errors import BadRequest
from rtk_sessions.storage.bulk import insert_rows
from rtk_sessions.storage.engine import Prepared, RawConnection
from rtk_sessions.storage.tables import (
    App,
    Meeting,
    Peer,
    PeerEvent,
    PeerFields,
    Session,
    transient,
)
from rtk_sessions.storage.types import RAW_TIME, stored_time

LIVE, ENDED = "LIVE", "ENDED"
_sweep_log = logging.getLogger("rtk_sessions.sweeper")


class LookUp:
    """The ``latest`` argument of ``join_session`` when the caller has not read it."""


LOOK_UP = LookUp()


def _sessions_for_update() -> Select[Session]:
    other = aliased(Session)
    newest = (
        select(func.max(other.started_at))
        .where(other.meeting_id == Session.meeting_id, other.parent_session_id.is_(None))
        .scalar_subquery()
    )
    return (
        select(Session)
        .where(
            or_(
                Session.id.in_(bindparam("session_ids", expanding=True)),
                and_(
                    Session.meeting_id.in_(bindparam("meeting_ids", expanding=True)),
                    Session.parent_session_id.is_(None),
                    Session.started_at == newest,
                ),
            )
        )
        .order_by(Session.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )


# Built once: constructing it (aliasing, column adaptation) costs more than running it.
_SESSIONS_FOR_UPDATE = _sessions_for_update()


def sessions_for_update(db: DB, session_ids: list[str], meeting_ids: list[str]) -> list[Session]:
    """The sessions ``session_ids`` and the newest top-level session of each of ``meeting_ids``
    (greatest ``started_at``; a tie gives all of them), in id order, locked for update and
    refreshed from the database.

    One statement, so that concurrent batches lock sessions in one order. The newest session of a
    meeting is the greatest ``(started_at, id)`` among the rows returned for it.
    """
    params = {"session_ids": session_ids, "meeting_ids": meeting_ids}
    return list(db.scalars(_SESSIONS_FOR_UPDATE, params))


# SHA-1 state after the namespace and the names' common prefix: each id hashes only the rest.
_EVENT_ID_PREFIX = hashlib.sha1(uuid.NAMESPACE_URL.bytes + b"rtk-sessions:peer-event:")


def _event_id(peer_id: str, name: str) -> str:
    """``str(uuid.uuid5(uuid.NAMESPACE_URL, f"rtk-sessions:peer-event:{peer_id}:{name}"))``,
    computed without the ``UUID`` object (RFC 4122 section 4.3: SHA-1 of namespace and name,
    version 5, variant 10; tests/storage/test_peer_event_ids.py checks it against ``uuid5``)."""
    sha1 = _EVENT_ID_PREFIX.copy()
    sha1.update(f"{peer_id}:{name}".encode())
    digest = bytearray(sha1.digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50
    digest[8] = (digest[8] & 0x3F) | 0x80
    h = digest.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _search_text(meeting_display_name: str, meeting_id: str, session_id: str) -> str:
    return f"{meeting_display_name} {meeting_id} {session_id}".lower()


def join_session(
    db: DB,
    app: App,
    meeting: Meeting,
    *,
    at: datetime,
    now: datetime,
    session_id: str | None = None,
    parent_session_id: str | None = None,
    latest: Session | LookUp | None = LOOK_UP,
    created: list[Session] | None = None,
) -> Session:
    """The session a join at ``at`` belongs to, created or reopened as needed.

    With ``session_id``: that session (created if unknown). Otherwise the meeting's latest session
    when it is LIVE, or ENDED after ``at`` (a late join that belongs to it); else a new one.
    latest: that session (the one ``session_id`` names, or else the meeting's newest) when the
    caller has already read and locked it (``sessions_for_update``), None when there is none; by
    default it is read here.
    created: where a new session goes instead of ``db.add``: the caller inserts it
    (``domain.ingest`` does, in one statement with the batch's other new sessions); until then
    it is a transient object, found by nothing that reads the database.
    raises BadRequest when ``session_id`` belongs to another app or meeting.
    """
    session: Session | None
    if not isinstance(latest, LookUp):
        session = latest
    elif session_id is not None:
        session = db.get(Session, session_id, with_for_update=True, populate_existing=True)
    else:
        session = db.scalar(
            select(Session)
            .where(Session.meeting_id == meeting.id, Session.parent_session_id.is_(None))
            .order_by(Session.started_at.desc())
            .limit(1)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    # Each attribute of an ORM object read once: every access is instrumented.
    status = None
    if session is not None:
        if session_id is not None and (
            session.app_id != app.id or session.meeting_id != meeting.id
        ):
            raise BadRequest(f"session_id {session_id} belongs to another meeting")
        status = session.status
        if status == ENDED and session_id is None:  # a late join belongs to it, or a new one
            ended_at = session.ended_at
            if ended_at is None or ended_at < at:
                session = None
    if session is None:
        new_id, meeting_id, title = session_id or str(uuid.uuid4()), meeting.id, meeting.title or ""
        values = {
            "id": new_id,
            "app_id": app.id,
            "meeting_id": meeting_id,
            "parent_session_id": parent_session_id,
            "meeting_display_name": title,
            "type": "meeting",
            "status": LIVE,
            "live_participants": 0,
            "max_concurrent_participants": 0,
            "consumed_secs": 0.0,
            "keep_alive_secs": meeting.session_keep_alive_time_in_secs,
            "search_text": _search_text(title, meeting_id, new_id),
            "created_at": at,
            "started_at": at,
            "updated_at": at,
        }
        if created is None:
            session = Session(**values)
            db.add(session)
        else:
            session = transient(Session, values)
            created.append(session)
        went_live = True
    else:
        went_live = status == ENDED
        if went_live:
            session.status, session.ended_at = LIVE, None
        if at < session.started_at:
            session.started_at = session.created_at = at
    if went_live:
        webhooks.session_started(db, session, now=now)
    return session


PeerEventRows = list[dict[str, Any]]


class SessionCounters(Protocol):
    """What a join or a leave changes of a session: an ORM ``Session`` or its ``Tally``."""

    id: str
    live_participants: int
    max_concurrent_participants: int
    consumed_secs: float  # participant-seconds of the peers that have left
    last_left_at: datetime | None
    updated_at: datetime


@dataclass(slots=True)
class Tally:
    """The counters of ``session`` (``SessionCounters``) as plain attributes, which the joins and
    leaves of an ingestion batch change instead of the ORM session's (each access of an ORM
    attribute goes through its instrumentation: more work than the rest of the change). Until
    ``store`` writes them back, the session's own counters are stale."""

    session: Session
    id: str
    live_participants: int
    max_concurrent_participants: int
    consumed_secs: float
    last_left_at: datetime | None
    updated_at: datetime

    @classmethod
    def of(cls, session: Session) -> Tally:
        """The counters of ``session`` as they are now."""
        return cls(
            session,
            session.id,
            session.live_participants,
            session.max_concurrent_participants,
            session.consumed_secs,
            session.last_left_at,
            session.updated_at,
        )

    def store(self) -> None:
        """Write the counters into the session (those that differ: an ORM write marks the
        session changed)."""
        session = self.session
        if session.live_participants != self.live_participants:
            session.live_participants = self.live_participants
        if session.max_concurrent_participants != self.max_concurrent_participants:
            session.max_concurrent_participants = self.max_concurrent_participants
        if session.consumed_secs != self.consumed_secs:
            session.consumed_secs = self.consumed_secs
        if session.last_left_at != self.last_left_at:
            session.last_left_at = self.last_left_at
        if session.updated_at != self.updated_at:
            session.updated_at = self.updated_at


def _peer_event(
    peer_id: str, session_id: str, name: str, at: datetime, minutes: float
) -> dict[str, Any]:
    return {
        "id": _event_id(peer_id, name),
        "peer_id": peer_id,
        "session_id": session_id,
        "event_name": name,
        "minutes_consumed": minutes,
        "created_at": at,
        "updated_at": at,
    }


def insert_peer_events(db: DB, rows: PeerEventRows) -> None:
    """Write the peer events collected by ``record_join``/``leave_peer`` (after their peers)."""
    insert_rows(db, PeerEvent.__table__, rows)  # flushes the peers they belong to first
    rows.clear()


def record_join(session: SessionCounters, peer: PeerFields, events: PeerEventRows) -> None:
    """Count ``peer`` in ``session`` and add its PEER_CREATED and PEER_JOINING to ``events``."""
    # Each attribute read and written once: an ORM session's accesses are instrumented.
    live = session.live_participants + 1
    session.live_participants = live
    if live > session.max_concurrent_participants:
        session.max_concurrent_participants = live
    joined_at, peer_id, session_id = peer.joined_at, peer.id, session.id
    if joined_at > session.updated_at:
        session.updated_at = joined_at
    for name in ("PEER_CREATED", "PEER_JOINING"):
        events.append(_peer_event(peer_id, session_id, name, joined_at, 0.0))


def leave_peer(
    db: DB,
    peer: PeerFields,
    *,
    at: datetime,
    now: datetime,
    events: PeerEventRows,
    locked: bool = False,
    reason: str = "LEFT",
    session: Session | None = None,
    counters: SessionCounters | None = None,
) -> None:
    """Mark ``peer`` as left at ``at`` (not before its join) and add its PEER_LEAVING to
    ``events``; a second leave changes nothing. Queues ``meeting.participantLeft`` with
    ``reason`` (``LEFT``, ``TIMEOUT``, ``KICKED``) for subscribed webhooks.

    locked: the caller has already read and locked the peer's session in this transaction.
    session: that session itself (so it is not looked up: a lookup of a session not yet
    flushed would flush the whole unit of work); implies ``locked``.
    counters: what to count the leave in instead of ``session`` itself: its ``Tally``.
    """
    if peer.left_at is not None:
        return
    joined_at, session_id = peer.joined_at, peer.session_id
    left_at = max(at, joined_at)
    peer.left_at = left_at
    peer.updated_at = left_at
    duration = (left_at - joined_at).total_seconds()
    if session is None and locked:
        session = db.get(Session, session_id)
    elif session is None:
        session = db.get(Session, session_id, with_for_update=True, populate_existing=True)
    assert session is not None
    if counters is None:
        counters = session
    assert counters.id == session_id
    # Each attribute read and written once: an ORM session's accesses are instrumented.
    counters.consumed_secs += duration
    counters.live_participants = max(0, counters.live_participants - 1)
    last_left_at = counters.last_left_at
    if last_left_at is None or left_at > last_left_at:
        counters.last_left_at = left_at
    if left_at > counters.updated_at:
        counters.updated_at = left_at
    events.append(_peer_event(peer.id, session_id, "PEER_LEAVING", left_at, duration / 60.0))
    webhooks.participant_left(db, session, peer, now=now, reason=reason)


def _session_end(session: Session) -> datetime | None:
    """When an idle session ends (last leave + keep-alive), or None when that is past the last
    representable time (a corrupt row; ingestion refuses times after 2100)."""
    assert session.last_left_at is not None
    try:
        return session.last_left_at + timedelta(seconds=session.keep_alive_secs)
    except OverflowError:
        return None


def sweep(
    db: DB, *, now: datetime, peer_timeout: timedelta, failed: list[str] | None = None
) -> list[str]:
    """Leave stale peers and end idle sessions; returns the ids of sessions that ended.

    A peer is stale when the server has received nothing for it for ``peer_timeout``; it is taken
    as left at the client time of its last event. A session ends when it has no live participant
    and its keep-alive has passed since the last leave.

    Each peer and each session is handled in its own savepoint: one that cannot be processed (a
    corrupt row, a database error) is rolled back alone, logged (``rtk_sessions.sweeper``), and its
    ``"peer:<id>"`` or ``"session:<id>"`` appended to ``failed``; the others go on.
    """
    stale = db.scalars(
        select(Peer).where(Peer.left_at.is_(None), Peer.last_received_at < now - peer_timeout)
    ).all()
    for peer in stale:
        peer_id = peer.id
        try:
            with db.begin_nested():
                events: PeerEventRows = []
                leave_peer(db, peer, at=peer.last_seen_at, now=now, events=events, reason="TIMEOUT")
                insert_peer_events(db, events)
        except Exception:
            _sweep_log.exception("sweeper: cannot leave stale peer %s; skipped", peer_id)
            if failed is not None:
                failed.append(f"peer:{peer_id}")
    ended: list[str] = []
    idle = db.scalars(
        select(Session)
        .where(
            Session.status == LIVE,
            Session.last_left_at.is_not(None),
            Session.live_participants <= 0,
        )
        .with_for_update(skip_locked=True)  # a session being joined right now is not idle
    ).all()
    for session in idle:
        session_id = session.id
        try:
            with db.begin_nested():
                end = _session_end(session)
                if end is None:
                    raise OverflowError(f"last_left_at {session.last_left_at} + keep-alive")
                if end <= now:
                    session.status, session.ended_at = ENDED, end
                    session.updated_at = max(session.updated_at, end)
                    db.flush()
                    webhooks.session_ended(db, session, now=now, reason="ALL_PARTICIPANTS_LEFT")
                    ended.append(session_id)
        except Exception:
            _sweep_log.exception("sweeper: cannot end session %s; skipped", session_id)
            if failed is not None:
                failed.append(f"session:{session_id}")
    return ended


def fold_session_counts(db: DB) -> int:
    """Move the committed per-transaction deltas of ``session_counts`` into its base rows
    (``tx`` 0, migration 0007l); returns how many delta rows were folded. Counts read as
    ``sum(n)`` are the same before and after. PostgreSQL only (SQLite writes base rows only):
    0 elsewhere, and 0 while another transaction is folding.

    Run by the sweeper, in a transaction of its own: it holds the base rows' locks until commit.
    """
    if db.get_bind().dialect.name != "postgresql":
        return 0
    return int(db.scalar(text("SELECT rtk_fold_session_counts()")) or 0)


def fold_session_day_counts(db: DB) -> int:
    """``fold_session_counts`` for ``session_day_counts`` (migration 0008d): the committed
    per-transaction deltas of each (app, status, day) moved into its base row; returns how many
    delta rows were folded. PostgreSQL only: 0 elsewhere, and 0 while another fold runs."""
    if db.get_bind().dialect.name != "postgresql":
        return 0
    return int(db.scalar(text("SELECT rtk_fold_session_day_counts()")) or 0)


def still_connected() -> ColumnElement[bool]:
    """``peers.left_at IS NULL``, for lookups of a session's peers (by ``session_id``).

    Written so that no index can serve it: SQLite's statistics (``ANALYZE``) count one row per
    ``left_at`` value and know nothing of NULLs, so for a plain ``left_at IS NULL`` its planner
    takes ``ix_peers_open_received`` and walks every connected peer of the database (8 ms a
    session list page at 1M sessions, 25,000 connected peers) instead of the session's few rows
    in ``ix_peers_session_joined``. The sweeper, which wants every connected peer, keeps the
    plain form. tests/storage/test_open_peer_plans.py."""
    one: ColumnElement[int] = literal_column("1")
    return case((Peer.left_at.is_(None), one), else_=literal_column("0")) == one


# ``open_peer_secs`` asks for the ids of a list page in one statement of a fixed number of
# parameters (one of these, the ids padded with repeats), compiled once each (``Prepared``):
# an expanding IN would be rewritten at every execution.
_OPEN_PEER_CHUNKS = (8, 32, 128, 512)


@functools.cache
def _open_peers(size: int) -> Prepared:
    ids = [bindparam(f"id{k}", type_=String) for k in range(size)]
    return Prepared(
        select(Peer.session_id, type_coerce(Peer.joined_at, RAW_TIME)).where(
            Peer.session_id.in_(ids), still_connected()
        )
    )


def open_peer_secs(
    db: DB | Connection | RawConnection, session_ids: list[str], now: datetime
) -> dict[str, float]:
    """Participant-seconds of the peers of ``session_ids`` still connected at ``now`` (each from
    its join to ``now``), by session id; sessions without open peers are absent. A LIVE session's
    ``minutes_consumed`` is ``(consumed_secs + this) / 60``: minutes consumed since it started."""
    out: dict[str, float] = {}
    conn = db if isinstance(db, (Connection, RawConnection)) else db.connection()
    most = _OPEN_PEER_CHUNKS[-1]
    for start in range(0, len(session_ids), most):
        chunk = session_ids[start : start + most]
        size = next(n for n in _OPEN_PEER_CHUNKS if n >= len(chunk))
        padded = chunk + [chunk[0]] * (size - len(chunk))
        params = {f"id{k}": value for k, value in enumerate(padded)}
        for session_id, joined_at in _open_peers(size).rows(conn, params):
            secs = (now - stored_time(joined_at)).total_seconds()
            out[session_id] = out.get(session_id, 0.0) + max(0.0, secs)
    return out
