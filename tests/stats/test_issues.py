"""Detected issues (``stats.detect_issues``): each rule on hand-made rows, and the real recordings."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from rtk_sessions.stats import ISSUE_TYPES, IssueThresholds, detect_issues

from .rtcstats_dump import CHROME_99_P2P, CHROME_117_RELAY, FIREFOX_118_SFU
from .test_accumulate import recording_rows

T = IssueThresholds()
BASE = 1_700_000_000_000


def iso(second: float) -> str:
    moment = datetime.fromtimestamp((BASE + second * 1000) / 1000, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def rows(
    kind_values: list[dict[str, Any]], every: float = 1.0, **common: Any
) -> list[dict[str, Any]]:
    """Rows of one stream, one every ``every`` seconds from second 0."""
    return [{"timestamp": iso(i * every), **common, **v} for i, v in enumerate(kind_values)]


def types(found: list[dict[str, Any]]) -> list[tuple[str, str | None, str]]:
    return [(i["type"], i["kind"], i["severity"]) for i in found]


def test_clean_stream_has_no_issue_and_warmup_is_not_judged() -> None:
    clean = rows([{"packets_sent": 50, "packets_lost": 0, "rtt": 0.02, "jitter": 0.002}] * 30)
    assert detect_issues({"audio_producer": clean}) == []
    # a bad start (bandwidth estimation, jitter buffer settling) inside the warm-up is ignored
    start = rows(
        [{"packets_sent": 50, "packets_lost": 10, "rtt": 0.9}] * 5
        + [{"packets_sent": 50, "packets_lost": 0, "rtt": 0.02}] * 20
    )
    assert detect_issues({"audio_producer": start}) == []


def test_high_rtt_range_severity_and_detail() -> None:
    values = [{"packets_sent": 50, "rtt": 0.02}] * 10 + [{"packets_sent": 50, "rtt": 0.35}] * 5
    values += [{"packets_sent": 50, "rtt": 0.02}] * 10 + [{"packets_sent": 50, "rtt": 0.7}] * 4
    found = detect_issues({"audio_producer": rows(values, producer_id="P1")})
    assert types(found) == [
        ("high_rtt", "audio_producer", "warning"),
        ("high_rtt", "audio_producer", "critical"),
    ]
    first = found[0]
    assert first["start"] == iso(9) and first["end"] == iso(14)  # from the previous row's time
    assert first["stream_id"] == "P1"
    assert first["detail"] == "round-trip time up to 350ms (threshold 300ms) for 5 s"
    assert set(first) == {"type", "kind", "start", "end", "severity", "detail", "stream_id"}


def test_flagged_rows_close_together_merge_and_short_ranges_drop() -> None:
    lossy = {"packets_received": 95, "packets_lost": 5}
    fine = {"packets_received": 100, "packets_lost": 0}
    values = [fine] * 6 + [lossy, fine, lossy, fine, fine, lossy] + [fine] * 20 + [lossy]
    found = detect_issues({"audio_consumer": rows(values, ssrc=7)})
    assert types(found) == [("packet_loss", "audio_consumer", "critical")]  # 5 % ≥ 2 × 2 %
    assert (found[0]["start"], found[0]["end"], found[0]["stream_id"]) == (iso(5), iso(11), "7")
    # a lone flagged row shorter than min_duration_s is dropped (the last row above, 1 s)
    strict = IssueThresholds(min_duration_s=0.5, merge_gap_s=0)
    assert len(detect_issues({"audio_consumer": rows(values)}, thresholds=strict)) == 4


def test_producer_loss_jitter_and_consumer_rules() -> None:
    producer = rows([{"packets_sent": 100, "packets_lost": 30, "jitter": 0.08}] * 12)
    found = detect_issues({"audio_producer": producer})
    assert types(found) == [
        ("jitter", "audio_producer", "critical"),
        ("packet_loss", "audio_producer", "critical"),
    ]
    consumer = rows(
        [
            {
                "packets_received": 50,
                "packets_lost": 0,
                "jitter_buffer_delay": 14400.0,
                "jitter_buffer_emitted_count": 48000,
                "concealment_events": 1.5,
            }
        ]
        * 12
    )
    assert types(detect_issues({"audio_consumer": consumer})) == [
        ("audio_concealment", "audio_consumer", "warning"),
        ("jitter_buffer_delay", "audio_consumer", "warning"),
    ]


def test_video_rules() -> None:
    frozen = {
        "packets_received": 100,
        "frames_decoded": 0,
        "frames_per_second": 0,
        "frame_height": 720,
    }
    low = {
        "packets_received": 100,
        "frames_decoded": 50,
        "frames_per_second": 6,
        "frame_height": 180,
    }
    fine = {
        "packets_received": 100,
        "frames_decoded": 60,
        "frames_per_second": 30,
        "frame_height": 720,
    }
    silent = {"packets_received": 0, "frames_decoded": 0, "frame_height": 720}
    values = [fine] * 6 + [frozen] * 4 + [fine] * 8 + [low] * 4 + [fine] * 8 + [silent] * 12
    found = detect_issues({"video_consumer": rows(values)})
    assert types(found) == [
        ("video_freeze", "video_consumer", "warning"),
        ("low_frame_rate", "video_consumer", "warning"),
        ("low_resolution", "video_consumer", "warning"),
        ("no_media_received", "video_consumer", "critical"),
    ]
    assert found[0]["detail"] == "no frame decoded for 4 s"
    assert found[2]["detail"] == "frame height down to 180 px (below 240 px) for 4 s"
    # without frames_decoded, frames_per_second tells a freeze
    fps_only = [{"packets_received": 10, "frames_per_second": 0}] * 10
    assert types(detect_issues({"video_consumer": rows(fps_only)})) == [
        ("video_freeze", "video_consumer", "warning")
    ]
    # screenshare consumers: no freeze / frame-rate rules (static content)
    assert detect_issues({"screenshare_video_consumer": rows(fps_only)}) == []
    very_low = [{"packets_sent": 10, "frames_per_second": 2}] * 10
    assert types(detect_issues({"video_producer": rows(very_low)})) == [
        ("low_frame_rate", "video_producer", "critical")
    ]


def test_quality_limitation_rules() -> None:
    by_durations = [
        {
            "packets_sent": 100,
            "quality_limitation_durations": {"bandwidth": 0.8, "cpu": 0.0, "none": 0.2, "other": 0},
        }
    ] * 20
    found = detect_issues({"video_producer": rows(by_durations)})
    assert types(found) == [("bandwidth_limited", "video_producer", "critical")]
    assert found[0]["detail"] == "video limited by bandwidth for 15 s"
    by_reason = [
        {
            "packets_sent": 100,
            "quality_limitation_reason": "cpu",
            "quality_limitation_durations": {"none": 0},
        }
    ] * 9
    assert types(detect_issues({"screenshare_video_producer": rows(by_reason)})) == [
        ("cpu_limited", "screenshare_video_producer", "warning")
    ]
    unknown = [{"packets_sent": 100}] * 9
    assert detect_issues({"video_producer": rows(unknown)}) == []


def test_turn_relay_from_the_selected_pairs() -> None:
    relay = {
        "local_candidate_type": "relay",
        "remote_candidate_type": "host",
        "local_candidate_protocol": "udp",
        "last_packet_sent_timestamp": BASE + 60_000,
        "last_packet_received_timestamp": BASE + 59_000,
    }
    remote = {"local_candidate_type": "host", "remote_candidate_type": "relay"}
    direct = {"local_candidate_type": "host", "remote_candidate_type": "srflx"}
    found = detect_issues({}, pairs=[(BASE, relay), (BASE + 1000, remote), (BASE, direct)])
    assert types(found) == [("turn_relay", None, "info"), ("turn_relay", None, "info")]
    assert (found[0]["start"], found[0]["end"]) == (iso(0), iso(60))
    assert found[0]["detail"] == "media flows through a TURN relay (local relay candidate, udp)"
    assert found[1]["detail"] == "media flows through a TURN relay (remote relay candidate)"
    assert found[1]["end"] == iso(1)


def test_ice_disconnections_restarts_and_hidden_tab() -> None:
    events: list[Any] = [
        (BASE + 1000, "ice_connection_state", {"connection_id": "pc1", "state": "connected"}),
        (BASE + 5000, "ice_connection_state", {"connection_id": "pc1", "state": "disconnected"}),
        (BASE + 6000, "ice_connection_state", {"connection_id": "pc1", "state": "failed"}),
        (BASE + 9000, "ice_connection_state", {"connection_id": "pc1", "state": "connected"}),
        (BASE + 20000, "ice_connection_state", {"state": "failed"}),
        (BASE + 3000, "visibility_change", {"state": "hidden"}),
        (BASE + 4000, "visibility_change", {"state": "visible"}),
        (BASE + 30000, "visibility_change", {"state": "hidden"}),
        (BASE + 31000, "ice_restart", {}),
        (BASE + 32000, "network_change", {"online": False}),
        (BASE + 33000, "visibility_change", {"state": ["hidden"]}),  # odd metadata: ignored
        (BASE + 34000, "visibility_change", None),
    ]
    found = detect_issues({}, events=events)
    assert [(i["type"], i["start"], i["end"], i["severity"]) for i in found] == [
        ("tab_hidden", iso(3), iso(4), "info"),
        ("ice_restart", iso(5), iso(9), "warning"),
        ("ice_restart", iso(20), None, "critical"),
        ("tab_hidden", iso(30), None, "info"),
        ("ice_restart", iso(31), iso(31), "warning"),
    ]
    assert found[1]["detail"] == "ICE disconnected of connection pc1, reconnected after 4 s"
    assert found[2]["detail"] == "ICE failed and not reconnected"
    assert found[0]["detail"] == "the tab was hidden for 1 s"
    assert found[3]["detail"] == "the tab was hidden (no later visible event)"


def test_device_changes() -> None:
    mic = {"device_id": "m1", "kind": "audioinput", "label": "USB mic"}
    updates: dict[str, Any] = {
        "audio_devices_updates": [
            {"added": [mic], "removed": [], "timestamp": iso(0)},
            {"added": [], "removed": [mic], "timestamp": iso(40)},
            "junk",
            {"added": [], "removed": [{"device_id": "x"}, "junk"], "timestamp": "not a time"},
        ],
        "selected_device_updates": [
            {"device": mic, "timestamp": iso(1)},
            {"device": {"kind": "videoinput", "label": "Cam"}, "timestamp": iso(2)},
            {"device": {"device_id": "m2", "kind": "audioinput"}, "timestamp": iso(30)},
            {"device": {"kind": "audioinput"}, "timestamp": None},
            {"device": "junk"},
            "junk",
        ],
    }
    found = detect_issues({}, device_updates=updates)
    assert [(i["type"], i["start"], i["detail"]) for i in found] == [
        ("device_change", iso(30), "audioinput switched to m2"),
        ("device_change", iso(40), "audio device removed: USB mic"),
    ]


def test_odd_input_is_ignored() -> None:
    junk = ["junk", {"timestamp": "never"}, {"timestamp": 5}, {"timestamp": "2023-11-14T22:13:20"}]
    assert detect_issues({"audio_consumer": junk, "nonsense": [{"x": 1}]}) == []
    naive_then_bad = rows([{"packets_received": 0}] * 12)
    assert types(detect_issues({"audio_consumer": naive_then_bad}))[0][0] == "no_media_received"


@pytest.mark.parametrize(
    "path",
    [CHROME_99_P2P, CHROME_117_RELAY, FIREFOX_118_SFU],
    ids=["chrome99-p2p", "chrome117-relay", "firefox118-sfu"],
)
def test_real_recordings(path: Any) -> None:
    """Every issue found on a real call is well formed, and its range lies within the rows."""
    by_kind = recording_rows(path)
    public = {
        k: [{f: v for f, v in r.items() if not f.startswith("_")} for r in rs]
        for k, rs in by_kind.items()
    }
    found = detect_issues(public)
    stamps = sorted(r["timestamp"] for rs in public.values() for r in rs)
    for issue in found:
        assert issue["type"] in ISSUE_TYPES and issue["kind"] in public
        assert stamps[0] <= issue["start"] <= issue["end"] <= stamps[-1]
        assert issue["severity"] in ("warning", "critical")
    assert found == detect_issues(public, thresholds=T)
    if path == CHROME_99_P2P:
        # the call's second half: the far end's media stalls and concealment, as SOURCES.md says
        assert {"audio_concealment", "jitter_buffer_delay"} <= {i["type"] for i in found}
