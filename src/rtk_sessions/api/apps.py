"""Apps routes (the official SDK's ``realtime_kit.apps.get`` / ``.post``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query
from starlette.responses import Response

from rtk_sessions.api.deps import AccountDep, DatabaseDep
from rtk_sessions.api.envelope import ok
from rtk_sessions.contract.params import Page, parse_enum
from rtk_sessions.contract.views import app_view
from rtk_sessions.domain import accounts
from rtk_sessions.errors import BadRequest

router = APIRouter(prefix="/apps", tags=["apps"])


@router.get("", summary="Fetch all apps")
def get_apps(
    account_id: AccountDep,
    db: DatabaseDep,
    page_no: Annotated[str | None, Query()] = None,
    per_page: Annotated[str | None, Query()] = None,
    search: Annotated[str | None, Query(description="Substring of the app name")] = None,
    sort_order: Annotated[str | None, Query(description="ASC | DESC by creation time")] = None,
) -> Response:
    page = Page.parse(page_no, per_page)
    descending = (parse_enum("sort_order", sort_order, ("ASC", "DESC")) or "DESC") == "DESC"
    with db.unit_of_work(write=False) as s:
        result = accounts.list_apps(
            s, account_id, offset=page.offset, limit=page.size, search=search, descending=descending
        )
        items = [app_view(a) for a in result.apps]
    return ok(items, paging=page.paging(result.total, len(items)))


@router.post("", summary="Create an app")
def post_app(
    account_id: AccountDep, db: DatabaseDep, body: Annotated[Any, Body()] = None
) -> Response:
    if not isinstance(body, dict) or not isinstance(body.get("name"), str):
        raise BadRequest("name is required and must be a string")
    if "\x00" in body["name"]:
        raise BadRequest("name must not contain NUL (U+0000)")
    with db.unit_of_work() as s:
        app = accounts.create_app(s, account_id, body["name"])
        view = app_view(app)
    return ok({"app": view})
