"""Apps and API tokens of an account."""

from __future__ import annotations

import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from typing import Generic, TypeVar

from sqlalchemy import delete, event, func, select
from sqlalchemy.orm import Session

from rtk_sessions.clock import utc_now
from rtk_sessions.errors import AppNotFound, BadRequest, Forbidden, Unauthorized
from rtk_sessions.security import hash_api_token, new_api_token
from rtk_sessions.storage.tables import ApiToken, App

MAX_ACCOUNT_ID = 32
K = TypeVar("K")
V = TypeVar("V")


def check_account_id(account_id: str) -> None:
    """raises BadRequest for an account id longer than 32 characters (D24 in docs/decisions.md)."""
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


def token_id(db: Session, token: str) -> str | None:
    """The id of API token ``token`` (what ``list_tokens`` shows and ``revoke_token`` takes), or
    None for a token this service does not know."""
    return db.scalar(select(ApiToken.id).where(ApiToken.token_hash == hash_api_token(token)))


def list_tokens(db: Session, account_id: str | None = None) -> list[ApiToken]:
    """The API tokens of ``account_id`` (every account's when None), oldest first. A row holds
    the id, account, name and creation time; the token itself is not stored (only its SHA-256)."""
    query = select(ApiToken).order_by(ApiToken.created_at, ApiToken.id)
    if account_id is not None:
        query = query.where(ApiToken.account_id == account_id)
    return list(db.scalars(query))


class TTLCache(Generic[K, V]):
    """A small thread-safe map whose entries expire ``ttl`` seconds (monotonic clock) after they
    were put; holds at most ``size`` entries (the oldest go first)."""

    def __init__(self, ttl: float, size: int = 4096) -> None:
        self.ttl, self.size = ttl, size
        self._items: OrderedDict[K, tuple[float, V]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        with self._lock:
            item = self._items.get(key)
            if item is None:
                return None
            if item[0] <= time.monotonic():
                del self._items[key]
                return None
            return item[1]

    def put(self, key: K, value: V) -> None:
        with self._lock:
            self._items.pop(key, None)
            self._items[key] = (time.monotonic() + self.ttl, value)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def discard(self, key: K) -> None:
        with self._lock:
            self._items.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


# Seconds another process may keep accepting a revoked token, or an app it has just looked up.
AUTH_CACHE_TTL = 5.0
# token hash -> (token id, account id); (account id, app id) -> True for apps that exist.
_tokens: TTLCache[str, tuple[str, str]] = TTLCache(AUTH_CACHE_TTL)
_apps: TTLCache[tuple[str, str], bool] = TTLCache(AUTH_CACHE_TTL)


def cached_account_for_token(token: str) -> str | None:
    """The account of ``token`` if this process looked it up less than AUTH_CACHE_TTL s ago."""
    hit = _tokens.get(hash_api_token(token))
    return None if hit is None else hit[1]


def account_for_token(db: Session, token: str) -> str:
    """The account an API token belongs to. raises Unauthorized.

    Found tokens are cached in this process for AUTH_CACHE_TTL seconds (keyed by the token's
    hash); ``revoke_token`` clears the cache here, other processes see it within the TTL."""
    token_hash = hash_api_token(token)
    hit = _tokens.get(token_hash)
    if hit is not None:
        return hit[1]
    row = db.execute(
        select(ApiToken.id, ApiToken.account_id).where(ApiToken.token_hash == token_hash)
    ).first()
    if row is None:
        raise Unauthorized("Invalid API token")
    _tokens.put(token_hash, (row.id, row.account_id))
    return str(row.account_id)


def revoke_token(db: Session, account_id: str, token_id: str) -> bool:
    """Delete API token ``token_id`` of ``account_id``; True when it existed.

    This process refuses the token from now on: its cache entry is dropped now and again when
    ``db`` commits (a request in between may have cached it from the not yet committed state).
    Other processes refuse it at most AUTH_CACHE_TTL seconds after the commit."""
    token_hash = db.scalar(
        select(ApiToken.token_hash).where(
            ApiToken.id == token_id, ApiToken.account_id == account_id
        )
    )
    if token_hash is None:
        return False
    db.execute(delete(ApiToken).where(ApiToken.id == token_id))
    _tokens.discard(token_hash)
    event.listen(db, "after_commit", lambda _s: _tokens.discard(token_hash), once=True)
    return True


def clear_auth_cache() -> None:
    """Forget every cached token and app of this process."""
    _tokens.clear()
    _apps.clear()


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


def app_is_cached(account_id: str, app_id: str) -> bool:
    """True when this process found app ``app_id`` in ``account_id`` less than AUTH_CACHE_TTL s
    ago (apps are never moved between accounts)."""
    return _apps.get((account_id, app_id)) is not None


def require_app_in_account(db: Session, token_account: str, account_id: str, app_id: str) -> None:
    """Scope check shared by every app route: the token's account is ``account_id`` and the app
    exists in it (found apps cached for AUTH_CACHE_TTL s). raises Forbidden, AppNotFound."""
    if token_account != account_id:
        raise Forbidden(f"Token is not valid for account {account_id}")
    if app_is_cached(account_id, app_id):
        return
    get_app(db, account_id, app_id)
    _apps.put((account_id, app_id), True)


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
