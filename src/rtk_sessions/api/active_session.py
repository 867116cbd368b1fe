"""Active session routes (``realtime_kit.active_session``) under
``/accounts/{account_id}/realtime/kit/{app_id}/meetings/{meeting_id}/active-session``.

- ``GET``: the meeting's LIVE session, as ``sessions.get_session_details`` shows it (its
  ``minutes_consumed`` includes the connected peers up to now); 404 when the meeting has none.
- ``POST /kick``: body ``{participant_ids?: [str], custom_participant_ids?: [str]}``; answers
  ``{action: "kick", participants: [{id, name?, picture?, custom_participant_id, created_at,
  updated_at}]}`` (the kicked meeting participants).
- ``POST /kick-all``: answers ``{action: "kick_all", kicked_participants_count: int}``.

Bodies and answers: ``contract.active_session``. Kicked participants' tokens are revoked and
their peers leave now (``domain.active_session``).
``POST /poll`` answers 501 (``api.unsupported``).
"""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from rtk_sessions.api.deps import ApiScopeDep, DatabaseDep
from rtk_sessions.api.envelope import ok
from rtk_sessions.api.openapi import ContractRoute
from rtk_sessions.clock import utc_now
from rtk_sessions.contract.active_session import (
    ActiveSessionResponse,
    KickAllData,
    KickAllResponse,
    KickBody,
    KickData,
    KickedParticipant,
    KickResponse,
)
from rtk_sessions.domain import active_session, meetings
from rtk_sessions.domain.sessions import get_session

router = APIRouter(
    prefix="/{app_id}/meetings/{meeting_id}/active-session",
    tags=["active session"],
    route_class=ContractRoute,
)


@router.get(
    "", summary="Fetch the active session of a meeting", response_model=ActiveSessionResponse
)
def get_active_session(meeting_id: str, scope: ApiScopeDep, db: DatabaseDep) -> Response:
    """raises MeetingNotFound, NoActiveSession (both 404)."""
    with db.unit_of_work(write=False) as s:
        meeting = meetings.get_meeting(s, scope.app_id, meeting_id)
        session = active_session.active_session(s, meeting)
        body = get_session(s, scope.app_id, session.id, include_breakout_rooms=False)
    return ok(body)


@router.post(
    "/kick", summary="Kick participants from the active session", response_model=KickResponse
)
def kick_participants(
    meeting_id: str, scope: ApiScopeDep, db: DatabaseDep, body: KickBody | None = None
) -> Response:
    """raises BadRequest (no ids), MeetingNotFound, NoActiveSession."""
    body = body or KickBody()
    with db.unit_of_work() as s:
        meeting = meetings.get_meeting(s, scope.app_id, meeting_id)
        kicked = active_session.kick(
            s,
            meeting,
            participant_ids=body.participant_ids,
            custom_participant_ids=body.custom_participant_ids,
            now=utc_now(),
        )
    return ok(
        KickData(participants=[KickedParticipant(**k) for k in kicked]).model_dump(
            exclude_none=True
        )
    )


@router.post(
    "/kick-all", summary="Kick everyone from the active session", response_model=KickAllResponse
)
def kick_all_participants(meeting_id: str, scope: ApiScopeDep, db: DatabaseDep) -> Response:
    """raises MeetingNotFound, NoActiveSession."""
    with db.unit_of_work() as s:
        meeting = meetings.get_meeting(s, scope.app_id, meeting_id)
        count = active_session.kick_all(s, meeting, now=utc_now())
    return ok(KickAllData(kicked_participants_count=count).model_dump())
