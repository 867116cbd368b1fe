"""Sessions API routes (spec section 2), under
/accounts/{account_id}/realtime/kit/{app_id}/sessions."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from starlette.responses import Response

from rtk_sessions.api.deps import ApiScopeDep, DatabaseDep, SettingsDep
from rtk_sessions.api.envelope import ok
from rtk_sessions.clock import utc_now
from rtk_sessions.contract.params import (
    Page,
    parse_bool,
    parse_enum,
    parse_filters,
    parse_participants_range,
    parse_time_range,
)
from rtk_sessions.domain import sessions

router = APIRouter(prefix="/{app_id}/sessions", tags=["sessions"])

Q = Annotated[str | None, Query()]


@router.get("", summary="Fetch all sessions of an App")
def get_sessions(
    scope: ApiScopeDep,
    db: DatabaseDep,
    associated_id: Q = None,
    start_time: Annotated[
        str | None, Query(description="ISO 8601; inclusive lower bound on created_at")
    ] = None,
    end_time: Annotated[
        str | None, Query(description="ISO 8601; inclusive upper bound on created_at")
    ] = None,
    page_no: Q = None,
    per_page: Q = None,
    participants: Annotated[
        str | None, Query(description="'min:max' on max_concurrent_participants")
    ] = None,
    search: Annotated[
        str | None, Query(description="Substring of title, meeting id or session id")
    ] = None,
    sort_by: Annotated[str | None, Query(description="minutesConsumed | createdAt")] = None,
    sort_order: Annotated[str | None, Query(description="ASC | DESC (default DESC)")] = None,
    status: Annotated[str | None, Query(description="LIVE | ENDED")] = None,
) -> Response:
    """Sessions of the app, newest first, with top-level ``paging``."""
    start, end = parse_time_range(start_time, end_time)
    low, high = parse_participants_range(participants)
    query = sessions.SessionQuery(
        associated_id=associated_id,
        status=parse_enum("status", status, ("LIVE", "ENDED")),
        start_time=start,
        end_time=end,
        search=search,
        min_participants=low,
        max_participants=high,
        sort_by=parse_enum("sort_by", sort_by, ("minutesConsumed", "createdAt")) or "createdAt",
        descending=(parse_enum("sort_order", sort_order, ("ASC", "DESC")) or "DESC") == "DESC",
    )
    page = Page.parse(page_no, per_page)
    with db.unit_of_work(write=False) as s:
        items, paging = sessions.list_sessions(s, scope.app_id, query, page)
    return ok({"sessions": items}, paging=paging)


@router.get("/peer-report/{peer_id}", summary="Fetch details of peer")
def get_participant_data_from_peer_id(
    peer_id: str,
    scope: ApiScopeDep,
    db: DatabaseDep,
    settings: SettingsDep,
    filters: Annotated[str | None, Query(description="Comma-separated, no spaces")] = None,
    include_peer_events: Q = None,
) -> Response:
    """The participant of a peer with its call statistics (``peer_report``)."""
    wanted = parse_filters(filters)
    with_events = parse_bool("include_peer_events", include_peer_events)
    with db.unit_of_work(write=False) as s:
        participant = sessions.peer_report(
            s,
            scope.app_id,
            peer_id,
            now=utc_now(),
            filters=wanted,
            include_peer_events=with_events,
            issue_thresholds=settings.issue_thresholds(),
        )
    return ok({"participant": participant})


@router.get("/{session_id}", summary="Fetch details of a session")
def get_session_details(
    session_id: str, scope: ApiScopeDep, db: DatabaseDep, include_breakout_rooms: Q = None
) -> Response:
    """One session; ``breakout_rooms`` only with include_breakout_rooms=true (D13 in
    docs/decisions.md)."""
    rooms = parse_bool("include_breakout_rooms", include_breakout_rooms)
    with db.unit_of_work(write=False) as s:
        body = sessions.get_session(s, scope.app_id, session_id, include_breakout_rooms=rooms)
    return ok(body)


@router.get("/{session_id}/participants", summary="Fetch participants list of a session")
def get_session_participants(
    session_id: str,
    scope: ApiScopeDep,
    db: DatabaseDep,
    include_peer_events: Q = None,
    page_no: Q = None,
    per_page: Q = None,
    search: Annotated[
        str | None, Query(description="Participant id, custom id or display name")
    ] = None,
    sort_by: Annotated[str | None, Query(description="joinedAt | duration")] = None,
    sort_order: Annotated[str | None, Query(description="ASC | DESC (default ASC)")] = None,
    view: Annotated[str | None, Query(description="raw | consolidated")] = None,
) -> Response:
    """Participants (one per peer); paging both in ``data`` and top level (D5)."""
    page = Page.parse(page_no, per_page)
    order = parse_enum("sort_order", sort_order, ("ASC", "DESC")) or "ASC"
    with db.unit_of_work(write=False) as s:
        items, paging = sessions.list_participants(
            s,
            scope.app_id,
            session_id,
            page,
            now=utc_now(),
            search=search,
            sort_by=parse_enum("sort_by", sort_by, ("joinedAt", "duration")) or "joinedAt",
            descending=order == "DESC",
            include_peer_events=parse_bool("include_peer_events", include_peer_events),
            view=parse_enum("view", view, ("raw", "consolidated")) or "raw",
        )
    return ok({"participants": items, "paging": paging}, paging=paging)


@router.get("/{session_id}/participants/{participant_id}", summary="Fetch details of a participant")
def get_session_participant_details(
    session_id: str,
    participant_id: str,
    scope: ApiScopeDep,
    db: DatabaseDep,
    include_peer_events: Q = None,
    filters: Annotated[str | None, Query(description="Legacy; validated and ignored (D11)")] = None,
) -> Response:
    """One participant of a session. Call statistics are in the peer report."""
    parse_filters(filters)
    with_events = parse_bool("include_peer_events", include_peer_events)
    with db.unit_of_work(write=False) as s:
        body = sessions.participant_details(
            s,
            scope.app_id,
            session_id,
            participant_id,
            now=utc_now(),
            include_peer_events=with_events,
        )
    return ok({"participant": body})
