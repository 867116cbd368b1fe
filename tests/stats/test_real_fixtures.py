"""Consecutive getstats reports of one peer connection from real rtcstats recordings."""

import itertools
from pathlib import Path
from typing import Any

import pytest

from rtk_sessions.stats import (
    KINDS,
    build_quality,
    candidate_pairs,
    compact_report,
    normalize_report,
    sample_rows,
)

from .rtcstats_dump import CHROME_99_P2P, CHROME_117_RELAY, FIREFOX_118_SFU, getstats_reports

_CACHE: dict[Path, Any] = {}


def _reports(path: Path, pc: str) -> list[Any]:
    if path not in _CACHE:
        _CACHE[path] = getstats_reports(path)
    reports: list[Any] = _CACHE[path][pc]
    return reports


def _run(path: Path, pc: str) -> dict[str, list[Any]]:
    """Feed the reports like the service: normalize, rows against the compacted cursor."""
    rows_by_kind: dict[str, list[Any]] = {}
    cursor = None
    for raw in _reports(path, pc):
        current = normalize_report(list(raw.values()))  # as the client sends it
        for row in sample_rows(cursor, current, namespace=f"peer:{pc}"):
            rows_by_kind.setdefault(row.kind, []).append(row)
        cursor = compact_report(current)
    return rows_by_kind


def test_decompressor_rebuilds_full_reports() -> None:
    reports = _reports(CHROME_117_RELAY, "PC_0")
    assert len(reports) == 13
    pair = reports[-1]["CPfJfiL0UU_pjplYfUx"]
    assert pair["type"] == "candidate-pair" and pair["timestamp"] > 1697705830000
    stamps = [r["OT01V2007858786"]["timestamp"] for r in reports[1:]]
    assert stamps == sorted(stamps)


def test_chrome_117_relay_rows_and_relay_pair() -> None:
    rows = _run(CHROME_117_RELAY, "PC_0")
    # Inbound audio + 3 inbound videos + outbound video only (SOURCES.md); 12 intervals. Q13: the
    # inbound audio never carried a packet (a muted remote) and one video started a report late.
    assert {k: len(v) for k, v in rows.items()} == {"video_producer": 12, "video_consumer": 35}
    producer = [r.values for r in rows["video_producer"]]
    assert all(v["ssrc"] == 2007858786 and v["mid"] == "1" for v in producer)
    assert all(5 <= v["_interval_s"] <= 15 for v in producer)  # 10 s polling
    sent = [v["bytes_sent"] for v in producer if v["bytes_sent"]]
    assert 100_000 < sum(sent) / len(sent) < 2_000_000  # a real VP9 stream's 10 s deltas
    assert all(0 < v["rtt"] < 1 for v in producer)  # seconds, from remote-inbound-rtp
    assert all(
        set(v["quality_limitation_durations"]) == {"bandwidth", "cpu", "none", "other"}
        for v in producer
    )
    assert all(1 <= row.values["mos_quality"] <= 5 for kind in rows.values() for row in kind)
    live = [r.values for r in rows["video_consumer"] if r.values["frames_decoded"]]
    assert live and all(0 < v["frames_per_second"] <= 60 for v in live)
    assert all(v["_rtt_ms"] < 500 for v in live)  # candidate-pair currentRoundTripTime
    [(role, pid, pair)] = candidate_pairs(
        _reports(CHROME_117_RELAY, "PC_0")[-1], transport="producing"
    )
    assert (role, pid) == ("producing_transport", "CPfJfiL0UU_pjplYfUx")
    assert pair["local_candidate_type"] == "relay"
    assert pair["local_candidate_url"] == "turns:meet-jit-si-turnrelay.jitsi.net:443?transport=tcp"
    assert pair["local_candidate_network_type"] == "wifi"
    assert pair["current_round_trip_time"] == 0.026
    assert pair["nominated"] is True
    assert "remote_candidate_url" not in pair


def test_chrome_117_quality_object() -> None:
    q = build_quality(_run(CHROME_117_RELAY, "PC_0"))
    vp = q["video_producer_cumulative"]
    assert 0 < vp["issues"]["bandwidth_quality_limitation_fraction"] < 1
    assert vp["issues"]["cpu_quality_limitation_fraction"] == 0
    vc = q["video_consumer_cumulative"]
    assert vc["issues"]["lag_fraction"] > 0  # freezeCount grows in this dump
    assert vc["jitter_buffer_delay"]["avg"] > 0
    assert q["audio_producer"] == [] and q["audio_producer_cumulative"] == {}
    assert not any(k.startswith("_") for kind in KINDS for row in q[kind] for k in row)


def test_chrome_99_p2p_legacy_shapes() -> None:
    rows = _run(CHROME_99_P2P, "PC_1")
    assert {"audio_producer", "video_producer", "audio_consumer", "video_consumer"} <= set(rows)
    audio_in = [
        r.values for r in rows["audio_consumer"] if r.values.get("jitter_buffer_emitted_count")
    ]
    # Opus emits 48 000 samples/s: never more per second, and a steady stream emits about that.
    rates = sorted(v["jitter_buffer_emitted_count"] / v["_interval_s"] for v in audio_in)
    assert audio_in and rates[-1] <= 48_960
    assert 47_000 <= rates[len(rates) // 2] <= 48_960
    video_in = [r.values for r in rows["video_consumer"] if r.values.get("frames_decoded")]
    # Old Chrome: jitterBufferDelay only on the `track` object, folded in by normalize_report.
    assert video_in and any(v.get("jitter_buffer_emitted_count") for v in video_in)
    simulcast = {r.values["ssrc"] for r in rows["video_producer"]}
    assert len(simulcast) == 3  # three simulcast layers -> three streams
    [(_, pid, pair)] = candidate_pairs(_reports(CHROME_99_P2P, "PC_1")[-1], transport="producing")
    assert pid == "RTCIceCandidatePair_T9Sb2w4D_RC8fROJw"
    assert pair["local_candidate_address"] == "188.24.8.45"  # from legacy `ip`


def test_firefox_118_rows_and_selected_pair() -> None:
    rows = _run(FIREFOX_118_SFU, "PC_0")
    video_out = [r.values for r in rows["video_producer"]]
    assert video_out
    # No framesPerSecond in Firefox: Δframes_encoded/Δt, about 30 fps.
    assert all("frames_per_second" in v for v in video_out)
    busy = [v for v in video_out if v["frames_encoded"]]
    assert busy and 20 <= sorted(v["frames_per_second"] for v in busy)[len(busy) // 2] <= 31
    assert any(v["rtt"] > 0 for v in video_out)  # remote-inbound roundTripTime
    video_in = [r.values for r in rows["video_consumer"] if r.values.get("frames_decoded")]
    assert video_in and all(v["_rtt_ms"] == 50.0 for v in video_in)  # no pair RTT: default
    pairs = candidate_pairs(_reports(FIREFOX_118_SFU, "PC_0")[-1])
    # one connection that sends and receives: its pair is listed once (issue 11)
    assert [(role, pid) for role, pid, _ in pairs] == [("producing_transport", "b1dd866a")]
    entry = pairs[0][2]
    assert entry["local_candidate_type"] == "prflx"
    assert "current_round_trip_time" not in entry


@pytest.mark.parametrize("path", [CHROME_99_P2P, CHROME_117_RELAY, FIREFOX_118_SFU])
def test_compact_cursor_gives_same_rows_as_full_previous(path: Any) -> None:
    reports = next(iter(getstats_reports(path).values()))
    for prev, cur in itertools.pairwise(reports):
        full = [r.values for r in sample_rows(prev, cur, namespace="n")]
        compact = [r.values for r in sample_rows(compact_report(prev), cur, namespace="n")]
        assert full == compact
        assert len(compact_report(prev)) < len(normalize_report(prev))
