"""The sample store's migration (old JSON rows → blocks and states, and back) and retention
(``samples.prune`` and ``rtk-sessions prune``), each on its own fresh database, both dialects."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa
from alembic.script import ScriptDirectory

from rtk_sessions import migrations, stats
from rtk_sessions.clock import utc_now
from rtk_sessions.contract.ingest import IngestBatch
from rtk_sessions.domain import accounts, samples, webhooks
from rtk_sessions.domain.ingest import ingest_batch
from rtk_sessions.domain.sessions import peer_report
from rtk_sessions.importers import load_recording, to_ingest_events
from rtk_sessions.storage import partitions
from rtk_sessions.storage.engine import Database
from rtk_sessions.storage.tables import SampleBlock
from tests.conftest import REAL_STATS

P2P = REAL_STATS / "jitsi-rtcstats_google-standard-stats-p2p.rtcstats.jsonl"
MULTI = REAL_STATS / "jitsi-rtcstats_chrome-standard-multiple-p2p.rtcstats.jsonl"


def _events(path: Path, tag: str) -> dict[str, list[dict[str, Any]]]:
    out = {}
    for index, client in enumerate(load_recording(path).clients):
        peer_id = f"{tag}-{index}"
        out[peer_id] = to_ingest_events(
            client,
            peer_id=peer_id,
            meeting_id=f"{tag}-m",
            session_id=f"{tag}-s",
            meeting_title=tag,
            id_prefix=f"{tag}:{index}",
        )
    return out


def _ingest(db: Database, app_id: str, events: list[dict[str, Any]], now: datetime) -> None:
    for start in range(0, len(events), 200):
        batch = IngestBatch.model_validate({"events": events[start : start + 200]})
        with db.unit_of_work() as s:
            ingest_batch(s, accounts.get_app(s, "a" * 32, app_id), batch.events, now=now)


def _quality(db: Database, app_id: str, peer_id: str) -> dict[str, Any]:
    with db.unit_of_work(write=False) as s:
        report = peer_report(
            s, app_id, peer_id, now=utc_now(), filters=None, include_peer_events=False
        )
    quality: dict[str, Any] = orjson.loads(orjson.dumps(report["peer_report"]["quality"]))
    return quality


def _old_rows(events: list[dict[str, Any]]) -> tuple[list[stats.SampleRow], dict[str, Any]]:
    """What the old ingest stored for one peer: its sample rows (with internals) and, per
    connection, its last cursor ``{"ts", "report", "labels", "pairs"}``."""
    cursors: dict[str, dict[str, Any]] = {}
    rows: list[stats.SampleRow] = []
    for event in events:
        if event["type"] != "peer.stats":
            continue
        connection = event["connection_id"]
        last = cursors.get(connection)
        labels = event.get("labels") or (last["labels"] if last else [])
        rows.extend(
            stats.sample_rows(
                last["report"] if last else None,
                event["stats"],
                namespace=f"{event['peer_id']}:{connection}",
                labels=[stats.StreamLabel.from_mapping(label) for label in labels],
            )
        )
        pairs = dict(last["pairs"]) if last else {}
        for role, pair_id, data in stats.candidate_pairs(event["stats"]):
            first = pairs.get((role, pair_id), (float(event["timestamp"]), None))[0]
            pairs[(role, pair_id)] = (first, data)
        cursors[connection] = {
            "ts": float(event["timestamp"]),
            "report": stats.compact_report(event["stats"]),
            "labels": labels,
            "pairs": pairs,
        }
    return rows, cursors


def _canonical(row: dict[str, Any]) -> bytes:
    return orjson.dumps(row, option=orjson.OPT_SORT_KEYS)


def _before(revision: str) -> str:
    script = ScriptDirectory.from_config(migrations.alembic_config("sqlite://"))
    down = script.get_revision(revision).down_revision
    assert isinstance(down, str)
    return down


def test_migration_moves_old_rows_into_blocks_and_back(empty_url: str) -> None:
    previous = _before("0004")
    migrations.upgrade(empty_url, previous)
    db = Database(empty_url)
    with db.unit_of_work() as s:
        app_id = accounts.create_app(s, "a" * 32, "migration").id
    # schema 0003 has no webhooks table: ingestion must not look subscriptions up
    webhooks.configure_cache(db.engine, float("inf")).put(app_id, {})
    expected: dict[str, dict[str, Any]] = {}
    old_counts: dict[str, int] = {}
    cursor_count = pair_count = 0
    for path in (P2P, MULTI):
        for peer_id, events in _events(path, uuid.uuid4().hex[:8]).items():
            # the peer and its session exist; its samples are written the old way, below
            _ingest(db, app_id, [e for e in events if e["type"] == "peer.joined"], utc_now())
            rows, cursors = _old_rows(events)
            old_counts[peer_id] = len(rows)
            by_kind: dict[str, list[stats.SampleRow]] = defaultdict(list)
            for row in rows:
                by_kind[row.kind].append(row)
            for kind_rows in by_kind.values():
                kind_rows.sort(key=lambda r: r.timestamp_ms)
            expected[peer_id] = orjson.loads(orjson.dumps(stats.build_quality(by_kind)))
            with db.engine.begin() as conn:
                conn.execute(
                    sa.text(
                        "INSERT INTO stats_samples (peer_id, kind, stream_key, timestamp_ms, row) "
                        "VALUES (:peer, :kind, :key, :ts, :row)"
                    ),
                    [
                        {
                            "peer": peer_id,
                            "kind": r.kind,
                            "key": r.stream_key,
                            "ts": r.timestamp_ms,
                            "row": orjson.dumps(r.values).decode(),
                        }
                        for r in rows
                    ],
                )
                for connection, c in cursors.items():
                    cursor_count += 1
                    for (role, pair_id), (first, data) in c["pairs"].items():
                        pair_count += 1
                        conn.execute(
                            sa.text(
                                "INSERT INTO candidate_pairs (peer_id, connection_id, pair_id, "
                                "role, first_seen_ms, data) VALUES (:peer, :conn, :pair, :role, "
                                ":first, :data)"
                            ),
                            {
                                "peer": peer_id,
                                "conn": connection,
                                "pair": pair_id,
                                "role": role,
                                "first": first,
                                "data": orjson.dumps(data).decode(),
                            },
                        )
                    report = {"report": c["report"], "labels": c["labels"]}
                    conn.execute(
                        sa.text(
                            "INSERT INTO stats_cursors (peer_id, connection_id, timestamp_ms, "
                            "report) VALUES (:peer, :conn, :ts, :report)"
                        ),
                        {
                            "peer": peer_id,
                            "conn": connection,
                            "ts": c["ts"],
                            "report": orjson.dumps(report).decode(),
                        },
                    )
    db.dispose()

    migrations.upgrade(empty_url)
    db = Database(empty_url)
    for peer_id, quality in expected.items():
        stored = _quality(db, app_id, peer_id)
        for kind in stats.KINDS:
            assert stored[f"{kind}_cumulative"] == quality[f"{kind}_cumulative"], (peer_id, kind)
            # as sets of rows: PostgreSQL's jsonb kept the old rows with their keys reordered
            assert sorted(map(_canonical, stored[kind])) == sorted(map(_canonical, quality[kind]))
    db.dispose()
    assert pair_count > 0

    migrations.downgrade(empty_url, previous)
    engine = sa.create_engine(empty_url)
    with engine.connect() as conn:
        counts: dict[str, int] = {
            row[0]: row[1]
            for row in conn.execute(
                sa.text("SELECT peer_id, count(*) FROM stats_samples GROUP BY peer_id")
            )
        }
        assert counts == old_counts
        assert conn.scalar(sa.text("SELECT count(*) FROM stats_cursors")) == cursor_count
        assert conn.scalar(sa.text("SELECT count(*) FROM candidate_pairs")) == pair_count
    engine.dispose()


def test_prune_drops_old_rows_and_keeps_cumulative_blocks(empty_url: str) -> None:
    migrations.upgrade(empty_url)
    db = Database(empty_url)
    with db.unit_of_work() as s:
        app_id = accounts.create_app(s, "a" * 32, "retention").id
    long_ago = utc_now() - timedelta(days=40)
    recent = utc_now()
    ((old_peer, old_events),) = _events(P2P, "old").items()
    ((new_peer, new_events),) = _events(P2P, "new").items()
    if db.dialect == "postgresql":
        with db.engine.begin() as conn:  # the partitions of 40 days ago, as a server then made
            partitions.ensure(conn, long_ago)
    _ingest(db, app_id, old_events, long_ago)
    _ingest(db, app_id, new_events, recent)
    before_old, before_new = _quality(db, app_id, old_peer), _quality(db, app_id, new_peer)
    for kind in stats.KINDS:  # the same recording (under other peer ids) whenever it arrived
        assert len(before_old[kind]) == len(before_new[kind])
        assert before_old[f"{kind}_cumulative"] == before_new[f"{kind}_cumulative"]

    with db.unit_of_work() as s:
        kept = samples.prune(s, now=recent, retention_days=60)
    assert kept.blocks_deleted == 0 and kept.partitions_dropped == []

    with db.unit_of_work() as s:
        result = samples.prune(s, now=recent, retention_days=30)
    if db.dialect == "postgresql":
        assert (
            partitions.partition_name(partitions.day_number(long_ago)) in result.partitions_dropped
        )
    else:
        assert result.blocks_deleted > 0
    after_old, after_new = _quality(db, app_id, old_peer), _quality(db, app_id, new_peer)
    assert after_new == before_new
    for kind in stats.KINDS:
        assert after_old[kind] == []
        assert after_old[f"{kind}_cumulative"] == before_old[f"{kind}_cumulative"]
    assert any(before_old[kind] for kind in stats.KINDS)
    with db.unit_of_work(write=False) as s:
        left = s.scalar(
            sa.select(sa.func.count())
            .select_from(SampleBlock)
            .where(SampleBlock.peer_id == old_peer)
        )
    assert left == 0
    db.dispose()


def test_prune_command(empty_url: str) -> None:
    migrations.upgrade(empty_url)
    done = subprocess.run(
        [sys.executable, "-m", "rtk_sessions", "prune", "--days", "7", "--json"],
        env={**os.environ, "RTK_DATABASE_URL": empty_url},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    out = orjson.loads(done.stdout)
    assert out["cutoff_day"] == partitions.day_number(datetime.now(UTC) - timedelta(days=7))
    assert out["blocks_deleted"] == 0
