"""The benchmark suite (bench/) works end to end; speed itself is never asserted here."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, func, select

from rtk_sessions.config import normalize_database_url
from rtk_sessions.storage.tables import App, Peer, PeerEvent, Session
from tests.conftest import LiveServer

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

import payloads as bench_payloads  # noqa: E402
import recount_payloads as bench_recount  # noqa: E402
import run as bench_run  # noqa: E402
import seed as bench_seed  # noqa: E402


def test_healthz_answers_without_auth(live_server: LiveServer) -> None:
    response = httpx.get(f"{live_server.url}/healthz", trust_env=False)
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_seed_writes_consistent_sessions(database_url: str) -> None:
    result = bench_seed.seed(database_url, 300, migrate=False, samples=10)
    engine = create_engine(normalize_database_url(database_url))
    try:
        with engine.connect() as conn:
            assert conn.scalar(select(func.count()).where(App.id == result.app_id)) == 1
            sessions = conn.execute(
                select(Session.id, Session.status, Session.consumed_secs,
                       Session.max_concurrent_participants, Session.live_participants)
                .where(Session.app_id == result.app_id)
            ).all()  # fmt: skip
            peers = conn.execute(
                select(Peer.id, Peer.session_id, Peer.joined_at, Peer.left_at).where(
                    Peer.app_id == result.app_id
                )
            ).all()
            events = conn.execute(
                select(PeerEvent.peer_id, PeerEvent.event_name).where(
                    PeerEvent.session_id.in_([s.id for s in sessions])
                )
            ).all()
    finally:
        engine.dispose()
    assert len(sessions) == result.sessions == 300
    assert len(peers) == result.peers and len(events) == result.peer_events
    assert len(result.sample_session_ids) == 10
    by_session = defaultdict(list)
    for p in peers:
        by_session[p.session_id].append(p)
    names = defaultdict(set)
    for e in events:
        names[e.peer_id].add(e.event_name)
    statuses = {s.status for s in sessions}
    assert statuses <= {"LIVE", "ENDED"} and "ENDED" in statuses
    for s in sessions:
        mine = by_session[s.id]
        assert len(mine) >= 1 and 1 <= s.max_concurrent_participants <= len(mine)
        left = [p for p in mine if p.left_at is not None]
        consumed = sum((p.left_at - p.joined_at).total_seconds() for p in left)
        assert s.consumed_secs == pytest.approx(consumed, abs=0.01)
        assert s.live_participants == len(mine) - len(left)
        assert (s.status == "LIVE") == (len(left) < len(mine))
        for p in mine:
            expected = {"PEER_CREATED", "PEER_JOINING"} | (
                {"PEER_LEAVING"} if p.left_at is not None else set()
            )
            assert names[p.id] == expected


def test_payload_sample_counts_follow_the_stats_code() -> None:
    """samples/s and "stored == sent" use the counts in bench/data; a metric rule that changes
    which rows exist must come with `bench/recount_payloads.py` (this fails until it is run)."""
    assert bench_recount.main(["--check"]) == 0


def test_long_peer_is_ordered_and_its_counters_never_go_back() -> None:
    loaded = bench_payloads.Payloads.load()
    source = len(loaded.reports)
    events = bench_payloads.long_peer(loaded, "t", 1_700_000_000_000.0, reports=3 * source)
    assert [e["type"] for e in (events[0], events[-1])] == ["peer.joined", "peer.left"]
    stats = [e for e in events if e["type"] == "peer.stats"]
    assert len(stats) == 3 * source
    times = [e["timestamp"] for e in events]
    assert times == sorted(times) and len(set(times[1:-1])) == len(stats)
    last: dict[tuple[str, str], float] = {}
    for e in stats:
        for obj in e["stats"]:
            if obj["type"] not in ("inbound-rtp", "outbound-rtp"):
                continue
            for name in ("packetsReceived", "bytesReceived", "packetsSent", "bytesSent"):
                if name in obj:
                    key = (obj["id"], name)
                    assert obj[name] >= last.get(key, 0), key
                    last[key] = obj[name]
    assert last  # the recording has RTP streams both ways


def test_quick_run_prints_every_row_with_finite_positive_numbers(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    cmd = [sys.executable, str(ROOT / "bench/run.py"), "--quick", "--sizes", "1k"]
    cmd += ["--databases", "sqlite", "--json", str(out)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(out.read_text())["sqlite"]
    for row in bench_run.rows([1000]):
        assert row.label in done.stdout, row.label
        for key in filter(None, (row.key, row.second)):
            value = results[key]
            assert math.isfinite(value) and value > 0, (key, value)
    for label in bench_run.LIST_LABELS.values():
        assert label in done.stdout
    assert results["stored_matches_sent"] == 1


def test_bytes_per_sample_splits_the_run_py_total_by_table(tmp_path: Path) -> None:
    import bytes_per_sample as bench_bytes

    payloads = bench_payloads.Payloads.load()
    url = f"sqlite:///{tmp_path / 'bytes.db'}"
    runs = frozenset({"ingest_1c_100e", "ingest_1c_1e"})
    before, after, samples = bench_bytes.measure(url, payloads, 0.02, runs)
    assert samples > 0
    per = bench_bytes.growth(before, after, samples)
    total = per.pop("*")["total"]
    # (client_event_blocks: too small at this scale to take a page of its own)
    assert {"sample_blocks", "peer_connection_states"} <= set(per)
    assert math.isclose(sum(sum(cols.values()) for cols in per.values()), total)


def test_growth_is_judged_for_the_lists_the_issue_bounds_only() -> None:
    sizes = [10_000, 1_000_000]
    results: dict[str, dict[str, float]] = {"sqlite": {}}
    for key in bench_run.LIST_LABELS:
        results["sqlite"][f"{key}_p99@10000"] = 5.0
        results["sqlite"][f"{key}_p99@1000000"] = 15.0  # 3× everywhere
    text = bench_run.render(results, sizes)
    growth = text[text.index("\nquery ") :].splitlines()  # the growth table
    verdicts = {
        key: next(line for line in growth if line.startswith(label)).split()[-1]
        for key, label in bench_run.LIST_LABELS.items()
    }
    for key in ("default", "sort_minutes", "status_ended", "search"):
        assert verdicts[key] == "FAIL", key
    for key in ("time_range", "deep_page", "details", "participants", "peer_report"):
        assert verdicts[key] not in ("pass", "FAIL"), key


def test_ingest_cpu_split_prints_every_part() -> None:
    cmd = [sys.executable, str(ROOT / "bench/ingest_cpu.py"), "--split", "--rounds", "1"]
    cmd += ["--batches", "7"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    figures = {}
    for line in done.stdout.splitlines()[2:]:
        label, value = line[:44].strip(), line[44:].split()[0]
        figures[label] = float(value)
    assert figures["in-process total"] > 0
    assert figures["over HTTP: the server process, 1 client"] > 0
    # the wrapper reached the getStats pass (domain.samples calls it as stats.ingest_indexed)
    stats_pass = figures["the getStats pass (stats.ingest_indexed)"]
    assert 0 < stats_pass < figures["apply_batch"]
