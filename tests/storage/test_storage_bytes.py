"""Bytes per sample (issue 7): the sample store's preset-dictionary compression, migration 0006b
(up, down, up again, with the stored data read back the same) and the peer touch that leaves
``last_received_at`` alone within a second, on both dialects."""

from __future__ import annotations

import copy
import zlib
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import orjson
import pytest
import sqlalchemy as sa

from rtk_sessions import migrations
from rtk_sessions.api.deps import AppScope
from rtk_sessions.api.ingest import apply_batch, parse_batch
from rtk_sessions.clock import utc_now
from rtk_sessions.config import Settings
from rtk_sessions.contract.ingest import IngestBatch
from rtk_sessions.domain import accounts, client_events
from rtk_sessions.domain.ingest import RECEIVED_QUANTUM, ingest_batch
from rtk_sessions.domain.sessions import peer_report
from rtk_sessions.importers import load_recording, to_ingest_events
from rtk_sessions.storage import blocks
from rtk_sessions.storage.engine import Database
from rtk_sessions.storage.tables import ClientEventBlock, Peer
from rtk_sessions.storage.types import JSONDocument as JSON
from tests.conftest import REAL_STATS

P2P = REAL_STATS / "jitsi-rtcstats_google-standard-stats-p2p.rtcstats.jsonl"
ACCOUNT = "a" * 32


def _events(tag: str) -> list[dict[str, Any]]:
    (client, *_) = load_recording(P2P).clients
    return to_ingest_events(
        client,
        peer_id=f"{tag}-p",
        meeting_id=f"{tag}-m",
        session_id=f"{tag}-s",
        meeting_title=tag,
        id_prefix=tag,
    )


def _ingest(
    db: Database, app_id: str, events: list[dict[str, Any]], size: int = 50
) -> tuple[int, int]:
    """(accepted, duplicates) of ``events`` sent in batches of ``size``."""
    accepted = duplicates = 0
    for start in range(0, len(events), size):
        batch = IngestBatch.model_validate({"events": events[start : start + size]})
        with db.unit_of_work() as s:
            app = accounts.get_app(s, ACCOUNT, app_id)
            result = ingest_batch(s, app, batch.events, now=utc_now())
        accepted, duplicates = accepted + result.accepted, duplicates + result.duplicates
    return accepted, duplicates


def _report(db: Database, app_id: str, peer_id: str) -> Any:
    with db.unit_of_work(write=False) as s:
        report = peer_report(
            s, app_id, peer_id, now=utc_now(), filters=None, include_peer_events=True
        )
    return orjson.loads(orjson.dumps(report["peer_report"]))


def _real_rows() -> list[bytes]:
    """Public sample rows of a real recording, as the ingest stores them."""
    from rtk_sessions import stats

    rows: list[bytes] = []
    previous = None
    for event in _events("rows"):
        if event["type"] != "peer.stats":
            continue
        for row in stats.sample_rows(previous, event["stats"], namespace="p:c"):
            rows.append(orjson.dumps({k: v for k, v in row.values.items() if k[:1] != "_"}))
        previous = event["stats"]
    return rows


def test_blocks_and_states_use_a_dictionary_and_still_read_plain_zlib() -> None:
    rows = _real_rows()[:30]
    assert len(rows) == 30
    joined = b",".join(rows)
    block = blocks.encode_rows(rows)
    assert block[1] & 0x20  # FDICT
    assert blocks.decode_rows(block) == joined
    # the dictionary is what makes a small block small: at the same level, at least 15% less
    # than plain zlib (18% on this block at level 6)
    plain = zlib.compress(joined, blocks._ROWS_LEVEL)
    assert len(block) <= 0.85 * len(plain), (len(block), len(plain))
    # blocks and states written before migration 0006b: plain zlib
    assert blocks.decode_rows(zlib.compress(joined, 6)) == joined
    state = {"v": 1, "report": {"x": {"type": "inbound-rtp", "packetsReceived": 3}}, "acc": {}}
    assert blocks.decode_state(blocks.encode_state(state)) == state
    assert blocks.decode_state(zlib.compress(orjson.dumps(state), 1)) == state
    # plain(): what the downgrade writes, readable by zlib alone
    assert zlib.decompress(blocks.plain(block)) == joined
    assert orjson.loads(zlib.decompress(blocks.plain(blocks.encode_state(state)))) == state
    foreign = zlib.compressobj(6, zlib.DEFLATED, 15, 9, zlib.Z_DEFAULT_STRATEGY, b"other dict")
    with pytest.raises(zlib.error):
        blocks.decode_rows(foreign.compress(joined) + foreign.flush())
    with pytest.raises(zlib.error):
        blocks.decode_rows(block[:-10])


def _layout(url: str) -> dict[str, Any]:
    """What 0006b changes in the schema, as the database reports it."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            if conn.dialect.name == "postgresql":
                options: dict[str, str] = dict(
                    conn.execute(
                        sa.text(
                            "SELECT relname, coalesce(array_to_string(reloptions, ','), '')"
                            " FROM pg_class WHERE relname IN ('peers', 'peer_connection_states')"
                        )
                    ).all()
                )
                return {"options": options}
            sql = conn.scalar(
                sa.text("SELECT sql FROM sqlite_master WHERE name = 'ingested_events'")
            )
            return {"without_rowid": "WITHOUT ROWID" in str(sql).upper()}
    finally:
        engine.dispose()


def _stored(url: str) -> dict[str, Any]:
    """Every block and state decoded, the ingested event ids, and whether any stream has FDICT."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            raw_blocks = conn.execute(
                sa.text("SELECT peer_id, kind, start_ms, rows FROM sample_blocks")
            ).all()
            raw_states = conn.execute(
                sa.text("SELECT peer_id, connection_id, state FROM peer_connection_states")
            ).all()
            ids = sorted(conn.execute(sa.text("SELECT event_id FROM ingested_events")).scalars())
    finally:
        engine.dispose()
    return {
        "blocks": sorted((p, k, s, blocks.decode_rows(bytes(r))) for p, k, s, r in raw_blocks),
        "states": sorted(
            (p, c, orjson.dumps(blocks.decode_state(bytes(s)))) for p, c, s in raw_states
        ),
        "ids": ids,
        "fdict": any(bytes(r[-1])[1] & 0x20 for r in [*raw_blocks, *raw_states]),
    }


def test_migration_0006b_up_down_up(empty_url: str) -> None:
    migrations.upgrade(empty_url)
    new_layout = _layout(empty_url)
    db = Database(empty_url)
    with db.unit_of_work() as s:
        app_id = accounts.create_app(s, ACCOUNT, "bytes").id
    events = _events("mig")
    client_ids = {e["id"] for e in events if e["type"] == "peer.event"}
    assert client_ids
    assert _ingest(db, app_id, events) == (len(events), 0)
    before = _report(db, app_id, "mig-p")
    assert before["quality"]
    db.dispose()
    head = _stored(empty_url)
    assert head["fdict"] and head["blocks"] and not client_ids & set(head["ids"])

    # down: what revision 0005w reads (plain zlib; client event ids in ingested_events)
    migrations.downgrade(empty_url, "0005w")
    old_layout = _layout(empty_url)
    assert old_layout != new_layout
    down = _stored(empty_url)
    assert not down["fdict"]
    assert down["blocks"] == head["blocks"] and down["states"] == head["states"]
    assert down["ids"] == sorted(set(head["ids"]) | client_ids)

    # up again: the old data reads the same, its replay is recognised
    migrations.upgrade(empty_url)
    assert _layout(empty_url) == new_layout
    if "options" in new_layout:
        assert "toast_tuple_target=8160" in new_layout["options"]["peer_connection_states"]
        assert "fillfactor=80" in new_layout["options"]["peers"]
    else:
        assert new_layout == {"without_rowid": True}
    assert _stored(empty_url) == down
    db = Database(empty_url)
    assert _report(db, app_id, "mig-p") == before
    assert _ingest(db, app_id, events) == (0, len(events))
    assert _report(db, app_id, "mig-p") == before
    # a new peer: its client events are recognised by their own rows, and not logged
    events2 = _events("mig2")
    client2 = {e["id"] for e in events2 if e["type"] == "peer.event"}
    assert _ingest(db, app_id, events2) == (len(events2), 0)
    after = _report(db, app_id, "mig2-p")
    assert _ingest(db, app_id, events2, size=7) == (0, len(events2))
    assert _report(db, app_id, "mig2-p") == after
    db.dispose()
    assert not client2 & set(_stored(empty_url)["ids"])

    migrations.downgrade(empty_url, "0005w")
    assert _layout(empty_url) == old_layout
    assert client2 <= set(_stored(empty_url)["ids"])
    migrations.upgrade(empty_url)
    db = Database(empty_url)
    assert _report(db, app_id, "mig-p") == before
    assert _report(db, app_id, "mig2-p") == after
    assert _ingest(db, app_id, events2) == (0, len(events2))
    db.dispose()


def test_a_touch_within_a_second_leaves_last_received_at(empty_url: str) -> None:
    migrations.upgrade(empty_url)
    db = Database(empty_url)
    with db.unit_of_work() as s:
        app_id = accounts.create_app(s, ACCOUNT, "touch").id
    events = [e for e in _events("touch") if e["type"] in ("peer.joined", "peer.event")][:3]
    assert [e["type"] for e in events] == ["peer.joined", "peer.event", "peer.event"]
    t0 = utc_now()

    def apply(event: dict[str, Any], now: Any) -> Any:
        batch = IngestBatch.model_validate({"events": [event]})
        with db.unit_of_work() as s:
            ingest_batch(s, accounts.get_app(s, ACCOUNT, app_id), batch.events, now=now)
        with db.unit_of_work(write=False) as s:
            peer = s.get(Peer, "touch-p")
            assert peer is not None
            return peer.last_received_at

    assert apply(events[0], t0) == t0
    assert apply(events[1], t0 + RECEIVED_QUANTUM / 2) == t0
    later = t0 + RECEIVED_QUANTUM + timedelta(milliseconds=1)
    assert apply(events[2], later) == later
    db.dispose()


def _settings(url: str) -> dict[str, str]:
    """What 0009b changes, as the database reports it: the storage parameters of
    ``peer_connection_states``, of every ``sample_blocks`` partition and of the sessions' trigram
    index on PostgreSQL; SQLite's whole schema."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            if conn.dialect.name != "postgresql":
                # (sqlite_stat1: written by the ANALYZE the service runs, not by a migration;
                # client events: changed by 0010c, and the search index by 0011b, which the
                # upgrades here run too)
                query = (
                    "SELECT name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_stat%'"
                    " AND name NOT LIKE '%client_event%' AND name NOT LIKE 'sessions_fts%'"
                )
                return dict(conn.execute(sa.text(query)).all())
            return dict(
                conn.execute(
                    sa.text(
                        "SELECT c.relname, coalesce(array_to_string(c.reloptions, ','), '')"
                        " FROM pg_class c LEFT JOIN pg_inherits i ON i.inhrelid = c.oid"
                        " WHERE c.relname IN ('peer_connection_states', 'ix_sessions_search_trgm')"
                        " OR i.inhparent = 'sample_blocks'::regclass"
                    )
                ).all()
            )
    finally:
        engine.dispose()


def test_migration_0009b_up_down_up(empty_url: str) -> None:
    migrations.upgrade(empty_url, "0008d")
    # (the partitions 0004 creates are storage.partitions.ensure's of today: checked below)
    old = {k: v for k, v in _settings(empty_url).items() if not k.startswith("sample_blocks_")}
    migrations.upgrade(empty_url)
    new = _settings(empty_url)
    if "ix_sessions_search_trgm" in new:
        # 0009b's fillfactor=70, reset by 0012a (test_migration_0012a_up_down_up)
        assert new["peer_connection_states"] == "toast_tuple_target=8160"
        assert new["ix_sessions_search_trgm"] == "fastupdate=off"
        blocks_options = {v for k, v in new.items() if k.startswith("sample_blocks_")}
        assert blocks_options == {"toast_tuple_target=8160"}
        assert old["peer_connection_states"] == "toast_tuple_target=8160"
        assert old["ix_sessions_search_trgm"] == ""
    else:
        assert new == old  # SQLite: nothing to change
    db = Database(empty_url)
    with db.unit_of_work() as s:
        app_id = accounts.create_app(s, ACCOUNT, "settings").id
    events = _events("set")
    assert _ingest(db, app_id, events) == (len(events), 0)
    before = _report(db, app_id, "set-p")
    db.dispose()
    stored = _stored(empty_url)

    migrations.downgrade(empty_url, "0008d")
    down = _settings(empty_url)
    assert {k: v for k, v in down.items() if not k.startswith("sample_blocks_")} == old
    if "ix_sessions_search_trgm" in down:
        assert {v for k, v in down.items() if k.startswith("sample_blocks_")} == {""}
    assert _stored(empty_url) == stored

    migrations.upgrade(empty_url)
    assert _settings(empty_url) == new
    assert _stored(empty_url) == stored
    db = Database(empty_url)
    assert _report(db, app_id, "set-p") == before
    assert _ingest(db, app_id, events) == (0, len(events))
    assert _report(db, app_id, "set-p") == before
    db.dispose()


def _client_rows(url: str) -> list[tuple[Any, ...]]:
    """``client_events`` at revision 0009b: (peer_id, name, timestamp, metadata, event_id) in id
    order."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text(
                    "SELECT peer_id, name, timestamp, metadata, event_id FROM client_events"
                    " ORDER BY id"
                )
            ).all()
    finally:
        engine.dispose()
    return [tuple(r) for r in rows]


def test_migration_0010c_up_down_up(empty_url: str) -> None:
    migrations.upgrade(empty_url)
    db = Database(empty_url)
    with db.unit_of_work() as s:
        app_id = accounts.create_app(s, ACCOUNT, "client events").id
    events = _events("cev")
    client_ids = [e["id"] for e in events if e["type"] == "peer.event"]
    assert len(client_ids) > 7
    assert _ingest(db, app_id, events, size=7) == (len(events), 0)  # several blocks for the peer
    before = _report(db, app_id, "cev-p")
    assert len(before["metadata"]["events"]) == len(client_ids)
    db.dispose()

    # down: a row per event, in the order applied (the report reads the same after the way back)
    migrations.downgrade(empty_url, "0009b")
    rows = _client_rows(empty_url)
    assert sorted(r[4] for r in rows) == sorted(client_ids)
    assert {r[0] for r in rows} == {"cev-p"}
    # a row written before 0006b (its id in ingested_events) at the time of the first event, and
    # a row of a peer that no longer exists
    first = before["metadata"]["events"][0]
    engine = sa.create_engine(empty_url)
    with engine.begin() as conn:
        at = min(r[2] for r in rows)  # as stored (SQLite: text)
        insert = sa.text(
            "INSERT INTO client_events (peer_id, name, timestamp, metadata, event_id)"
            " VALUES (:peer, 'legacy', :at, :meta, NULL)"
        ).bindparams(sa.bindparam("meta", type_=JSON))
        conn.execute(insert, {"peer": "cev-p", "at": at, "meta": {"k": 1}})
        conn.execute(insert, {"peer": "gone-p", "at": at, "meta": None})
    engine.dispose()
    legacy = {"name": "legacy", "timestamp": first["timestamp"], "metadata": {"k": 1}}
    ties = sum(1 for e in before["metadata"]["events"] if e["timestamp"] == first["timestamp"])
    want = copy.deepcopy(before)
    want["metadata"]["events"].insert(ties, legacy)  # after the events of its time: a newer id

    migrations.upgrade(empty_url)
    db = Database(empty_url)
    assert _report(db, app_id, "cev-p") == want
    assert _ingest(db, app_id, events) == (0, len(events))
    assert _ingest(db, app_id, events, size=3) == (0, len(events))
    assert _report(db, app_id, "cev-p") == want
    db.dispose()
    engine = sa.create_engine(empty_url)
    with engine.connect() as conn:
        assert conn.scalar(sa.text("SELECT count(*) FROM client_event_blocks")) == 1
    engine.dispose()

    migrations.downgrade(empty_url, "0009b")
    back = _client_rows(empty_url)
    assert [r[4] for r in back] == [r[4] for r in rows] + [None]
    assert back[-1][1] == "legacy" and back[-1][0] == "cev-p"
    migrations.upgrade(empty_url)
    db = Database(empty_url)
    assert _report(db, app_id, "cev-p") == want
    assert _ingest(db, app_id, events) == (0, len(events))
    db.dispose()


def test_concurrent_batches_store_a_client_event_once(empty_url: str) -> None:
    """Batches of one peer applied at the same time, each with the same client events, for more
    rounds than a merge of the peer's blocks takes: every event is accepted once and stored once
    (the batches' blocks collide on ``(app_id, peer_id, seq)`` and the loser is applied again,
    seeing the winner's ids)."""
    migrations.upgrade(empty_url)
    db = Database(empty_url)
    with db.unit_of_work() as s:
        app_id = accounts.create_app(s, ACCOUNT, "race").id
    events = _events("race")
    join = [e for e in events if e["type"] == "peer.joined"]
    client = [e for e in events if e["type"] == "peer.event"][:6]
    assert join and len(client) == 6
    assert _ingest(db, app_id, join) == (len(join), 0)
    scope, settings = AppScope(ACCOUNT, app_id), Settings()
    rounds = client_events.MERGE_AT + 2  # the peer's blocks are merged in one of them
    for round_ in range(rounds):
        batch = [{**e, "id": f"{e['id']}-{round_}"} for e in client]
        body = orjson.dumps({"events": batch})
        with ThreadPoolExecutor(4) as pool:
            done = list(
                pool.map(
                    lambda raw: apply_batch(db, settings, scope, parse_batch(raw, settings)),
                    [body] * 4,
                )
            )
        assert sum(r.accepted for r in done) == len(batch), round_
        assert sum(r.duplicates for r in done) == 3 * len(batch), round_
    with db.unit_of_work(write=False) as s:
        stored = [
            e.event_id
            for raw in s.scalars(
                sa.select(ClientEventBlock.events).where(ClientEventBlock.peer_id == "race-p")
            )
            for e in client_events.decode(bytes(raw))
        ]
    assert sorted(i or "" for i in stored) == sorted(
        f"{e['id']}-{r}" for r in range(rounds) for e in client
    )
    assert len(_report(db, app_id, "race-p")["metadata"]["events"]) == rounds * len(client)
    db.dispose()


def test_a_peers_client_event_blocks_are_merged(empty_url: str) -> None:
    """A peer's 34 client events in single-event batches: the batch that would write its
    ``MERGE_AT``-th block writes one of all its events instead, so the peer never has that many
    rows to read at a batch; its report is the one of the events sent in one batch, and every
    event sent again is a replay."""
    migrations.upgrade(empty_url)
    db = Database(empty_url)
    with db.unit_of_work() as s:
        app_id = accounts.create_app(s, ACCOUNT, "merge").id
    whole, single = _events("one"), _events("many")
    assert _ingest(db, app_id, whole, size=len(whole)) == (len(whole), 0)
    others = [e for e in single if e["type"] != "peer.event"]
    client = [e for e in single if e["type"] == "peer.event"]
    assert len(client) > 2 * client_events.MERGE_AT
    assert _ingest(db, app_id, others) == (len(others), 0)

    def blocks() -> list[int]:
        with db.unit_of_work(write=False) as s:
            return list(
                s.scalars(
                    sa.select(ClientEventBlock.seq)
                    .where(ClientEventBlock.peer_id == "many-p")
                    .order_by(ClientEventBlock.seq)
                )
            )

    want: list[int] = []  # the peer's blocks: the batch of block seq merges when it is the 16th
    for seq, event in enumerate(client):
        assert _ingest(db, app_id, [event]) == (1, 0)
        want = [seq] if len(want) + 1 >= client_events.MERGE_AT else [*want, seq]
        assert blocks() == want, seq
        assert len(want) < client_events.MERGE_AT
    assert (
        _report(db, app_id, "many-p")["metadata"]["events"]
        == (_report(db, app_id, "one-p")["metadata"]["events"])
    )
    assert _ingest(db, app_id, client, size=1) == (0, len(client))
    assert _ingest(db, app_id, single) == (0, len(single))
    db.dispose()


def _day_indexes(url: str) -> set[str]:
    """The tables that have a ``received_day``-only index: ``sample_blocks`` and, on PostgreSQL,
    its partitions."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            if conn.dialect.name != "postgresql":
                names = set(
                    conn.execute(
                        sa.text(
                            "SELECT tbl_name FROM sqlite_master WHERE type = 'index'"
                            " AND name = 'ix_sample_blocks_received_day'"
                        )
                    ).scalars()
                )
                return names
            query = (
                "SELECT t.relname FROM pg_index x JOIN pg_class t ON t.oid = x.indrelid"
                " JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = x.indkey[0]"
                " WHERE t.relname LIKE 'sample_blocks%' AND x.indnatts = 1"
                " AND a.attname = 'received_day'"
            )
            return set(conn.execute(sa.text(query)).scalars())
    finally:
        engine.dispose()


def test_migration_0011a_up_down_up(empty_url: str) -> None:
    """PostgreSQL drops the ``received_day`` index of ``sample_blocks`` and of every partition
    (retention drops partitions), and the downgrade brings them back; SQLite keeps it (retention
    deletes through it). Stored data, reports, replays and retention read the same."""
    from rtk_sessions.domain import samples

    migrations.upgrade(empty_url, "0010c")
    old = _day_indexes(empty_url)
    assert "sample_blocks" in old
    db = Database(empty_url)
    with db.unit_of_work() as s:
        app_id = accounts.create_app(s, ACCOUNT, "day index").id
    events = _events("day")
    assert _ingest(db, app_id, events) == (len(events), 0)
    before = _report(db, app_id, "day-p")
    db.dispose()
    stored = _stored(empty_url)
    assert stored["blocks"]
    postgres = empty_url.startswith("postgresql")
    if postgres:
        assert len(old) > 2  # the parent and its daily and default partitions

    migrations.upgrade(empty_url)
    assert _day_indexes(empty_url) == (set() if postgres else old)
    assert _stored(empty_url) == stored
    db = Database(empty_url)
    assert _report(db, app_id, "day-p") == before
    assert _ingest(db, app_id, events) == (0, len(events))
    db.dispose()

    migrations.downgrade(empty_url, "0010c")
    assert _day_indexes(empty_url) == old
    migrations.upgrade(empty_url)
    assert _day_indexes(empty_url) == (set() if postgres else old)
    db = Database(empty_url)
    assert _report(db, app_id, "day-p") == before
    with db.unit_of_work() as s:  # retention without the index: every block of today stays
        kept = samples.prune(s, now=utc_now(), retention_days=1)
    assert kept.blocks_deleted == 0
    with db.unit_of_work() as s:  # and all of them go once their day is past
        gone = samples.prune(s, now=utc_now() + timedelta(days=30), retention_days=1)
    assert gone.blocks_deleted + len(gone.partitions_dropped) > 0
    assert _stored(empty_url)["blocks"] == []
    db.dispose()


def test_migration_0012a_up_down_up(empty_url: str) -> None:
    """PostgreSQL: ``peer_connection_states`` back to the default fillfactor (100) from 0009b's
    70, and the downgrade sets 70 again; SQLite: nothing. Stored data, reports and replays read
    the same at every step."""
    migrations.upgrade(empty_url, "0011b")
    old = _settings(empty_url)
    db = Database(empty_url)
    with db.unit_of_work() as s:
        app_id = accounts.create_app(s, ACCOUNT, "fillfactor").id
    events = _events("fill")
    assert _ingest(db, app_id, events) == (len(events), 0)
    before = _report(db, app_id, "fill-p")
    db.dispose()
    stored = _stored(empty_url)
    postgres = empty_url.startswith("postgresql")
    if postgres:
        assert old["peer_connection_states"] == "toast_tuple_target=8160,fillfactor=70"

    migrations.upgrade(empty_url)
    new = _settings(empty_url)
    if postgres:
        assert new["peer_connection_states"] == "toast_tuple_target=8160"
        assert {k: v for k, v in new.items() if k != "peer_connection_states"} == {
            k: v for k, v in old.items() if k != "peer_connection_states"
        }
    else:
        assert new == old
    assert _stored(empty_url) == stored
    db = Database(empty_url)
    assert _report(db, app_id, "fill-p") == before
    assert _ingest(db, app_id, events) == (0, len(events))
    db.dispose()

    migrations.downgrade(empty_url, "0011b")
    assert _settings(empty_url) == old
    assert _stored(empty_url) == stored
    migrations.upgrade(empty_url)
    assert _settings(empty_url) == new
    db = Database(empty_url)
    assert _report(db, app_id, "fill-p") == before
    more = _events("fill2")
    assert _ingest(db, app_id, more) == (len(more), 0)
    db.dispose()
