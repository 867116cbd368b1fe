"""Apps and API tokens of an account."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from rtk_sessions.clock import utc_now
from rtk_sessions.errors import AppNotFound, BadRequest, Forbidden, Unauthorized
from rtk_sessions.security import hash_api_token, new_api_token
from rtk_sessions.storage.tables import ApiToken, App

MAX_ACCOUNT_ID = 32


def check_account_id(account_id: str) -> None:
    """raises BadRequest for an account id longer than 32 characters (spec D24)."""
    if not account_id or len(account_id) > MAX_ACCOUNT_ID:
        raise BadRequest(f"account_id must be 1 to {MAX_ACCOUNT_ID} characters")


def create_token(db: Session, account_id: str, name: str | None = None) -> str:
    """Create an API token for ``account_id``; returns the token (shown once, stored hashed)."""
    check_account_id(account_id)
    token = new_api_token()
    db.add(
        ApiToken(
            id=str(uuid.uuid4()),
            account_id=account_id,
            token_hash=hash_api_token(token),
            name=name,
            created_at=utc_now(),
        )
    )
    return token


def account_for_token(db: Session, token: str) -> str:
    """The account an API token belongs to. raises Unauthorized."""
    row = db.scalar(select(ApiToken.account_id).where(ApiToken.token_hash == hash_api_token(token)))
    if row is None:
        raise Unauthorized("Invalid API token")
    return row


def create_app(db: Session, account_id: str, name: str, app_id: str | None = None) -> App:
    check_account_id(account_id)
    name = name.strip()
    if not name or len(name) > 200:
        raise BadRequest("name must be 1 to 200 characters")
    app = App(
        id=app_id or str(uuid.uuid4()), account_id=account_id, name=name, created_at=utc_now()
    )
    db.add(app)
    db.flush()
    return app


def get_app(db: Session, account_id: str, app_id: str) -> App:
    """raises AppNotFound when the app does not exist in this account."""
    app = db.get(App, app_id)
    if app is None or app.account_id != account_id:
        raise AppNotFound(app_id)
    return app


def require_app_in_account(db: Session, token_account: str, account_id: str, app_id: str) -> App:
    """Scope check shared by every app route. raises Forbidden, AppNotFound."""
    if token_account != account_id:
        raise Forbidden(f"Token is not valid for account {account_id}")
    return get_app(db, account_id, app_id)


@dataclass(frozen=True)
class AppPage:
    apps: list[App]
    total: int


def list_apps(
    db: Session, account_id: str, *, offset: int, limit: int, search: str | None, descending: bool
) -> AppPage:
    query = select(App).where(App.account_id == account_id)
    if search:
        query = query.where(func.lower(App.name).contains(search.lower(), autoescape=True))
    total = db.scalar(select(func.count()).select_from(query.subquery())) or 0
    order = (App.created_at.desc(), App.id.desc()) if descending else (App.created_at, App.id)
    apps = list(db.scalars(query.order_by(*order).offset(offset).limit(limit)))
    return AppPage(apps, total)
