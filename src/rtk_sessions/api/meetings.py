"""Meetings API routes the official SDKs call (``realtime_kit.meetings``; docs/openapi.md).

Every handler is a plain ``def``: FastAPI runs it in its thread pool, so the database work never
blocks the event loop.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from rtk_sessions.api.deps import ApiScopeDep, AppScope, DatabaseDep, SettingsDep
from rtk_sessions.api.envelope import ok
from rtk_sessions.api.openapi import ContractRoute
from rtk_sessions.clock import utc_now
from rtk_sessions.config import Settings
from rtk_sessions.contract import meetings as shapes
from rtk_sessions.contract.meetings import MeetingBody, ParticipantCreate, ParticipantEdit
from rtk_sessions.contract.query import MeetingsQuery, PageQuery
from rtk_sessions.domain import accounts, meetings
from rtk_sessions.errors import BadRequest
from rtk_sessions.storage.engine import Database
from rtk_sessions.storage.tables import Meeting, MeetingParticipant

router = APIRouter(prefix="/{app_id}/meetings", tags=["meetings"], route_class=ContractRoute)


def _token(
    request: Request,
    participant: MeetingParticipant,
    meeting: Meeting,
    scope: AppScope,
    settings: Settings,
    now: datetime,
) -> str:
    return meetings.token_for(
        participant,
        meeting,
        scope.account_id,
        secret=request.app.state.secret,
        now=now,
        ttl=timedelta(seconds=settings.participant_token_ttl_secs),
    )


@router.post("", summary="Create a meeting", response_model=shapes.MeetingResponse)
def create(
    scope: ApiScopeDep, db: DatabaseDep, settings: SettingsDep, body: MeetingBody | None = None
) -> Response:
    """A new meeting (``ACTIVE``); fields absent from the body get their defaults."""
    with db.unit_of_work() as s:
        app = accounts.get_app(s, scope.account_id, scope.app_id)
        meeting = meetings.create_meeting(
            s,
            app,
            body or MeetingBody(),
            now=utc_now(),
            default_keep_alive=settings.session_keep_alive_secs,
        )
        view = meetings.meeting_view(meeting)
    return ok(view)


@router.get("", summary="Fetch all meetings of an app", response_model=shapes.MeetingsResponse)
def get_meetings(
    scope: ApiScopeDep, db: DatabaseDep, query: Annotated[MeetingsQuery, Query()]
) -> Response:
    """The app's meetings, newest first, with top-level ``paging``."""
    page = query.page()
    with db.unit_of_work(write=False) as s:
        items, paging = meetings.list_meetings(
            s,
            scope.app_id,
            page,
            search=query.search,
            start=query.start_time,
            end=query.end_time,
            status=query.status,
        )
    return ok(items, paging=paging)


@router.get("/{meeting_id}", summary="Fetch a meeting", response_model=shapes.MeetingResponse)
def get_meeting_by_id(meeting_id: str, scope: ApiScopeDep, db: DatabaseDep) -> Response:
    with db.unit_of_work(write=False) as s:
        view = meetings.meeting_view(meetings.get_meeting(s, scope.app_id, meeting_id))
    return ok(view)


def _update(
    meeting_id: str,
    body: MeetingBody | None,
    scope: AppScope,
    db: Database,
    settings: Settings,
    *,
    replace: bool,
) -> Response:
    with db.unit_of_work() as s:
        meeting = meetings.update_meeting(
            s,
            scope.app_id,
            meeting_id,
            body or MeetingBody(),
            now=utc_now(),
            replace=replace,
            default_keep_alive=settings.session_keep_alive_secs,
        )
        view = meetings.meeting_view(meeting)
    return ok(view)


@router.patch("/{meeting_id}", summary="Update a meeting", response_model=shapes.MeetingResponse)
def update_meeting_by_id(
    meeting_id: str,
    scope: ApiScopeDep,
    db: DatabaseDep,
    settings: SettingsDep,
    body: MeetingBody | None = None,
) -> Response:
    """Changes the fields the body carries."""
    return _update(meeting_id, body, scope, db, settings, replace=False)


@router.put("/{meeting_id}", summary="Replace a meeting", response_model=shapes.MeetingResponse)
def replace_meeting_by_id(
    meeting_id: str,
    scope: ApiScopeDep,
    db: DatabaseDep,
    settings: SettingsDep,
    body: MeetingBody | None = None,
) -> Response:
    """Sets every field; fields absent from the body get their defaults."""
    return _update(meeting_id, body, scope, db, settings, replace=True)


@router.post(
    "/{meeting_id}/participants",
    summary="Add a participant (returns its token)",
    response_model=shapes.MeetingParticipantResponse,
)
def add_participant(
    request: Request,
    meeting_id: str,
    scope: ApiScopeDep,
    db: DatabaseDep,
    settings: SettingsDep,
    body: ParticipantCreate | None = None,
) -> Response:
    """Adds a participant and issues its participant token: a signed, expiring JWT that lets a
    client send ingestion events for this participant of this meeting, and nothing else."""
    if body is None:
        raise BadRequest("custom_participant_id is required")
    now = utc_now()
    with db.unit_of_work() as s:
        meeting = meetings.get_meeting(s, scope.app_id, meeting_id)
        participant = meetings.add_participant(s, meeting, body, now=now)
        token = _token(request, participant, meeting, scope, settings, now)
        view = meetings.participant_view(participant, token)
    return ok(view)


@router.get(
    "/{meeting_id}/participants",
    summary="Fetch the participants of a meeting",
    response_model=shapes.MeetingParticipantsResponse,
)
def get_meeting_participants(
    meeting_id: str, scope: ApiScopeDep, db: DatabaseDep, query: Annotated[PageQuery, Query()]
) -> Response:
    page = query.page()
    with db.unit_of_work(write=False) as s:
        meeting = meetings.get_meeting(s, scope.app_id, meeting_id)
        items, paging = meetings.list_participants(s, meeting, page)
    return ok(items, paging=paging)


@router.get(
    "/{meeting_id}/participants/{participant_id}",
    summary="Fetch a participant of a meeting",
    response_model=shapes.MeetingParticipantResponse,
)
def get_meeting_participant(
    meeting_id: str, participant_id: str, scope: ApiScopeDep, db: DatabaseDep
) -> Response:
    with db.unit_of_work(write=False) as s:
        meeting = meetings.get_meeting(s, scope.app_id, meeting_id)
        view = meetings.participant_view(meetings.get_participant(s, meeting, participant_id))
    return ok(view)


@router.patch(
    "/{meeting_id}/participants/{participant_id}",
    summary="Edit a participant",
    response_model=shapes.MeetingParticipantResponse,
)
def edit_participant(
    meeting_id: str,
    participant_id: str,
    scope: ApiScopeDep,
    db: DatabaseDep,
    body: ParticipantEdit | None = None,
) -> Response:
    """Changes the fields the body carries."""
    with db.unit_of_work() as s:
        meeting = meetings.get_meeting(s, scope.app_id, meeting_id)
        view = meetings.participant_view(
            meetings.edit_participant(
                s, meeting, participant_id, body or ParticipantEdit(), now=utc_now()
            )
        )
    return ok(view)


@router.delete(
    "/{meeting_id}/participants/{participant_id}",
    summary="Delete a participant",
    response_model=shapes.DeletedParticipantResponse,
)
def delete_meeting_participant(
    meeting_id: str, participant_id: str, scope: ApiScopeDep, db: DatabaseDep
) -> Response:
    """Deletes the participant; its tokens stop working. Its past session participants remain."""
    with db.unit_of_work() as s:
        meeting = meetings.get_meeting(s, scope.app_id, meeting_id)
        participant = meetings.get_participant(s, meeting, participant_id)
        view = meetings.participant_view(participant)
        s.delete(participant)
    return ok(
        {
            "created_at": view["created_at"],
            "custom_participant_id": view["custom_participant_id"],
            "preset_id": view["preset_name"],
            "updated_at": view["updated_at"],
        }
    )


@router.post(
    "/{meeting_id}/participants/{participant_id}/token",
    summary="Refresh a participant's token",
    response_model=shapes.ParticipantTokenResponse,
)
def refresh_participant_token(
    request: Request,
    meeting_id: str,
    participant_id: str,
    scope: ApiScopeDep,
    db: DatabaseDep,
    settings: SettingsDep,
) -> Response:
    """Issues a new participant token; earlier tokens of this participant stop working."""
    now = utc_now()
    with db.unit_of_work() as s:
        meeting = meetings.get_meeting(s, scope.app_id, meeting_id)
        participant = meetings.get_participant(s, meeting, participant_id)
        participant.token_version += 1
        participant.updated_at = now
        token = _token(request, participant, meeting, scope, settings, now)
    return ok({"token": token})
