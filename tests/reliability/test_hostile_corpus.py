"""A hostile-input corpus for ingestion (issue 9, point 4), on both databases.

Every hostile body (the defects' cases, broken and unusual Unicode, invalid UTF-8, huge bodies,
wrong content types, non-objects, out-of-range numbers and times, deep nesting) is answered with a
4xx and the error envelope, never a 5xx, and stores nothing (every table's rows of the tenant are
counted before and after). Valid but unusual Unicode is stored and read back unchanged. A batch
of 1,000 events sharing one id is applied once, and the same events sent again, or by several
clients at once, are never counted twice.
"""

from __future__ import annotations

import json
import threading
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from rtk_sessions.clock import iso
from rtk_sessions.storage.engine import Database
from tests.api.test_errors import assert_envelope
from tests.conftest import LiveServer
from tests.helpers import ingest_url
from tests.reliability import figures
from tests.reliability.conftest import dialect
from tests.reliability.world import World, build_world, row_counts

JSON_TYPE = "application/json"


def _now(offset_s: float = 0) -> str:
    return iso(datetime.now(UTC) + timedelta(seconds=offset_s))


def _chat(peer: str, payload: Any = "hi", **extra: Any) -> dict[str, Any]:
    return {
        "id": f"c-{uuid.uuid4()}",
        "type": "chat.message",
        "timestamp": _now(),
        "peer_id": peer,
        "payload_type": "TEXT_MESSAGE",
        "payload": payload,
        **extra,
    }


def _events(*events: dict[str, Any]) -> bytes:
    return json.dumps({"events": list(events)}).encode()


def corpus(world: World) -> list[tuple[str, bytes, str | None, set[int]]]:
    """(name, raw body, content type, allowed statuses) of hostile requests."""
    peer = world.peer_id
    chat = json.dumps({"events": [_chat(peer, "PAYLOAD")]})
    stats = {"id": "OT1", "type": "outbound-rtp", "kind": "audio", "timestamp": 1.7e12}
    bad = {400}
    cases: list[tuple[str, bytes, str | None, set[int]]] = [
        # invalid UTF-8 and broken Unicode
        (
            "invalid UTF-8 byte",
            chat.replace("PAYLOAD", "a\udcff").encode("utf-8", "surrogateescape"),
            JSON_TYPE,
            bad,
        ),
        ("overlong UTF-8 '/'", chat.encode().replace(b"PAYLOAD", b"\xc0\xaf"), JSON_TYPE, bad),
        ("overlong UTF-8 NUL", chat.encode().replace(b"PAYLOAD", b"\xc0\x80"), JSON_TYPE, bad),
        (
            "UTF-8 encoded surrogate",
            chat.encode().replace(b"PAYLOAD", b"\xed\xa0\x80"),
            JSON_TYPE,
            bad,
        ),
        (
            "escaped lone high surrogate",
            chat.replace("PAYLOAD", "\\ud800").encode(),
            JSON_TYPE,
            bad,
        ),
        (
            "escaped lone low surrogate",
            chat.replace("PAYLOAD", "x\\udfff").encode(),
            JSON_TYPE,
            bad,
        ),
        ("lone surrogate in a peer id", chat.replace(peer, "p\\ud83d").encode(), JSON_TYPE, bad),
        (
            "truncated UTF-8 sequence",
            chat.encode().replace(b"PAYLOAD", b"\xe2\x82"),
            JSON_TYPE,
            bad,
        ),
        (
            "code point beyond U+10FFFF",
            chat.encode().replace(b"PAYLOAD", b"\xf4\x90\x80\x80"),
            JSON_TYPE,
            bad,
        ),
        ("UTF-16 body", chat.encode("utf-16"), JSON_TYPE, bad),
        ("escaped NUL", chat.replace("PAYLOAD", "a\\u0000b").encode(), JSON_TYPE, bad),
        # not a batch
        ("empty body", b"", JSON_TYPE, bad),
        ("null", b"null", JSON_TYPE, bad),
        ("a list", b"[]", JSON_TYPE, bad),
        ("a string", b'"events"', JSON_TYPE, bad),
        ("events not a list", b'{"events": {"0": 1}}', JSON_TYPE, bad),
        ("an event not an object", b'{"events": [1]}', JSON_TYPE, bad),
        ("trailing garbage", chat.encode() + b"}}", JSON_TYPE, bad),
        ("NaN literal", _events(_chat(peer)).replace(b'"hi"', b"NaN"), JSON_TYPE, bad),
        (
            "Infinity timestamp",
            _events(_chat(peer)).replace(b'"timestamp": "', b'"t": Infinity, "x": "'),
            JSON_TYPE,
            bad,
        ),
        (
            "1e999 timestamp",
            json.dumps({"events": [{**_chat(peer), "timestamp": "T"}]})
            .replace('"T"', "1e999")
            .encode(),
            JSON_TYPE,
            bad,
        ),
        # wrong content types
        ("form-encoded", b"events=%5B%5D", "application/x-www-form-urlencoded", bad | {415}),
        (
            "multipart",
            b'--b\r\nContent-Disposition: form-data; name="events"\r\n\r\n[]\r\n--b--\r\n',
            "multipart/form-data; boundary=b",
            bad | {415},
        ),
        ("XML", b"<events><event/></events>", "application/xml", bad | {415}),
        ("binary", bytes(range(256)) * 64, "application/octet-stream", bad | {415}),
        # sizes
        (
            "body over 20 MiB",
            b'{"events": [], "pad": "' + b"x" * (21 * 1024 * 1024) + b'"}',
            JSON_TYPE,
            {413},
        ),
        ("1,001 events", _events(*[_chat(peer) for _ in range(1001)]), JSON_TYPE, {413}),
        ("a 1 MiB event id", _events({**_chat(peer), "id": "i" * (1 << 20)}), JSON_TYPE, bad),
        ("a 1 MiB peer id", _events(_chat("p" * (1 << 20))), JSON_TYPE, bad),
        ("deep nesting", b'{"events": [' + b"[" * 100_000 + b"]" * 100_000 + b"]}", JSON_TYPE, bad),
        (
            "deep metadata",
            _events({**_chat(peer), "type": "peer.metadata", "pc_metadata": "D"}).replace(
                b'"D"', b'{"a":' * 40 + b"1" + b"}" * 40
            ),
            JSON_TYPE,
            bad,
        ),
        # numbers and times out of range
        ("timestamp 1e20 ms", _events({**_chat(peer), "timestamp": 1e20}), JSON_TYPE, bad),
        ("timestamp -1", _events({**_chat(peer), "timestamp": -1}), JSON_TYPE, bad),
        ("timestamp 2**80", _events({**_chat(peer), "timestamp": 2**80}), JSON_TYPE, bad),
        (
            "year 9999",
            _events({**_chat(peer), "timestamp": "9999-12-31T23:59:59Z"}),
            JSON_TYPE,
            bad,
        ),
        ("year 0", _events({**_chat(peer), "timestamp": "0000-01-01T00:00:00Z"}), JSON_TYPE, bad),
        (
            "February 30",
            _events({**_chat(peer), "timestamp": "2024-02-30T00:00:00Z"}),
            JSON_TYPE,
            bad,
        ),
        (
            "offset +25:00",
            _events({**_chat(peer), "timestamp": "2024-02-01T00:00:00+25:00"}),
            JSON_TYPE,
            bad,
        ),
        ("timestamp true", _events({**_chat(peer), "timestamp": True}), JSON_TYPE, bad),
        (
            "left in 9999",
            _events(
                {
                    "id": f"l-{uuid.uuid4()}",
                    "type": "peer.left",
                    "timestamp": "9999-12-31T23:59:59Z",
                    "peer_id": peer,
                }
            ),
            JSON_TYPE,
            bad,
        ),
        (
            "metadata number 2**80",
            _events(
                {
                    "id": f"m-{uuid.uuid4()}",
                    "type": "peer.event",
                    "timestamp": _now(),
                    "peer_id": peer,
                    "name": "x",
                    "metadata": {"n": 2**80},
                }
            ),
            JSON_TYPE,
            bad,
        ),
        (
            "stats timestamp 1e300",
            _events(
                {
                    "id": f"s-{uuid.uuid4()}",
                    "type": "peer.stats",
                    "timestamp": 1e300,
                    "peer_id": peer,
                    "connection_id": "pc0",
                    "stats": [stats],
                }
            ),
            JSON_TYPE,
            bad,
        ),
        # the defects' cases
        ("NUL in an event id", _events({**_chat(peer), "id": "e\x00"}), JSON_TYPE, bad),
        (
            "NUL in a stats key",
            _events(
                {
                    "id": f"s-{uuid.uuid4()}",
                    "type": "peer.stats",
                    "timestamp": _now(),
                    "peer_id": peer,
                    "connection_id": "pc0",
                    "stats": [{**stats, "a\x00": 1}],
                }
            ),
            JSON_TYPE,
            bad,
        ),
        ("unknown event type", _events({**_chat(peer), "type": "peer.exploded"}), JSON_TYPE, bad),
        (
            "missing id",
            _events({k: v for k, v in _chat(peer).items() if k != "id"}),
            JSON_TYPE,
            bad,
        ),
        ("empty id", _events({**_chat(peer), "id": ""}), JSON_TYPE, bad),
    ]
    return cases


def _post(
    http: httpx.Client, world: World, body: bytes, content_type: str | None
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {world.tenant.token}"}
    if content_type is not None:
        headers["Content-Type"] = content_type
    return http.post(ingest_url(world.tenant), content=body, headers=headers)


def test_hostile_ingestion_corpus(quiet_server: LiveServer) -> None:
    world = build_world(quiet_server, "hostile")
    db: Database = quiet_server.app.state.db
    before = row_counts(db, world)
    cases = corpus(world)
    statuses: dict[int, int] = {}
    with httpx.Client(timeout=120) as http:
        for name, body, content_type, allowed in cases:
            response = _post(http, world, body, content_type)
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
            assert response.status_code in allowed, (
                name,
                response.status_code,
                response.text[:300],
            )
            assert_envelope(response, response.status_code)
        assert row_counts(db, world) == before, "a refused batch stored something"
        # the server is unharmed: a valid batch is taken
        ok = _post(http, world, _events(_chat(world.peer_id, "after")), JSON_TYPE)
        assert ok.json()["data"] == {"accepted": 1, "duplicates": 0}, ok.text
    line = (
        f"hostile corpus [{dialect(quiet_server.database_url)}]: {len(cases)} hostile bodies, "
        f"answers {dict(sorted(statuses.items()))}, no 5xx, nothing stored"
    )
    figures.report(line)
    print(line)


UNUSUAL = [
    "emoji \U0001f600\U0001f3f3\ufe0f\u200d\U0001f308",
    "RTL \u202eevil\u202c mixed \u05e9\u05dc\u05d5\u05dd",
    "zero width \u200b\u200c\u200d\ufeff",
    "combining e\u0301\u0301\u0301",
    "max plane \U0010fffd",
    "controls \x01\x1f\x7f",
    "noncharacter \ufffe\uffff",
]


def test_unusual_unicode_is_stored_and_read_back(quiet_server: LiveServer) -> None:
    world = build_world(quiet_server, "unicode")
    kit = f"{world.kit}/{world.tenant.app_id}"
    with httpx.Client(timeout=60, headers=world.headers) as http:
        for k, text in enumerate(UNUSUAL):
            peer = f"peer-{k}-{text[:12]}" if text.isprintable() else f"peer-{k}"
            meeting = http.post(f"{kit}/meetings", json={"title": text})
            assert meeting.status_code == 200, (text, meeting.text)
            meeting_id = meeting.json()["data"]["id"]
            got = http.get(f"{kit}/meetings/{meeting_id}").json()["data"]
            assert got["title"] == text
            joined = {
                "id": f"j-{k}-{text}",
                "type": "peer.joined",
                "timestamp": _now(-10),
                "peer_id": peer,
                "meeting_id": meeting_id,
                "participant": {"display_name": text},
            }
            response = _post(http, world, _events(joined, _chat(peer, text)), JSON_TYPE)
            assert response.status_code == 200, (text, response.text)
            assert response.json()["data"] == {"accepted": 2, "duplicates": 0}
            again = _post(http, world, _events(joined), JSON_TYPE)
            assert again.json()["data"] == {"accepted": 0, "duplicates": 1}
            report = http.get(f"{kit}/sessions/peer-report/{peer}")
            assert report.status_code == 200, (text, report.text)
            assert report.json()["data"]["participant"]["id"] == peer


def test_one_id_a_thousand_times_and_replays_count_once(quiet_server: LiveServer) -> None:
    world = build_world(quiet_server, "replay")
    db: Database = quiet_server.app.state.db
    same = _chat(world.peer_id, "once")
    with httpx.Client(timeout=120) as http:
        first = _post(http, world, _events(*[same] * 1000), JSON_TYPE)
        assert first.json()["data"] == {"accepted": 1, "duplicates": 999}, first.text
        again = _post(http, world, _events(*[same] * 1000), JSON_TYPE)
        assert again.json()["data"] == {"accepted": 0, "duplicates": 1000}, again.text
    # the same new batch from eight clients at once: accepted once in all
    batch = _events(*[_chat(world.peer_id, f"concurrent {k}") for k in range(20)])
    answers: list[dict[str, int]] = []

    def client() -> None:
        with httpx.Client(timeout=120) as http:
            response = _post(http, world, batch, JSON_TYPE)
            assert response.status_code == 200, response.text
            answers.append(response.json()["data"])

    before = row_counts(db, world)
    threads = [threading.Thread(target=client) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert len(answers) == 8
    assert sum(a["accepted"] for a in answers) == 20
    assert all(a["accepted"] + a["duplicates"] == 20 for a in answers)
    after = row_counts(db, world)
    grown = {t: after[t] - before[t] for t in after if after[t] != before[t]}
    assert grown.get("ingested_events") == 20, grown
    assert grown.get("chat_messages", 20) == 20, grown
