"""Client events (``peer.event``) come back in the peer report in time order, ties in the order
they were sent, with their metadata, whether the peer joined in the same batch or before."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from tests.conftest import Tenant
from tests.helpers import post_events

T0 = 1_780_000_000_000


def _event(peer: str, name: str, at: int, metadata: dict[str, Any] | None = None) -> dict[str, Any]:
    event: dict[str, Any] = {
        "id": uuid.uuid4().hex,
        "type": "peer.event",
        "timestamp": at,
        "peer_id": peer,
        "name": name,
    }
    if metadata is not None:
        event["metadata"] = metadata
    return event


def _events(tenant: Tenant, peer: str) -> list[dict[str, Any]]:
    response = httpx.get(
        f"{tenant.server.base_url}/accounts/{tenant.account_id}/realtime/kit/{tenant.app_id}"
        f"/sessions/peer-report/{peer}",
        params={"filters": "events"},
        headers={"Authorization": f"Bearer {tenant.token}"},
        timeout=60,
    )
    assert response.status_code == 200, response.text
    events: list[dict[str, Any]] = response.json()["data"]["participant"]["peer_report"][
        "metadata"
    ]["events"]
    return events


def test_client_events_in_time_order_ties_as_sent(tenant: Tenant) -> None:
    tag = uuid.uuid4().hex[:8]
    peer = f"p-{tag}"
    joined = {
        "id": f"{tag}:j",
        "type": "peer.joined",
        "timestamp": T0,
        "peer_id": peer,
        "meeting_id": f"m-{tag}",
    }
    first = [
        joined,  # the peer is created by the same batch as its first client events
        _event(peer, "b", T0 + 2000, {"n": 1, "s": "x", "f": 0.5, "t": True, "z": None}),
        _event(peer, "a", T0 + 1000),
        _event(peer, "tie-1", T0 + 3000, {}),
        _event(peer, "tie-2", T0 + 3000, {"k": "v"}),
        _event(peer, "tie-3", T0 + 3000),
    ]
    assert post_events(tenant, first).json()["data"]["accepted"] == len(first)
    second = [_event(peer, "tie-4", T0 + 3000), _event(peer, "early", T0 + 500)]
    assert post_events(tenant, second).json()["data"]["accepted"] == len(second)
    got = [(e["name"], e["timestamp"], e["metadata"]) for e in _events(tenant, peer)]
    assert got == [
        ("early", "2026-05-28T20:26:40.500Z", {}),
        ("a", "2026-05-28T20:26:41.000Z", {}),
        ("b", "2026-05-28T20:26:42.000Z", {"n": 1, "s": "x", "f": 0.5, "t": True, "z": None}),
        ("tie-1", "2026-05-28T20:26:43.000Z", {}),
        ("tie-2", "2026-05-28T20:26:43.000Z", {"k": "v"}),
        ("tie-3", "2026-05-28T20:26:43.000Z", {}),
        ("tie-4", "2026-05-28T20:26:43.000Z", {}),
    ]
