"""Meetings and their participants: the part of the Meetings API that sessions need
(spec section 4).

A meeting participant's ``id`` becomes the ``user_id`` of the session participants (peers) it joins
as; its participant token authorizes ingestion for it alone (``security.ParticipantClaims``).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session as DB

from rtk_sessions.clock import iso
from rtk_sessions.contract.params import Page, parse_enum, parse_time_range
from rtk_sessions.domain.presets import check_preset_name
from rtk_sessions.errors import BadRequest, MeetingNotFound, ParticipantNotFound
from rtk_sessions.security import ParticipantClaims, issue_participant_token
from rtk_sessions.storage.tables import App, Meeting, MeetingParticipant

FLAGS = (
    "record_on_start",
    "live_stream_on_start",
    "persist_chat",
    "summarize_on_end",
    "transcribe_on_end",
)
MAX_KEEP_ALIVE = 86_400
_UNSET: Any = object()


def _flag(body: dict[str, Any], name: str, default: Any) -> Any:
    value = body.get(name, default)
    if value is not default and not isinstance(value, bool):
        raise BadRequest(f"{name} must be a boolean")
    return value


def _object(body: dict[str, Any], name: str, default: Any) -> Any:
    value = body.get(name, default)
    if value is not default and value is not None and not isinstance(value, dict):
        raise BadRequest(f"{name} must be an object")
    return value


def _apply(
    meeting: Meeting, body: dict[str, Any], *, replace: bool, default_keep_alive: int
) -> None:
    """Set meeting fields from a create/PUT (replace) or PATCH body. raises BadRequest."""
    if not isinstance(body, dict):
        raise BadRequest("body must be a JSON object")
    default = None if replace else _UNSET
    title = body.get("title", default)
    if title is not _UNSET:
        if title is not None and (not isinstance(title, str) or len(title) > 500):
            raise BadRequest("title must be a string of at most 500 characters")
        meeting.title = title
    for name in FLAGS:
        value = _flag(body, name, False if replace else _UNSET)
        if value is not _UNSET:
            setattr(meeting, name, value)
    keep = body.get("session_keep_alive_time_in_secs", default_keep_alive if replace else _UNSET)
    if keep is not _UNSET:
        if (
            isinstance(keep, bool)
            or not isinstance(keep, int | float)
            or not 0 <= keep <= MAX_KEEP_ALIVE
        ):
            raise BadRequest(
                f"session_keep_alive_time_in_secs must be a number from 0 to {MAX_KEEP_ALIVE}"
            )
        meeting.session_keep_alive_time_in_secs = int(keep)
    for name in ("ai_config", "recording_config"):
        value = _object(body, name, default)
        if value is not _UNSET:
            setattr(meeting, name, value)
    status = body.get("status", _UNSET)
    if status is not _UNSET:
        meeting.status = (
            parse_enum(
                "status",
                status if isinstance(status, str) else repr(status),
                ("ACTIVE", "INACTIVE"),
            )
            or "ACTIVE"
        )


def meeting_view(meeting: Meeting) -> dict[str, Any]:
    body: dict[str, Any] = {"id": meeting.id}
    if meeting.title is not None:
        body["title"] = meeting.title
    body["status"] = meeting.status
    for name in FLAGS:
        body[name] = getattr(meeting, name)
    body["session_keep_alive_time_in_secs"] = meeting.session_keep_alive_time_in_secs
    for name in ("ai_config", "recording_config"):
        if getattr(meeting, name) is not None:
            body[name] = getattr(meeting, name)
    body["created_at"] = iso(meeting.created_at)
    body["updated_at"] = iso(meeting.updated_at)
    return body


def create_meeting(
    db: DB, app: App, body: dict[str, Any], *, now: datetime, default_keep_alive: int
) -> Meeting:
    meeting = Meeting(
        id=str(uuid.uuid4()), app_id=app.id, status="ACTIVE", created_at=now, updated_at=now
    )
    _apply(meeting, body or {}, replace=True, default_keep_alive=default_keep_alive)
    db.add(meeting)
    db.flush()
    return meeting


def get_meeting(db: DB, app_id: str, meeting_id: str) -> Meeting:
    """raises MeetingNotFound."""
    meeting = db.get(Meeting, meeting_id)
    if meeting is None or meeting.app_id != app_id:
        raise MeetingNotFound(meeting_id)
    return meeting


def update_meeting(
    db: DB,
    app_id: str,
    meeting_id: str,
    body: dict[str, Any],
    *,
    now: datetime,
    replace: bool,
    default_keep_alive: int,
) -> Meeting:
    meeting = get_meeting(db, app_id, meeting_id)
    _apply(meeting, body, replace=replace, default_keep_alive=default_keep_alive)
    meeting.updated_at = now
    return meeting


def list_meetings(
    db: DB,
    app_id: str,
    page: Page,
    *,
    search: str | None,
    start_time: str | None,
    end_time: str | None,
    status: str | None,
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    start, end = parse_time_range(start_time, end_time)
    stmt = select(Meeting).where(Meeting.app_id == app_id)
    if search:
        needle = search.lower()
        stmt = stmt.where(
            or_(func.lower(Meeting.title).contains(needle, autoescape=True), Meeting.id == search)
        )
    if start is not None:
        stmt = stmt.where(Meeting.created_at >= start)
    if end is not None:
        stmt = stmt.where(Meeting.created_at <= end)
    if status := parse_enum("status", status, ("ACTIVE", "INACTIVE")):
        stmt = stmt.where(Meeting.status == status)
    total = db.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = db.scalars(
        stmt.order_by(Meeting.created_at.desc(), Meeting.id).offset(page.offset).limit(page.size)
    ).all()
    return [meeting_view(m) for m in rows], page.paging(total, len(rows))


def participant_view(participant: MeetingParticipant, token: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"id": participant.id}
    if token is not None:
        body["token"] = token
    body["custom_participant_id"] = participant.custom_participant_id
    body["preset_name"] = participant.preset_name
    if participant.name is not None:
        body["name"] = participant.name
    if participant.picture is not None:
        body["picture"] = participant.picture
    body["created_at"] = iso(participant.created_at)
    body["updated_at"] = iso(participant.updated_at)
    return body


def _text(body: dict[str, Any], name: str, *, required: bool, limit: int = 500) -> str | None:
    value = body.get(name)
    if value is None:
        if required:
            raise BadRequest(f"{name} is required")
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise BadRequest(f"{name} must be a non-empty string of at most {limit} characters")
    return value


def token_for(
    participant: MeetingParticipant,
    meeting: Meeting,
    account_id: str,
    *,
    secret: bytes,
    now: datetime,
    ttl: timedelta,
) -> str:
    claims = ParticipantClaims(
        account_id=account_id,
        app_id=meeting.app_id,
        meeting_id=meeting.id,
        participant_id=participant.id,
        version=participant.token_version,
    )
    return issue_participant_token(secret, claims, now=now, ttl=ttl)


def add_participant(
    db: DB, meeting: Meeting, body: dict[str, Any], *, now: datetime
) -> MeetingParticipant:
    """raises BadRequest for a missing custom_participant_id or preset_name, PresetNotFound for a
    preset_name the app has no preset of (``presets.check_preset_name``)."""
    if not isinstance(body, dict):
        raise BadRequest("body must be a JSON object")
    preset_name = _text(body, "preset_name", required=True)
    assert preset_name is not None
    check_preset_name(db, meeting.app_id, preset_name)
    participant = MeetingParticipant(
        id=str(uuid.uuid4()),
        meeting_id=meeting.id,
        custom_participant_id=_text(body, "custom_participant_id", required=True),
        preset_name=preset_name,
        name=_text(body, "name", required=False),
        picture=_text(body, "picture", required=False, limit=4000),
        token_version=0,
        created_at=now,
        updated_at=now,
    )
    db.add(participant)
    db.flush()
    return participant


def get_participant(db: DB, meeting: Meeting, participant_id: str) -> MeetingParticipant:
    """raises ParticipantNotFound."""
    participant = db.get(MeetingParticipant, participant_id)
    if participant is None or participant.meeting_id != meeting.id:
        raise ParticipantNotFound(participant_id)
    return participant


def edit_participant(
    db: DB, meeting: Meeting, participant_id: str, body: dict[str, Any], *, now: datetime
) -> MeetingParticipant:
    participant = get_participant(db, meeting, participant_id)
    if not isinstance(body, dict):
        raise BadRequest("body must be a JSON object")
    if "name" in body:
        participant.name = _text(body, "name", required=False)
    if "picture" in body:
        participant.picture = _text(body, "picture", required=False, limit=4000)
    if "preset_name" in body:
        participant.preset_name = (
            _text(body, "preset_name", required=True) or participant.preset_name
        )
        check_preset_name(db, meeting.app_id, participant.preset_name)
    participant.updated_at = now
    return participant


def list_participants(
    db: DB, meeting: Meeting, page: Page
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    stmt = select(MeetingParticipant).where(MeetingParticipant.meeting_id == meeting.id)
    total = db.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = db.scalars(
        stmt.order_by(MeetingParticipant.created_at, MeetingParticipant.id)
        .offset(page.offset)
        .limit(page.size)
    ).all()
    return [participant_view(p) for p in rows], page.paging(total, len(rows))


def check_participant_token(db: DB, claims: ParticipantClaims) -> None:
    """A participant token stays valid only while its participant exists and it was not refreshed.

    raises Unauthorized.
    """
    from rtk_sessions.errors import Unauthorized

    participant = db.get(MeetingParticipant, claims.participant_id)
    if participant is None or participant.meeting_id != claims.meeting_id:
        raise Unauthorized("Participant token is for a participant that no longer exists")
    if participant.token_version != claims.version:
        raise Unauthorized("Participant token was replaced by a newer one")
