"""The sample store (``domain.samples``): peer reports served from stored state and compressed
blocks must equal a from-scratch computation over the same events, however they were batched.

The from-scratch side runs the pure ``rtk_sessions.stats`` functions over each recording's
``peer.stats`` events (per connection, the previous report as cursor, exactly as a client's
reports arrive) and builds the ``quality`` object with ``stats.build_quality`` from all rows at
once; the stored side posts the same events to a live server and reads the report through the
official SDK's route.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import delete, select

from rtk_sessions import stats
from rtk_sessions.domain.samples import SEAL_ROWS, TAIL_BLOCKS
from rtk_sessions.importers import load_recording, to_ingest_events
from rtk_sessions.storage.tables import SampleBlock
from tests.conftest import FIXTURES, REAL_STATS, Tenant
from tests.helpers import post_events

RECORDINGS = [
    *sorted(REAL_STATS.glob("jitsi-rtcstats_*.rtcstats.jsonl")),
    FIXTURES / "webrtc-internals" / "chromium156-loopback.json",
]


def _events(path: Path, tag: str) -> dict[str, list[dict[str, Any]]]:
    """The ingestion events of each recorded client of ``path``, by peer id."""
    recording = load_recording(path)
    out = {}
    for index, client in enumerate(recording.clients):
        peer_id = f"{tag}-peer-{index}"
        out[peer_id] = to_ingest_events(
            client,
            peer_id=peer_id,
            meeting_id=f"{tag}-meeting",
            session_id=f"{tag}-session",
            meeting_title=path.name,
            id_prefix=f"{tag}:{index}",
        )
    return out


def _from_scratch(events: list[dict[str, Any]]) -> tuple[dict[str, Any], int]:
    """The ``quality`` object of one peer's events, computed with the pure stats functions only;
    and how many connections it had."""
    cursors: dict[str, tuple[float, dict[str, Any], list[Any]]] = {}
    rows: dict[str, list[stats.SampleRow]] = defaultdict(list)
    for event in sorted(events, key=lambda e: e["timestamp"]):
        if event["type"] != "peer.stats":
            continue
        connection = event["connection_id"]
        moment = float(event["timestamp"])
        last = cursors.get(connection)
        if last is not None and moment <= last[0]:
            continue
        labels = event.get("labels") or (last[2] if last else [])
        for row in stats.sample_rows(
            last[1] if last else None,
            event["stats"],
            namespace=f"{event['peer_id']}:{connection}",
            transport=event.get("transport"),
            labels=[stats.StreamLabel.from_mapping(label) for label in labels],
        ):
            rows[row.kind].append(row)
        cursors[connection] = (moment, stats.compact_report(event["stats"]), labels)
    if not rows:
        return {}, len(cursors)
    for kind_rows in rows.values():
        kind_rows.sort(key=lambda r: r.timestamp_ms)  # stable: ties keep arrival order
    return stats.build_quality(rows), len(cursors)


def _report(tenant: Tenant, peer_id: str) -> dict[str, Any]:
    response = httpx.get(
        f"{tenant.server.base_url}/accounts/{tenant.account_id}/realtime/kit/{tenant.app_id}"
        f"/sessions/peer-report/{peer_id}",
        params={"filters": "quality_stats"},
        headers={"Authorization": f"Bearer {tenant.token}"},
        timeout=60,
    )
    assert response.status_code == 200, response.text
    quality: dict[str, Any] = response.json()["data"]["participant"]["peer_report"]["quality"]
    return quality


def _canonical(quality: dict[str, Any]) -> dict[str, Any]:
    """Rows of each kind in a canonical order (for peers with several connections, whose rows
    at the same millisecond may interleave in either order)."""
    out = dict(quality)
    for kind in stats.KINDS:
        out[kind] = sorted(
            quality.get(kind, []), key=lambda r: orjson.dumps(r, option=orjson.OPT_SORT_KEYS)
        )
    return out


def _assert_same(stored: dict[str, Any], scratch: dict[str, Any], connections: int) -> None:
    expected = orjson.loads(orjson.dumps(scratch))  # as JSON: tuples → lists, floats as sent
    if connections > 1:
        for kind in stats.KINDS:
            stamps = [r["timestamp"] for r in stored[kind]]
            assert stamps == sorted(stamps), f"{kind} rows are not in timestamp order"
        stored, expected = _canonical(stored), _canonical(expected)
    assert stored == expected


def _post(tenant: Tenant, events: list[dict[str, Any]], size: int) -> tuple[int, int]:
    accepted = duplicates = 0
    for start in range(0, len(events), size):
        data = post_events(tenant, events[start : start + size]).json()["data"]
        accepted, duplicates = accepted + data["accepted"], duplicates + data["duplicates"]
    return accepted, duplicates


@pytest.mark.parametrize("path", RECORDINGS, ids=[p.name for p in RECORDINGS])
def test_stored_report_equals_from_scratch(tenant: Tenant, path: Path) -> None:
    clients = _events(path, uuid.uuid4().hex[:8])
    everything = sorted((e for ev in clients.values() for e in ev), key=lambda e: e["timestamp"])
    _post(tenant, everything, 100)
    checked = 0
    for peer_id, events in clients.items():
        scratch, connections = _from_scratch(events)
        stored = _report(tenant, peer_id)
        _assert_same(stored, scratch, connections)
        checked += sum(len(stored.get(kind, [])) for kind in stats.KINDS)
    assert checked > 0


def test_one_report_a_batch_compacts_to_the_same_report(tenant: Tenant) -> None:
    """A client that sends every report on its own leaves small blocks that get compacted; the
    report is the same as for 100-event batches, and a replay of everything changes nothing."""
    path = REAL_STATS / "jitsi-rtcstats_google-standard-stats-p2p.rtcstats.jsonl"
    ((peer_id, events),) = _events(path, uuid.uuid4().hex[:8]).items()
    accepted, duplicates = _post(tenant, events, 1)
    assert (accepted, duplicates) == (len(events), 0)
    scratch, connections = _from_scratch(events)
    first = _report(tenant, peer_id)
    _assert_same(first, scratch, connections)

    with tenant.server.database().unit_of_work(write=False) as db:
        blocks = db.execute(
            select(SampleBlock.kind, SampleBlock.connection_id, SampleBlock.row_count)
            .where(SampleBlock.peer_id == peer_id)
            .order_by(SampleBlock.kind, SampleBlock.connection_id, SampleBlock.start_ms)
        ).all()
    runs: dict[tuple[int, str], list[int]] = defaultdict(list)
    for kind, connection_id, count in blocks:
        runs[(kind, connection_id)].append(count)
    assert any(len(counts) > 1 and counts[0] >= SEAL_ROWS for counts in runs.values())
    for counts in runs.values():
        # compacted blocks of at least SEAL_ROWS rows, then a short tail of small ones
        full = [c for c in counts if c >= SEAL_ROWS]
        assert counts[: len(full)] == full
        assert sum(counts[len(full) :]) < SEAL_ROWS
        assert len(counts) - len(full) < TAIL_BLOCKS

    assert _post(tenant, events, 7) == (0, len(events))
    assert _report(tenant, peer_id) == first


def test_late_report_of_a_connection_changes_nothing(tenant: Tenant) -> None:
    """A report older than its connection's cursor (even under a new event id) is a duplicate."""
    path = REAL_STATS / "jitsi-rtcstats_chrome-relay.rtcstats.jsonl"
    ((peer_id, events),) = _events(path, uuid.uuid4().hex[:8]).items()
    _post(tenant, events, 100)
    before = _report(tenant, peer_id)
    old = next(e for e in events if e["type"] == "peer.stats")
    data = post_events(tenant, [{**old, "id": "late-" + old["id"]}]).json()["data"]
    assert data == {"accepted": 0, "duplicates": 1}
    assert _report(tenant, peer_id) == before


def _peer_report(tenant: Tenant, peer_id: str) -> dict[str, Any]:
    response = httpx.get(
        f"{tenant.server.base_url}/accounts/{tenant.account_id}/realtime/kit/{tenant.app_id}"
        f"/sessions/peer-report/{peer_id}",
        params={"filters": "quality_stats"},
        headers={"Authorization": f"Bearer {tenant.token}"},
        timeout=60,
    )
    assert response.status_code == 200, response.text
    report: dict[str, Any] = response.json()["data"]["participant"]["peer_report"]
    return report


def test_detected_issues_follow_the_stored_rows(tenant: Tenant) -> None:
    """The detected issues are cached by a digest of the peer's stored blocks: once blocks are
    gone (as retention deletes the old ones; the peer's client events and pairs stay), the
    report is judged over the rows left, not answered from the cache."""
    path = REAL_STATS / "jitsi-rtcstats_chrome-relay.rtcstats.jsonl"
    ((peer_id, events),) = _events(path, uuid.uuid4().hex[:8]).items()
    _post(tenant, events, 7)
    seen = []
    for step in range(2):
        for _ in range(2):  # the second read is answered from the cache
            report = _peer_report(tenant, peer_id)
            own = stats.detect_issues({k: report["quality"][k] for k in stats.KINDS})
            assert [i for i in report["detected_issues"] if i["kind"] is not None] == own
        seen.append((sum(len(report["quality"][k]) for k in stats.KINDS), len(own)))
        if step == 0:
            with tenant.server.database().unit_of_work() as db:
                starts = sorted(
                    db.scalars(select(SampleBlock.start_ms).where(SampleBlock.peer_id == peer_id))
                )
                db.execute(
                    delete(SampleBlock).where(
                        SampleBlock.peer_id == peer_id,
                        SampleBlock.start_ms < starts[len(starts) // 2],
                    )
                )
    assert seen[0][0] > seen[1][0] > 0 and seen[0][1] != seen[1][1]


def _pair_report(ts: float, selected: str, rtt: float) -> list[dict[str, Any]]:
    pairs = [
        {"id": pid, "type": "candidate-pair", "timestamp": ts, "transportId": "T",
         "localCandidateId": "L", "remoteCandidateId": f"R{pid}", "state": "succeeded",
         "nominated": True, "currentRoundTripTime": rtt, "bytesSent": int(ts)}
        for pid in ("A", "B")
    ]  # fmt: skip
    return [
        {"id": "T", "type": "transport", "timestamp": ts, "selectedCandidatePairId": selected},
        *pairs,
        {"id": "L", "type": "local-candidate", "address": "10.0.0.1", "port": 5000},
        {"id": "RA", "type": "remote-candidate", "address": "192.0.2.1", "port": 6000},
        {"id": "RB", "type": "remote-candidate", "address": "192.0.2.2", "port": 7000},
    ]


def test_pairs_of_a_batch_keep_the_entry_of_the_last_report_selecting_them() -> None:
    """``ConnectionState.select_pairs`` makes a pair's entry once, from the last report of the
    batch that selected it: the stored pairs equal those made from every report's entries."""
    from rtk_sessions.domain.samples import ConnectionState

    reports = [(1000.0 * n, _pair_report(1000.0 * n, sel, n / 100)) for n, sel in
               enumerate("AABBA", start=1)]  # fmt: skip
    deferred, eager = ConnectionState("p", "c"), ConnectionState("p", "c")
    previous: Any = None
    for ts, report in reports:
        _, pairs, previous = stats.ingest_indexed(
            previous, report, namespace="p:c", pair_entries=False
        )
        assert all(entry == {} for _, _, entry in pairs)
        deferred.select_pairs(pairs, previous, None, ts)
        for role, pair_id, data in stats.ingest_report(None, report, namespace="p:c")[1]:
            known = eager.pairs.get(f"{role} {pair_id}")
            eager.pairs[f"{role} {pair_id}"] = [known[0] if known else ts, data]
        if ts == 3000.0:  # a batch ends: the state is written
            assert deferred.to_json()["pairs"] == eager.pairs
    stored = deferred.to_json()["pairs"]
    assert stored == eager.pairs
    assert list(stored) == list(eager.pairs) == ["producing_transport A", "producing_transport B"]
    assert stored["producing_transport A"] == [1000.0, stored["producing_transport A"][1]]
    assert stored["producing_transport A"][1]["current_round_trip_time"] == 0.05  # report 5
    assert stored["producing_transport B"][1]["current_round_trip_time"] == 0.04  # report 4
