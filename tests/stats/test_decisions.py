"""Decisions Q11-Q15 (docs/quality-metrics.md "Decisions Q11-Q16") pinned on the real recordings,
and on hand-made reports where no recording has the shape (aiortc's unlinked RTCP report, RTX)."""

from __future__ import annotations

import statistics
from typing import Any

import orjson

from rtk_sessions.stats import KindAccumulator, cumulative
from rtk_sessions.stats import sample_rows as slow_rows
from rtk_sessions.stats.normalize import ReportIndex
from rtk_sessions.stats.rows import sample_rows_indexed

from .helpers import T0, inbound, outbound, remote_inbound, report
from .rtcstats_dump import CHROME_99_P2P, CHROME_117_RELAY, FIREFOX_118_SFU, FIXTURES
from .test_accumulate import recording_rows

MULTI_P2P = FIXTURES / "jitsi-rtcstats_chrome-standard-multiple-p2p.rtcstats.jsonl"


def test_q11_firefox_jitter_buffer_unmeasured_has_no_block() -> None:
    """Firefox 118 reports no jitterBufferDelay: its consumers get no jitter_buffer_delay block
    (it used to read avg 0.0, "perfect"), while loss, measured, keeps its block."""
    rows = recording_rows(FIREFOX_118_SFU)
    for kind in ("audio_consumer", "video_consumer"):
        block = cumulative(kind, rows[kind])
        assert "jitter_buffer_delay" not in block, kind
        loss = block["packet_loss"]
        assert 0 < loss["measured_rows"] < len(rows[kind])
        # measured_avg is over the measured rows; avg keeps Q5's all-rows meaning
        assert loss["measured_avg"] >= loss["avg"]


def test_q11_measured_fields_on_chrome() -> None:
    rows = recording_rows(CHROME_99_P2P)
    block = cumulative("audio_consumer", rows["audio_consumer"])
    jbd = block["jitter_buffer_delay"]
    assert jbd["measured_rows"] == sum(
        1 for r in rows["audio_consumer"] if r.get("jitter_buffer_emitted_count")
    )
    producer = cumulative("video_producer", rows["video_producer"])
    measured = [r["rtt"] * 1000 for r in rows["video_producer"] if r["_rtt_measured"]]
    assert producer["rtt"]["measured_rows"] == len(measured)
    assert producer["rtt"]["measured_avg"] == round(sum(measured) / len(measured), 4)
    for key in ("quality_mos", "frame_per_second", "frame_width"):
        assert producer[key]["measured_avg"] == producer[key]["avg"]


def test_q11_old_state_stays_readable() -> None:
    """A state stored before Q11 (version 1) loads; its rows all count as measured."""
    rows = recording_rows(CHROME_117_RELAY)["video_producer"]
    acc = KindAccumulator("video_producer")
    for row in rows:
        acc.add(row, thresholds=None)  # type: ignore[arg-type]
    state = orjson.loads(orjson.dumps(acc.to_state()))
    old = {k: v for k, v in state.items() if k not in ("lm", "tm")} | {"v": 1}
    loaded = KindAccumulator.from_state("video_producer", old).block()
    assert loaded["rtt"]["measured_rows"] == loaded["packet_loss"]["measured_rows"] == len(rows)
    assert loaded["rtt"]["avg"] == acc.block()["rtt"]["avg"]
    assert KindAccumulator.from_state("video_producer", state).block() == acc.block()
    for broken in ({"lm": [len(rows) + 1, []]}, {"lm": 5}, {"lm": [1]}, {"tm": -1}):
        assert KindAccumulator.from_state("video_producer", state | broken).block() == {}


def test_q12_idle_simulcast_layers_do_not_look_frozen() -> None:
    """Chrome's simulcast layers that sent nothing used to give the sender's fps a p50 of 0."""
    rows = recording_rows(MULTI_P2P)["video_producer"]
    every_row = [r["frames_per_second"] for r in rows]
    assert statistics.median(every_row) == 0
    block = cumulative("video_producer", rows)
    assert block["frame_per_second"]["p50"] == 30
    active = [r for r in rows if r.get("packets_sent")]
    assert block["frame_per_second"]["measured_rows"] == len(active) < len(rows)


def test_q13_streams_that_never_carried_a_packet_have_no_rows() -> None:
    """Chrome 117's inbound audio never received a packet: no audio_consumer rows at all."""
    rows = recording_rows(CHROME_117_RELAY)
    assert "audio_consumer" not in rows
    # The multi-P2P call's remote streams that never arrived (71 rows each before Q13) are gone.
    rows = recording_rows(MULTI_P2P)
    assert len(rows["audio_consumer"]) == len(rows["video_consumer"]) == 40


def sample_rows(previous: dict[str, Any], current: dict[str, Any], namespace: str) -> list[Any]:
    """``sample_rows``, checked against the ingest fast path on the same reports."""
    rows = slow_rows(previous, current, namespace=namespace)
    fast = sample_rows_indexed(ReportIndex(previous), ReportIndex(current), namespace=namespace)
    assert fast == rows
    return rows


def _aiortc(ts: float, sent: int, lost: int, rtt: float) -> dict[str, Any]:
    """aiortc's sender stats: the RTCP report links neither way and carries the far end's ssrc."""
    return report(
        outbound(111, ts, packetsSent=sent, bytesSent=sent * 100, remoteId=None),
        remote_inbound(
            999, ts, localId=None, packetsLost=lost, roundTripTime=rtt, fractionLost=0.05
        ),
    )


def test_q15_unlinked_remote_inbound_of_the_only_producer_of_its_kind() -> None:
    rows = sample_rows(_aiortc(T0, 100, 0, 0.1), _aiortc(T0 + 1000, 200, 5, 0.1), namespace="p:c")
    [row] = rows
    assert row.values["rtt"] == 0.1 and row.values["packets_lost"] == 5
    assert row.values["_loss_pct"] == 5.0 and row.values["_rtt_measured"] is True


def test_q15_simulcast_layer_never_borrows_a_siblings_report() -> None:
    def two_layers(ts: float) -> dict[str, Any]:
        return report(
            outbound(1, ts, kind="video", packetsSent=100, remoteId=None),
            outbound(2, ts, kind="video", packetsSent=100, remoteId=None),
            remote_inbound(2, ts, kind="video", localId=None, roundTripTime=0.2, packetsLost=0),
        )

    rows = {
        r.values["ssrc"]: r.values
        for r in sample_rows(two_layers(T0), two_layers(T0 + 1000), namespace="p:c")
    }
    assert rows[2]["rtt"] == 0.2 and rows[1]["rtt"] == 0 and rows[1]["_rtt_measured"] is False


def test_q15_rtx_repair_flows_are_not_streams() -> None:
    def rtx(ts: float, n: int) -> dict[str, Any]:
        return report(
            inbound(10, ts, kind="video", packetsReceived=n, rtxSsrc=11),
            {**inbound(11, ts, kind="video", packetsReceived=n // 10), "id": "IT11"},
            {**inbound(12, ts, kind="video", packetsReceived=n // 10, rtxOfSsrc=13), "id": "IT12"},
            {**inbound(14, ts, kind="video", packetsReceived=n // 10, codecId="C1"), "id": "IT14"},
            {"id": "C1", "type": "codec", "timestamp": ts, "mimeType": "video/rtx"},
        )

    rows = sample_rows(rtx(T0, 100), rtx(T0 + 1000, 200), namespace="p:c")
    assert [r.values["ssrc"] for r in rows] == [10]
