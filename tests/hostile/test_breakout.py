"""Breakout rooms stay inside their app (issue 9, defect 2): another tenant cannot attach a room
under your session, and rooms of another app never show in your session's details."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import update

from rtk_sessions.clock import iso
from rtk_sessions.storage.tables import Session
from tests.api.test_errors import assert_envelope
from tests.conftest import LiveServer, Tenant, make_tenant
from tests.helpers import ingest_url, post_events


def _join(peer: str, meeting: str, session: str, at: datetime, **extra: object) -> dict[str, Any]:
    return {
        "id": f"j-{uuid.uuid4()}",
        "type": "peer.joined",
        "timestamp": iso(at),
        "peer_id": peer,
        "meeting_id": meeting,
        "session_id": session,
        "participant": {"user_id": "u1", "display_name": "Ada"},
        **extra,
    }


def _left(peer: str, at: datetime) -> dict[str, Any]:
    return {"id": f"l-{uuid.uuid4()}", "type": "peer.left", "timestamp": iso(at), "peer_id": peer}


def _details(tenant: Tenant, session_id: str, path: str = "", **params: str) -> dict[str, Any]:
    base = f"{tenant.server.base_url}/accounts/{tenant.account_id}/realtime/kit/{tenant.app_id}"
    response = httpx.get(
        f"{base}/sessions/{session_id}{path}",
        params=params,
        headers={"Authorization": f"Bearer {tenant.token}"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


def test_breakout_parent_must_be_a_session_of_the_same_app(live_server: LiveServer) -> None:
    victim, attacker = make_tenant(live_server), make_tenant(live_server)
    at = datetime.now(UTC) - timedelta(minutes=10)
    main = f"s-{uuid.uuid4()}"
    post_events(victim, [_join(f"p-{uuid.uuid4()}", f"m-{uuid.uuid4()}", main, at)])
    room, peer = f"s-{uuid.uuid4()}", f"p-{uuid.uuid4()}"
    attack = _join(peer, f"m-{uuid.uuid4()}", room, at, parent_session_id=main)
    response = httpx.post(
        ingest_url(attacker),
        json={"events": [attack]},
        headers={"Authorization": f"Bearer {attacker.token}"},
        timeout=30,
    )
    assert_envelope(response, 400, f"parent_session_id {main} is not a session of this app")
    unknown = _join(peer, f"m-{uuid.uuid4()}", room, at, parent_session_id=f"s-{uuid.uuid4()}")
    post_events(attacker, [unknown], expect=400)
    assert _details(victim, main, include_breakout_rooms="true")["breakout_rooms"] == []
    # the same app may (parent earlier in the same batch, or stored)
    own_room = f"s-{uuid.uuid4()}"
    post_events(
        victim,
        [_join(f"p-{uuid.uuid4()}", f"m-{uuid.uuid4()}", own_room, at, parent_session_id=main)],
    )
    rooms = _details(victim, main, include_breakout_rooms="true")["breakout_rooms"]
    assert [r["id"] for r in rooms] == [own_room]


def test_child_queries_filter_by_app(live_server: LiveServer) -> None:
    """A foreign room stored under the victim's session (as the old code allowed) is ignored by
    the session details and the consolidated participants."""
    victim, attacker = make_tenant(live_server), make_tenant(live_server)
    at = datetime.now(UTC) - timedelta(minutes=30)
    main, victim_peer = f"s-{uuid.uuid4()}", f"p-{uuid.uuid4()}"
    post_events(
        victim,
        [
            _join(victim_peer, f"m-{uuid.uuid4()}", main, at),
            _left(victim_peer, at + timedelta(minutes=2)),
        ],
    )
    room, attacker_peer = f"s-{uuid.uuid4()}", f"p-{uuid.uuid4()}"
    post_events(  # the same user_id "u1", for 20 minutes
        attacker,
        [
            _join(attacker_peer, f"m-{uuid.uuid4()}", room, at),
            _left(attacker_peer, at + timedelta(minutes=20)),
        ],
    )
    with live_server.database().unit_of_work() as s:
        s.execute(update(Session).where(Session.id == room).values(parent_session_id=main))
    assert _details(victim, main, include_breakout_rooms="true")["breakout_rooms"] == []
    people = _details(victim, main, "/participants", view="consolidated")["participants"]
    assert [(p["id"], p["duration"]) for p in people] == [(victim_peer, 2.0)]
