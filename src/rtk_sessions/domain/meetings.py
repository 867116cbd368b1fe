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
from rtk_sessions.contract.meetings import (
    MEETING_FLAGS,
    MeetingBody,
    ParticipantCreate,
    ParticipantEdit,
)
from rtk_sessions.contract.params import Page
from rtk_sessions.domain.presets import check_preset_name
from rtk_sessions.errors import MeetingNotFound, ParticipantNotFound
from rtk_sessions.security import ParticipantClaims, issue_participant_token
from rtk_sessions.storage.tables import App, Meeting, MeetingParticipant

FLAGS = MEETING_FLAGS


def _apply(meeting: Meeting, body: MeetingBody, *, replace: bool, default_keep_alive: int) -> None:
    """Set meeting fields from a create/PUT (``replace``: every field, absent ones to their
    defaults) or a PATCH body (only the fields it carries)."""
    given = body.model_fields_set
    for name in ("title", *FLAGS, "ai_config", "recording_config"):
        if replace or name in given:
            setattr(meeting, name, getattr(body, name))
    if replace or "session_keep_alive_time_in_secs" in given:
        keep = body.session_keep_alive_time_in_secs
        meeting.session_keep_alive_time_in_secs = default_keep_alive if keep is None else keep
    if body.status is not None:
        meeting.status = body.status


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
    db: DB, app: App, body: MeetingBody, *, now: datetime, default_keep_alive: int
) -> Meeting:
    meeting = Meeting(
        id=str(uuid.uuid4()), app_id=app.id, status="ACTIVE", created_at=now, updated_at=now
    )
    _apply(meeting, body, replace=True, default_keep_alive=default_keep_alive)
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
    body: MeetingBody,
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
    start: datetime | None,
    end: datetime | None,
    status: str | None,
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """A page of the app's meetings, newest first; ``search``: the id or a substring of the
    title (any case); ``start``/``end``: inclusive bounds on created_at."""
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
    if status:
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
    db: DB, meeting: Meeting, body: ParticipantCreate, *, now: datetime
) -> MeetingParticipant:
    """raises PresetNotFound for a preset_name the app has no preset of
    (``presets.check_preset_name``)."""
    check_preset_name(db, meeting.app_id, body.preset_name)
    participant = MeetingParticipant(
        id=str(uuid.uuid4()),
        meeting_id=meeting.id,
        custom_participant_id=body.custom_participant_id,
        preset_name=body.preset_name,
        name=body.name,
        picture=body.picture,
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
    db: DB, meeting: Meeting, participant_id: str, body: ParticipantEdit, *, now: datetime
) -> MeetingParticipant:
    """Changes the fields ``body`` carries. raises ParticipantNotFound."""
    participant = get_participant(db, meeting, participant_id)
    given = body.model_fields_set
    if "name" in given:
        participant.name = body.name
    if "picture" in given:
        participant.picture = body.picture
    if "preset_name" in given and body.preset_name is not None:
        participant.preset_name = body.preset_name
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
