"""Hostile input at the edge (issue 9, defects 1, 3, 5, 6, 7): out-of-range times and numbers,
NUL bytes and deep nesting get 400 with the error envelope on both databases, never a 5xx."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from rtk_sessions.clock import iso
from tests.api.test_errors import assert_envelope
from tests.conftest import Tenant
from tests.helpers import ingest_url, post_events

NUL = "\x00"


def _id(prefix: str = "e") -> str:
    return f"{prefix}-{uuid.uuid4()}"


def _post(tenant: Tenant, body: Any, **kwargs: Any) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"Authorization": f"Bearer {tenant.token}", "Content-Type": "application/json"}
    return httpx.post(ingest_url(tenant), content=content, headers=headers, timeout=60, **kwargs)


def _joined(
    peer_id: str, meeting_id: str, at: datetime | None = None, **extra: Any
) -> dict[str, Any]:
    return {
        "id": _id("join"),
        "type": "peer.joined",
        "timestamp": iso(at or datetime.now(UTC)),
        "peer_id": peer_id,
        "meeting_id": meeting_id,
        **extra,
    }


def _kit(tenant: Tenant) -> str:
    return f"{tenant.server.base_url}/accounts/{tenant.account_id}/realtime/kit/{tenant.app_id}"


# --- defect 1: times ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "when", ["9999-12-31T23:59:59Z", "2100-01-01T00:00:01Z", "1970-01-01T00:00:00Z", "0001-01-01"]
)
def test_iso_times_outside_2000_2100_are_400(tenant: Tenant, when: str) -> None:
    peer, meeting = _id("p"), _id("m")
    post_events(tenant, [_joined(peer, meeting)])
    left = {"id": _id(), "type": "peer.left", "timestamp": when, "peer_id": peer}
    body = assert_envelope(_post(tenant, {"events": [left]}), 400, "out of range (2000..2100)")
    assert "events[0].timestamp" in body["error"]["message"]
    segment = {
        "id": _id(),
        "type": "transcript.segment",
        "timestamp": iso(datetime.now(UTC)),
        "peer_id": peer,
        "start": iso(datetime.now(UTC)),
        "end": when,
        "text": "hi",
    }
    assert_envelope(_post(tenant, {"events": [segment]}), 400, "events[0].end")
    # the bounds themselves are times like any other
    edge = {"id": _id(), "type": "peer.left", "timestamp": "2100-01-01T00:00:00Z", "peer_id": peer}
    post_events(tenant, [edge])


@pytest.mark.parametrize("when", ["0001-01-01T00:00:00.0+00:01", "9999-12-31T23:59:59-00:01"])
def test_iso_times_whose_utc_is_outside_years_1_to_9999_are_400(tenant: Tenant, when: str) -> None:
    """Found by the fuzzer: a valid ISO 8601 text whose offset moves it past year 1 or 9999 in
    UTC overflowed in the conversion and answered 500 (ingestion and list queries alike)."""
    event = {"id": _id(), "type": "peer.devices", "timestamp": when, "peer_id": _id("p")}
    body = assert_envelope(_post(tenant, {"events": [event]}), 400, "not an ISO 8601 time")
    assert "events[0].timestamp" in body["error"]["message"]
    headers = {"Authorization": f"Bearer {tenant.token}"}
    listed = httpx.get(
        f"{_kit(tenant)}/sessions", params={"start_time": when}, headers=headers, timeout=60
    )
    assert_envelope(listed, 400, "start_time must be an ISO 8601 date-time")


# --- defect 3: NUL bytes -----------------------------------------------------------------------


def _nul_events(peer: str, meeting: str) -> list[tuple[str, dict[str, Any]]]:
    now = iso(datetime.now(UTC))
    stats = {"id": "OT1", "type": "outbound-rtp", "kind": "audio", "timestamp": 1.7e12}
    return [
        ("peer id", _joined(f"p{NUL}x", meeting)),
        ("meeting title", _joined(_id("p"), meeting, meeting_title=f"T{NUL}")),
        ("display name", _joined(_id("p"), meeting, participant={"display_name": NUL})),
        ("event id", {"id": f"e{NUL}", "type": "peer.left", "timestamp": now, "peer_id": peer}),
        (
            "chat payload",
            {
                "id": _id(),
                "type": "chat.message",
                "timestamp": now,
                "peer_id": peer,
                "payload_type": "TEXT_MESSAGE",
                "payload": f"hello{NUL}",
            },
        ),
        (
            "transcript text",
            {
                "id": _id(),
                "type": "transcript.segment",
                "timestamp": now,
                "peer_id": peer,
                "start": now,
                "end": now,
                "text": f"a{NUL}b",
            },
        ),
        (
            "metadata value",
            {
                "id": _id(),
                "type": "peer.metadata",
                "timestamp": now,
                "peer_id": peer,
                "device_info": {"os": f"x{NUL}"},
            },
        ),
        (
            "metadata key",
            {
                "id": _id(),
                "type": "peer.event",
                "timestamp": now,
                "peer_id": peer,
                "name": "x",
                "metadata": {f"k{NUL}": 1},
            },
        ),
        (
            "stats key",
            {
                "id": _id(),
                "type": "peer.stats",
                "timestamp": now,
                "peer_id": peer,
                "connection_id": "pc0",
                "stats": [{**stats, f"bytes{NUL}Sent": 5}],
            },
        ),
        (
            "stats value",
            {
                "id": _id(),
                "type": "peer.stats",
                "timestamp": now,
                "peer_id": peer,
                "connection_id": "pc0",
                "stats": [{**stats, "mid": f"0{NUL}"}],
            },
        ),
    ]


def test_nul_anywhere_in_an_ingestion_event_is_400(tenant: Tenant) -> None:
    peer, meeting = _id("p"), _id("m")
    post_events(tenant, [_joined(peer, meeting)])
    cases = _nul_events(peer, meeting)
    for name, event in cases:
        response = _post(tenant, {"events": [event]})
        assert response.status_code == 400, (name, response.text)
        assert_envelope(response, 400, "NUL")
    # nothing of them was stored: the peer is the only one of the meeting, and it is still in
    sessions = tenant.sdk().realtime_kit.sessions
    listed = sessions.get_sessions(tenant.app_id, account_id=tenant.account_id).data.sessions
    assert len(listed) == 1
    people = sessions.get_session_participants(
        listed[0].id, account_id=tenant.account_id, app_id=tenant.app_id
    ).data.participants
    assert [p.id for p in people] == [peer]


def test_escapes_other_than_nul_in_a_stats_report_are_accepted(tenant: Tenant) -> None:
    """The NUL check of reports looks for a backslash first: other escapes, and an escaped
    backslash followed by ``u0000`` (the text, not a NUL), pass."""
    peer, meeting = _id("p"), _id("m")
    post_events(tenant, [_joined(peer, meeting)])
    now = iso(datetime.now(UTC))
    stats = {"id": "t", "type": "transport", "timestamp": 1.0}
    for mid in ('a"b\\c\n\u00e9', "\\u0000"):
        event = {
            "id": _id(),
            "type": "peer.stats",
            "timestamp": now,
            "peer_id": peer,
            "connection_id": "pc0",
            "stats": [{**stats, "mid": mid}],
        }
        raw = json.dumps({"events": [event]}).encode()
        assert b"\\" in raw
        response = _post(tenant, raw)
        assert response.status_code == 200, (mid, response.text)


def test_nul_in_meetings_api_bodies_queries_and_paths_is_400(tenant: Tenant) -> None:
    headers = {"Authorization": f"Bearer {tenant.token}"}
    base = _kit(tenant)
    meeting = httpx.post(f"{base}/meetings", json={"title": "ok"}, headers=headers, timeout=30)
    assert meeting.status_code == 200, meeting.text
    meeting_id = meeting.json()["data"]["id"]
    participant = {"name": "Ada", "preset_name": "p", "custom_participant_id": "c1"}
    added = httpx.post(
        f"{base}/meetings/{meeting_id}/participants", json=participant, headers=headers, timeout=30
    )
    assert added.status_code == 200, added.text
    participant_id = added.json()["data"]["id"]
    requests: list[tuple[str, str, dict[str, Any]]] = [
        ("POST", "/meetings", {"json": {"title": f"a{NUL}"}}),
        ("POST", "/meetings", {"json": {"title": "t", "x": [{f"k{NUL}": 1}]}}),
        ("PATCH", f"/meetings/{meeting_id}", {"json": {"title": NUL}}),
        ("PUT", f"/meetings/{meeting_id}", {"json": {"title": NUL}}),
        (
            "POST",
            f"/meetings/{meeting_id}/participants",
            {"json": {**participant, "name": f"A{NUL}"}},
        ),
        (
            "PATCH",
            f"/meetings/{meeting_id}/participants/{participant_id}",
            {"json": {"name": f"A{NUL}"}},
        ),
        ("GET", "/meetings", {"params": {"search": f"a{NUL}"}}),
        ("GET", "/meetings", {"params": {f"x{NUL}": "1"}}),
        ("GET", "/meetings/m%00x", {}),
        ("GET", f"/meetings/{meeting_id}/participants/p%00", {}),
        ("GET", "/sessions", {"params": {"search": NUL}}),
        ("GET", "/sessions/s%00", {}),
        ("GET", "/sessions/s%00/participants", {}),
        ("GET", "/sessions/peer-report/p%00", {}),
        ("GET", "/sessions/s%00/chat", {}),
        ("GET", "/sessions/s%00/transcript", {}),
        ("POST", "/sessions/s%00/summary", {}),
        ("GET", "/sessions/s%00/summary", {}),
    ]
    for method, path, kwargs in requests:
        response = httpx.request(method, base + path, headers=headers, timeout=30, **kwargs)
        assert response.status_code == 400, (method, path, response.text)
        assert_envelope(response, 400, "NUL")
    app = httpx.post(
        f"{tenant.server.base_url}/accounts/{tenant.account_id}/realtime/kit/apps",
        json={"name": f"a{NUL}"},
        headers=headers,
        timeout=30,
    )
    assert_envelope(app, 400, "NUL")
    ingest = httpx.post(ingest_url(tenant) + "?token=a%00b", json={"events": []}, timeout=30)
    assert_envelope(ingest, 400, "NUL")
    # the meeting and participant are unchanged
    got = httpx.get(f"{base}/meetings/{meeting_id}", headers=headers, timeout=30).json()["data"]
    assert got["title"] == "ok"


# --- defect 5: deep nesting ---------------------------------------------------------------------


def _nested(depth: int) -> Any:
    value: Any = 1
    for level in range(depth):
        value = [value] if level % 2 else {"a": value}
    return value


DEEP = "__deep__"


def _with_deep(body: dict[str, Any], depth: int = 1000) -> bytes:
    """``body`` as JSON with the string ``DEEP`` replaced by arrays and objects nested ``depth``
    levels (json.dumps itself cannot write that deep)."""
    opening = "".join("[" if level % 2 else '{"a":' for level in reversed(range(depth)))
    closing = "".join("]" if level % 2 else "}" for level in range(depth))
    return json.dumps(body).replace(f'"{DEEP}"', opening + "1" + closing).encode()


def test_deep_nesting_is_400(tenant: Tenant) -> None:
    peer, meeting = _id("p"), _id("m")
    post_events(tenant, [_joined(peer, meeting)])
    now = iso(datetime.now(UTC))
    stats = {"id": "OT1", "type": "outbound-rtp", "kind": "audio", "timestamp": 1.7e12}
    deep = DEEP
    events = [
        {
            "id": _id(),
            "type": "peer.stats",
            "timestamp": now,
            "peer_id": peer,
            "connection_id": "pc0",
            "stats": [{**stats, "x": deep}],
        },
        {
            "id": _id(),
            "type": "peer.metadata",
            "timestamp": now,
            "peer_id": peer,
            "pc_metadata": deep,
        },
        {
            "id": _id(),
            "type": "peer.stats",
            "timestamp": now,
            "peer_id": peer,
            "connection_id": "pc0",
            "stats": [stats],
            "labels": [deep],
        },
    ]
    for event in events:
        raw = _with_deep({"events": [event]})
        assert raw.count(b"[") > 450
        assert_envelope(_post(tenant, raw), 400, "nested deeper than 32")
    headers = {"Authorization": f"Bearer {tenant.token}", "Content-Type": "application/json"}
    meeting_body = httpx.post(
        f"{_kit(tenant)}/meetings",
        content=_with_deep({"title": "t", "x": deep}),
        headers=headers,
        timeout=30,
    )
    assert_envelope(meeting_body, 400, "nested deeper than 32")
    # deeper than the JSON parser goes at all: still the envelope
    raw = b'{"events": [' + b"[" * 5000 + b"]" * 5000 + b"]}"
    assert_envelope(_post(tenant, raw), 400, "Malformed JSON")
    # the documented bound: the body is level 1, its events list 2, an event 3, so a metadata
    # value may hold 29 more levels of arrays and objects, and not 30
    shallow = {"id": _id(), "type": "peer.metadata", "timestamp": now, "peer_id": peer}
    post_events(tenant, [{**shallow, "pc_metadata": _nested(29)}])
    refused = _post(tenant, {"events": [{**shallow, "id": _id(), "pc_metadata": _nested(30)}]})
    assert_envelope(refused, 400, "nested deeper than 32 levels")


# --- defect 6: numbers beyond 64 bits -----------------------------------------------------------


def _stats_event(peer: str, at_ms: float, **members: Any) -> dict[str, Any]:
    outbound = {
        "id": "OT01A1",
        "type": "outbound-rtp",
        "kind": "audio",
        "ssrc": 1,
        "timestamp": at_ms,
        "packetsSent": 100,
        "bytesSent": 10_000,
        **members,
    }
    return {
        "id": _id("stats"),
        "type": "peer.stats",
        "timestamp": at_ms,
        "peer_id": peer,
        "connection_id": "pc0",
        "transport": "producing",
        "stats": [outbound],
    }


def _finite(text: str) -> Any:
    def refuse(constant: str) -> Any:
        raise AssertionError(f"non-finite number in JSON: {constant}")

    return json.loads(text, parse_constant=refuse)


@pytest.mark.parametrize("huge", [2**80, 2**63, -(2**63), 1e308, -1e308, 1.8e19])
def test_numbers_beyond_64_bits_in_stats_are_taken_as_absent_and_the_report_stays_readable(
    tenant: Tenant, huge: float
) -> None:
    """Real browsers send such numbers in getStats (Firefox: ``framerateMean`` 1.8e308), so a
    report carrying them is accepted; nothing non-finite may reach the peer report. Outside the
    reports they are refused (``test_numbers_beyond_64_bits_outside_stats_are_400``)."""
    peer, meeting = _id("p"), _id("m")
    start = datetime.now(UTC) - timedelta(seconds=30)
    t0 = start.timestamp() * 1000
    post_events(tenant, [_joined(peer, meeting, at=start), _stats_event(peer, t0 + 1000)])
    post_events(tenant, [_stats_event(peer, t0 + 2000, bytesSent=huge, jitter=huge)])
    post_events(tenant, [_stats_event(peer, t0 + 3000, packetsSent=huge, roundTripTime=huge)])
    post_events(tenant, [_stats_event(peer, t0 + 4000, packetsSent=200, bytesSent=20_000)])
    # the largest magnitude accepted elsewhere is stored and read back like any other
    post_events(tenant, [_stats_event(peer, t0 + 5000, packetsSent=300, bytesSent=2**63 - 1)])
    report = httpx.get(
        f"{_kit(tenant)}/sessions/peer-report/{peer}",
        params={
            "filters": "device_info,ip_information,precall_network_information,events,quality_stats"
        },
        headers={"Authorization": f"Bearer {tenant.token}"},
        timeout=30,
    )
    assert report.status_code == 200, report.text
    body = _finite(report.text)
    participant = body["data"]["participant"]
    assert participant["id"] == peer
    samples = participant["peer_report"]["quality"]["audio_producer"]
    assert samples, "the reports after the huge ones still make rows"
    assert (samples[-1]["packets_sent"], samples[-1]["bytes_sent"]) == (100, 2**63 - 1 - 20_000)


def test_numbers_beyond_64_bits_outside_stats_are_400(tenant: Tenant) -> None:
    peer, meeting = _id("p"), _id("m")
    post_events(tenant, [_joined(peer, meeting)])
    event = {
        "id": _id(),
        "type": "peer.event",
        "timestamp": iso(datetime.now(UTC)),
        "peer_id": peer,
        "name": "x",
        "metadata": {"n": 2**80},
    }
    assert_envelope(_post(tenant, {"events": [event]}), 400, "events[0].metadata.n")
