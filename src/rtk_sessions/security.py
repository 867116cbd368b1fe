"""Credentials: API tokens (stored hashed), participant tokens (JWT, HS256) and signed URLs."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import jwt

from rtk_sessions.errors import Forbidden, Unauthorized

API_TOKEN_PREFIX = "rtk_"
PARTICIPANT_TOKEN_AUDIENCE = "rtk-sessions:ingest"


def new_api_token() -> str:
    """A fresh API token: ``rtk_`` + 43 URL-safe characters (256 bits)."""
    return API_TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_api_token(token: str) -> str:
    """SHA-256 hex of the token; only this is stored (the token itself has 256 bits of entropy)."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class ParticipantClaims:
    """What a participant token lets its bearer do: ingest for one participant of one meeting."""

    account_id: str
    app_id: str
    meeting_id: str
    participant_id: str
    version: int


def issue_participant_token(
    secret: bytes, claims: ParticipantClaims, *, now: datetime, ttl: timedelta
) -> str:
    """A signed, expiring JWT (RFC 7519, HS256) carrying ``claims``."""
    payload = {
        "aud": PARTICIPANT_TOKEN_AUDIENCE,
        "sub": claims.participant_id,
        "acc": claims.account_id,
        "app": claims.app_id,
        "mtg": claims.meeting_id,
        "ver": claims.version,
        "iat": int(now.timestamp()),
        "exp": int((now + ttl).timestamp()),
        "jti": secrets.token_hex(8),
    }
    return jwt.encode(payload, secret, algorithm="HS256")


def looks_like_jwt(token: str) -> bool:
    return token.count(".") == 2 and not token.startswith(API_TOKEN_PREFIX)


def verify_participant_token(secret: bytes, token: str, *, now: datetime) -> ParticipantClaims:
    """Check signature, audience and expiry. raises Unauthorized."""
    try:
        payload = jwt.decode(
            token,
            secret,
            algorithms=["HS256"],
            audience=PARTICIPANT_TOKEN_AUDIENCE,
            options={"require": ["exp", "sub", "aud"], "verify_iat": False},
            leeway=0,
        )
    except jwt.ExpiredSignatureError as exc:
        raise Unauthorized("Participant token has expired") from exc
    except jwt.PyJWTError as exc:
        raise Unauthorized("Invalid participant token") from exc
    if payload["exp"] <= now.timestamp():
        raise Unauthorized("Participant token has expired")
    try:
        return ParticipantClaims(
            account_id=str(payload["acc"]),
            app_id=str(payload["app"]),
            meeting_id=str(payload["mtg"]),
            participant_id=str(payload["sub"]),
            version=int(payload.get("ver", 0)),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise Unauthorized("Invalid participant token") from exc


def sign_path(secret: bytes, path: str, expires: int) -> str:
    """HMAC-SHA256 (hex) over ``path`` and the expiry (epoch seconds)."""
    msg = f"{path}\n{expires}".encode()
    return hmac.new(secret, msg, hashlib.sha256).hexdigest()


def check_signed_path(
    secret: bytes, path: str, expires: str, signature: str, *, now: float
) -> None:
    """raises Forbidden when the signature does not match or the URL has expired."""
    try:
        exp = int(expires)
    except ValueError as exc:
        raise Forbidden("Invalid download link") from exc
    expected = sign_path(secret, path, exp)
    if not hmac.compare_digest(expected, signature):
        raise Forbidden("Invalid download link")
    if exp < now:
        raise Forbidden("Download link has expired")
