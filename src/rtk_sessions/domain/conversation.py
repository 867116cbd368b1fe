"""Chat messages and transcript segments of sessions: ingestion (``record``) and the exports.

Where an event goes: ``session_id`` names the session; ``meeting_id`` means the meeting's LIVE
session, else its latest one; with neither, the sender's/speaker's peer's session. A peer given
together with a session or meeting must be in it.

Identity: ``sender`` / ``speaker`` fields win; missing ones are filled from the peer (its
``user_id``, ``custom_participant_id`` and ``display_name``).

Chat edits: a ``chat.message`` whose ``message_id`` is already stored for the session edits that
row. The version with the latest event timestamp supplies payload, type and ``pinned`` (so edits
that arrive out of order converge); ``created_at`` stays the earliest timestamp; ``is_edited``
becomes true when the payload or type changes, or when an event says so.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import exists, select
from sqlalchemy.orm import Session as DB

from rtk_sessions.contract.ingest import ChatMessage, Identity, TranscriptSegment
from rtk_sessions.errors import BadRequest, Forbidden, SessionNotFound
from rtk_sessions.exports import ChatRow, Segment, chat_csv
from rtk_sessions.storage.tables import (
    App,
    ChatMessageRow,
    PeerFields,
    Session,
    TranscriptSegmentRow,
)


def record(
    db: DB,
    app: App,
    event: ChatMessage | TranscriptSegment,
    *,
    peer: PeerFields | None,
    now: datetime,
) -> Session:
    """Store a chat message (or its edit) or a transcript segment; returns its session.
    raises BadRequest, Forbidden."""
    session = _target_session(db, app, event, peer)
    if isinstance(event, ChatMessage):
        _chat(db, app, session, event, peer)
    else:
        _segment(db, app, session, event, peer)
    return session


def _target_session(
    db: DB, app: App, event: ChatMessage | TranscriptSegment, peer: PeerFields | None
) -> Session:
    if event.session_id is not None:
        session = db.get(Session, event.session_id)
        if session is None or session.app_id != app.id:
            raise BadRequest(f"unknown session_id {event.session_id}")
        if peer is not None and peer.session_id != session.id:
            raise BadRequest(f"peer_id {peer.id} is not in session {session.id}")
        if event.meeting_id is not None and event.meeting_id != session.meeting_id:
            raise BadRequest(
                f"session_id {session.id} is not a session of meeting {event.meeting_id}"
            )
        return session
    if peer is not None:
        session = db.get(Session, peer.session_id)
        assert session is not None
        if event.meeting_id is not None and event.meeting_id != session.meeting_id:
            raise BadRequest(f"peer_id {peer.id} is not in meeting {event.meeting_id}")
        return session
    if event.meeting_id is None:
        raise BadRequest("session_id, meeting_id or peer_id is required")
    base = select(Session).where(
        Session.app_id == app.id,
        Session.meeting_id == event.meeting_id,
        Session.parent_session_id.is_(None),
    )
    session = db.scalar(
        base.where(Session.status == "LIVE").order_by(Session.started_at.desc()).limit(1)
    ) or db.scalar(base.order_by(Session.started_at.desc()).limit(1))
    if session is None:
        raise BadRequest(f"meeting_id {event.meeting_id} has no session yet")
    return session


def _identity(
    given: Identity | None, peer: PeerFields | None
) -> tuple[str | None, str | None, str | None]:
    user_id = given.user_id if given else None
    custom = given.custom_participant_id if given else None
    name = given.display_name if given else None
    if peer is not None:
        user_id = user_id or peer.user_id
        custom = custom or peer.custom_participant_id
        name = name or peer.display_name
    return user_id, custom, name


def _chat(db: DB, app: App, session: Session, event: ChatMessage, peer: PeerFields | None) -> None:
    message_id = event.message_id or event.id
    row = db.get(ChatMessageRow, (session.id, message_id))
    if row is None:
        user_id, custom, name = _identity(event.sender, peer)
        db.add(
            ChatMessageRow(
                session_id=session.id,
                id=message_id,
                app_id=app.id,
                meeting_id=session.meeting_id,
                peer_id=peer.id if peer else None,
                user_id=user_id,
                custom_participant_id=custom,
                display_name=name,
                payload_type=event.payload_type,
                payload=event.payload,
                pinned=event.pinned,
                is_edited=event.is_edited,
                created_at=event.timestamp,
                updated_at=event.timestamp,
            )
        )
        db.flush()  # a second version of the message in the same batch must find this row
        return
    other_peer = peer is not None and row.peer_id is not None and row.peer_id != peer.id
    if other_peer and (row.user_id is None or row.user_id != peer.user_id):  # type: ignore[union-attr]
        raise Forbidden(f"chat message {message_id} was sent by another participant")
    changed = event.payload != row.payload or event.payload_type != row.payload_type
    if event.timestamp >= row.updated_at:
        row.payload, row.payload_type = event.payload, event.payload_type
        row.pinned = event.pinned
        row.updated_at = event.timestamp
    if event.timestamp < row.created_at:
        row.created_at = event.timestamp
    row.is_edited = row.is_edited or changed or event.is_edited


def _segment(
    db: DB, app: App, session: Session, event: TranscriptSegment, peer: PeerFields | None
) -> None:
    user_id, custom, name = _identity(event.speaker, peer)
    db.add(
        TranscriptSegmentRow(
            session_id=session.id,
            app_id=app.id,
            event_id=event.id,
            peer_id=peer.id if peer else None,
            user_id=user_id,
            custom_participant_id=custom,
            display_name=name,
            start_at=event.start,
            end_at=event.end,
            text=event.text,
            is_final=event.is_final,
            language=event.language,
            created_at=event.timestamp,
        )
    )


# ---- reads -----------------------------------------------------------------------------------


def session_of_app(db: DB, app_id: str, session_id: str) -> Session:
    """raises SessionNotFound (also for a session of another app)."""
    session = db.get(Session, session_id)
    if session is None or session.app_id != app_id:
        raise SessionNotFound(session_id)
    return session


def chat_export(db: DB, app_id: str, session_id: str) -> bytes:
    """The session's chat as RealtimeKit's CSV (header only when empty). raises SessionNotFound."""
    session = session_of_app(db, app_id, session_id)
    rows = db.scalars(
        select(ChatMessageRow)
        .where(ChatMessageRow.session_id == session.id)
        .order_by(ChatMessageRow.created_at, ChatMessageRow.id)
    )
    return chat_csv(
        ChatRow(
            id=r.id,
            participant_id=r.peer_id or r.user_id,
            session_id=r.session_id,
            meeting_id=r.meeting_id,
            display_name=r.display_name,
            pinned=r.pinned,
            is_edited=r.is_edited,
            payload_type=r.payload_type,
            payload=r.payload,
            created_at=r.created_at,
        )
        for r in rows
    )


def has_transcript(db: DB, session_id: str) -> bool:
    """Whether the session has at least one final transcript segment."""
    return bool(
        db.scalar(
            select(
                exists().where(
                    TranscriptSegmentRow.session_id == session_id,
                    TranscriptSegmentRow.is_final.is_(True),
                )
            )
        )
    )


def final_segments(db: DB, session_id: str) -> list[Segment]:
    """The session's final transcript segments in time order (ties: ingestion order)."""
    rows = db.scalars(
        select(TranscriptSegmentRow)
        .where(
            TranscriptSegmentRow.session_id == session_id,
            TranscriptSegmentRow.is_final.is_(True),
        )
        .order_by(TranscriptSegmentRow.start_at, TranscriptSegmentRow.id)
    )
    return [
        Segment(
            start=r.start_at,
            end=r.end_at,
            text=r.text,
            peer_id=r.peer_id,
            user_id=r.user_id,
            custom_participant_id=r.custom_participant_id,
            name=r.display_name,
            language=r.language,
        )
        for r in rows
    ]
