"""Rows to response bodies, with the contract's key names, formats and omissions (D25–D27 in
docs/decisions.md).

The rows are described by what is read from them (the protocols below; the storage layer's
``Session``, ``Peer``, ``PeerEvent`` and ``App`` tables satisfy them), so the contract does not
depend on the storage layer.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol

from rtk_sessions.clock import iso


class Session(Protocol):
    """A session row (``storage.tables.Session``)."""

    @property
    def id(self) -> str: ...
    @property
    def app_id(self) -> str: ...
    @property
    def meeting_id(self) -> str: ...
    @property
    def meeting_display_name(self) -> str: ...
    @property
    def type(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def live_participants(self) -> int: ...
    @property
    def max_concurrent_participants(self) -> int: ...
    @property
    def consumed_secs(self) -> float: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def started_at(self) -> datetime: ...
    @property
    def ended_at(self) -> datetime | None: ...
    @property
    def updated_at(self) -> datetime: ...


class Peer(Protocol):
    """A peer row (``storage.tables.Peer``)."""

    @property
    def id(self) -> str: ...
    @property
    def user_id(self) -> str | None: ...
    @property
    def custom_participant_id(self) -> str | None: ...
    @property
    def display_name(self) -> str | None: ...
    @property
    def preset_name(self) -> str | None: ...
    @property
    def preset_view_type(self) -> str | None: ...
    @property
    def socket_session_id(self) -> str | None: ...
    @property
    def joined_at(self) -> datetime: ...
    @property
    def left_at(self) -> datetime | None: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def updated_at(self) -> datetime: ...


class PeerEvent(Protocol):
    """A peer event row (``storage.tables.PeerEvent``)."""

    @property
    def id(self) -> str: ...
    @property
    def peer_id(self) -> str: ...
    @property
    def session_id(self) -> str: ...
    @property
    def event_name(self) -> str: ...
    @property
    def minutes_consumed(self) -> float: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def updated_at(self) -> datetime: ...


class App(Protocol):
    """An app row (``storage.tables.App``)."""

    @property
    def id(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def created_at(self) -> datetime: ...


def minutes(seconds: float) -> float:
    """D27: minutes rounded to 4 decimals."""
    return round(seconds / 60.0, 4)


def peer_duration_secs(peer: Peer, now: datetime) -> float:
    """Spec section 3: (left_at or now) − joined_at."""
    end = peer.left_at or now
    return max(0.0, (end - peer.joined_at).total_seconds())


def session_view(
    session: Session,
    breakout_rooms: list[dict[str, Any]] | None = None,
    *,
    live_secs: float = 0.0,
) -> dict[str, Any]:
    """live_secs: participant-seconds of the peers still connected, up to now (LIVE sessions'
    ``minutes_consumed`` counts them: ``lifecycle.open_peer_secs``)."""
    body = session_row_view(
        (
            session.id,
            session.app_id,
            session.meeting_id,
            session.meeting_display_name,
            session.type,
            session.status,
            session.live_participants,
            session.max_concurrent_participants,
            session.consumed_secs,
            session.created_at,
            session.started_at,
            session.ended_at,
            session.updated_at,
        ),
        live_secs,
        iso,
    )
    if breakout_rooms is not None:
        body["breakout_rooms"] = breakout_rooms
    return body


SESSION_ROW = (
    "id",
    "app_id",
    "meeting_id",
    "meeting_display_name",
    "type",
    "status",
    "live_participants",
    "max_concurrent_participants",
    "consumed_secs",
    "created_at",
    "started_at",
    "ended_at",
    "updated_at",
)
"""The session attributes ``session_row_view`` takes, in its order."""


def session_row_view(
    row: tuple[Any, ...], live_secs: float, time: Callable[[Any], str]
) -> dict[str, Any]:
    """``session_view`` of a session's SESSION_ROW values as a tuple (a list page unpacks its
    rows: reading 13 attributes of each costs more than building the view). time: formats the
    four times (``clock.iso`` of datetimes; a list reads them as stored and passes
    ``storage.types.stored_iso``)."""
    (
        id_,
        app_id,
        meeting_id,
        display_name,
        type_,
        status,
        live,
        most,
        consumed_secs,
        created_at,
        started_at,
        ended_at,
        updated_at,
    ) = row
    body: dict[str, Any] = {
        "id": id_,
        "associated_id": meeting_id,
        "created_at": time(created_at),
        "live_participants": live if status == "LIVE" else 0,
        "max_concurrent_participants": most,
        "meeting_display_name": display_name,
        "minutes_consumed": minutes(consumed_secs + live_secs),
        "organization_id": app_id,
        "started_at": time(started_at),
        "status": status,
        "type": type_,
        "updated_at": time(updated_at),
    }
    if ended_at is not None:
        body["ended_at"] = time(ended_at)
    return body


def participant_view(
    peer: Peer, now: datetime, *, duration_secs: float | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {"id": peer.id}
    for key in ("user_id", "custom_participant_id", "display_name", "preset_name"):
        value = getattr(peer, key)
        if value is not None:
            body[key] = value
    body["joined_at"] = iso(peer.joined_at)
    if peer.left_at is not None:
        body["left_at"] = iso(peer.left_at)
    seconds = peer_duration_secs(peer, now) if duration_secs is None else duration_secs
    body["duration"] = minutes(seconds)
    body["created_at"] = iso(peer.created_at)
    body["updated_at"] = iso(peer.updated_at)
    return body


def peer_event_view(event: PeerEvent, peer: Peer) -> dict[str, Any]:
    return {
        "id": event.id,
        "peer_id": event.peer_id,
        "event_name": event.event_name,
        "minutes_consumed": round(event.minutes_consumed, 4),
        "participant_id": peer.user_id,
        "session_id": event.session_id,
        "socket_session_id": peer.socket_session_id,
        "preset_view_type": peer.preset_view_type,
        "created_at": iso(event.created_at),
        "updated_at": iso(event.updated_at),
    }


def app_view(app: App) -> dict[str, Any]:
    return {"id": app.id, "name": app.name, "created_at": iso(app.created_at)}
