"""Webhooks of an app and the outbox of their deliveries (docs/webhooks.md).

Writing events: the code that changes state calls ``emit(db, ...)`` inside its transaction. When
the app has an enabled webhook subscribed to the event (``SubscriptionCache``: one query per app
per ``cache_secs``, so a batch with no subscribed webhook costs no round trip), one
``webhook_deliveries`` row per such webhook is written in that same transaction, so an event is
delivered exactly when its change commits. Rows are buffered on the ORM session and inserted in
one statement (``flush_outbox``, called at the end of an ingestion batch and, as a safety net,
before every commit); inside a SAVEPOINT they are inserted at once, so a rolled-back savepoint
takes its events with it.

Events that fire (``FIRING``) and their causes:

* ``meeting.started``: a session goes LIVE (created by a first join, or reopened by a late one).
* ``meeting.ended``: the sweeper ends a session (``reason``: ``ALL_PARTICIPANTS_LEFT``).
* ``meeting.participantJoined`` / ``meeting.participantLeft``: a peer joins / leaves (also a stale
  peer the sweeper leaves, and a kicked one: ``participant_left``).
* ``meeting.chatSynced``: a session ends with chat messages, or chat reaches an ended session.
* ``meeting.transcript``: a session ends with final transcript segments, or final segments reach
  an ended session.
* ``meeting.summary``: a summary is written (or rewritten).

``recording.statusUpdate`` and ``livestreaming.statusUpdate`` are accepted in a subscription and
never fire: this service records and streams nothing.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
import uuid
import weakref
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final
from urllib.parse import urlsplit

import orjson
from sqlalchemy import Engine, delete, event, func, insert, select
from sqlalchemy.orm import Session as DB

from rtk_sessions.clock import iso
from rtk_sessions.errors import BadRequest, NotFound
from rtk_sessions.storage.tables import (
    ChatMessageRow,
    PeerFields,
    Session,
    TranscriptSegmentRow,
    WebhookDeliveryRow,
    WebhookRow,
)

STARTED: Final = "meeting.started"
ENDED: Final = "meeting.ended"
JOINED: Final = "meeting.participantJoined"
LEFT: Final = "meeting.participantLeft"
CHAT_SYNCED: Final = "meeting.chatSynced"
TRANSCRIPT: Final = "meeting.transcript"
SUMMARY: Final = "meeting.summary"
RECORDING: Final = "recording.statusUpdate"
LIVESTREAM: Final = "livestreaming.statusUpdate"

EVENTS: Final = (
    STARTED,
    ENDED,
    JOINED,
    LEFT,
    CHAT_SYNCED,
    RECORDING,
    LIVESTREAM,
    TRANSCRIPT,
    SUMMARY,
)
FIRING: Final = frozenset({STARTED, ENDED, JOINED, LEFT, CHAT_SYNCED, TRANSCRIPT, SUMMARY})

PENDING, DELIVERED = "pending", "delivered"
MAX_WEBHOOKS_PER_APP = 20
MAX_URL_LENGTH = 2048


class WebhookNotFound(NotFound):
    def __init__(self, webhook_id: str) -> None:
        super().__init__(f"Webhook {webhook_id} not found")


# ---- target URLs -----------------------------------------------------------------------------


def _refused_address(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast


def target_problem(url: str, *, allow_private: bool) -> str | None:
    """Why ``url`` cannot be a webhook target, or None. http/https only, with a host; without
    ``allow_private``, a host that is (or resolves to) a loopback, private, link-local or otherwise
    non-global address is refused, and so is one that does not resolve."""
    if len(url) > MAX_URL_LENGTH:
        return f"url is longer than {MAX_URL_LENGTH} characters"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        return f"url is not a valid URL: {exc}"
    if parts.scheme not in ("http", "https"):
        return "url must be an http or https URL"
    host = parts.hostname
    if not host:
        return "url has no host"
    if parts.username is not None or parts.password is not None:
        return "url must not contain credentials"
    if allow_private:
        return None
    try:
        infos = socket.getaddrinfo(host, port or (443 if parts.scheme == "https" else 80))
    except (OSError, UnicodeError):
        return f"url host {host!r} does not resolve"
    for info in infos:
        if _refused_address(str(info[4][0])):
            return (
                f"url host {host!r} is a private or loopback address "
                "(allowed only with RTK_WEBHOOKS_ALLOW_PRIVATE_TARGETS=true)"
            )
    return None


# ---- CRUD ------------------------------------------------------------------------------------


@dataclass
class WebhookInput:
    """Validated fields of a create/replace (all set) or edit (None: unchanged)."""

    name: str | None = None
    url: str | None = None
    events: list[str] | None = None
    enabled: bool | None = None


def _check(data: WebhookInput, *, allow_private: bool) -> None:
    if data.name is not None and not data.name.strip():
        raise BadRequest("name must not be empty")
    if data.events is not None:
        if not data.events:
            raise BadRequest("events must name at least one event")
        unknown = sorted(set(data.events) - set(EVENTS))
        if unknown:
            raise BadRequest(f"events: unknown event {unknown[0]!r}; one of {', '.join(EVENTS)}")
    if data.url is not None:
        problem = target_problem(data.url, allow_private=allow_private)
        if problem is not None:
            raise BadRequest(problem)


def _dedupe(events: list[str]) -> list[str]:
    return list(dict.fromkeys(events))


def create_webhook(
    db: DB, app_id: str, data: WebhookInput, *, now: datetime, allow_private: bool
) -> WebhookRow:
    """A new webhook (``enabled`` defaults to true). raises BadRequest (invalid field, or the app
    already has ``MAX_WEBHOOKS_PER_APP``)."""
    assert data.name is not None and data.url is not None and data.events is not None
    _check(data, allow_private=allow_private)
    count = db.scalar(select(func.count()).where(WebhookRow.app_id == app_id)) or 0
    if count >= MAX_WEBHOOKS_PER_APP:
        raise BadRequest(f"an app has at most {MAX_WEBHOOKS_PER_APP} webhooks")
    row = WebhookRow(
        id=str(uuid.uuid4()),
        app_id=app_id,
        name=data.name,
        url=data.url,
        events=_dedupe(data.events),
        enabled=True if data.enabled is None else data.enabled,
        consecutive_failures=0,
        disabled_reason=None,
        created_at=now,
        updated_at=now,
    )
    db.add(row)
    db.flush()
    invalidate(db, app_id)
    return row


def list_webhooks(db: DB, app_id: str) -> list[WebhookRow]:
    return list(
        db.scalars(
            select(WebhookRow)
            .where(WebhookRow.app_id == app_id)
            .order_by(WebhookRow.created_at, WebhookRow.id)
        )
    )


def get_webhook(db: DB, app_id: str, webhook_id: str, *, lock: bool = False) -> WebhookRow:
    """raises WebhookNotFound (also for another app's webhook)."""
    row = db.get(WebhookRow, webhook_id, with_for_update=lock)
    if row is None or row.app_id != app_id:
        raise WebhookNotFound(webhook_id)
    return row


def update_webhook(
    db: DB,
    app_id: str,
    webhook_id: str,
    data: WebhookInput,
    *,
    now: datetime,
    allow_private: bool,
) -> WebhookRow:
    """Edit (PATCH: the fields given) or replace (PUT: all fields; ``enabled`` defaults to true).
    Enabling a webhook resets its failure count and lets its held deliveries go out again.
    raises WebhookNotFound, BadRequest."""
    _check(data, allow_private=allow_private)
    row = get_webhook(db, app_id, webhook_id, lock=True)
    if data.name is not None:
        row.name = data.name
    if data.url is not None:
        row.url = data.url
    if data.events is not None:
        row.events = _dedupe(data.events)
    if data.enabled is not None:
        if data.enabled and not row.enabled:
            row.consecutive_failures = 0
            row.disabled_reason = None
        row.enabled = data.enabled
    row.updated_at = now
    db.flush()
    invalidate(db, app_id)
    return row


def delete_webhook(db: DB, app_id: str, webhook_id: str) -> WebhookRow:
    """Delete the webhook with its pending deliveries; returns it as it was. raises
    WebhookNotFound."""
    row = get_webhook(db, app_id, webhook_id, lock=True)
    db.delete(row)
    db.flush()
    invalidate(db, app_id)
    return row


# ---- subscriptions (cached) -----------------------------------------------------------------


Subscriptions = dict[str, list[str]]  # event -> ids of enabled webhooks subscribed to it


class SubscriptionCache:
    """Per database engine and app: which enabled webhooks take which events, for ``ttl``
    seconds. Changes made in this process invalidate at once; another process's changes are seen
    within ``ttl`` (``RTK_WEBHOOKS_CACHE_SECS``)."""

    def __init__(self, ttl: float = 5.0) -> None:
        self.ttl = ttl
        self._lock = threading.Lock()
        self._apps: dict[str, tuple[float, Subscriptions]] = {}

    def get(self, db: DB, app_id: str) -> Subscriptions:
        now = time.monotonic()
        hit = self._apps.get(app_id)  # one dict read: atomic, no lock (asked once per event)
        if hit is not None and now - hit[0] < self.ttl:
            return hit[1]
        subs: Subscriptions = {}
        for webhook_id, events in db.execute(
            select(WebhookRow.id, WebhookRow.events).where(
                WebhookRow.app_id == app_id, WebhookRow.enabled.is_(True)
            )
        ):
            for name in events or ():
                if name in FIRING:
                    subs.setdefault(name, []).append(webhook_id)
        with self._lock:
            if len(self._apps) > 10_000:
                self._apps.clear()
            self._apps[app_id] = (now, subs)
        return subs

    def invalidate(self, app_id: str) -> None:
        with self._lock:
            self._apps.pop(app_id, None)

    def put(self, app_id: str, subs: Subscriptions) -> None:
        """Cache ``subs`` for the app (tests that write through a schema older than the
        webhooks tables put ``{}`` with an infinite ``ttl``)."""
        with self._lock:
            self._apps[app_id] = (time.monotonic(), subs)


_caches: weakref.WeakKeyDictionary[Engine, SubscriptionCache] = weakref.WeakKeyDictionary()
_caches_lock = threading.Lock()
DEFAULT_CACHE_SECS = 5.0


_CACHE = "rtk_webhook_subscriptions"


def cache_for(db: DB) -> SubscriptionCache:
    """The subscription cache of ``db``'s engine (remembered on ``db``: asked once per event)."""
    cache: SubscriptionCache | None = db.info.get(_CACHE)
    if cache is not None:
        return cache
    engine = db.get_bind()
    assert isinstance(engine, Engine)
    with _caches_lock:
        cache = _caches.get(engine)
        if cache is None:
            cache = _caches[engine] = SubscriptionCache(DEFAULT_CACHE_SECS)
    db.info[_CACHE] = cache
    return cache


def configure_cache(engine: Engine, ttl: float) -> SubscriptionCache:
    """Set the subscription cache's lifetime for ``engine`` (the server does, from settings)."""
    with _caches_lock:
        cache = _caches[engine] = SubscriptionCache(ttl)
        return cache


def invalidate(db: DB, app_id: str) -> None:
    cache_for(db).invalidate(app_id)


# ---- the outbox ------------------------------------------------------------------------------


_BUFFER = "rtk_webhook_outbox"


@dataclass
class _Buffer:
    rows: list[dict[str, Any]] = field(default_factory=list)


def subscribed(db: DB, app_id: str, event_name: str) -> list[str]:
    """Ids of the app's enabled webhooks subscribed to ``event_name`` (cached)."""
    return cache_for(db).get(db, app_id).get(event_name, [])


def emit(
    db: DB,
    app_id: str,
    event_name: str,
    *,
    order_key: str,
    now: datetime,
    payload: dict[str, Any] | None = None,
    build: Any = None,
) -> int:
    """Queue ``event_name`` for every subscribed webhook of the app; returns how many deliveries.

    payload: the event's fields (besides ``event``, ``eventId``, ``deliveryId``, ``webhookId``,
    ``appId`` and ``createdAt``, added here); or ``build``, a function returning them, called only
    when some webhook is subscribed.
    """
    webhook_ids = subscribed(db, app_id, event_name)
    if not webhook_ids:
        return 0
    fields = payload if payload is not None else build()
    event_id = str(uuid.uuid4())
    rows = []
    for webhook_id in webhook_ids:
        delivery_id = str(uuid.uuid4())
        body = {
            "event": event_name,
            "eventId": event_id,
            "deliveryId": delivery_id,
            "webhookId": webhook_id,
            "appId": app_id,
            "createdAt": iso(now),
            **fields,
        }
        rows.append(
            {
                "id": delivery_id,
                "event_id": event_id,
                "webhook_id": webhook_id,
                "app_id": app_id,
                "event": event_name,
                "order_key": order_key,
                "body": orjson.dumps(body).decode(),
                "status": PENDING,
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
            }
        )
    if db.in_nested_transaction():  # rolled back with the savepoint, if it is
        db.flush()
        db.execute(insert(WebhookDeliveryRow), rows)
    else:
        buffer: _Buffer = db.info.setdefault(_BUFFER, _Buffer())
        buffer.rows.extend(rows)
    return len(rows)


def flush_outbox(db: DB) -> int:
    """Insert the buffered deliveries (one statement); returns how many."""
    buffer: _Buffer | None = db.info.get(_BUFFER)
    if buffer is None or not buffer.rows:
        return 0
    rows, buffer.rows = buffer.rows, []
    db.flush()  # the rows they refer to (sessions) first, like the ORM would
    db.execute(insert(WebhookDeliveryRow), rows)
    return len(rows)


@event.listens_for(DB, "before_commit")
def _flush_before_commit(db: DB) -> None:
    if not db.in_nested_transaction():
        flush_outbox(db)


@event.listens_for(DB, "after_rollback")
def _drop_after_rollback(db: DB) -> None:
    buffer: _Buffer | None = db.info.get(_BUFFER)
    if buffer is not None and not db.in_transaction():
        buffer.rows.clear()


def prune_delivered(db: DB, *, before: datetime) -> int:
    """Delete deliveries delivered before ``before`` (with their attempts); returns how many.
    Pending ones are never deleted."""
    result = db.execute(
        delete(WebhookDeliveryRow).where(
            WebhookDeliveryRow.status == DELIVERED, WebhookDeliveryRow.delivered_at < before
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)


# ---- payloads ------------------------------------------------------------------------------


def meeting_view(session: Session) -> dict[str, Any]:
    """The ``meeting`` object of every payload (the session the event is about)."""
    return {
        "id": session.meeting_id,
        "sessionId": session.id,
        "title": session.meeting_display_name,
        "status": session.status,
        "createdAt": iso(session.created_at),
        "startedAt": iso(session.started_at),
        "endedAt": iso(session.ended_at) if session.ended_at else None,
        "parentSessionId": session.parent_session_id,
    }


def participant_view(peer: PeerFields) -> dict[str, Any]:
    duration = None
    if peer.left_at is not None:
        duration = (peer.left_at - peer.joined_at).total_seconds() / 60.0
    return {
        "id": peer.id,
        "peerId": peer.id,
        "userId": peer.user_id,
        "customParticipantId": peer.custom_participant_id,
        "displayName": peer.display_name,
        "presetName": peer.preset_name,
        "joinedAt": iso(peer.joined_at),
        "leftAt": iso(peer.left_at) if peer.left_at else None,
        "minutesConsumed": duration,
    }


def session_started(db: DB, session: Session, *, now: datetime) -> None:
    emit(
        db,
        session.app_id,
        STARTED,
        order_key=session.id,
        now=now,
        build=lambda: {"meeting": meeting_view(session)},
    )


def participant_joined(db: DB, session: Session, peer: PeerFields, *, now: datetime) -> None:
    """Queue ``meeting.participantJoined`` for a peer that has just joined ``session`` (its
    app and id read from the peer, which may be a plain ``PeerRow``: no ORM attribute access
    unless a webhook is subscribed)."""
    emit(
        db,
        peer.app_id,
        JOINED,
        order_key=peer.session_id,
        now=now,
        build=lambda: {"meeting": meeting_view(session), "participant": participant_view(peer)},
    )


def participant_left(
    db: DB, session: Session, peer: PeerFields, *, now: datetime, reason: str = "LEFT"
) -> None:
    """Queue ``meeting.participantLeft`` for a peer that has just left ``session`` (``reason``:
    ``LEFT``, the client said so; ``TIMEOUT``, the sweeper left a silent peer; ``KICKED``); app
    and session ids read from the peer, as ``participant_joined`` does."""
    emit(
        db,
        peer.app_id,
        LEFT,
        order_key=peer.session_id,
        now=now,
        build=lambda: {
            "meeting": meeting_view(session),
            "participant": participant_view(peer),
            "reason": reason,
        },
    )


def _api_path(session: Session, what: str, account_id: str | None) -> str:
    account = account_id or "{account_id}"
    return (
        f"/client/v4/accounts/{account}/realtime/kit/{session.app_id}/sessions/{session.id}/{what}"
    )


def _account_of(db: DB, app_id: str) -> str | None:
    from rtk_sessions.storage.tables import App

    app = db.get(App, app_id)
    return app.account_id if app is not None else None


def _chat_count(db: DB, session_id: str) -> int:
    return int(db.scalar(select(func.count()).where(ChatMessageRow.session_id == session_id)) or 0)


def _final_count(db: DB, session_id: str) -> int:
    return int(
        db.scalar(
            select(func.count()).where(
                TranscriptSegmentRow.session_id == session_id,
                TranscriptSegmentRow.is_final.is_(True),
            )
        )
        or 0
    )


def chat_synced(db: DB, session: Session, *, now: datetime, force: bool = False) -> None:
    """Queue ``meeting.chatSynced`` when the session has chat (``force``: count it anyway)."""
    if not subscribed(db, session.app_id, CHAT_SYNCED):
        return
    count = _chat_count(db, session.id)
    if count == 0 and not force:
        return
    account = _account_of(db, session.app_id)
    emit(
        db,
        session.app_id,
        CHAT_SYNCED,
        order_key=session.id,
        now=now,
        payload={
            "meeting": meeting_view(session),
            "chat": {"messages": count, "api": _api_path(session, "chat", account)},
        },
    )


def transcript_ready(db: DB, session: Session, *, now: datetime) -> None:
    """Queue ``meeting.transcript`` when the session has final transcript segments."""
    if not subscribed(db, session.app_id, TRANSCRIPT):
        return
    count = _final_count(db, session.id)
    if count == 0:
        return
    account = _account_of(db, session.app_id)
    emit(
        db,
        session.app_id,
        TRANSCRIPT,
        order_key=session.id,
        now=now,
        payload={
            "meeting": meeting_view(session),
            "transcript": {"segments": count, "api": _api_path(session, "transcript", account)},
        },
    )


def session_ended(db: DB, session: Session, *, now: datetime, reason: str) -> None:
    """``meeting.ended`` (with ``reason``), then ``meeting.chatSynced`` and ``meeting.transcript``
    when the session has chat / a final transcript."""
    emit(
        db,
        session.app_id,
        ENDED,
        order_key=session.id,
        now=now,
        build=lambda: {"meeting": meeting_view(session), "reason": reason},
    )
    chat_synced(db, session, now=now)
    transcript_ready(db, session, now=now)


def summary_written(
    db: DB, session: Session, *, now: datetime, text_format: str, summary_type: str, segments: int
) -> None:
    def build() -> dict[str, Any]:
        account = _account_of(db, session.app_id)
        return {
            "meeting": meeting_view(session),
            "summary": {
                "textFormat": text_format,
                "summaryType": summary_type,
                "segments": segments,
                "api": _api_path(session, "summary", account),
            },
        }

    emit(db, session.app_id, SUMMARY, order_key=session.id, now=now, build=build)
