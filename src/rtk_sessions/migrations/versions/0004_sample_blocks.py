"""Compact sample storage: sample_blocks and peer_connection_states replace three tables.

stats_samples (a JSON document per sample row), stats_cursors and candidate_pairs are replaced by
sample_blocks (zlib-compressed runs of rows, partitioned by the day they were received on
PostgreSQL; moved rows count as received today) and
peer_connection_states (cursor, labels, candidate pairs and running cumulative blocks of a peer
connection, one row). Existing data is moved: each connection's rows become blocks in timestamp
order and are accounted in the cumulative state, so reports read the same after the upgrade.

Downgrade moves blocks back to stats_samples; the rows' internal fields (``_interval_s`` …) are not
kept in blocks, so the old report then recomputes its cumulative blocks from the public fields.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

import orjson
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _create_new_tables(postgres: bool) -> None:
    op.create_table(
        "peer_connection_states",
        sa.Column("app_id", sa.String(length=64), nullable=False),
        sa.Column("peer_id", sa.String(length=64), nullable=False),
        sa.Column("connection_id", sa.String(length=200), nullable=False),
        sa.Column("timestamp_ms", sa.Float(), nullable=False),
        sa.Column("state", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint(
            "app_id", "peer_id", "connection_id", name=op.f("pk_peer_connection_states")
        ),
    )
    op.create_table(
        "sample_blocks",
        sa.Column("app_id", sa.String(length=64), nullable=False),
        sa.Column("peer_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.SmallInteger(), nullable=False),
        sa.Column("connection_id", sa.String(length=200), nullable=False),
        sa.Column("start_ms", sa.BigInteger(), nullable=False),
        sa.Column("received_day", sa.Integer(), nullable=False),
        sa.Column("end_ms", sa.BigInteger(), nullable=False),
        sa.Column("row_count", sa.Integer(), nullable=False),
        sa.Column("rows", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint(
            "app_id",
            "peer_id",
            "kind",
            "connection_id",
            "start_ms",
            "received_day",
            name=op.f("pk_sample_blocks"),
        ),
        postgresql_partition_by="RANGE (received_day)",
    )
    op.create_index("ix_sample_blocks_received_day", "sample_blocks", ["received_day"])
    if postgres:
        # Blocks are compressed already: keep them out of TOAST's pglz attempt.
        op.execute("ALTER TABLE sample_blocks ALTER COLUMN rows SET STORAGE EXTERNAL")
        from rtk_sessions.storage import partitions

        partitions.ensure(op.get_bind(), datetime.now(UTC))


def _connection_of(peer_id: str, stream_key: str) -> str:
    """The connection id in a stats_samples stream_key ``{peer}:{connection}:{rtp type}:{ssrc}``."""
    namespace = stream_key.rsplit(":", 2)[0]
    return namespace.removeprefix(f"{peer_id}:")


def _move_old_data(conn: sa.Connection) -> None:
    from rtk_sessions import stats
    from rtk_sessions.domain.samples import SEAL_ROWS, ConnectionState
    from rtk_sessions.storage import partitions
    from rtk_sessions.storage.blocks import encode_rows, encode_state

    thresholds = stats.QualityThresholds()
    kind_index = {kind: i for i, kind in enumerate(stats.KINDS)}
    app_of: dict[str, str] = {
        row[0]: row[1] for row in conn.execute(sa.text("SELECT id, app_id FROM peers"))
    }
    states: dict[tuple[str, str], ConnectionState] = {}
    timestamps: dict[tuple[str, str], float] = {}

    def state(peer_id: str, connection_id: str) -> ConnectionState:
        key = (peer_id, connection_id)
        if key not in states:
            states[key] = ConnectionState(peer_id=peer_id, connection_id=connection_id)
        return states[key]

    for peer_id, connection_id, timestamp_ms, report in conn.execute(
        sa.text("SELECT peer_id, connection_id, timestamp_ms, report FROM stats_cursors")
    ):
        if isinstance(report, str):
            report = orjson.loads(report)
        st = state(peer_id, connection_id)
        st.report = report.get("report")
        st.labels = list(report.get("labels") or [])
        timestamps[(peer_id, connection_id)] = timestamp_ms
    for peer_id, connection_id, pair_id, role, first_seen_ms, data in conn.execute(
        sa.text(
            "SELECT peer_id, connection_id, pair_id, role, first_seen_ms, data FROM candidate_pairs"
        )
    ):
        if isinstance(data, str):
            data = orjson.loads(data)
        state(peer_id, connection_id).pairs[f"{role} {pair_id}"] = [first_seen_ms, data]

    blocks = sa.table(
        "sample_blocks",
        *(
            sa.column(name)
            for name in (
                "app_id",
                "peer_id",
                "kind",
                "connection_id",
                "start_ms",
                "received_day",
                "end_ms",
                "row_count",
                "rows",
            )
        ),
    )
    today = partitions.day_number(datetime.now(UTC))
    peer_ids = [p for (p,) in conn.execute(sa.text("SELECT DISTINCT peer_id FROM stats_samples"))]
    for peer_id in peer_ids:
        runs: dict[tuple[str, int], list[tuple[float, dict[str, Any]]]] = defaultdict(list)
        for kind, stream_key, timestamp_ms, row in conn.execute(
            sa.text(
                "SELECT kind, stream_key, timestamp_ms, row FROM stats_samples "
                "WHERE peer_id = :peer ORDER BY kind, timestamp_ms, id"
            ),
            {"peer": peer_id},
        ):
            if kind not in kind_index:
                continue
            if isinstance(row, str):
                row = orjson.loads(row)
            runs[(_connection_of(peer_id, stream_key), kind_index[kind])].append(
                (timestamp_ms, row)
            )
        out = []
        for (connection_id, index), rows in runs.items():
            st = state(peer_id, connection_id)
            acc = st.accumulators.get(index)
            if acc is None:
                acc = st.accumulators[index] = stats.KindAccumulator(stats.KINDS[index])
            for start in range(0, len(rows), SEAL_ROWS):
                chunk = rows[start : start + SEAL_ROWS]
                for _, row in chunk:
                    acc.add(row, thresholds)
                start_ms = int(chunk[0][0] // 1)
                if index in st.last_start and start_ms <= st.last_start[index]:
                    start_ms = st.last_start[index] + 1
                st.last_start[index] = start_ms
                public = [
                    orjson.dumps({k: v for k, v in row.items() if not k.startswith("_")})
                    for _, row in chunk
                ]
                out.append(
                    {
                        "app_id": app_of.get(peer_id, ""),
                        "peer_id": peer_id,
                        "kind": index,
                        "connection_id": connection_id,
                        "start_ms": start_ms,
                        "received_day": today,
                        "end_ms": max(start_ms, int(chunk[-1][0] // 1)),
                        "row_count": len(chunk),
                        "rows": encode_rows(public),
                    }
                )
        if out:
            conn.execute(blocks.insert(), out)
    table = sa.table(
        "peer_connection_states",
        *(sa.column(n) for n in ("app_id", "peer_id", "connection_id", "timestamp_ms", "state")),
    )
    values = [
        {
            "app_id": app_of.get(peer_id, ""),
            "peer_id": peer_id,
            "connection_id": connection_id,
            "timestamp_ms": timestamps.get((peer_id, connection_id), 0.0),
            "state": encode_state(st.to_json()),
        }
        for (peer_id, connection_id), st in states.items()
        if peer_id in app_of
    ]
    if values:
        conn.execute(table.insert(), values)


def upgrade() -> None:
    conn = op.get_bind()
    postgres = conn.dialect.name == "postgresql"
    _create_new_tables(postgres)
    _move_old_data(conn)
    with op.batch_alter_table("stats_samples", schema=None) as batch_op:
        batch_op.drop_index("ix_stats_samples_peer_kind_ts")
    op.drop_table("stats_samples")
    op.drop_table("stats_cursors")
    op.drop_table("candidate_pairs")


def downgrade() -> None:
    from rtk_sessions import stats
    from rtk_sessions.storage.blocks import decode_rows, decode_state

    op.create_table(
        "candidate_pairs",
        sa.Column("peer_id", sa.String(length=64), nullable=False),
        sa.Column("connection_id", sa.String(length=200), nullable=False),
        sa.Column("pair_id", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("first_seen_ms", sa.Float(), nullable=False),
        sa.Column("data", _JSON, nullable=False),
        sa.PrimaryKeyConstraint(
            "peer_id", "connection_id", "pair_id", "role", name=op.f("pk_candidate_pairs")
        ),
    )
    op.create_table(
        "stats_cursors",
        sa.Column("peer_id", sa.String(length=64), nullable=False),
        sa.Column("connection_id", sa.String(length=200), nullable=False),
        sa.Column("timestamp_ms", sa.Float(), nullable=False),
        sa.Column("report", _JSON, nullable=False),
        sa.PrimaryKeyConstraint("peer_id", "connection_id", name=op.f("pk_stats_cursors")),
    )
    op.create_table(
        "stats_samples",
        sa.Column("id", _BIG_ID, autoincrement=True, nullable=False),
        sa.Column("peer_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("stream_key", sa.String(length=300), nullable=False),
        sa.Column("timestamp_ms", sa.Float(), nullable=False),
        sa.Column("row", _JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stats_samples")),
    )
    with op.batch_alter_table("stats_samples", schema=None) as batch_op:
        batch_op.create_index(
            "ix_stats_samples_peer_kind_ts", ["peer_id", "kind", "timestamp_ms"], unique=False
        )
    conn = op.get_bind()
    samples = sa.table(
        "stats_samples",
        sa.column("peer_id"),
        sa.column("kind"),
        sa.column("stream_key"),
        sa.column("timestamp_ms"),
        sa.column("row", _JSON),
    )
    for peer_id, kind, connection_id, data in conn.execute(
        sa.text(
            "SELECT peer_id, kind, connection_id, rows FROM sample_blocks "
            "ORDER BY peer_id, kind, start_ms"
        )
    ):
        rows = orjson.loads(b"[" + decode_rows(data) + b"]")
        values = []
        for row in rows:
            moment = datetime.fromisoformat(str(row.get("timestamp")).replace("Z", "+00:00"))
            rtp = "outbound-rtp" if stats.KINDS[kind].endswith("_producer") else "inbound-rtp"
            values.append(
                {
                    "peer_id": peer_id,
                    "kind": stats.KINDS[kind],
                    "stream_key": f"{peer_id}:{connection_id}:{rtp}:{row.get('ssrc')}",
                    "timestamp_ms": moment.timestamp() * 1000,
                    "row": row,
                }
            )
        if values:
            conn.execute(samples.insert(), values)
    cursors = sa.table(
        "stats_cursors",
        sa.column("peer_id"),
        sa.column("connection_id"),
        sa.column("timestamp_ms"),
        sa.column("report", _JSON),
    )
    pairs = sa.table(
        "candidate_pairs",
        sa.column("peer_id"),
        sa.column("connection_id"),
        sa.column("pair_id"),
        sa.column("role"),
        sa.column("first_seen_ms"),
        sa.column("data", _JSON),
    )
    for peer_id, connection_id, timestamp_ms, raw in conn.execute(
        sa.text("SELECT peer_id, connection_id, timestamp_ms, state FROM peer_connection_states")
    ):
        state = decode_state(raw)
        if state.get("report") is not None:
            conn.execute(
                cursors.insert(),
                {
                    "peer_id": peer_id,
                    "connection_id": connection_id,
                    "timestamp_ms": timestamp_ms,
                    "report": {"report": state["report"], "labels": state.get("labels") or []},
                },
            )
        for key, (first_seen, data) in (state.get("pairs") or {}).items():
            role, _, pair_id = key.partition(" ")
            conn.execute(
                pairs.insert(),
                {
                    "peer_id": peer_id,
                    "connection_id": connection_id,
                    "pair_id": pair_id,
                    "role": role,
                    "first_seen_ms": first_seen,
                    "data": data,
                },
            )
    op.drop_index("ix_sample_blocks_received_day", table_name="sample_blocks")
    op.drop_table("sample_blocks")
    op.drop_table("peer_connection_states")
