"""Helpers of the chat/transcript/summary tests: sessions made through the ingestion API."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import httpx

from rtk_sessions.clock import iso
from tests.conftest import Tenant
from tests.helpers import post_events

T = TypeVar("T")


@dataclass
class Person:
    peer_id: str
    user_id: str | None
    name: str | None
    custom_id: str | None = None


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4()}"


def join_events(
    meeting_id: str, session_id: str, people: list[Person], at: datetime, title: str = "Meeting"
) -> list[dict[str, Any]]:
    return [
        {
            "id": new_id("join"),
            "type": "peer.joined",
            "timestamp": iso(at),
            "peer_id": p.peer_id,
            "meeting_id": meeting_id,
            "meeting_title": title,
            "session_id": session_id,
            "participant": {
                "user_id": p.user_id,
                "display_name": p.name,
                "custom_participant_id": p.custom_id,
                "preset_name": "group_call_participant",
            },
        }
        for p in people
    ]


def start_session(
    tenant: Tenant, people: list[Person], *, at: datetime | None = None, title: str = "Meeting"
) -> tuple[str, str]:
    """A LIVE session with ``people`` joined; returns (meeting_id, session_id)."""
    meeting_id, session_id = str(uuid.uuid4()), str(uuid.uuid4())
    at = at or datetime.now(UTC)
    post_events(tenant, join_events(meeting_id, session_id, people, at, title))
    return meeting_id, session_id


def segment_event(
    session_id: str | None,
    p: Person | None,
    start: datetime,
    end: datetime,
    text: str,
    **extra: Any,
) -> dict[str, Any]:
    event = {
        "id": new_id("seg"),
        "type": "transcript.segment",
        "timestamp": iso(end),
        "session_id": session_id,
        "start": iso(start),
        "end": iso(end),
        "text": text,
        **extra,
    }
    if p is not None:
        event["peer_id"] = p.peer_id
    return event


def download(url: str) -> httpx.Response:
    return httpx.get(url, timeout=30)


def wait_for(fn: Callable[[], T | None], timeout: float = 30.0, interval: float = 0.1) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(interval)
