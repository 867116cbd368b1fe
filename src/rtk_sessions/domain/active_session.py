"""A meeting's active session (``realtime_kit.active_session``): read it, and kick participants.

The active session is the meeting's newest top-level LIVE session. Kicking maps onto what this
service controls, the participant tokens:

- every kicked meeting participant's ``token_version`` is bumped, so each token issued to it so
  far is refused from the next request on (``meetings.check_participant_token`` reads the row on
  every ingestion request; no cache stands in between), in every process;
- each of its peers still in the session leaves now, through ``lifecycle.leave_peer``, the
  function a ``peer.left`` event uses (a PEER_LEAVING peer event, the session's counters and
  consumed minutes, and whatever else hooks onto a leave);
- the peer is marked ``kicked_at`` (in its ``metadata``, not shown in reports), and every later
  event about it is refused (``Forbidden``, 403), also when sent with an API token.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session as DB

from rtk_sessions.clock import iso
from rtk_sessions.domain.lifecycle import (
    LIVE,
    PeerEventRows,
    insert_peer_events,
    leave_peer,
    still_connected,
)
from rtk_sessions.errors import BadRequest, NotFound
from rtk_sessions.storage.tables import Meeting, MeetingParticipant, Peer, Session

KICKED = "kicked_at"  # key in Peer.meta


class NoActiveSession(NotFound):
    def __init__(self, meeting_id: str) -> None:
        super().__init__(f"No active session for meeting {meeting_id}")


def active_session(db: DB, meeting: Meeting, *, lock: bool = False) -> Session:
    """The meeting's newest LIVE top-level session. raises NoActiveSession."""
    stmt = (
        select(Session)
        .where(
            Session.meeting_id == meeting.id,
            Session.app_id == meeting.app_id,
            Session.parent_session_id.is_(None),
            Session.status == LIVE,
        )
        .order_by(Session.started_at.desc(), Session.id.desc())
        .limit(1)
    )
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    session = db.scalar(stmt)
    if session is None:
        raise NoActiveSession(meeting.id)
    return session


def is_kicked(peer: Peer) -> bool:
    return bool((peer.meta or {}).get(KICKED))


def _kick_peers(db: DB, session: Session, peers: list[Peer], now: datetime) -> int:
    """Leave every open peer of ``peers`` now and mark all of them kicked; the number that left."""
    events: PeerEventRows = []
    left = 0
    for peer in peers:
        if peer.left_at is None:
            leave_peer(
                db,
                peer,
                at=max(now, peer.joined_at),
                now=now,
                events=events,
                locked=True,
                reason="KICKED",
            )
            left += 1
        peer.meta = {**(peer.meta or {}), KICKED: iso(now)}
    insert_peer_events(db, events)
    return left


def _revoke(participants: list[MeetingParticipant], now: datetime) -> None:
    for participant in participants:
        participant.token_version += 1
        participant.updated_at = now


def participant_view(participant: MeetingParticipant) -> dict[str, Any]:
    """An entry of the kick response: the meeting participant that was kicked."""
    body: dict[str, Any] = {"id": participant.id}
    if participant.name is not None:
        body["name"] = participant.name
    if participant.picture is not None:
        body["picture"] = participant.picture
    body["custom_participant_id"] = participant.custom_participant_id
    body["created_at"] = iso(participant.created_at)
    body["updated_at"] = iso(participant.updated_at)
    return body


def kick(
    db: DB,
    meeting: Meeting,
    *,
    participant_ids: list[str],
    custom_participant_ids: list[str],
    now: datetime,
) -> list[dict[str, Any]]:
    """Kick the named participants out of the meeting's active session.

    ``participant_ids`` are meeting participant ids (a session's ``user_id``) or session
    participant (peer) ids of the active session; ``custom_participant_ids`` the ids the app gave.
    A name that matches nobody in the session is ignored. Returns the kicked meeting participants.
    raises BadRequest (nothing named), NoActiveSession.
    """
    if not participant_ids and not custom_participant_ids:
        raise BadRequest("name at least one of participant_ids or custom_participant_ids")
    session = active_session(db, meeting, lock=True)
    peers = list(db.scalars(select(Peer).where(Peer.session_id == session.id)))
    wanted_ids, wanted_custom = set(participant_ids), set(custom_participant_ids)
    chosen = [
        p
        for p in peers
        if p.id in wanted_ids
        or (p.user_id is not None and p.user_id in wanted_ids)
        or (p.custom_participant_id is not None and p.custom_participant_id in wanted_custom)
    ]
    user_ids = {p.user_id for p in chosen if p.user_id is not None}
    # every peer of a chosen participant goes, not only the one named
    chosen += [p for p in peers if p.user_id in user_ids and p not in chosen]
    participants = _participants(db, meeting, user_ids)
    _revoke(participants, now)
    _kick_peers(db, session, chosen, now)
    return [participant_view(p) for p in participants]


def kick_all(db: DB, meeting: Meeting, *, now: datetime) -> int:
    """Kick everyone still in the active session; the number of participants kicked (peers that
    left; peers of one participant count once). raises NoActiveSession."""
    session = active_session(db, meeting, lock=True)
    open_peers = list(
        db.scalars(select(Peer).where(Peer.session_id == session.id, still_connected()))
    )
    user_ids = {p.user_id for p in open_peers if p.user_id is not None}
    _revoke(_participants(db, meeting, user_ids), now)
    _kick_peers(db, session, open_peers, now)
    return len(user_ids) + sum(1 for p in open_peers if p.user_id is None)


def _participants(db: DB, meeting: Meeting, user_ids: set[str]) -> list[MeetingParticipant]:
    if not user_ids:
        return []
    return list(
        db.scalars(
            select(MeetingParticipant)
            .where(
                MeetingParticipant.meeting_id == meeting.id,
                MeetingParticipant.id.in_(sorted(user_ids)),
            )
            .order_by(MeetingParticipant.created_at, MeetingParticipant.id)
        )
    )
