"""A small hand-made dump shaped like Chrome's "Create dump" (values are JSON strings, series of
different lengths right-aligned on endTime, an old-Chrome object without statsType, computed
'-[...]' series). Real Chromium dumps are checked elsewhere."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from rtk_sessions.importers import RecordingFormatError, load_recording
from rtk_sessions.importers.webrtc_internals import split_key

T0 = 1_700_000_000_000.0  # epoch ms of the first poll
STEPS = [0.0, 1000.4, 2000.9, 3001.2, 4001.8]  # Chrome polls about once a second


def iso(ms: float) -> str:
    return (
        datetime.fromtimestamp(ms / 1000, UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )


def series(
    values: Any, end_ms: float, stats_type: str | None = None, start_ms: float | None = None
) -> dict[str, Any]:
    s: dict[str, Any] = {
        "startTime": iso(start_ms if start_ms is not None else end_ms - 1000 * (len(values) - 1)),
        "endTime": iso(end_ms),
        "values": json.dumps(values),
    }
    if stats_type:
        s["statsType"] = stats_type
    return s


def make_dump() -> dict[str, Any]:
    ts = [T0 + d for d in STEPS]
    end = ts[-1]
    stats = {}
    # inbound audio: 5 polls; jitterBufferDelay appeared only at poll 3 (3 points)
    for fld, vals in {
        "timestamp": ts,
        "ssrc": [111] * 5,
        "kind": ["audio"] * 5,
        "packetsReceived": [10, 60, 110, 160, 210],
        "packetsLost": [0, 0, 1, 1, 3],
        "jitterBufferDelay": [1.5, 2.5, 3.5],
        "codecId": ["CIT01_111"] * 5,
    }.items():
        stats[f"IT01A111-{fld}"] = series(vals, end, "inbound-rtp")
    stats["IT01A111-[bytesReceived_in_bits/s]"] = series([0, 1, 2, 3, 4], end, "inbound-rtp")
    # outbound video that went away 2 polls before the end (endTime earlier), 2 points
    for fld, vals in {
        "timestamp": ts[1:3],
        "ssrc": [222, 222],
        "kind": ["video", "video"],
        "packetsSent": [40, 90],
        "qualityLimitationDurations": [
            {"none": 1.0, "bandwidth": 0.0},
            {"none": 1.5, "bandwidth": 0.5},
        ],
    }.items():
        stats[f"OT01V222-{fld}"] = series(vals, ts[2], "outbound-rtp")
    # candidate pair whose id contains '+' and '/', fields with no timestamp series
    cp = "CPEj20viki_PNhd8l+T/x="
    stats[f"{cp}-currentRoundTripTime"] = series(
        [0.01, 0.02, 0.03, 0.04, 0.05], end, "candidate-pair"
    )
    stats[f"{cp}-nominated"] = series([True] * 5, end, "candidate-pair")
    # old Chrome: no statsType, ids tell the type
    stats["RTCInboundRTPVideoStream_333-timestamp"] = series(ts[-2:], end)
    stats["RTCInboundRTPVideoStream_333-framesDecoded"] = series([30, 60], end)
    stats["RTCIceCandidate_abc-isRemote"] = series([True] * 5, end)
    stats["RTCIceCandidate_abc-port"] = series([5000] * 5, end)
    return {
        "getUserMedia": [
            {
                "request_id": 0,
                "origin": "https://x",
                "pid": 1,
                "rid": 1,
                "audio": "",
                "video": "{width: 1280}",
                "timestamp": T0 + 500,
                "request_type": "getUserMedia",
            },
            {"request_id": 1, "timestamp": T0 - 3_600_000, "audio": ""},
        ],
        "PeerConnections": {
            "1234-1": {
                "pid": 1234,
                "url": "https://x/room",
                "rtcConfiguration": "{ iceServers: [] }",
                "constraints": "",
                "updateLog": [
                    {"type": "create", "value": "", "timestamp": T0 - 800},
                    {
                        "type": "iceconnectionstatechange",
                        "value": "checking",
                        "timestamp": T0 - 500,
                    },
                    {
                        "type": "iceconnectionstatechange",
                        "value": "connected",
                        "timestamp": T0 - 300,
                    },
                    {"type": "setLocalDescription", "value": "type: offer", "timestamp": T0 - 700},
                ],
                "stats": stats,
            },
        },
        "UserAgent": "Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0.0.0 Safari/537.36",
        "UserAgentData": [],
        "hardwareConcurrency": 8,
        "deviceMemory": 8,
    }


def test_split_key() -> None:
    assert split_key("IT01A111-packetsReceived") == ("IT01A111", "packetsReceived")
    assert split_key("CPEj20viki_PNhd8l+T/x=-nominated") == ("CPEj20viki_PNhd8l+T/x=", "nominated")
    assert split_key("CIT01_111_minptime=10;useinbandfec=1-mimeType") == (
        "CIT01_111_minptime=10;useinbandfec=1",
        "mimeType",
    )
    assert split_key("IT01A111-[jitterBufferDelay/jitterBufferEmittedCount_in_ms]") is None


def test_internals_dump_rebuilds_reports(tmp_path: Path) -> None:
    p = tmp_path / "webrtc_internals_dump.txt"
    p.write_text(json.dumps(make_dump()))
    rec = load_recording(p)
    assert rec.format == "webrtc-internals"
    c = rec.clients[0]
    assert c.user_agent is not None and c.user_agent.startswith("Mozilla/5.0 (X11")
    assert c.metadata == {
        "sdk_name": "webrtc-internals",
        "user_agent": c.user_agent,
        "device_info": {"cpus": 8},
    }
    assert [s.timestamp_ms for s in c.stats] == [T0 + d for d in STEPS]
    assert {s.connection_id for s in c.stats} == {"1234-1"}
    assert c.join_ms == T0 - 800 and c.leave_ms == T0 + STEPS[-1]
    r = [s.report for s in c.stats]
    a = [x["IT01A111"] for x in r]
    assert [x["packetsReceived"] for x in a] == [10, 60, 110, 160, 210]
    assert [x.get("jitterBufferDelay") for x in a] == [None, None, 1.5, 2.5, 3.5]  # right-aligned
    assert a[0] == {
        "id": "IT01A111",
        "type": "inbound-rtp",
        "timestamp": T0,
        "ssrc": 111,
        "kind": "audio",
        "packetsReceived": 10,
        "packetsLost": 0,
        "codecId": "CIT01_111",
    }
    assert not any("[" in k for x in a for k in x)
    # outbound video only in polls 1 and 2 (its endTime is 2 polls before the end)
    assert ["OT01V222" in x for x in r] == [False, True, True, False, False]
    assert r[2]["OT01V222"]["qualityLimitationDurations"] == {"none": 1.5, "bandwidth": 0.5}
    assert r[1]["OT01V222"]["timestamp"] == T0 + STEPS[1]
    cp = "CPEj20viki_PNhd8l+T/x="
    assert [x[cp]["currentRoundTripTime"] for x in r] == [0.01, 0.02, 0.03, 0.04, 0.05]
    assert r[0][cp]["type"] == "candidate-pair" and r[0][cp]["timestamp"] == T0
    assert ["RTCInboundRTPVideoStream_333" in x for x in r] == [False, False, False, True, True]
    assert r[4]["RTCInboundRTPVideoStream_333"]["type"] == "inbound-rtp"
    assert r[0]["RTCIceCandidate_abc"]["type"] == "remote-candidate"
    assert [(n, m.get("state")) for n, _, m in c.events] == [
        ("peer_connection_created", None),
        ("ice_connection_state", "checking"),
        ("ice_connection_state", "connected"),
        ("get_user_media", None),
    ]
    assert c.events[-1][2] == {
        "audio": "",
        "video": "{width: 1280}",
        "request_type": "getUserMedia",
    }


@pytest.mark.parametrize(
    "doc, message",
    [
        ({"foo": 1}, "not a webrtc-internals dump"),
        ({"PeerConnections": {}}, "no peer connection"),
        ({"PeerConnections": {"1-1": {"stats": {"X-a": {"values": "[1,"}}}}}, "unreadable values"),
    ],
)
def test_internals_errors(tmp_path: Path, doc: dict[str, Any], message: str) -> None:
    p = tmp_path / "bad.json"
    p.write_text(json.dumps(doc))
    with pytest.raises(RecordingFormatError, match=message):
        load_recording(p)


def test_truncated_internals_dump(tmp_path: Path) -> None:
    p = tmp_path / "cut.json"
    p.write_text(json.dumps(make_dump())[:-200])
    with pytest.raises(RecordingFormatError, match="not valid JSON"):
        load_recording(p)
