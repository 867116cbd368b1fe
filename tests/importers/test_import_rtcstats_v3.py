"""fileFormat 3: no public real dump was found, so the dumps are built from a real legacy fixture
following the format description (rtcstats/rtcstats packages/rtcstats-shared dump.js and
compression.js), plus a hand-written compressed sample checked against the code tables."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from rtk_sessions.importers import RecordingFormatError, load_recording, rtcstats_v3
from rtk_sessions.importers.jitsi_legacy import decompress as legacy_decompress

from .conftest import LEGACY

METHOD_V3 = {"getstats": "getStats"}


def _convert(
    legacy_path: Path, out_path: Path, *, compressed: bool, compress_methods: bool = False
) -> dict[str, Any]:
    """Legacy Jitsi dump -> RTCStatsDump fileFormat 3 (relative times, optional compression)."""
    lines = ["RTCStatsDump", json.dumps({"fileFormat": 3})]
    last = 0.0
    base_legacy: dict[str, dict[str, Any]] = {}
    prev_full: dict[str, dict[str, Any]] = {}
    id_maps: dict[str, dict[str, Any]] = {}
    with open(legacy_path) as f:
        for raw in f:
            if not raw.strip():
                continue
            method, pc, value, ts = json.loads(raw)
            if method == "connectionInfo":
                lines[1] = json.dumps({"fileFormat": 3, "userAgent": value["userAgent"]})
                continue
            if method == "getstats":
                full = legacy_decompress(base_legacy.setdefault(pc, {}), value)
                full = {sid: {**o, "id": sid} for sid, o in full.items()}
                if compressed:
                    value = rtcstats_v3.compress(
                        prev_full.get(pc, {}), full, id_maps.setdefault(pc, {})
                    )
                else:
                    value = full
                prev_full[pc] = json.loads(json.dumps(full))
                method = "getStats"
            if compress_methods:
                method = rtcstats_v3.METHOD_CODES.get(method, method)
            lines.append(json.dumps([method, pc, value, ts - last]))
            last = ts
    out_path.write_text("\n".join(lines) + "\n")
    return id_maps


def _strip(report: dict[str, Any]) -> dict[str, Any]:
    return {sid: {k: v for k, v in o.items() if k != "id"} for sid, o in report.items()}


@pytest.mark.parametrize(
    "name",
    ["google-standard-stats-p2p", "chrome-standard-multiple-p2p", "firefox-standard-stats-sfu"],
)
def test_uncompressed_v3_equals_legacy(tmp_path: Path, name: str) -> None:
    p = tmp_path / f"{name}.rtcstats"
    _convert(LEGACY[name], p, compressed=False)
    v3 = load_recording(p)
    legacy = load_recording(LEGACY[name]).clients[0]
    assert v3.format == "rtcstats-v3"
    c = v3.clients[0]
    assert (c.join_ms, c.leave_ms) == (legacy.join_ms, legacy.leave_ms)
    assert c.user_agent == legacy.user_agent
    assert [(s.connection_id, s.timestamp_ms) for s in c.stats] == [
        (s.connection_id, s.timestamp_ms) for s in legacy.stats
    ]
    for a, b in zip(c.stats, legacy.stats, strict=True):
        assert a.report == b.report
    assert c.events == legacy.events


@pytest.mark.parametrize("compress_methods", [False, True])
@pytest.mark.parametrize(
    "name",
    [
        "google-standard-stats-p2p",
        "chrome-standard-multiple-p2p",
        "firefox-standard-stats-sfu",
        "chrome-relay",
    ],
)
def test_compressed_v3_equals_legacy(tmp_path: Path, name: str, compress_methods: bool) -> None:
    p = tmp_path / f"{name}.rtcstats"
    id_maps = _convert(LEGACY[name], p, compressed=True, compress_methods=compress_methods)
    raw_lines = p.read_text().splitlines()
    assert any('"t":' in ln for ln in raw_lines[2:])  # really compressed
    c = load_recording(p).clients[0]
    legacy = load_recording(LEGACY[name]).clients[0]
    assert len(c.stats) == len(legacy.stats)
    for a, b in zip(c.stats, legacy.stats, strict=True):
        assert a.connection_id == b.connection_id and a.timestamp_ms == b.timestamp_ms
        back = {v: k for k, v in id_maps[a.connection_id].items()}
        restored = {}
        for sid, o in _strip(a.report).items():
            restored[back[sid]] = {
                k: (back.get(v, v) if k.endswith("Id") else v) for k, v in o.items()
            }
        expected = _strip(b.report)
        # compression.js drops an object that did not change at all (a stale remote-inbound-rtp
        # keeps its old timestamp), and statsDecompression stamps the copied object with the
        # report's t: the format itself loses that stale timestamp. Everything else is exact.
        assert restored.keys() == expected.keys()
        for sid in restored:
            got_ts = restored[sid].pop("timestamp")
            exp_ts = expected[sid].pop("timestamp")
            assert got_ts in (exp_ts, a.timestamp_ms)
            assert restored[sid] == expected[sid]


def test_hand_written_compressed_sample(tmp_path: Path) -> None:
    t0 = 1700000000000
    lines = [
        "RTCStatsDump",
        json.dumps({"fileFormat": 3, "userAgent": "Mozilla/5.0 test"}),
        json.dumps([39, "PC_0", {"iceServers": []}, t0]),  # create
        json.dumps([24, "PC_0", "checking", 5]),  # iceconnstate
        json.dumps(["onconnectionstatechange", "PC_0", '"connected"', 5]),  # Chrome writer
        # getStats ('g'): outbound-rtp (type 2) ssrc(10)=1111 kind(11)=audio packetsSent(79)=50
        # bytesSent(80)=4000; remote-inbound-rtp (3) roundTripTime(75) 0.05, packetsLost(15) 0
        json.dumps(
            [
                "g",
                "PC_0",
                {
                    "0": {
                        "type": 2,
                        "10": 1111,
                        "11": "audio",
                        "79": 50,
                        "80": 4000,
                        "96": {"none": 1.0, "cpu": 0},
                    },
                    "1": {"type": 3, "10": 1111, "75": 0.05, "15": 0, "74": "0", "t": t0 + 900},
                    "t": t0 + 1000,
                },
                990,
            ]
        ),
        json.dumps(
            ["g", "PC_0", {"0": {"79": 100, "80": 8000, "96": {"cpu": 0.5}}, "t": t0 + 2000}, 1000]
        ),
        json.dumps(["g", "PC_0", {"1": None, "t": t0 + 3000}, 1000]),
        json.dumps([36, "PC_0", None, 10]),  # close
    ]
    p = tmp_path / "sample.rtcstats"
    p.write_text("\n".join(lines) + "\n")
    rec = load_recording(p)
    c = rec.clients[0]
    assert c.user_agent == "Mozilla/5.0 test"
    assert c.join_ms == t0 and c.leave_ms == t0 + 3010
    s1, s2, s3 = c.stats
    assert s1.report["0"] == {
        "id": "0",
        "type": "outbound-rtp",
        "ssrc": 1111,
        "kind": "audio",
        "packetsSent": 50,
        "bytesSent": 4000,
        "qualityLimitationDurations": {"none": 1.0, "cpu": 0},
        "timestamp": t0 + 1000,
    }
    assert s1.report["1"] == {
        "id": "1",
        "type": "remote-inbound-rtp",
        "ssrc": 1111,
        "roundTripTime": 0.05,
        "packetsLost": 0,
        "localId": "0",
        "timestamp": t0 + 900,
    }
    assert s2.timestamp_ms == t0 + 2000
    assert s2.report["0"]["packetsSent"] == 100 and s2.report["0"]["kind"] == "audio"
    assert s2.report["0"]["qualityLimitationDurations"] == {"none": 1.0, "cpu": 0.5}  # merged
    assert s2.report["1"]["timestamp"] == t0 + 2000  # not sent: copied, stamped with the report t
    assert "1" not in s3.report and s3.report["0"]["packetsSent"] == 100
    assert [(n, m.get("state")) for n, _, m in c.events] == [
        ("peer_connection_created", None),
        ("ice_connection_state", "checking"),
        ("connection_state", "connected"),
        ("peer_connection_closed", None),
    ]


def test_property_table_spot_checks() -> None:
    P = rtcstats_v3.PROPERTIES
    assert (P["4"], P["10"], P["12"], P["14"], P["41"], P["75"], P["79"], P["80"]) == (
        "payloadType",
        "ssrc",
        "codecId",
        "packetsReceived",
        "bytesReceived",
        "roundTripTime",
        "packetsSent",
        "bytesSent",
    )
    assert (P["96"], P["145"], P["148"], P["161"], P["163"], P["166"], P["176"]) == (
        "qualityLimitationDurations",
        "networkType",
        "localCandidateId",
        "bytesDiscardedOnSend",
        "fingerprint",
        "issuerCertificateId",
        "ccfbMessagesReceived",
    )
    assert "13" not in P and "146" not in P and "162" not in P


@pytest.mark.parametrize(
    "content, message",
    [
        ("RTCStatsDump\n", "no header line"),
        ("RTCStatsDump\nnot json\n", "line 2"),
        ('RTCStatsDump\n{"fileFormat":2}\n', "unsupported RTCStatsDump fileFormat 2"),
        (
            'RTCStatsDump\n{"fileFormat":3}\n["create","PC_0",{},1]\n["getStats","PC_0",{"0":{',
            "truncated",
        ),
        ('RTCStatsDump\n{"fileFormat":3}\n', "no peer-connection records"),
    ],
)
def test_v3_errors(tmp_path: Path, content: str, message: str) -> None:
    p = tmp_path / "bad.rtcstats"
    p.write_text(content)
    with pytest.raises(RecordingFormatError, match=message):
        load_recording(p)
