"""Org analytics route (``realtime_kit.analytics.get_org_analytics``):
``GET /accounts/{account_id}/realtime/kit/{app_id}/analytics/daywise?start_date=&end_date=``.

Dates are ``YYYY-MM-DD`` (UTC days, inclusive); the figures come from the sessions stored here
(``domain.analytics``). The SDK's ``livestreams.get_org_analytics`` calls the same route and gets
the same answer.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel
from starlette.responses import Response

from rtk_sessions.api.deps import ApiScopeDep, DatabaseDep
from rtk_sessions.api.envelope import ok
from rtk_sessions.clock import utc_now
from rtk_sessions.domain import analytics

router = APIRouter(prefix="/{app_id}/analytics", tags=["analytics"])


class SessionDay(BaseModel):
    day: str
    total_sessions: int
    total_session_minutes: float


class SessionStats(BaseModel):
    sessions_count: int
    sessions_minutes_consumed: float
    day_stats: list[SessionDay]


class RecordingDay(BaseModel):
    day: str
    total_recordings: int
    total_recording_minutes: int


class RecordingStats(BaseModel):
    recording_count: int
    recording_minutes_consumed: float
    day_stats: list[RecordingDay]


class OrgAnalytics(BaseModel):
    session_stats: SessionStats
    recording_stats: RecordingStats


class OrgAnalyticsResponse(BaseModel):
    success: Literal[True] = True
    data: OrgAnalytics


@router.get(
    "/daywise", summary="Fetch day-wise session statistics", response_model=OrgAnalyticsResponse
)
def get_org_analytics(
    scope: ApiScopeDep,
    db: DatabaseDep,
    start_date: Annotated[str | None, Query(description="YYYY-MM-DD (UTC), inclusive")] = None,
    end_date: Annotated[str | None, Query(description="YYYY-MM-DD (UTC), inclusive")] = None,
) -> Response:
    """Sessions count, minutes consumed and day stats; recording stats zero. raises BadRequest."""
    now = utc_now()
    start, end = analytics.date_range(
        analytics.parse_day("start_date", start_date),
        analytics.parse_day("end_date", end_date),
        today=now.date(),
    )
    with db.unit_of_work(write=False) as s:
        data = analytics.org_analytics(s, scope.app_id, start, end, now=now)
    return ok(OrgAnalytics.model_validate(data).model_dump())
