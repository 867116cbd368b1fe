"""Bad input gets its documented 4xx and the contract's error envelope (D22, D23 in docs/decisions.md); the
official SDK raises the matching exception; nothing yields a 5xx."""

from __future__ import annotations

import random
import string
from typing import Any

import cloudflare
import httpx
import pytest

from tests.conftest import LiveServer, Tenant, make_tenant
from tests.helpers import ingest_url, post_events


def assert_envelope(response: httpx.Response, status: int, fragment: str = "") -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["success"] is False
    assert body["errors"] == [body["error"]]
    assert body["error"]["code"] == status
    assert body["messages"] == []
    assert fragment.lower() in body["error"]["message"].lower(), body
    assert response.headers["x-should-retry"] == "false"
    envelope: dict[str, Any] = body
    return envelope


def get(tenant: Tenant, path: str, token: str | None = "", **params: Any) -> httpx.Response:
    headers = {} if token is None else {"Authorization": f"Bearer {token or tenant.token}"}
    base = f"{tenant.server.base_url}/accounts/{tenant.account_id}/realtime/kit/{tenant.app_id}"
    return httpx.get(base + path, params=params, headers=headers, timeout=30)


@pytest.mark.parametrize(
    ("path", "params", "fragment"),
    [
        ("/sessions", {"status": "live"}, "status must be one of LIVE, ENDED"),
        ("/sessions", {"sort_by": "created_at"}, "sort_by"),
        ("/sessions", {"sort_order": "desc"}, "sort_order"),
        ("/sessions", {"page_no": "abc"}, "page_no"),
        ("/sessions", {"page_no": "1.5"}, "page_no"),
        ("/sessions", {"per_page": "-1"}, "per_page"),
        ("/sessions", {"start_time": "yesterday"}, "start_time"),
        ("/sessions", {"end_time": "2024-13-01T00:00:00Z"}, "end_time"),
        (
            "/sessions",
            {"start_time": "2024-02-01T00:00:00Z", "end_time": "2024-01-01T00:00:00Z"},
            "start_time must not be after end_time",
        ),
        ("/sessions", {"participants": "a:b"}, "participants"),
        ("/sessions", {"participants": "5:2"}, "participants"),
        ("/sessions/x", {"include_breakout_rooms": "yes"}, "include_breakout_rooms"),
        ("/sessions/x/participants", {"view": "merged"}, "view"),
        ("/sessions/x/participants", {"sort_by": "name"}, "sort_by"),
        ("/sessions/x/participants", {"include_peer_events": "2"}, "include_peer_events"),
        ("/sessions/peer-report/x", {"filters": "events, quality_stats"}, "filters"),
        ("/sessions/peer-report/x", {"filters": "events,,quality_stats"}, "filters"),
        ("/sessions/peer-report/x", {"filters": "bogus"}, "filters"),
        ("/sessions/x/participants/y", {"filters": "nope"}, "filters"),
    ],
)
def test_bad_query_parameters_are_400(
    tenant: Tenant, path: str, params: dict[str, str], fragment: str
) -> None:
    assert_envelope(get(tenant, path, **params), 400, fragment)


def test_accepted_lenient_values(tenant: Tenant) -> None:
    # D7: the Python SDK sends floats; D8: booleans in any case and 1/0; D10: unknown params ignored.
    ok = get(
        tenant,
        "/sessions",
        page_no="2.0",
        per_page="0",
        include_breakout_rooms="TRUE",
        whatever="1",
    )
    assert ok.status_code == 200 and ok.json()["paging"]["total_count"] == 0
    naive = get(
        tenant,
        "/sessions",
        start_time="2024-01-03T00:00:00",
        end_time="2024-01-03T00:00:00.5+02:00",
    )
    assert naive.status_code == 400  # 2024-01-02T22:00:00.5Z is before the naive (UTC) start


def test_unknown_resources_are_404(tenant: Tenant) -> None:
    sdk = tenant.sdk()
    kit = sdk.realtime_kit.sessions
    with pytest.raises(cloudflare.NotFoundError) as err:
        kit.get_session_details(
            "no-such-session", account_id=tenant.account_id, app_id=tenant.app_id
        )
    assert err.value.status_code == 404 and "no-such-session" in str(err.value)
    with pytest.raises(cloudflare.NotFoundError):
        kit.get_session_participants(
            "no-such-session", account_id=tenant.account_id, app_id=tenant.app_id
        )
    with pytest.raises(cloudflare.NotFoundError):
        kit.get_participant_data_from_peer_id(
            "no-such-peer", account_id=tenant.account_id, app_id=tenant.app_id
        )
    with pytest.raises(cloudflare.NotFoundError):
        kit.get_sessions("no-such-app", account_id=tenant.account_id)
    assert_envelope(get(tenant, "/sessions/nope/participants/nobody"), 404, "nope")
    assert_envelope(get(tenant, "/sessions/peer-report/chat"), 404, "peer chat")
    response = httpx.get(f"{tenant.server.url}/client/v4/not/a/route", timeout=10)
    assert_envelope(response, 404, "route")


def test_participant_of_another_session_is_404(tenant: Tenant) -> None:
    post_events(
        tenant,
        [
            {
                "id": "a",
                "type": "peer.joined",
                "timestamp": 1_700_000_000_000,
                "peer_id": "pa",
                "meeting_id": "ma",
                "session_id": "sa",
            },
            {
                "id": "b",
                "type": "peer.joined",
                "timestamp": 1_700_000_000_000,
                "peer_id": "pb",
                "meeting_id": "mb",
                "session_id": "sb",
            },
        ],
    )
    assert get(tenant, "/sessions/sa/participants/pa").status_code == 200
    assert_envelope(get(tenant, "/sessions/sa/participants/pb"), 404, "pb")


def test_authentication_and_scope(live_server: LiveServer, tenant: Tenant) -> None:
    assert_envelope(get(tenant, "/sessions", token=None), 401, "authorization")
    assert_envelope(get(tenant, "/sessions", token="rtk_wrong"), 401, "invalid api token")
    bad_scheme = httpx.get(
        f"{tenant.server.base_url}/accounts/{tenant.account_id}/realtime/kit/{tenant.app_id}/sessions",
        headers={"Authorization": f"Basic {tenant.token}"},
        timeout=10,
    )
    assert_envelope(bad_scheme, 401, "malformed")
    other = make_tenant(live_server, "other")
    assert_envelope(get(tenant, "/sessions", token=other.token), 403, "account")
    # The other account's token on its own account but our app: our app is not in its account.
    foreign_app = httpx.get(
        f"{tenant.server.base_url}/accounts/{other.account_id}/realtime/kit/{tenant.app_id}/sessions",
        headers={"Authorization": f"Bearer {other.token}"},
        timeout=10,
    )
    assert_envelope(foreign_app, 404, tenant.app_id)
    too_long = httpx.get(
        f"{tenant.server.base_url}/accounts/{'a' * 33}/realtime/kit/{tenant.app_id}/sessions",
        headers={"Authorization": f"Bearer {tenant.token}"},
        timeout=10,
    )
    assert_envelope(too_long, 400, "account_id")
    with pytest.raises(cloudflare.AuthenticationError):
        cloudflare.Cloudflare(
            api_token="rtk_nope", base_url=tenant.server.base_url, max_retries=0
        ).realtime_kit.sessions.get_sessions(tenant.app_id, account_id=tenant.account_id)
    with pytest.raises(cloudflare.PermissionDeniedError):
        other.sdk().realtime_kit.sessions.get_sessions(tenant.app_id, account_id=tenant.account_id)
    # Ingestion takes the same credentials.
    post_events(tenant, [], token="rtk_wrong", expect=401)
    post_events(tenant, [], token=other.token, expect=403)


def test_wrong_method_is_405(tenant: Tenant) -> None:
    url = f"{tenant.server.base_url}/accounts/{tenant.account_id}/realtime/kit/{tenant.app_id}/sessions"
    response = httpx.delete(url, headers={"Authorization": f"Bearer {tenant.token}"}, timeout=10)
    assert_envelope(response, 405, "method")


def _post_raw(tenant: Tenant, content: bytes) -> httpx.Response:
    return httpx.post(
        ingest_url(tenant),
        content=content,
        timeout=30,
        headers={"Authorization": f"Bearer {tenant.token}", "Content-Type": "application/json"},
    )


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"{not json", "malformed json"),
        (b"", "malformed json"),
        (b"[]", "events"),
        (b'{"events": {}}', "events"),
        (
            b'{"events": [{"id": "1", "type": "peer.exploded", "timestamp": 1700000000000, "peer_id": "p"}]}',
            "unknown event type",
        ),
        (
            b'{"events": [{"id": "1", "type": "peer.joined", "timestamp": "soon", "peer_id": "p", "meeting_id": "m"}]}',
            "events[0].timestamp",
        ),
        (
            b'{"events": [{"id": "1", "type": "peer.joined", "timestamp": 1700000000, "peer_id": "p", "meeting_id": "m"}]}',
            "out of range",
        ),
        (
            b'{"events": [{"id": "1", "type": "peer.joined", "timestamp": 1700000000000, "peer_id": 7, "meeting_id": "m"}]}',
            "peer_id",
        ),
        (
            b'{"events": [{"id": "", "type": "peer.left", "timestamp": 1700000000000, "peer_id": "p"}]}',
            "events[0].id",
        ),
        (
            b'{"events": [{"id": "1", "type": "peer.stats", "timestamp": 1700000000000, "peer_id": "p", "connection_id": "c", "stats": 5}]}',
            "stats",
        ),
        (
            b'{"events": [{"id": "1", "type": "peer.joined", "timestamp": 1700000000000, "peer_id": "p", "meeting_id": "m", "participant": {"preset_view_type": "PARTY"}}]}',
            "preset_view_type",
        ),
        (
            b'{"events": [{"id": "1", "type": "peer.left", "timestamp": 1700000000000, "peer_id": "ghost"}]}',
            "unknown peer_id ghost",
        ),
        (
            b'{"events": [{"id": "1", "type": "peer.joined", "timestamp": 1700000000000, "peer_id": "p"}]}',
            "meeting_id is required",
        ),
    ],
)
def test_bad_ingestion_batches_are_400_and_store_nothing(
    tenant: Tenant, body: bytes, fragment: str
) -> None:
    assert_envelope(_post_raw(tenant, body), 400, fragment)
    assert get(tenant, "/sessions").json()["paging"]["total_count"] == 0


def test_a_bad_event_rejects_the_whole_batch(tenant: Tenant) -> None:
    good = {
        "id": "ok",
        "type": "peer.joined",
        "timestamp": 1_700_000_000_000,
        "peer_id": "p1",
        "meeting_id": "m1",
    }
    bad = {"id": "bad", "type": "peer.left", "timestamp": 1_700_000_000_001, "peer_id": "nobody"}
    body = post_events(tenant, [good, bad], expect=400).json()
    assert "events[1]" in body["error"]["message"]
    assert get(tenant, "/sessions").json()["paging"]["total_count"] == 0
    # Nothing was recorded as applied either: the good event is accepted when resent alone.
    assert post_events(tenant, [good]).json()["data"] == {"accepted": 1, "duplicates": 0}


def test_too_many_events_is_413(tenant: Tenant) -> None:
    events = [
        {"id": str(i), "type": "peer.left", "timestamp": 1_700_000_000_000, "peer_id": "p"}
        for i in range(1001)
    ]
    assert_envelope(
        _post_raw(tenant, httpx.Request("POST", "/", json={"events": events}).content),
        413,
        "too many",
    )


def test_garbage_never_yields_5xx(tenant: Tenant) -> None:
    """Random query strings and bodies: every answer is a 2xx or a 4xx with the envelope."""
    rng = random.Random(1234)
    alphabet = string.printable
    paths = [
        "/sessions",
        "/sessions/s",
        "/sessions/s/participants",
        "/sessions/s/participants/p",
        "/sessions/peer-report/p",
    ]
    keys = [
        "page_no",
        "per_page",
        "sort_by",
        "sort_order",
        "status",
        "start_time",
        "end_time",
        "search",
        "participants",
        "filters",
        "include_peer_events",
        "view",
        "include_breakout_rooms",
        "associated_id",
    ]
    for _ in range(150):
        params = {
            rng.choice(keys): "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))
            for _ in range(3)
        }
        response = get(tenant, rng.choice(paths), **params)
        assert response.status_code < 500, (params, response.text)
        if response.status_code >= 400:
            assert_envelope(response, response.status_code)
    shapes: list[Any] = [
        None,
        1,
        "x",
        [],
        {},
        {"events": [None]},
        {"events": [1]},
        {"events": [{"type": None}]},
        {
            "events": [
                {
                    "id": "z",
                    "type": "peer.stats",
                    "timestamp": 1.7e12,
                    "peer_id": "p",
                    "connection_id": "c",
                    "stats": [{"weird": True}],
                }
            ]
        },
    ]
    for shape in shapes:
        response = httpx.post(
            ingest_url(tenant),
            json=shape,
            headers={"Authorization": f"Bearer {tenant.token}"},
            timeout=10,
        )
        assert 400 <= response.status_code < 500, (shape, response.text)
        assert_envelope(response, response.status_code)
