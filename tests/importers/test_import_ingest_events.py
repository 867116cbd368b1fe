from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from rtk_sessions.importers import (
    RecordedClient,
    RecordingFormatError,
    StatsSnapshot,
    load_recording,
    to_ingest_events,
)

from .conftest import LEGACY
from .ingest_schema import Invalid, validate_batch, validate_event

KW: dict[str, Any] = {
    "peer_id": "peer-1",
    "meeting_id": "m-1",
    "session_id": "s-1",
    "meeting_title": "Imported",
    "id_prefix": "imp:abc",
}


def test_every_fixture_emits_valid_events(legacy_path: Path) -> None:
    c = load_recording(legacy_path).clients[0]
    events = to_ingest_events(c, **KW)
    validate_batch(events)
    json.dumps(events)  # serialisable as is
    types = [e["type"] for e in events]
    assert types[0] == "peer.joined" and types[1] == "peer.metadata" and types[-1] == "peer.left"
    assert types.count("peer.stats") == len(c.stats)
    assert types.count("peer.event") == len(c.events)
    ts = [e["timestamp"] for e in events]
    assert ts == sorted(ts)
    assert events[0]["timestamp"] == c.join_ms and events[-1]["timestamp"] == c.leave_ms
    assert [e["id"] for e in events] == [f"imp:abc:{n}" for n in range(len(events))]


def test_joined_and_metadata_payloads() -> None:
    c = load_recording(LEGACY["google-standard-stats-sfu"]).clients[0]
    ev = to_ingest_events(c, **KW, display_name="Alice")
    assert ev[0] == {
        "id": "imp:abc:0",
        "type": "peer.joined",
        "timestamp": c.join_ms,
        "peer_id": "peer-1",
        "meeting_id": "m-1",
        "session_id": "s-1",
        "meeting_title": "Imported",
        "participant": {
            "display_name": "Alice",
            "custom_participant_id": "jitsi-rtcstats_google-standard-stats-sfu",
        },
    }
    assert ev[1]["type"] == "peer.metadata"
    assert ev[1]["user_agent"].startswith("Mozilla/5.0 (Windows NT 10.0")
    assert ev[1]["sdk_name"] == "jitsi-rtcstats"
    no_title = to_ingest_events(c, **{**KW, "meeting_title": None})
    assert "meeting_title" not in no_title[0]
    assert no_title[0]["participant"]["display_name"] == c.name
    stats = [e for e in ev if e["type"] == "peer.stats"]
    assert stats[0]["connection_id"] == "PC_0" and stats[0]["transport"] is None
    assert isinstance(stats[0]["stats"], list)
    assert {o["id"] for o in stats[0]["stats"]} == set(c.stats[0].report)


def test_reimport_is_deterministic() -> None:
    a = to_ingest_events(load_recording(LEGACY["chrome-relay"]).clients[0], **KW)
    b = to_ingest_events(load_recording(LEGACY["chrome-relay"]).clients[0], **KW)
    assert a == b


def test_labels_attached_to_stats_with_those_ssrcs() -> None:
    c = load_recording(LEGACY["chrome-relay"]).clients[0]
    stats = [e for e in to_ingest_events(c, **KW) if e["type"] == "peer.stats"]
    for e in stats:
        ssrcs = {o["ssrc"] for o in e["stats"] if o["type"] in ("inbound-rtp", "outbound-rtp")}
        for lb in e.get("labels", []):
            assert lb["ssrc"] in ssrcs and lb["source"] == "camera"
    assert any(e.get("labels") for e in stats)


def test_label_in_force_at_snapshot_time() -> None:
    rep = {"o": {"id": "o", "type": "outbound-rtp", "timestamp": 0, "ssrc": 7, "kind": "video"}}
    c = RecordedClient(
        name="x",
        user_agent=None,
        join_ms=1000,
        leave_ms=5000,
        stats=[
            StatsSnapshot("PC_0", t, {k: {**v, "timestamp": t} for k, v in rep.items()})
            for t in (1000, 2000, 3000)
        ],
        label_history=[
            (2500.0, {"ssrc": 7, "kind": "video", "source": "screenshare"}),
            (1500.0, {"ssrc": 7, "kind": "video", "source": "camera"}),
        ][::-1],
    )
    ev = [e for e in to_ingest_events(c, **KW) if e["type"] == "peer.stats"]
    assert [e["labels"][0]["source"] for e in ev] == ["camera", "camera", "screenshare"]


def test_schema_checker_rejects_bad_events() -> None:
    good = {
        "id": "a:1",
        "type": "peer.event",
        "timestamp": 1.0e12,
        "peer_id": "p",
        "name": "x",
        "metadata": {"k": 1},
    }
    validate_event(good)
    for bad in (
        {**good, "metadata": {"k": {"nested": 1}}},
        {**good, "id": ""},
        {**good, "timestamp": "yesterday"},
        {**good, "bogus": 1},
        {**good, "type": "peer.stats", "connection_id": "c", "stats": [{"id": "x"}]},
    ):
        with pytest.raises(Invalid):
            validate_event(bad)


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "empty"),
        (b"\x00\x01\x02\xff\xfe garbage", "invalid UTF-8"),
        (b"hello world\n", "unrecognised recording format"),
        (b"[1, 2, 3]\n", "line 1 is not a legacy rtcstats record"),
        (b'["connectionInfo", null, {"userAgent": "x"}, 1]\n', "no peer-connection records"),
        (
            b'["connectionInfo", null, {}, 1]\n["create", "PC_0", {}, 2]\n{"a": 1}\n',
            "line 3 is not a legacy rtcstats record",
        ),
        (b'["create", "PC_0", {}, "noon"]\n["getstats", "PC_0", {}, 2]\n', "timestamp"),
        (b"\x1f\x8b\x08\x00garbage", "corrupt gzip"),
        (b'EVENTS = [{"eventName": "stats"}]', "peermetrics"),
    ],
)
def test_garbage_raises_clear_error(tmp_path: Path, content: bytes, message: str) -> None:
    p = tmp_path / "bad.jsonl"
    p.write_bytes(content)
    with pytest.raises(RecordingFormatError, match=message) as ei:
        load_recording(p)
    assert isinstance(ei.value, ValueError)
    assert "bad.jsonl" in str(ei.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(RecordingFormatError, match="cannot read"):
        load_recording(tmp_path / "nope.jsonl")
