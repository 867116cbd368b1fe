"""The one real published peer report (Dyte v2 OpenAPI example) must be reproduced exactly."""

import json
from pathlib import Path
from typing import Any

import pytest

from rtk_sessions.stats import KINDS, build_quality, cumulative
from tests.stats.helpers import realtimekit

REFERENCE = Path("/work/shared/spec/reference-peer-report.json")
LOCAL_COPY = Path(__file__).with_name("reference_quality.json")


def _quality() -> dict[str, Any]:
    if REFERENCE.exists():
        data = json.loads(REFERENCE.read_text(encoding="utf-8"))
        quality: dict[str, Any] = data["data"]["participant"]["peer_report"]["quality"]
        return quality
    local: dict[str, Any] = json.loads(LOCAL_COPY.read_text(encoding="utf-8"))  # pragma: no cover
    return local  # pragma: no cover


def test_local_copy_matches_spec_file() -> None:
    if not REFERENCE.exists():  # pragma: no cover
        pytest.skip("shared spec not mounted")
    assert json.loads(LOCAL_COPY.read_text(encoding="utf-8")) == _quality()


def test_audio_producer_cumulative_reproduced_exactly() -> None:
    quality = _quality()
    got = cumulative("audio_producer", quality["audio_producer"])
    assert realtimekit(got) == quality["audio_producer_cumulative"]
    # Q11: the first row (before any RTCP receiver report) measured neither rtt nor loss.
    assert got["rtt"]["measured_rows"] == 9 and got["packet_loss"]["measured_rows"] == 9
    assert got["rtt"]["measured_avg"] == round(1357.009 / 9, 4)
    assert got["quality_mos"]["measured_rows"] == 10
    assert got["rtt"]["avg"] == 135.7009
    assert got["rtt"]["500ms_or_greater_event_fraction"] == 0.1
    assert got["rtt"]["250ms_or_greater_event_fraction"] == 0.2
    assert got["rtt"]["100ms_or_greater_event_fraction"] == 0.2


def test_whole_quality_object_reproduced() -> None:
    quality = _quality()
    got = build_quality({kind: quality[kind] for kind in KINDS})
    assert realtimekit(got) == quality
    assert set(got) == set(quality)
