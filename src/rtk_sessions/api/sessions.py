"""Sessions API routes (spec section 2), under
/accounts/{account_id}/realtime/kit/{app_id}/sessions."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from rtk_sessions.api.deps import ApiScopeDep, DatabaseDep, SettingsDep
from rtk_sessions.api.envelope import ok
from rtk_sessions.api.openapi import ContractRoute
from rtk_sessions.clock import utc_now
from rtk_sessions.contract import sessions as shapes
from rtk_sessions.contract.query import (
    PeerReportQuery,
    SessionDetailsQuery,
    SessionParticipantQuery,
    SessionParticipantsQuery,
    SessionsQuery,
)
from rtk_sessions.domain import sessions
from rtk_sessions.storage.engine import Database

router = APIRouter(prefix="/{app_id}/sessions", tags=["sessions"], route_class=ContractRoute)


@router.get("", summary="Fetch all sessions of an App", response_model=shapes.SessionsResponse)
def get_sessions(
    request: Request, scope: ApiScopeDep, q: Annotated[SessionsQuery, Query()]
) -> Response:
    """Sessions of the app, newest first, with top-level ``paging``."""
    # The database from the app's state rather than ``DatabaseDep``: FastAPI's solving of a
    # dependency costs about 1.5% of a list request's instructions (docs/performance.md).
    db: Database = request.app.state.db
    low, high = q.participants_range()
    query = sessions.SessionQuery(
        associated_id=q.associated_id,
        status=q.status,
        start_time=q.start_time,
        end_time=q.end_time,
        search=q.search,
        min_participants=low,
        max_participants=high,
        sort_by=q.sort_by or "createdAt",
        descending=(q.sort_order or "DESC") == "DESC",
    )
    page = q.page()
    if sessions.is_counted(query, page):
        with db.reading_raw(one_statement=True) as raw:
            items, paging = sessions.list_counted(raw, scope.app_id, query, page)
    else:
        with db.reading() as conn:
            items, paging = sessions.list_sessions(conn, scope.app_id, query, page)
    return ok({"sessions": items}, paging=paging)


@router.get(
    "/peer-report/{peer_id}",
    summary="Fetch details of peer",
    response_model=shapes.PeerReportResponse,
)
def get_participant_data_from_peer_id(
    peer_id: str,
    scope: ApiScopeDep,
    db: DatabaseDep,
    settings: SettingsDep,
    q: Annotated[PeerReportQuery, Query()],
) -> Response:
    """The participant of a peer with its call statistics (``peer_report``)."""
    with db.unit_of_work(write=False) as s:
        participant = sessions.peer_report(
            s,
            scope.app_id,
            peer_id,
            now=utc_now(),
            filters=q.filter_set(),
            include_peer_events=q.include_peer_events,
            issue_thresholds=settings.issue_thresholds(),
        )
    return ok({"participant": participant})


@router.get(
    "/{session_id}",
    summary="Fetch details of a session",
    response_model=shapes.SessionResponse,
)
def get_session_details(
    session_id: str,
    scope: ApiScopeDep,
    db: DatabaseDep,
    q: Annotated[SessionDetailsQuery, Query()],
) -> Response:
    """One session; ``breakout_rooms`` only with include_breakout_rooms=true (D13 in
    docs/decisions.md)."""
    with db.unit_of_work(write=False) as s:
        body = sessions.get_session(
            s, scope.app_id, session_id, include_breakout_rooms=q.include_breakout_rooms
        )
    return ok(body)


@router.get(
    "/{session_id}/participants",
    summary="Fetch participants list of a session",
    response_model=shapes.SessionParticipantsResponse,
)
def get_session_participants(
    session_id: str,
    scope: ApiScopeDep,
    db: DatabaseDep,
    q: Annotated[SessionParticipantsQuery, Query()],
) -> Response:
    """Participants (one per peer); paging both in ``data`` and top level."""
    with db.unit_of_work(write=False) as s:
        items, paging = sessions.list_participants(
            s,
            scope.app_id,
            session_id,
            q.page(),
            now=utc_now(),
            search=q.search,
            sort_by=q.sort_by or "joinedAt",
            descending=(q.sort_order or "ASC") == "DESC",
            include_peer_events=q.include_peer_events,
            view=q.view or "raw",
        )
    return ok({"participants": items, "paging": paging}, paging=paging)


@router.get(
    "/{session_id}/participants/{participant_id}",
    summary="Fetch details of a participant",
    response_model=shapes.SessionParticipantResponse,
)
def get_session_participant_details(
    session_id: str,
    participant_id: str,
    scope: ApiScopeDep,
    db: DatabaseDep,
    q: Annotated[SessionParticipantQuery, Query()],
) -> Response:
    """One participant of a session. Call statistics are in the peer report."""
    with db.unit_of_work(write=False) as s:
        body = sessions.participant_details(
            s,
            scope.app_id,
            session_id,
            participant_id,
            now=utc_now(),
            include_peer_events=q.include_peer_events,
        )
    return ok({"participant": body})
