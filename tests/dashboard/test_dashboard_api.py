"""The dashboard's own JSON routes (/dashboard/api/...): the API's auth, envelope and tenant
isolation, and their numbers against the public API."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.api.test_errors import assert_envelope
from tests.conftest import LiveServer, Tenant, make_tenant
from tests.helpers import post_events


def _get(tenant: Tenant, path: str, token: str | None = None, **params: str) -> httpx.Response:
    headers = {} if token == "" else {"Authorization": f"Bearer {token or tenant.token}"}
    return httpx.get(
        f"{tenant.server.url}/dashboard/api{path}", params=params, headers=headers, timeout=30
    )


def _app(t: Tenant, account: str | None = None, app: str | None = None) -> str:
    return f"/accounts/{account or t.account_id}/apps/{app or t.app_id}"


def test_whoami(tenant: Tenant) -> None:
    r = _get(tenant, "/whoami")
    assert r.status_code == 200 and r.json() == {
        "success": True,
        "data": {"account_id": tenant.account_id},
    }
    for token, status in (("", 401), ("nope", 401)):
        r = _get(tenant, "/whoami", token=token)
        assert r.status_code == status
        assert_envelope(r, status)


def test_tenant_isolation(live_server: LiveServer) -> None:
    a, b = make_tenant(live_server), make_tenant(live_server)
    session = str(uuid.uuid4())
    post_events(
        a,
        [
            {
                "id": str(uuid.uuid4()),
                "type": "peer.joined",
                "timestamp": "2026-01-01T00:00:00Z",
                "peer_id": str(uuid.uuid4()),
                "meeting_id": str(uuid.uuid4()),
                "session_id": session,
                "participant": {"display_name": "A"},
            }
        ],
    )
    assert _get(a, f"{_app(a)}/sessions/{session}/quality").status_code == 200
    # b's token on a's account: 403; b's account with a's app: 404; b's app and a's session: 404
    assert _get(b, f"{_app(a)}/fleet").status_code == 403
    assert _get(b, f"{_app(a)}/sessions/{session}/quality").status_code == 403
    r = _get(b, f"{_app(b, app=a.app_id)}/fleet")
    assert r.status_code == 404
    assert_envelope(r, 404)
    assert _get(b, f"{_app(b)}/sessions/{session}/quality").status_code == 404
    assert _get(a, f"{_app(a)}/fleet", token="").status_code == 401


@pytest.mark.parametrize("days", ["0", "91", "x", "1.5", "-1"])
def test_fleet_days_bad(tenant: Tenant, days: str) -> None:
    r = _get(tenant, f"{_app(tenant)}/fleet", days=days)
    assert r.status_code == 400
    assert_envelope(r, 400)


def test_fleet_counts_sessions_per_day(tenant: Tenant) -> None:
    from datetime import UTC, datetime, timedelta

    now = datetime.now(UTC)
    events = []
    for hours in (1, 2, 30):
        at = (now - timedelta(hours=hours)).isoformat().replace("+00:00", "Z")
        peer = str(uuid.uuid4())
        events.append(
            {
                "id": str(uuid.uuid4()),
                "type": "peer.joined",
                "timestamp": at,
                "peer_id": peer,
                "meeting_id": str(uuid.uuid4()),
                "session_id": str(uuid.uuid4()),
                "participant": {"display_name": "P"},
            }
        )
    post_events(tenant, sorted(events, key=lambda e: e["timestamp"]))
    body = _get(tenant, f"{_app(tenant)}/fleet", days="3").json()["data"]
    assert [d["day"] for d in body["per_day"]] == [
        (now - timedelta(days=i)).strftime("%Y-%m-%d") for i in (2, 1, 0)
    ]
    listed = httpx.get(
        f"{tenant.server.base_url}/accounts/{tenant.account_id}/realtime/kit/{tenant.app_id}/sessions",
        headers={"Authorization": f"Bearer {tenant.token}"},
    ).json()["data"]["sessions"]
    by_day: dict[str, int] = {}
    for s in listed:
        by_day[s["created_at"][:10]] = by_day.get(s["created_at"][:10], 0) + 1
    assert {d["day"]: d["sessions"] for d in body["per_day"] if d["sessions"]} == by_day
    assert body["peers"] == 3 and body["by_browser"] == [
        {"name": "unknown", "good": 0, "fair": 0, "poor": 0, "unknown": 3}
    ]
