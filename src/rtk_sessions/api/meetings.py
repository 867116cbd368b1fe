"""Meetings API routes the official SDKs call (``realtime_kit.meetings``; spec section 4)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from rtk_sessions.api.deps import ApiScopeDep, DatabaseDep, SettingsDep
from rtk_sessions.api.envelope import ok
from rtk_sessions.clock import utc_now
from rtk_sessions.contract.ingest import json_problem
from rtk_sessions.contract.params import Page
from rtk_sessions.domain import accounts, meetings
from rtk_sessions.errors import BadRequest

router = APIRouter(prefix="/{app_id}/meetings", tags=["meetings"])
Q = Annotated[str | None, Query()]


def _token(
    request: Request, participant: Any, meeting: Any, scope: Any, settings: Any, now: Any
) -> str:
    return meetings.token_for(
        participant,
        meeting,
        scope.account_id,
        secret=request.app.state.secret,
        now=now,
        ttl=timedelta(seconds=settings.participant_token_ttl_secs),
    )


async def json_body(request: Request) -> dict[str, Any]:
    """The request's JSON object; an empty body is ``{}``. Strings with NUL and nesting deeper than
    ``contract.ingest.MAX_DEPTH`` are refused anywhere in it. raises BadRequest."""
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"Malformed JSON: {exc}") from None
    if not isinstance(body, dict):
        raise BadRequest("body must be a JSON object")
    problem = json_problem(body, numbers=False)
    if problem is not None:
        raise BadRequest(f"Invalid body: {problem}")
    return body


@router.post("", summary="Create a meeting")
async def create(
    request: Request, scope: ApiScopeDep, db: DatabaseDep, settings: SettingsDep
) -> Response:
    body = await json_body(request)
    with db.unit_of_work() as s:
        app = accounts.get_app(s, scope.account_id, scope.app_id)
        meeting = meetings.create_meeting(
            s, app, body, now=utc_now(), default_keep_alive=settings.session_keep_alive_secs
        )
        view = meetings.meeting_view(meeting)
    return ok(view)


@router.get("", summary="Fetch all meetings of an app")
def get_meetings(
    scope: ApiScopeDep,
    db: DatabaseDep,
    page_no: Q = None,
    per_page: Q = None,
    search: Annotated[
        str | None, Query(description="Meeting id or a substring of the title")
    ] = None,
    start_time: Q = None,
    end_time: Q = None,
    status: Annotated[str | None, Query(description="ACTIVE | INACTIVE")] = None,
) -> Response:
    page = Page.parse(page_no, per_page)
    with db.unit_of_work(write=False) as s:
        items, paging = meetings.list_meetings(
            s,
            scope.app_id,
            page,
            search=search,
            start_time=start_time,
            end_time=end_time,
            status=status,
        )
    return ok(items, paging=paging)


@router.get("/{meeting_id}", summary="Fetch a meeting")
def get_meeting_by_id(meeting_id: str, scope: ApiScopeDep, db: DatabaseDep) -> Response:
    with db.unit_of_work(write=False) as s:
        view = meetings.meeting_view(meetings.get_meeting(s, scope.app_id, meeting_id))
    return ok(view)


async def _update(
    request: Request, meeting_id: str, scope: Any, db: Any, settings: Any, *, replace: bool
) -> Response:
    body = await json_body(request)
    with db.unit_of_work() as s:
        meeting = meetings.update_meeting(
            s,
            scope.app_id,
            meeting_id,
            body,
            now=utc_now(),
            replace=replace,
            default_keep_alive=settings.session_keep_alive_secs,
        )
        view = meetings.meeting_view(meeting)
    return ok(view)


@router.patch("/{meeting_id}", summary="Update a meeting")
async def update_meeting_by_id(
    request: Request, meeting_id: str, scope: ApiScopeDep, db: DatabaseDep, settings: SettingsDep
) -> Response:
    return await _update(request, meeting_id, scope, db, settings, replace=False)


@router.put("/{meeting_id}", summary="Replace a meeting")
async def replace_meeting_by_id(
    request: Request, meeting_id: str, scope: ApiScopeDep, db: DatabaseDep, settings: SettingsDep
) -> Response:
    return await _update(request, meeting_id, scope, db, settings, replace=True)


@router.post("/{meeting_id}/participants", summary="Add a participant (returns its token)")
async def add_participant(
    request: Request, meeting_id: str, scope: ApiScopeDep, db: DatabaseDep, settings: SettingsDep
) -> Response:
    """Adds a participant and issues its participant token: a signed, expiring JWT that lets a
    client send ingestion events for this participant of this meeting, and nothing else."""
    body = await json_body(request)
    now = utc_now()
    with db.unit_of_work() as s:
        meeting = meetings.get_meeting(s, scope.app_id, meeting_id)
        participant = meetings.add_participant(s, meeting, body, now=now)
        token = _token(request, participant, meeting, scope, settings, now)
        view = meetings.participant_view(participant, token)
    return ok(view)


@router.get("/{meeting_id}/participants", summary="Fetch the participants of a meeting")
def get_meeting_participants(
    meeting_id: str, scope: ApiScopeDep, db: DatabaseDep, page_no: Q = None, per_page: Q = None
) -> Response:
    page = Page.parse(page_no, per_page)
    with db.unit_of_work(write=False) as s:
        meeting = meetings.get_meeting(s, scope.app_id, meeting_id)
        items, paging = meetings.list_participants(s, meeting, page)
    return ok(items, paging=paging)


@router.get(
    "/{meeting_id}/participants/{participant_id}", summary="Fetch a participant of a meeting"
)
def get_meeting_participant(
    meeting_id: str, participant_id: str, scope: ApiScopeDep, db: DatabaseDep
) -> Response:
    with db.unit_of_work(write=False) as s:
        meeting = meetings.get_meeting(s, scope.app_id, meeting_id)
        view = meetings.participant_view(meetings.get_participant(s, meeting, participant_id))
    return ok(view)


@router.patch("/{meeting_id}/participants/{participant_id}", summary="Edit a participant")
async def edit_participant(
    request: Request, meeting_id: str, participant_id: str, scope: ApiScopeDep, db: DatabaseDep
) -> Response:
    body = await json_body(request)
    with db.unit_of_work() as s:
        meeting = meetings.get_meeting(s, scope.app_id, meeting_id)
        view = meetings.participant_view(
            meetings.edit_participant(s, meeting, participant_id, body, now=utc_now())
        )
    return ok(view)


@router.delete("/{meeting_id}/participants/{participant_id}", summary="Delete a participant")
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
    "/{meeting_id}/participants/{participant_id}/token", summary="Refresh a participant's token"
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
