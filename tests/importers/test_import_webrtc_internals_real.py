"""A trimmed REAL dump from Chromium 156 (tests/fixtures/webrtc-internals/README.md): the series
must rebuild exactly the getStats() reports the same page exported as an rtcstats dump."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rtk_sessions.importers import to_ingest_events
from rtk_sessions.importers.model import RecordedClient

from .internals_checks import (
    check_import,
    check_old_variants,
    compare_with_rtcstats,
    format_facts,
    gapped_series,
    read_dump,
    snapshots_by_pc,
)

HERE = Path(__file__).resolve().parents[1] / "fixtures" / "webrtc-internals"
DUMP = HERE / "chromium156-loopback.json"
RTCSTATS = HERE / "chromium156-loopback.rtcstats.gz"
CALL = json.loads((HERE / "chromium156-loopback.call.json").read_text())
DURATION_S = (CALL["closed_ms"] - CALL["connected_ms"]) / 1000


@pytest.fixture(scope="module")
def client() -> RecordedClient:
    return check_import(DUMP, call=CALL, duration_s=DURATION_S)


def test_format_facts() -> None:
    facts = format_facts(read_dump(DUMP))
    # real: fields that appear later (remoteId, roundTripTime, ...) have shorter series
    assert facts["unequal_objects"]
    assert facts["computed"] > 0


def test_snapshots(client: RecordedClient) -> None:
    by = snapshots_by_pc(client)
    assert {pc: len(s) for pc, s in by.items()} == {"8-1": 19, "8-2": 19}
    # the audio remote-inbound-rtp is stamped with its RTCP report's time, which stays the
    # same for several polls: it must still be in every poll from its first one to the end
    send = by["8-1"]
    ria = [s.report.get("RIA1842022652") for s in send]
    first = next(i for i, o in enumerate(ria) if o)
    assert all(ria[first:]) and first <= 3
    assert len({o["timestamp"] for o in ria[first:]}) < len(ria) - first  # stale stamps
    assert all(
        o["timestamp"] <= s.timestamp_ms for o, s in zip(ria[first:], send[first:], strict=True)
    )


def test_same_as_rtcstats_dump(client: RecordedClient) -> None:
    gapped = gapped_series(read_dump(DUMP))
    # the only field Chromium 156 leaves out of some middle polls here: remote-outbound-rtp
    # roundTripTime (present only when the last sender report carried a measurement)
    assert {(pc, fld) for pc, _, fld in gapped} == {("8-2", "roundTripTime")}
    assert compare_with_rtcstats(client, RTCSTATS, gapped) > 4000


def test_old_dump_without_stats_type(client: RecordedClient) -> None:
    check_old_variants(DUMP, client)


def test_ingest_events(client: RecordedClient) -> None:
    events = to_ingest_events(
        client, peer_id="p", meeting_id="m", session_id="s", meeting_title="t", id_prefix="x"
    )
    kinds = [e["type"] for e in events]
    assert kinds[0] == "peer.joined" and kinds[-1] == "peer.left"
    assert kinds.count("peer.stats") == 38
