"""cumulative / build_quality: percentiles, loss and latency distributions, Q8 definitions."""

from typing import Any

import pytest

from rtk_sessions.stats import KINDS, QualityThresholds, SampleRow, build_quality, cumulative
from rtk_sessions.stats.aggregate import percentile


@pytest.mark.parametrize(
    ("values", "p", "expected"),
    [
        ([5], 90, 5),
        ([1, 2, 3, 4], 50, 2.5),  # numpy.percentile([1,2,3,4], 50) == 2.5
        ([1, 2, 3, 4], 75, 3.25),  # pos 2.25
        ([1, 2, 3, 4], 90, 3.7),  # pos 2.7
        ([4, 1, 3, 2], 100, 4),
        ([10, 20], 0, 10),
    ],
)
def test_percentile_linear(values: list[Any], p: int, expected: float) -> None:
    assert percentile(values, p) == pytest.approx(expected)


def test_empty_and_unknown() -> None:
    assert cumulative("audio_producer", []) == {}
    assert cumulative("not_a_kind", [{"mos_quality": 3}]) == {}
    assert cumulative("audio_producer", "rows") == {}  # type: ignore[arg-type]
    assert cumulative("audio_producer", [1, None]) == {}  # type: ignore[list-item]


def test_audio_consumer_loss_and_jitter_buffer_from_public_fields() -> None:
    rows = [
        # loss 100*1/(1+99) = 1 %; jbd 2880/48000*1000 = 60 ms
        {
            "mos_quality": 4.0,
            "packets_lost": 1,
            "packets_received": 99,
            "jitter_buffer_delay": 2880.0,
            "jitter_buffer_emitted_count": 48000,
        },
        # loss 100*30/(30+70) = 30 %; jbd 300 ms
        {
            "mos_quality": 2.0,
            "packets_lost": 30,
            "packets_received": 70,
            "jitter_buffer_delay": 14.4,
            "jitter_buffer_emitted_count": 48,
        },
        # no packets: loss 0; no emitted samples: jbd 0 (counted)
        {"mos_quality": 1.0, "packets_lost": 0, "packets_received": 0},
        # internal loss wins over public fields
        {
            "mos_quality": 3.0,
            "_loss_pct": 6.0,
            "packets_lost": 0,
            "packets_received": 10,
            "jitter_buffer_delay": 0.6,
            "jitter_buffer_emitted_count": 1,
        },
    ]
    got = cumulative("audio_consumer", rows)
    assert got["packet_loss"] == {
        "avg": round((1 + 30 + 0 + 6) / 4, 4),
        "50_or_greater_event_fraction": 0.0,
        "25_or_greater_event_fraction": 0.25,
        "10_or_greater_event_fraction": 0.25,
        "5_or_greater_event_fraction": 0.5,
        # Q11: the row without packets measured nothing
        "measured_rows": 3,
        "measured_avg": round((1 + 30 + 6) / 3, 4),
    }
    assert got["jitter_buffer_delay"] == {
        "avg": round((60 + 300 + 0 + 600) / 4, 4),
        "500ms_or_greater_event_fraction": 0.25,
        "250ms_or_greater_event_fraction": 0.5,
        "100ms_or_greater_event_fraction": 0.5,
        "measured_rows": 3,
        "measured_avg": round((60 + 300 + 600) / 3, 4),
    }
    # mos sorted [1,2,3,4]
    assert got["quality_mos"] == {
        "avg": 2.5,
        "p50": 2.5,
        "p75": 3.25,
        "p90": 3.7,
        "measured_rows": 4,
        "measured_avg": 2.5,
    }
    assert set(got) == {"quality_mos", "packet_loss", "jitter_buffer_delay"}


def test_producer_loss_from_public_fields_is_capped() -> None:
    rows: list[dict[str, Any]] = [
        {"packets_lost": 30, "packets_sent": 10, "rtt": 0.1},
        {"packets_lost": 5, "packets_sent": 0},
        {"_loss_pct": 250, "_loss_measured": True},
    ]
    got = cumulative("audio_producer", rows)
    assert got["packet_loss"]["avg"] == round(200 / 3, 4)
    assert got["packet_loss"]["measured_rows"] == 2 and got["packet_loss"]["measured_avg"] == 100
    # Q11: loss and rtt nobody measured have no block, never avg 0
    assert cumulative("audio_producer", [{"packets_sent": 50, "packets_lost": 0}]) == {}
    assert "quality_mos" not in got  # no mos values: Dist omitted


def _vp(**kw: Any) -> dict[str, Any]:
    base = {
        "mos_quality": 4.0,
        "frames_encoded": 30,
        "key_frames_encoded": 0,
        "bytes_sent": 1000,
        "packets_sent": 10,
        "rtt": 0.05,
        "packets_lost": 0,
        "frame_width": 1280,
        "frame_height": 720,
        "frames_per_second": 30,
        "pli_count": 0,
        "fir_count": 0,
        "_interval_s": 10.0,
    }
    base.update(kw)
    return base


def test_video_producer_issues_time_weighted_quality_limitation() -> None:
    rows = [
        _vp(quality_limitation_durations={"none": 6, "bandwidth": 3, "cpu": 1, "other": 0}),
        _vp(
            quality_limitation_durations={"none": 10, "bandwidth": 0, "cpu": 0, "other": 0},
            frame_height=180,
            frame_width=320,
            key_frames_encoded=3,
        ),
        _vp(frames_encoded=0, bytes_sent=0, frames_per_second=0, pli_count=2),
        _vp(frames_encoded=0, _active=False, pli_count=1, fir_count=1),
    ]
    got = cumulative("video_producer", rows)
    assert got["issues"] == {
        "quality_limitation_fraction": round(4 / 20, 4),
        "bandwidth_quality_limitation_fraction": round(3 / 20, 4),
        "cpu_quality_limitation_fraction": round(1 / 20, 4),
        "no_video_fraction": 0.25,  # the paused (active false) row does not count
        "poor_resolution_fraction": 0.25,
    }
    assert got["key_frames_encoded_fraction"] == round(3 / 60, 4)
    # (pli+fir)/10 s >= 0.2/s: rows 3 (0.2) and 4 (0.2)
    assert got["high_negative_feedback_fraction"] == 0.5
    assert got["frame_per_second"]["p50"] == 30
    assert got["frame_width"]["avg"] == round((1280 * 3 + 320) / 4, 4)
    assert set(got) >= {"rtt", "packet_loss", "quality_mos"}


def test_video_producer_reason_fallback_and_interval_from_timestamps() -> None:
    rows = [
        {
            "quality_limitation_reason": "bandwidth",
            "ssrc": 1,
            "pli_count": 1,
            "timestamp": "2023-12-14T13:35:36.000Z",
        },
        {
            "quality_limitation_reason": "cpu",
            "ssrc": 1,
            "pli_count": 1,
            "timestamp": "2023-12-14T13:35:41.000Z",
        },  # 1 request in 5 s = 0.2/s -> high
        {
            "quality_limitation_reason": "none",
            "ssrc": 1,
            "pli_count": 1,
            "timestamp": "2023-12-14T13:35:51.000Z",
        },  # 1 in 10 s -> not high
        {"quality_limitation_reason": "other", "ssrc": 2, "pli_count": 5, "timestamp": "junk"},
    ]
    got = cumulative("video_producer", rows)
    assert got["issues"]["quality_limitation_fraction"] == 0.75
    assert got["issues"]["bandwidth_quality_limitation_fraction"] == 0.25
    assert got["issues"]["cpu_quality_limitation_fraction"] == 0.25
    assert got["high_negative_feedback_fraction"] == 0.25
    assert got["key_frames_encoded_fraction"] == 0.0
    assert "frame_per_second" not in got and "frame_width" not in got


def test_naive_timestamp_is_not_an_interval() -> None:
    rows = [
        {"pli_count": 9, "ssrc": 1, "timestamp": "2023-12-14T13:35:36"},
        {"pli_count": 9, "ssrc": 1, "timestamp": "2023-12-14T13:35:37"},
    ]
    assert cumulative("video_producer", rows)["high_negative_feedback_fraction"] == 0.0


def test_video_consumer_issues() -> None:
    rows: list[dict[str, Any]] = [
        {"frames_decoded": 0, "frames_per_second": 0, "frame_height": 720, "frame_width": 1280},
        {"frames_decoded": 60, "frames_per_second": 25, "_freeze_count": 1, "frame_height": 360},
        {"frames_decoded": 60, "frames_per_second": 5, "frame_height": 240},  # lag by fps
        {
            "frames_decoded": 60,
            "frames_per_second": 5,
            "_freeze_count": 0,
            "_freezes_duration_s": 0,
        },  # freeze stats say no lag
        {"packets_received": 0},  # no frames_decoded: no packets -> no video
        {"frames_decoded": 30, "key_frames_decoded": 3, "_freezes_duration_s": 0.3},
    ]
    got = cumulative("video_consumer", rows)
    assert got["issues"] == {
        "lag_fraction": round(3 / 6, 4),
        "no_video_fraction": round(2 / 6, 4),
        "poor_resolution_fraction": round(1 / 6, 4),
    }
    assert got["key_frames_decoded_fraction"] == round(3 / 210, 4)


def test_screenshare_poor_resolution_uses_width() -> None:
    rows = [{"frame_width": 1920, "frame_height": 200}, {"frame_width": 1024, "frame_height": 768}]
    got = cumulative("screenshare_video_consumer", rows)
    assert got["issues"]["poor_resolution_fraction"] == 0.5
    custom = QualityThresholds(poor_resolution_screenshare_width=800)
    got = cumulative("screenshare_video_consumer", rows, custom)
    assert got["issues"]["poor_resolution_fraction"] == 0.0
    bad = cumulative("video_consumer", rows, "bad")  # type: ignore[arg-type]
    assert bad["issues"]["poor_resolution_fraction"] == 0.5


def test_build_quality_strips_internals_keeps_order_and_fills_empty_kinds() -> None:
    rows = {
        "audio_consumer": [
            SampleRow(
                "audio_consumer", "k", 1.0, {"mos_quality": 4.0, "_loss_pct": 1.0, "ssrc": 1}
            ),
            {"mos_quality": 2.0, "ssrc": 2, "_x": 1, "_loss_measured": True},
            "junk",
        ],
        "video_producer": "not a list",
        "nonsense_kind": [{"mos_quality": 1}],
    }
    q = build_quality(rows)  # type: ignore[arg-type]
    assert list(q) == [*KINDS, *(f"{k}_cumulative" for k in KINDS)]
    assert q["audio_consumer"] == [{"mos_quality": 4.0, "ssrc": 1}, {"mos_quality": 2.0, "ssrc": 2}]
    assert q["audio_consumer_cumulative"]["packet_loss"]["measured_rows"] == 1
    assert q["audio_consumer_cumulative"]["packet_loss"]["avg"] == 0.5
    assert q["video_producer"] == [] and q["video_producer_cumulative"] == {}
    assert build_quality(None) == build_quality({})  # type: ignore[arg-type]
    assert all(build_quality({})[k] == [] for k in KINDS)


def test_public_row_of_odd_inputs() -> None:
    from rtk_sessions.stats.report import public_row

    assert public_row(SampleRow("audio_consumer", "k", 0.0, None)) == {}  # type: ignore[arg-type]
    assert public_row({"a": 1, "_b": 2, 3: 4}) == {"a": 1, 3: 4}  # type: ignore[dict-item]
