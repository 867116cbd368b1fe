"""Request dependencies: the database, settings, and the caller's scope (who may touch what)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials
from starlette.concurrency import run_in_threadpool

from rtk_sessions.api.openapi import BEARER
from rtk_sessions.clock import utc_now
from rtk_sessions.config import Settings
from rtk_sessions.domain.accounts import (
    account_for_token,
    app_is_cached,
    cached_account_for_token,
    check_account_id,
    require_app_in_account,
)
from rtk_sessions.domain.meetings import check_participant_token
from rtk_sessions.errors import BadRequest, Forbidden, Unauthorized
from rtk_sessions.security import ParticipantClaims, looks_like_jwt, verify_participant_token
from rtk_sessions.storage.engine import Database

# The dependencies that do no I/O are ``async``: FastAPI runs a plain ``def`` dependency in the
# thread pool, a trip through a worker thread per dependency per request.


async def get_db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


DatabaseDep = Annotated[Database, Depends(get_db)]
# The OpenAPI security scheme of the routes that take a token (the Authorize button of /docs).
# It never refuses a request itself: ``bearer_token`` reads the header with the contract's errors.
Documented = Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)]
SettingsDep = Annotated[Settings, Depends(get_settings)]


async def no_nul_in_url(request: Request) -> None:
    """Every route's first dependency: path and query parameters (names and values) must not
    contain NUL (U+0000, ``%00``), which PostgreSQL cannot store or compare. raises BadRequest."""
    for name, value in (*request.path_params.items(), *request.query_params.multi_items()):
        if "\x00" in name or (isinstance(value, str) and "\x00" in value):
            shown = name.replace("\x00", "")
            raise BadRequest(f"parameter {shown!r} must not contain NUL (U+0000)")


def bearer_token(request: Request) -> str:
    """The token of ``Authorization: Bearer <token>`` (D30 in docs/decisions.md), or else of
    ``X-Auth-Key`` (the SDKs' ``api_email`` + ``api_key`` configuration): the key is taken as an
    API token, like a bearer one. ``X-Auth-Email`` is recorded in ``request.state.auth_email``
    and never trusted: it grants nothing and is not checked against anything.
    raises Unauthorized."""
    header = request.headers.get("authorization")
    if not header:
        key = request.headers.get("x-auth-key", "").strip()
        if key:
            request.state.auth_email = request.headers.get("x-auth-email")
            return key
        raise Unauthorized("Missing Authorization header (expected 'Bearer <API token>')")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("Malformed Authorization header (expected 'Bearer <API token>')")
    return token


@dataclass(frozen=True)
class AppScope:
    account_id: str
    app_id: str
    participant: ParticipantClaims | None = None


def _participant(request: Request, token: str) -> ParticipantClaims:
    return verify_participant_token(request.app.state.secret, token, now=utc_now())


def _refuse_participant_token(request: Request, token: str) -> None:
    """Participant tokens only ingest. raises Unauthorized (invalid), Forbidden (valid)."""
    if looks_like_jwt(token):
        _participant(request, token)
        raise Forbidden("Participant tokens can only send ingestion events")


def _account_of_api_token(request: Request, token: str) -> str:
    """The account of an API token. Participant tokens are refused here: they only ingest.

    raises Unauthorized, Forbidden."""
    _refuse_participant_token(request, token)
    account = cached_account_for_token(token)
    if account is not None:
        return account
    db: Database = request.app.state.db
    with db.unit_of_work(write=False) as session:
        return account_for_token(session, token)


def _cached_app_scope(
    request: Request, token: str, account_id: str, app_id: str
) -> AppScope | None:
    """The scope from this process's cache (accounts.AUTH_CACHE_TTL) alone, without I/O; None when
    the token or the app is not cached. raises Unauthorized, Forbidden."""
    _refuse_participant_token(request, token)
    account = cached_account_for_token(token)
    if account is None or not app_is_cached(account_id, app_id):
        return None
    if account != account_id:
        raise Forbidden(f"Token is not valid for account {account_id}")
    return AppScope(account_id, app_id)


def _app_scope(request: Request, token: str, account_id: str, app_id: str) -> AppScope:
    """Token and app checked from this process's cache or else in one read transaction; the
    handler then opens the request's only other one."""
    cached = _cached_app_scope(request, token, account_id, app_id)
    if cached is not None:
        return cached
    db: Database = request.app.state.db
    with db.unit_of_work(write=False) as session:
        account = account_for_token(session, token)
        check_account_id(account_id)
        require_app_in_account(session, account, account_id, app_id)
    return AppScope(account_id, app_id)


async def api_scope(
    request: Request, account_id: str, app_id: str, _: Documented = None
) -> AppScope:
    """An API token of ``account_id`` that can read ``app_id``. raises Unauthorized, BadRequest,
    Forbidden, AppNotFound.

    Async so that a cached token costs no trip through the thread pool (the database, when the
    cache misses, is read in a worker thread as in a sync dependency)."""
    token = bearer_token(request)
    cached = _cached_app_scope(request, token, account_id, app_id)
    if cached is not None:
        return cached
    return await run_in_threadpool(_app_scope, request, token, account_id, app_id)


async def token_account(request: Request, _: Documented = None) -> str:
    """The account of the bearer API token, whichever it is (the dashboard's sign-in asks "whose
    token is this?"; it names no account or app, so it reads nothing of anyone else's).
    raises Unauthorized (no or unknown token), Forbidden (a participant token)."""
    token = bearer_token(request)
    return await run_in_threadpool(_account_of_api_token, request, token)


def account_scope(request: Request, account_id: str, _: Documented = None) -> str:
    """An API token of ``account_id``. raises Unauthorized, BadRequest, Forbidden."""
    account = _account_of_api_token(request, bearer_token(request))
    check_account_id(account_id)
    if account != account_id:
        raise Forbidden(f"Token is not valid for account {account_id}")
    return account_id


async def ingest_scope(
    request: Request, account_id: str, app_id: str, _: Documented = None
) -> AppScope:
    """``ingest_scope_sync`` without the thread pool when an API token is cached."""
    header = request.headers.get("authorization") or request.headers.get("x-auth-key")
    if header:
        token = bearer_token(request)
        if not looks_like_jwt(token):
            cached = _cached_app_scope(request, token, account_id, app_id)
            if cached is not None:
                return cached
    return await run_in_threadpool(ingest_scope_sync, request, account_id, app_id)


def ingest_scope_sync(request: Request, account_id: str, app_id: str) -> AppScope:
    """API token of the account, or a participant token of this account and app (also accepted as
    ``?token=`` because ``navigator.sendBeacon`` cannot set headers; an API token there is refused
    with 401 so that it never travels in a URL)."""
    header = request.headers.get("authorization") or request.headers.get("x-auth-key")
    token = bearer_token(request) if header else request.query_params.get("token")
    if not token:
        raise Unauthorized("Missing Authorization header (expected 'Bearer <token>')")
    if not looks_like_jwt(token):
        if not header:  # URLs end up in logs and histories: only short-lived tokens go there
            raise Unauthorized(
                "?token= takes participant tokens only; send API tokens as 'Authorization: Bearer'"
            )
        return _app_scope(request, token, account_id, app_id)
    claims = _participant(request, token)
    if claims.account_id != account_id or claims.app_id != app_id:
        raise Forbidden("Participant token is for another app")
    db: Database = request.app.state.db
    with db.unit_of_work(write=False) as session:
        check_participant_token(session, claims)
    return AppScope(account_id, app_id, claims)


ApiScopeDep = Annotated[AppScope, Depends(api_scope)]
AccountDep = Annotated[str, Depends(account_scope)]
IngestScopeDep = Annotated[AppScope, Depends(ingest_scope)]
