from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from rtk_sessions.importers import RecordingFormatError, load_recording
from rtk_sessions.importers.jitsi_legacy import decompress
from tests import oracle

from .conftest import FIXTURES, LEGACY

EXPECTED = {  # getstats per PC, from counting the raw lines
    "google-standard-stats-p2p": {"PC_0": 29, "PC_1": 52},
    "google-standard-stats-sfu": {"PC_0": 34},
    "firefox-standard-stats-sfu": {"PC_0": 79},
    "chrome-standard-multiple-p2p": {
        "PC_0": 19,
        "PC_1": 32,
        "PC_2": 32,
        "PC_3": 33,
        "PC_4": 5,
        "PC_5": 4,
        "PC_6": 4,
    },
    "chrome-relay": {"PC_0": 13},
}


def _raw(path: Path) -> list[Any]:
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def test_every_fixture_loads_as_one_client(legacy_path: Path) -> None:
    rec = load_recording(legacy_path)
    assert rec.format == "jitsi-rtcstats"
    assert rec.source == legacy_path.name
    assert len(rec.sha256) == 64
    assert len(rec.clients) == 1
    c = rec.clients[0]
    key = next(k for k, p in LEGACY.items() if p == legacy_path)
    counts: dict[str, int] = {}
    for s in c.stats:
        counts[s.connection_id] = counts.get(s.connection_id, 0) + 1
    assert counts == EXPECTED[key]
    times = [s.timestamp_ms for s in c.stats]
    assert times == sorted(times)
    assert c.join_ms <= times[0] and times[-1] <= c.leave_ms
    assert c.user_agent and c.user_agent.startswith("Mozilla/5.0")
    assert c.metadata["sdk_name"] == "jitsi-rtcstats"
    assert c.metadata["user_agent"] == c.user_agent
    for s in c.stats:
        for sid, obj in s.report.items():
            assert obj["id"] == sid
            assert isinstance(obj["type"], str)
            assert isinstance(obj["timestamp"], int | float)
    assert all(c.join_ms <= ts <= c.leave_ms for _, ts, _ in c.events)


def test_sha256_matches_sources_md(legacy_path: Path) -> None:
    sums = {}
    text = (FIXTURES / "SOURCES.md").read_text()
    for line in text.split("```")[-2].splitlines():
        if line.strip():
            h, name = line.split()
            sums[name] = h
    assert load_recording(legacy_path).sha256 == sums[legacy_path.name]


def test_p2p_span_snapshots_and_stitched_timestamps() -> None:
    c = load_recording(LEGACY["google-standard-stats-p2p"]).clients[0]
    assert len(c.stats) == 81
    # first PC-bound record: ["create","PC_1",...] ; last: a PC_1 getstats record
    assert c.join_ms == 1605197599683
    assert c.leave_ms == 1605197701752
    # connectionInfo is stamped 2022-03-14 (stitched), it must not stretch the call
    raw = _raw(LEGACY["google-standard-stats-p2p"])
    assert raw[0][0] == "connectionInfo" and raw[0][3] == 1647251292157
    assert c.leave_ms - c.join_ms < 110_000
    # getUserMedia (16:12:44Z) is half a minute before the PCs exist: not in the span, no event
    assert not any(name.startswith("get_user_media") for name, _, _ in c.events)


def test_span_rule_matches_oracle(legacy_path: Path) -> None:
    c = load_recording(legacy_path).clients[0]
    exp = oracle.expected_peer(legacy_path)
    assert (c.join_ms, c.leave_ms) == (exp["join_ms"], exp["leave_ms"])


def test_decompression_by_hand_p2p() -> None:
    """Values read off the raw lines 94, 97, 112, 113, 115 of google-standard-stats-p2p (PC_0)."""
    c = load_recording(LEGACY["google-standard-stats-p2p"]).clients[0]
    pc0 = [s for s in c.stats if s.connection_id == "PC_0"]
    # line 94 (first PC_0 getstats): full object
    src = pc0[0].report["RTCAudioSource_1"]
    assert pc0[0].timestamp_ms == 1605197601499
    assert src["timestamp"] == 1605197601499  # "timestamp": 0 -> top-level
    assert src["audioLevel"] == 0.00012207403790398877
    assert src["totalSamplesDuration"] == 1.7400000000000013
    # line 97: {"timestamp":0,"totalAudioEnergy":4.364443965102771e-08,"totalSamplesDuration":2.08}
    src = pc0[1].report["RTCAudioSource_1"]
    assert src["timestamp"] == 1605197601843
    assert src["totalAudioEnergy"] == 4.364443965102771e-08
    assert src["totalSamplesDuration"] == 2.0799999999999996
    assert src["audioLevel"] == 0.00012207403790398877  # absent = unchanged
    assert src["trackIdentifier"] == "c9a9984e-3ac8-41e5-bf66-1f4f7098f230"
    assert src["kind"] == "audio" and src["type"] == "media-source"
    # line 112: candidate pair RTCIceCandidatePair_7nQ+QEPW_3mz/riqT is missing -> removed
    assert "RTCIceCandidatePair_7nQ+QEPW_3mz/riqT" in pc0[1].report
    assert "RTCIceCandidatePair_7nQ+QEPW_3mz/riqT" not in pc0[2].report
    # line 113: new remote-inbound-rtp with its own timestamp (not the top-level 1605197603685)
    ri = pc0[3].report["RTCRemoteInboundRtpAudioStream_2364213263"]
    assert pc0[3].timestamp_ms == 1605197603685
    assert ri["timestamp"] == 1605197602995 and ri["roundTripTime"] == 0.001
    # line 115: {} -> unchanged object, timestamp kept from the base
    ri = pc0[4].report["RTCRemoteInboundRtpAudioStream_2364213263"]
    assert ri["timestamp"] == 1605197602995 and ri["roundTripTime"] == 0.001
    assert ri["localId"] == "RTCOutboundRTPAudioStream_2364213263"


def test_decompress_semantics_unit() -> None:
    base: dict[str, Any] = {}
    decompress(
        base,
        {
            "timestamp": 10,
            "a": {"timestamp": 0, "type": "codec", "x": 1, "q": {"cpu": 1, "none": 2}},
            "b": {"timestamp": 0, "type": "transport"},
        },
    )
    assert base == {
        "a": {"timestamp": 10, "type": "codec", "x": 1, "q": {"cpu": 1, "none": 2}},
        "b": {"timestamp": 10, "type": "transport"},
    }
    snapshot_a = base["a"]
    decompress(base, {"timestamp": 20, "a": {"timestamp": 0, "q": {"cpu": 3}}, "c": {"type": "x"}})
    # nested objects are replaced wholesale, "b" is gone, a new object without timestamp gets 20
    assert base == {
        "a": {"timestamp": 20, "type": "codec", "x": 1, "q": {"cpu": 3}},
        "c": {"type": "x", "timestamp": 20},
    }
    assert snapshot_a["timestamp"] == 10  # earlier snapshots are not mutated
    decompress(base, {"timestamp": 30, "a": {}, "c": None})
    assert base == {"a": {"timestamp": 20, "type": "codec", "x": 1, "q": {"cpu": 3}}}


def test_importer_reports_equal_oracle_decompression(legacy_path: Path) -> None:
    """The importer's full reports equal the oracle's own tiny decompressor, line by line."""
    states: dict[str, dict[str, Any]] = {}
    expected: dict[str, list[Any]] = {}
    for method, pc, value, *_ in _raw(legacy_path):
        if method == "getstats" and pc is not None:
            states[pc] = oracle._undelta(states.get(pc, {}), value)
            expected.setdefault(pc, []).append(states[pc])
    c = load_recording(legacy_path).clients[0]
    got: dict[str, list[Any]] = {}
    for s in c.stats:
        got.setdefault(s.connection_id, []).append(
            {sid: {k: v for k, v in o.items() if k != "id"} for sid, o in s.report.items()}
        )
    assert set(got) == set(expected)
    for pc in got:
        assert len(got[pc]) == len(expected[pc])
        for g, e in zip(got[pc], expected[pc], strict=True):
            # the oracle leaves a new object without timestamp as is; we stamp it
            assert g.keys() == e.keys()
            for sid in g:
                ee = dict(e[sid])
                if "timestamp" not in ee:
                    ee["timestamp"] = g[sid]["timestamp"]
                assert g[sid] == ee


def test_labels_from_set_video_type() -> None:
    c = load_recording(LEGACY["chrome-relay"]).clients[0]
    assert c.labels == [
        {"ssrc": 3859036835, "kind": "video", "source": "camera"},
        {"ssrc": 3475661459, "kind": "video", "source": "camera"},
    ]


def test_desktop_label_is_screenshare(tmp_path: Path) -> None:
    lines = LEGACY["chrome-relay"].read_text().splitlines()
    # the sender switches the same ssrc to desktop later in the call
    out = list(lines)
    first_ts = json.loads(lines[0])[3]
    out.append(
        json.dumps(
            ["setVideoType", None, {"ssrc": 3859036835, "videoType": "desktop"}, first_ts + 60_000]
        )
    )
    p = tmp_path / "relay-screenshare.jsonl"
    p.write_text("\n".join(out) + "\n")
    c = load_recording(p).clients[0]
    assert {"ssrc": 3859036835, "kind": "video", "source": "screenshare"} in c.labels
    assert [lb for _, lb in c.label_history if lb["ssrc"] == 3859036835][-1][
        "source"
    ] == "screenshare"


@pytest.mark.parametrize("cut", [0.5, 0.999])
def test_truncated_file_raises(tmp_path: Path, cut: float) -> None:
    data = LEGACY["google-standard-stats-sfu"].read_bytes()
    p = tmp_path / "truncated.jsonl"
    cut_at = int(len(data) * cut)
    # cut in the middle of a line
    while data[cut_at - 1 : cut_at] == b"\n":
        cut_at -= 1
    p.write_bytes(data[:cut_at])
    with pytest.raises(RecordingFormatError, match=r"line \d+ is not valid JSON.*truncated"):
        load_recording(p)


def test_progress_reports_cumulative_bytes() -> None:
    seen: list[int] = []
    p = LEGACY["google-standard-stats-p2p"]
    load_recording(p, progress=seen.append)
    assert seen and seen[-1] == p.stat().st_size
    assert seen == sorted(seen)


def test_gzip_is_read_transparently(tmp_path: Path) -> None:
    import gzip

    p = tmp_path / "sfu.jsonl.gz"
    p.write_bytes(gzip.compress(LEGACY["google-standard-stats-sfu"].read_bytes()))
    rec = load_recording(p)
    assert len(rec.clients[0].stats) == 34
    assert rec.clients[0].name == "sfu"


def test_oracle_pinned_values_p2p() -> None:
    e = oracle.expected_peer(LEGACY["google-standard-stats-p2p"])
    assert e["getstats"] == 81 and e["connections"] == ["PC_0", "PC_1"]
    assert e["duration_minutes"] == 1.7011
    assert e["audio_producer"]["rows"] == 79  # 28 + 51 consecutive pairs, one audio ssrc
    assert e["audio_producer"]["rtt"]["avg"] == 14.7595
    assert e["video_producer"]["packet_loss"]["5_or_greater_event_fraction"] == 0.0112
    # 0.5013 before decision Q13 (rows of streams that had not received a packet yet counted)
    assert e["video_consumer"]["packet_loss"]["avg"] == 0.6645
    assert e["screenshare_video_producer"] == {"rows": 0, "packet_loss": {}, "rtt": {}}
