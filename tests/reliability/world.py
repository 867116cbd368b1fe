"""Real data of two tenants on a live server, for the authorization matrix and the fuzzer.

Each tenant has an account, an app and an API token; a meeting (titled with the tenant's
``marker``, a string found nowhere else) with a participant whose token was refreshed once (the
old one is "refreshed away"), an expired token of that participant; and a session made by
importing a real recording (tests/fixtures/real-stats) through ``POST .../ingest`` as a peer of
that meeting, with a chat message and a transcript segment carrying the marker.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import Table, func, select

from rtk_sessions.importers import load_recording
from rtk_sessions.importers.ingest import to_ingest_events
from rtk_sessions.security import ParticipantClaims, issue_participant_token
from rtk_sessions.storage.engine import Database
from rtk_sessions.storage.tables import Base
from tests.conftest import REAL_STATS, LiveServer, Tenant, make_tenant

RECORDING = "jitsi-rtcstats_chrome-relay.rtcstats.jsonl"


@dataclass
class World:
    """One tenant's data; ``ids`` maps path parameter names to this tenant's real values."""

    tenant: Tenant
    marker: str
    meeting_id: str
    participant_id: str  # of the meeting
    participant_token: str  # valid
    stale_token: str  # replaced by a refresh
    expired_token: str
    session_id: str
    peer_id: str
    ids: dict[str, str] = field(default_factory=dict)

    @property
    def kit(self) -> str:
        """``.../accounts/{account_id}/realtime/kit`` of this tenant on its server."""
        return f"{self.tenant.server.base_url}/accounts/{self.tenant.account_id}/realtime/kit"

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tenant.token}"}

    def value(self, name: str, path: str) -> str | None:
        """This tenant's value of path parameter ``name`` in route ``path`` (a meeting's
        participant or a session's participant, which is a peer), or None when unknown."""
        if name == "participant_id" and "/sessions/" in path:
            return self.peer_id
        return self.ids.get(name)


def _check(response: httpx.Response) -> Any:
    assert response.status_code == 200, (response.request.url, response.text)
    return response.json()["data"]


def build_world(server: LiveServer, name: str) -> World:
    """A tenant with the data described in the module docstring, on ``server``."""
    tenant = make_tenant(server, name)
    marker = f"marker-{name}-{uuid.uuid4().hex}"
    kit = f"{server.base_url}/accounts/{tenant.account_id}/realtime/kit/{tenant.app_id}"
    headers = {"Authorization": f"Bearer {tenant.token}"}
    with httpx.Client(headers=headers, timeout=60) as http:
        meeting = _check(http.post(f"{kit}/meetings", json={"title": f"Meeting {marker}"}))
        body = {"name": f"Ada {marker}", "preset_name": "group_call_host"}
        added = _check(
            http.post(
                f"{kit}/meetings/{meeting['id']}/participants",
                json={**body, "custom_participant_id": f"ada-{name}"},
            )
        )
        stale = added["token"]
        fresh = _check(
            http.post(f"{kit}/meetings/{meeting['id']}/participants/{added['id']}/token")
        )["token"]
        secret: bytes = server.app.state.secret
        expired = issue_participant_token(
            secret,
            ParticipantClaims(tenant.account_id, tenant.app_id, meeting["id"], added["id"], 1),
            now=datetime.now(UTC) - timedelta(hours=2),
            ttl=timedelta(hours=1),
        )
        client = load_recording(REAL_STATS / RECORDING).clients[0]
        peer_id = f"peer-{name}-{uuid.uuid4().hex[:8]}"
        session_id = str(uuid.uuid4())
        events = to_ingest_events(
            client,
            peer_id=peer_id,
            meeting_id=meeting["id"],
            session_id=session_id,
            meeting_title=f"Meeting {marker}",
            id_prefix=f"{peer_id}:ev",
            display_name=f"Ada {marker}",
        )
        middle = (client.join_ms + client.leave_ms) / 2
        events[-1:-1] = [
            {
                "id": f"{peer_id}:chat",
                "type": "chat.message",
                "timestamp": middle,
                "peer_id": peer_id,
                "payload_type": "TEXT_MESSAGE",
                "payload": f"chat {marker}",
            },
            {
                "id": f"{peer_id}:seg",
                "type": "transcript.segment",
                "timestamp": middle + 1000,
                "peer_id": peer_id,
                "start": middle,
                "end": middle + 1000,
                "text": f"said {marker}",
            },
        ]
        done = _check(http.post(f"{kit}/ingest", json={"events": events}))
        assert done == {"accepted": len(events), "duplicates": 0}
    world = World(
        tenant=tenant,
        marker=marker,
        meeting_id=meeting["id"],
        participant_id=added["id"],
        participant_token=fresh,
        stale_token=stale,
        expired_token=expired,
        session_id=session_id,
        peer_id=peer_id,
    )
    world.ids = {
        "account_id": tenant.account_id,
        "app_id": tenant.app_id,
        "meeting_id": meeting["id"],
        "participant_id": added["id"],
        "session_id": session_id,
        "peer_id": peer_id,
    }
    return world


def _owned(table: Table, world: World) -> Any:
    """The condition selecting ``world``'s rows of ``table``, or None when none applies."""
    columns = table.c
    for name, value in (
        ("app_id", world.tenant.app_id),
        ("account_id", world.tenant.account_id),
        ("session_id", world.session_id),
        ("meeting_id", world.meeting_id),
        ("peer_id", world.peer_id),
    ):
        if name in columns:
            return columns[name] == value
    return None


def row_counts(db: Database, world: World) -> dict[str, int]:
    """For every table with an ``app_id``, ``account_id``, ``session_id``, ``meeting_id`` or
    ``peer_id`` column (the first of these it has), the number of rows of ``world``'s tenant."""
    counts = {}
    with db.unit_of_work(write=False) as s:
        for table in Base.metadata.sorted_tables:
            where = _owned(table, world)
            if where is not None:
                counts[table.name] = int(
                    s.scalar(select(func.count()).select_from(table).where(where)) or 0
                )
    return counts


def snapshot(world: World) -> dict[str, Any]:
    """What ``world``'s tenant reads of its own data through the API (no signed URLs)."""
    app = f"{world.kit}/{world.tenant.app_id}"
    paths = {
        "meeting": f"/meetings/{world.meeting_id}",
        "meeting participants": f"/meetings/{world.meeting_id}/participants",
        "sessions": "/sessions",
        "session": f"/sessions/{world.session_id}",
        "participants": f"/sessions/{world.session_id}/participants?include_peer_events=true",
        "peer report": f"/sessions/peer-report/{world.peer_id}",
    }
    with httpx.Client(headers=world.headers, timeout=60) as http:
        out = {name: _check(http.get(app + path)) for name, path in paths.items()}
        out["apps"] = _check(http.get(f"{world.kit}/apps"))
        for kind in ("chat", "transcript"):
            url = _check(http.get(f"{app}/sessions/{world.session_id}/{kind}"))[
                f"{kind}_download_url"
            ]
            out[kind] = httpx.get(url, timeout=60).text
    return out
