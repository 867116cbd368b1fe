"""sample_rows: deltas, loss, jitter buffer, MOS, hygiene, labels (hand-built snapshots)."""

import math
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from rtk_sessions.stats import (
    QualityThresholds,
    SampleRow,
    StreamLabel,
    compact_report,
    sample_rows,
)
from rtk_sessions.stats.rows import iso_timestamp
from rtk_sessions.stats.scoring import audio_mos

from .helpers import T0, inbound, outbound, remote_inbound, report, transport_with_pair


def _one(rows: list[SampleRow]) -> SampleRow:
    assert len(rows) == 1
    return rows[0]


def test_first_report_gives_no_rows() -> None:
    cur = report(outbound(1, T0, packetsSent=10, bytesSent=1000))
    assert sample_rows(None, cur, namespace="p:pc0") == []
    assert sample_rows({}, cur, namespace="p:pc0") == []


def test_audio_producer_deltas_rtt_and_mos() -> None:
    prev = report(
        outbound(1, T0, packetsSent=100, bytesSent=10_000, mid="0"),
        remote_inbound(1, T0 - 300, packetsLost=2, jitter=0.004, roundTripTime=0.05),
        {"id": "CO", "type": "codec", "mimeType": "audio/opus", "sdpFmtpLine": "useinbandfec=1"},
    )
    cur = report(
        outbound(1, T0 + 5000, packetsSent=350, bytesSent=30_000, mid="0", codecId="CO"),
        remote_inbound(1, T0 + 4700, packetsLost=7, jitter=0.006, roundTripTime=0.12),
        {"id": "CO", "type": "codec", "mimeType": "audio/opus", "sdpFmtpLine": "useinbandfec=1"},
    )
    row = _one(sample_rows(prev, cur, namespace="peer:pc0"))
    assert row.kind == "audio_producer"
    assert row.stream_key == "peer:pc0:outbound-rtp:1"
    assert row.timestamp_ms == T0 + 5000
    v = row.values
    # Independent arithmetic: Δt = 5 s, Δsent = 250, Δbytes = 20000, Δlost = 5.
    bitrate = 20_000 * 8 / 5
    loss = 100 * 5 / 250
    expected_mos = audio_mos(
        loss_pct=loss, bitrate_bps=bitrate, rtt_ms=120, buffer_delay_ms=2 * 6, fec=True
    )
    assert v["packets_sent"] == 250
    assert v["bytes_sent"] == 20_000
    assert v["packets_lost"] == 5
    assert v["rtt"] == 0.12
    assert v["jitter"] == 0.006
    assert v["mid"] == "0"
    assert v["ssrc"] == 1
    assert v["timestamp"] == "2023-11-14T22:13:25.000Z"
    assert v["_interval_s"] == 5.0
    assert v["_loss_pct"] == pytest.approx(2.0)
    assert v["_bitrate_bps"] == 32_000
    assert v["mos_quality"] == expected_mos
    assert 3.5 < v["mos_quality"] < 4.5
    assert v["producer_id"] == str(
        uuid.uuid5(uuid.UUID("6f1b3c1e-5d0e-5b6a-9c57-2f7a3c1d2e40"), "peer:pc0:outbound-rtp:1")
    )


def test_producer_without_rtcp_rr_yet_reports_zeros_and_defaults() -> None:
    prev = report(outbound(1, T0, packetsSent=0, bytesSent=0))
    cur = report(outbound(1, T0 + 1000, packetsSent=5, bytesSent=86))
    v = _one(sample_rows(prev, cur, namespace="n")).values
    assert (v["packets_lost"], v["jitter"], v["rtt"]) == (0, 0, 0)
    assert v["_rtt_ms"] == 50.0 and v["_buffer_delay_ms"] == 50.0
    # 86 bytes in 1 s = 688 b/s < 10 kb/s with DTX off: muted -> MOS 1 (reference report, Q3).
    assert v["mos_quality"] == 1.0


def test_producer_first_rr_counts_lost_since_start_and_fraction_lost_fallback() -> None:
    prev = report(outbound(1, T0, packetsSent=100, bytesSent=20_000))
    cur = report(
        outbound(1, T0 + 2000, packetsSent=200, bytesSent=40_000),
        remote_inbound(1, T0 + 1900, packetsLost=4, fractionLost=0.5),
    )
    v = _one(sample_rows(prev, cur, namespace="n")).values
    assert v["packets_lost"] == 4
    assert v["_loss_pct"] == pytest.approx(4.0)  # 100*4/100, Δlost wins over fractionLost
    cur2 = report(
        outbound(1, T0 + 2000, packetsSent=200, bytesSent=40_000),
        remote_inbound(1, T0 + 1900, fractionLost=0.25),
    )
    v2 = _one(sample_rows(prev, cur2, namespace="n")).values
    assert v2["_loss_pct"] == pytest.approx(25.0)


def test_remote_inbound_found_by_local_id_and_by_ssrc() -> None:
    prev = report(outbound(1, T0, packetsSent=0, bytesSent=0, remoteId=None))
    by_local = report(
        outbound(1, T0 + 1000, packetsSent=50, bytesSent=4000, remoteId=None),
        {**remote_inbound(1, T0, roundTripTime=0.2), "id": "X"},
    )
    by_ssrc = report(
        outbound(1, T0 + 1000, packetsSent=50, bytesSent=4000, remoteId="missing"),
        {**remote_inbound(1, T0, roundTripTime=0.3), "id": "Y", "localId": "other"},
    )
    assert _one(sample_rows(prev, by_local, namespace="n")).values["rtt"] == 0.2
    assert _one(sample_rows(prev, by_ssrc, namespace="n")).values["rtt"] == 0.3


def test_audio_consumer_loss_jitter_buffer_and_pair_rtt() -> None:
    prev = report(
        inbound(
            7,
            T0,
            packetsReceived=1000,
            packetsLost=10,
            bytesReceived=100_000,
            jitterBufferDelay=4800.0,
            jitterBufferEmittedCount=96_000,
            concealmentEvents=3,
        ),
        *transport_with_pair(T0),
    )
    cur = report(
        inbound(
            7,
            T0 + 2000,
            packetsReceived=1090,
            packetsLost=20,
            bytesReceived=108_000,
            jitterBufferDelay=4800.0 + 2880.0,
            jitterBufferEmittedCount=96_000 + 48_000,
            concealmentEvents=5,
            jitter=0.012,
            mid="3",
        ),
        *transport_with_pair(T0 + 2000, rtt=0.08),
    )
    labels = [StreamLabel(mid="3", consumer_id="c-1", producer_id="p-9", remote_peer_id="peer-2")]
    row = _one(sample_rows(prev, cur, namespace="n", labels=labels))
    v = row.values
    assert row.kind == "audio_consumer"
    assert v["packets_received"] == 90 and v["packets_lost"] == 10
    assert v["bytes_received"] == 8000
    assert v["jitter_buffer_delay"] == 2880.0 and v["jitter_buffer_emitted_count"] == 48_000
    assert v["concealment_events"] == 2
    assert v["jitter"] == 0.012
    assert (v["consumer_id"], v["producer_id"], v["peer_id"]) == ("c-1", "p-9", "peer-2")
    assert "rtt" not in v
    # loss = 100*10/(10+90) = 10 %; buffer = 2880/48000*1000 = 60 ms; rtt = 80 ms (pair).
    assert v["_loss_pct"] == pytest.approx(10.0)
    assert v["_buffer_delay_ms"] == pytest.approx(60.0)
    assert v["_rtt_ms"] == pytest.approx(80.0)
    assert v["mos_quality"] == audio_mos(
        loss_pct=10.0, bitrate_bps=8000 * 8 / 2, rtt_ms=80.0, buffer_delay_ms=60.0
    )


def test_consumer_rtt_falls_back_to_remote_outbound_then_default() -> None:
    prev = report(inbound(7, T0, packetsReceived=0, bytesReceived=0))
    cur = report(
        inbound(7, T0 + 1000, packetsReceived=50, bytesReceived=5000, remoteId="RO7"),
        {"id": "RO7", "type": "remote-outbound-rtp", "ssrc": 7, "roundTripTime": 0.3},
    )
    assert _one(sample_rows(prev, cur, namespace="n")).values["_rtt_ms"] == pytest.approx(300)
    cur_none = report(inbound(7, T0 + 1000, packetsReceived=50, bytesReceived=5000))
    assert _one(sample_rows(prev, cur_none, namespace="n")).values["_rtt_ms"] == 50.0


def test_negative_packets_lost_delta_is_clamped_to_zero() -> None:
    prev = report(inbound(7, T0, packetsReceived=100, packetsLost=5, bytesReceived=1000))
    cur = report(inbound(7, T0 + 1000, packetsReceived=150, packetsLost=3, bytesReceived=2000))
    v = _one(sample_rows(prev, cur, namespace="n")).values
    assert v["packets_lost"] == 0
    assert v["_loss_pct"] == 0.0


@pytest.mark.parametrize("counter", ["packetsReceived", "bytesReceived", "concealmentEvents"])
def test_counter_reset_gives_no_row(counter: str) -> None:
    base = {"packetsReceived": 100, "bytesReceived": 1000, "concealmentEvents": 4}
    prev = report(inbound(7, T0, **base))
    cur = report(inbound(7, T0 + 1000, **{**base, counter: base[counter] - 1}))
    assert sample_rows(prev, cur, namespace="n") == []


def test_quality_limitation_duration_reset_gives_no_row() -> None:
    prev = report(
        outbound(
            1,
            T0,
            kind="video",
            packetsSent=1,
            bytesSent=1,
            qualityLimitationDurations={"none": 5.0},
        )
    )
    cur = report(
        outbound(
            1,
            T0 + 1000,
            kind="video",
            packetsSent=2,
            bytesSent=2,
            qualityLimitationDurations={"none": 1.0},
        )
    )
    assert sample_rows(prev, cur, namespace="n") == []


@pytest.mark.parametrize("dt", [0, -1000])
def test_elapsed_not_positive_gives_no_row(dt: int) -> None:
    prev = report(inbound(7, T0, packetsReceived=100, bytesReceived=1000))
    cur = report(inbound(7, T0 + dt, packetsReceived=200, bytesReceived=2000))
    assert sample_rows(prev, cur, namespace="n") == []


def test_stream_only_in_one_report_gives_no_row() -> None:
    prev = report(inbound(7, T0, packetsReceived=100, bytesReceived=1000))
    cur = report(inbound(8, T0 + 1000, packetsReceived=200, bytesReceived=2000))
    assert sample_rows(prev, cur, namespace="n") == []


def test_simulcast_two_ssrcs_give_two_rows_with_one_producer_id_via_mid() -> None:
    def layers(ts: float, scale: int) -> list[dict[str, Any]]:
        return [
            outbound(
                s,
                ts,
                kind="video",
                mid="1",
                packetsSent=100 * scale,
                bytesSent=90_000 * scale,
                framesEncoded=30 * scale,
                frameWidth=w,
                frameHeight=h,
                framesPerSecond=30,
            )
            for s, w, h in ((11, 320, 180), (12, 1280, 720))
        ]

    prev, cur = report(*layers(T0, 1)), report(*layers(T0 + 1000, 2))
    labels = [StreamLabel(mid="1", kind="video", source="camera", producer_id="prod-1")]
    rows = sample_rows(prev, cur, namespace="n", labels=labels)
    assert [r.kind for r in rows] == ["video_producer", "video_producer"]
    assert [r.values["ssrc"] for r in rows] == [11, 12]
    assert {r.values["producer_id"] for r in rows} == {"prod-1"}
    assert [r.values["frame_height"] for r in rows] == [180, 720]
    assert rows[0].stream_key != rows[1].stream_key


def _video_out(ts: float, n: int, **extra: Any) -> dict[str, Any]:
    return outbound(
        5,
        ts,
        kind="video",
        packetsSent=100 * n,
        bytesSent=50_000 * n,
        framesEncoded=15 * n,
        frameWidth=1920,
        frameHeight=1080,
        trackIdentifier="track-a",
        mid="2",
        **extra,
    )


@pytest.mark.parametrize(
    ("label", "expected_kind"),
    [
        (StreamLabel(ssrc=5, source="screenshare"), "screenshare_video_producer"),
        (StreamLabel(mid="2", source="screenshare"), "screenshare_video_producer"),
        (StreamLabel(track_id="track-a", source="screenshare"), "screenshare_video_producer"),
        (StreamLabel(ssrc=5, source="camera"), "video_producer"),
        (StreamLabel(ssrc=6, source="screenshare"), "video_producer"),
        (StreamLabel(ssrc=5, kind="audio", source="screenshare"), "video_producer"),
    ],
)
def test_screenshare_label_matching(label: Any, expected_kind: str) -> None:
    rows = sample_rows(
        report(_video_out(T0, 1)), report(_video_out(T0 + 1000, 2)), namespace="n", labels=[label]
    )
    assert _one(rows).kind == expected_kind


def test_label_priority_ssrc_before_mid_before_track() -> None:
    labels = [
        StreamLabel(track_id="track-a", producer_id="by-track"),
        StreamLabel(mid="2", producer_id="by-mid"),
        StreamLabel(ssrc=5, producer_id="by-ssrc"),
    ]
    prev, cur = report(_video_out(T0, 1)), report(_video_out(T0 + 1000, 2))

    def producer_id(given: list[StreamLabel]) -> Any:
        return _one(sample_rows(prev, cur, namespace="n", labels=given)).values["producer_id"]

    assert producer_id(labels) == "by-ssrc"
    assert producer_id(labels[:2]) == "by-mid"
    assert producer_id(labels[:1]) == "by-track"


def test_labels_as_json_mappings_and_track_from_media_source() -> None:
    src = {
        "id": "MS",
        "type": "media-source",
        "kind": "video",
        "trackIdentifier": "cam-1",
        "framesPerSecond": 15,
    }
    prev = report(
        outbound(5, T0, kind="video", mediaSourceId="MS", packetsSent=0, bytesSent=0), src
    )
    cur = report(
        outbound(5, T0 + 1000, kind="video", mediaSourceId="MS", packetsSent=10, bytesSent=1000),
        src,
    )
    labels: list[Any] = [
        {"track_id": "cam-1", "source": "screenshare", "producer_id": "ss"},
        "junk",
        3,
    ]
    row = _one(sample_rows(prev, cur, namespace="n", labels=labels))
    assert row.kind == "screenshare_video_producer"
    assert row.values["producer_id"] == "ss"


def test_video_producer_fields_and_rtcscore_mos() -> None:
    prev = report(
        _video_out(
            T0,
            1,
            keyFramesEncoded=1,
            pliCount=2,
            firCount=0,
            nackCount=1,
            qualityLimitationResolutionChanges=1,
            qualityLimitationDurations={"none": 1.0, "cpu": 0, "bandwidth": 0.5, "other": 0},
        )
    )
    cur = report(
        _video_out(
            T0 + 2000,
            2,
            keyFramesEncoded=2,
            pliCount=3,
            firCount=1,
            nackCount=4,
            framesPerSecond=15,
            qualityLimitationReason="bandwidth",
            qualityLimitationResolutionChanges=2,
            active=True,
            qualityLimitationDurations={"none": 2.0, "cpu": 0, "bandwidth": 1.5, "other": 0},
        ),
        remote_inbound(5, T0 + 1900, kind="video", roundTripTime=0.1, jitter=0.01, packetsLost=0),
    )
    v = _one(sample_rows(prev, cur, namespace="n")).values
    assert v["frames_encoded"] == 15 and v["key_frames_encoded"] == 1
    assert v["pli_count"] == 1 and v["fir_count"] == 1
    assert v["quality_limitation_reason"] == "bandwidth"
    assert v["quality_limitation_durations"] == {
        "none": 1.0,
        "cpu": 0,
        "bandwidth": 1.0,
        "other": 0,
    }
    assert v["quality_limitation_resolution_changes"] == 1
    assert v["frames_per_second"] == 15
    assert v["_nack_count"] == 3 and v["_active"] is True
    b = (50_000 * 8 / 2) / (1920 * 1080) / 15
    expected = round(0.56 * math.log(b) + 5.36 - 1.9 * math.log(30 / 15) - 0.002 * (20 + 50), 2)
    assert v["mos_quality"] == max(1.0, expected)


def test_video_consumer_firefox_shape_derives_fps_and_uses_loss_only_score() -> None:
    prev = report(
        inbound(
            9, T0, kind="video", packetsReceived=0, bytesReceived=0, framesDecoded=0, packetsLost=0
        )
    )
    cur = report(
        inbound(
            9,
            T0 + 2000,
            kind="video",
            packetsReceived=100,
            bytesReceived=90_000,
            framesDecoded=45,
            packetsLost=0,
            framerateMean=-3.7e230,
        )
    )
    v = _one(sample_rows(prev, cur, namespace="n")).values
    assert v["frames_per_second"] == 22.5  # 45 frames / 2 s
    assert "frame_width" not in v
    assert v["mos_quality"] == 5.0  # loss-only score: no frame size to compute bits per pixel


def test_video_consumer_freeze_internals_and_camera_mos() -> None:
    prev = report(
        inbound(
            9,
            T0,
            kind="video",
            packetsReceived=0,
            bytesReceived=0,
            framesDecoded=0,
            framesReceived=0,
            freezeCount=1,
            totalFreezesDuration=0.5,
            pauseCount=0,
            keyFramesDecoded=0,
            framesDropped=0,
            firCount=0,
            jitterBufferDelay=1.0,
            jitterBufferEmittedCount=10,
        ),
        {"id": "CV", "type": "codec", "mimeType": "video/VP9"},
    )
    cur = report(
        inbound(
            9,
            T0 + 1000,
            kind="video",
            packetsReceived=100,
            bytesReceived=62_500,
            framesDecoded=30,
            framesReceived=31,
            freezeCount=2,
            totalFreezesDuration=0.9,
            pauseCount=0,
            keyFramesDecoded=1,
            framesDropped=1,
            firCount=0,
            frameWidth=640,
            frameHeight=360,
            framesPerSecond=30,
            jitterBufferDelay=1.6,
            jitterBufferEmittedCount=40,
            codecId="CV",
        ),
        {"id": "CV", "type": "codec", "mimeType": "video/VP9"},
    )
    v = _one(sample_rows(prev, cur, namespace="n")).values
    assert v["_freeze_count"] == 1 and v["_freezes_duration_s"] == pytest.approx(0.4)
    assert v["_frames_received"] == 31 and v["_pause_count"] == 0
    assert v["_buffer_delay_ms"] == pytest.approx(20.0)  # 0.6 s / 30 frames
    b = 1.2 * 500_000 / (640 * 360) / 30
    expected = round(0.56 * math.log(b) + 5.36 - 0.002 * (20 + 25), 2)
    assert v["mos_quality"] == expected


def test_screenshare_video_consumer_is_loss_only() -> None:
    prev = report(inbound(9, T0, kind="video", packetsReceived=0, packetsLost=0, bytesReceived=0))
    cur = report(
        inbound(
            9,
            T0 + 1000,
            kind="video",
            packetsReceived=97,
            packetsLost=3,
            bytesReceived=10_000,
            frameWidth=1920,
            frameHeight=1080,
            framesPerSecond=5,
        )
    )
    labels = [StreamLabel(ssrc=9, source="screenshare")]
    row = _one(sample_rows(prev, cur, namespace="n", labels=labels))
    assert row.kind == "screenshare_video_consumer"
    assert row.values["mos_quality"] == 3.5  # 3 % loss


@pytest.mark.parametrize(
    ("fmtp", "kbps", "expected_one"),
    [
        ("minptime=10;useinbandfec=1", 8, True),  # below 10 kb/s, no DTX: muted
        ("minptime=10;useinbandfec=1;usedtx=1", 8, False),  # DTX: scored
        (None, 40, False),
    ],
)
def test_audio_mute_rule(fmtp: str | None, kbps: int, expected_one: bool) -> None:
    codec = {"id": "C", "type": "codec", "mimeType": "audio/opus"}
    if fmtp:
        codec["sdpFmtpLine"] = fmtp
    prev = report(outbound(1, T0, packetsSent=0, bytesSent=0, codecId="C"), codec)
    cur = report(outbound(1, T0 + 1000, packetsSent=50, bytesSent=kbps * 125, codecId="C"), codec)
    mos = _one(sample_rows(prev, cur, namespace="n")).values["mos_quality"]
    assert (mos == 1.0) is expected_one


def test_no_packets_gives_mos_one_and_unknown_counters_too() -> None:
    prev = report(inbound(7, T0, packetsReceived=10, bytesReceived=100))
    cur = report(inbound(7, T0 + 1000, packetsReceived=10, bytesReceived=100))
    assert _one(sample_rows(prev, cur, namespace="n")).values["mos_quality"] == 1.0
    bare_prev, bare_cur = report(inbound(7, T0)), report(inbound(7, T0 + 1000))
    v = _one(sample_rows(bare_prev, bare_cur, namespace="n")).values
    assert v["mos_quality"] == 1.0
    assert "packets_received" not in v  # None values are omitted


def test_compacted_previous_gives_same_rows_as_full_previous() -> None:
    prev = report(
        outbound(1, T0, packetsSent=100, bytesSent=10_000, mediaSourceId="M"),
        remote_inbound(1, T0, packetsLost=1),
        inbound(
            7,
            T0,
            packetsReceived=10,
            bytesReceived=1000,
            jitterBufferDelay=1.0,
            jitterBufferEmittedCount=100,
        ),
        {"id": "M", "type": "media-source", "kind": "audio", "trackIdentifier": "mic"},
        {"id": "cert", "type": "certificate", "fingerprint": "x"},
        *transport_with_pair(T0),
    )
    cur = report(
        outbound(1, T0 + 1000, packetsSent=150, bytesSent=15_000, mediaSourceId="M"),
        remote_inbound(1, T0 + 900, packetsLost=2),
        inbound(
            7,
            T0 + 1000,
            packetsReceived=60,
            bytesReceived=6000,
            jitterBufferDelay=2.0,
            jitterBufferEmittedCount=200,
        ),
        {"id": "M", "type": "media-source", "kind": "audio", "trackIdentifier": "mic"},
        *transport_with_pair(T0 + 1000),
    )
    full = sample_rows(prev, cur, namespace="n")
    compact = sample_rows(compact_report(prev), cur, namespace="n")
    assert [r.values for r in full] == [r.values for r in compact]
    assert len(full) == 2


def test_transport_argument_does_not_filter_rows() -> None:
    prev = report(
        outbound(1, T0, packetsSent=0, bytesSent=0),
        inbound(7, T0, packetsReceived=0, bytesReceived=0),
    )
    cur = report(
        outbound(1, T0 + 1000, packetsSent=5, bytesSent=50),
        inbound(7, T0 + 1000, packetsReceived=5, bytesReceived=50),
    )
    kinds = {
        t: [r.kind for r in sample_rows(prev, cur, namespace="n", transport=t)]
        for t in (None, "producing", "consuming")
    }
    assert (
        kinds[None]
        == kinds["producing"]
        == kinds["consuming"]
        == ["audio_producer", "audio_consumer"]
    )


def test_bad_namespace_and_thresholds_are_tolerated() -> None:
    prev = report(inbound(7, T0, packetsReceived=0, bytesReceived=0))
    cur = report(inbound(7, T0 + 1000, packetsReceived=5, bytesReceived=5000))
    row = _one(sample_rows(prev, cur, namespace=42, thresholds="nope"))  # type: ignore[arg-type]
    assert row.stream_key == "42:inbound-rtp:7"


def test_custom_threshold_changes_mute_rule() -> None:
    prev = report(outbound(1, T0, packetsSent=0, bytesSent=0))
    cur = report(outbound(1, T0 + 1000, packetsSent=50, bytesSent=1000))  # 8 kb/s
    strict = QualityThresholds(audio_min_bitrate_bps=5000)
    assert _one(sample_rows(prev, cur, namespace="n")).values["mos_quality"] == 1.0
    assert _one(sample_rows(prev, cur, namespace="n", thresholds=strict)).values["mos_quality"] > 1


@pytest.mark.parametrize(
    ("ms", "expected"),
    [
        (0, "1970-01-01T00:00:00.000Z"),
        (1702561000121.7, "2023-12-14T13:36:40.121Z"),
        (-1, None),
        (1e20, None),
        ("1", None),
        (float("nan"), None),
    ],
)
def test_iso_timestamp(ms: Any, expected: str | None) -> None:
    assert iso_timestamp(ms) == expected
    if expected is not None:
        parsed = datetime.strptime(expected, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
        assert abs(parsed.timestamp() * 1000 - ms) < 1


def test_overflowing_counter_delta_is_omitted_not_infinite() -> None:
    prev = report(inbound(7, T0, packetsReceived=10, bytesReceived=-1e308))
    cur = report(inbound(7, T0 + 1000, packetsReceived=20, bytesReceived=1e308))
    v = _one(sample_rows(prev, cur, namespace="n")).values
    assert "bytes_received" not in v and v["packets_received"] == 10


@pytest.mark.parametrize("labels", [None, "ssrc", b"x", 5])
def test_labels_that_are_not_a_sequence_are_ignored(labels: Any) -> None:
    prev = report(inbound(7, T0, packetsReceived=0, bytesReceived=0))
    cur = report(inbound(7, T0 + 1000, packetsReceived=5, bytesReceived=5000))
    assert _one(sample_rows(prev, cur, namespace="n", labels=labels)).kind == "audio_consumer"


def test_absurd_gauges_are_treated_as_absent() -> None:
    prev = report(inbound(7, T0, kind="video", packetsReceived=0, bytesReceived=0, framesDecoded=0))
    cur = report(
        inbound(
            7,
            T0 + 1000,
            kind="video",
            packetsReceived=5,
            bytesReceived=5000,
            framesDecoded=20,
            jitter=1e300,
            framesPerSecond=1e9,
            frameWidth=10**9,
            frameHeight=-5,
        )
    )
    v = _one(sample_rows(prev, cur, namespace="n")).values
    assert "jitter" not in v and "frame_width" not in v and "frame_height" not in v
    assert v["frames_per_second"] == 20.0  # Δframes/Δt instead of the absurd gauge


def test_rows_start_with_the_first_packet_in_both_directions() -> None:
    """Q13. While the connection is set up (packetsSent still 0) a producer is not producing: no row.
    From its first packet on it has rows, also when it goes quiet (muted) later."""
    setup = [report(outbound(1, T0 + i * 2000, packetsSent=0, bytesSent=0)) for i in range(3)]
    assert sample_rows(setup[0], setup[1], namespace="p:pc0") == []
    assert sample_rows(setup[1], setup[2], namespace="p:pc0") == []
    first = report(outbound(1, T0 + 6000, packetsSent=40, bytesSent=4000))
    assert _one(sample_rows(setup[2], first, namespace="p:pc0")).values["packets_sent"] == 40
    muted = report(outbound(1, T0 + 8000, packetsSent=40, bytesSent=4000))
    quiet = _one(sample_rows(first, muted, namespace="p:pc0")).values
    assert quiet["packets_sent"] == 0 and quiet["mos_quality"] == 1
    # Q13: consumers too have rows from their first packet received on, and keep them when
    # the stream stalls later (a stall is real).
    waiting = [
        report(inbound(2, T0 + i * 2000, packetsReceived=0, bytesReceived=0)) for i in range(2)
    ]
    assert sample_rows(waiting[0], waiting[1], namespace="p:pc0") == []
    arrived = report(inbound(2, T0 + 4000, packetsReceived=50, bytesReceived=5000))
    assert _one(sample_rows(waiting[1], arrived, namespace="p:pc0")).kind == "audio_consumer"
    stalled = report(inbound(2, T0 + 6000, packetsReceived=50, bytesReceived=5000))
    assert _one(sample_rows(arrived, stalled, namespace="p:pc0")).values["packets_received"] == 0
