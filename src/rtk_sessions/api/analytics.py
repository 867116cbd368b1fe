"""Org analytics route (``realtime_kit.analytics.get_org_analytics``):
``GET /accounts/{account_id}/realtime/kit/{app_id}/analytics/daywise?start_date=&end_date=``.

Dates are ``YYYY-MM-DD`` (UTC days, inclusive); the figures come from the sessions stored here
(``domain.analytics``). The SDK's ``livestreams.get_org_analytics`` calls the same route and gets
the same answer.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from starlette.responses import Response

from rtk_sessions.api.deps import ApiScopeDep, DatabaseDep
from rtk_sessions.api.envelope import ok
from rtk_sessions.api.openapi import ContractRoute
from rtk_sessions.clock import utc_now
from rtk_sessions.contract.active_session import OrgAnalytics, OrgAnalyticsResponse
from rtk_sessions.contract.query import OrgAnalyticsQuery
from rtk_sessions.domain import analytics

router = APIRouter(prefix="/{app_id}/analytics", tags=["analytics"], route_class=ContractRoute)


@router.get(
    "/daywise", summary="Fetch day-wise session statistics", response_model=OrgAnalyticsResponse
)
def get_org_analytics(
    scope: ApiScopeDep, db: DatabaseDep, query: Annotated[OrgAnalyticsQuery, Query()]
) -> Response:
    """Sessions count, minutes consumed and day stats; recording stats zero. raises BadRequest."""
    now = utc_now()
    start, end = analytics.date_range(query.start_date, query.end_date, today=now.date())
    with db.unit_of_work(write=False) as s:
        data = analytics.org_analytics(s, scope.app_id, start, end, now=now)
    return ok(OrgAnalytics.model_validate(data).model_dump())
