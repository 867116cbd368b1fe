"""Apps routes (the official SDK's ``realtime_kit.apps.get`` / ``.post``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from starlette.responses import Response

from rtk_sessions.api.deps import AccountDep, DatabaseDep
from rtk_sessions.api.envelope import ok
from rtk_sessions.api.openapi import ContractRoute
from rtk_sessions.contract import meetings as shapes
from rtk_sessions.contract.meetings import AppCreate
from rtk_sessions.contract.query import AppsQuery
from rtk_sessions.contract.views import app_view
from rtk_sessions.domain import accounts
from rtk_sessions.errors import BadRequest

router = APIRouter(prefix="/apps", tags=["apps"], route_class=ContractRoute)


@router.get("", summary="Fetch all apps", response_model=shapes.AppsResponse)
def get_apps(account_id: AccountDep, db: DatabaseDep, q: Annotated[AppsQuery, Query()]) -> Response:
    page = q.page()
    descending = (q.sort_order or "DESC") == "DESC"
    with db.unit_of_work(write=False) as s:
        result = accounts.list_apps(
            s,
            account_id,
            offset=page.offset,
            limit=page.size,
            search=q.search,
            descending=descending,
        )
        items = [app_view(a) for a in result.apps]
    return ok(items, paging=page.paging(result.total, len(items)))


@router.post("", summary="Create an app", response_model=shapes.AppResponse)
def post_app(account_id: AccountDep, db: DatabaseDep, body: AppCreate | None = None) -> Response:
    if body is None:
        raise BadRequest("name is required and must be a string")
    with db.unit_of_work() as s:
        app = accounts.create_app(s, account_id, body.name)
        view = app_view(app)
    return ok({"app": view})
