"""Fewer bytes per ingested sample: client events recognised by their own row, states kept in
their heap pages, ids without a rowid.

``client_events.event_id`` (unique per peer) recognises a replayed ``peer.event``, so its id is no
longer written to ``ingested_events`` too; ``ix_client_events_peer_ts`` gives way to that index.

PostgreSQL: ``peer_connection_states`` keeps a state up to a page in its row
(``toast_tuple_target``) instead of in TOAST, where every batch's rewrite left a dead copy that
only VACUUM frees (and the file keeps), while a dead row version is pruned from its page by the
next read; ``peers`` (touched by every batch, now with HOT updates: ``last_received_at`` moves
in steps of a second) leaves room in each page (``fillfactor``) for the new versions.

SQLite: ``ingested_events`` becomes a ``WITHOUT ROWID`` table, its rows stored once, in the
primary key's b-tree, instead of in a rowid table plus the primary key's index.

Blocks and states written from now on use zlib preset dictionaries (``storage.blocks``); they
need no schema change and the old ones still decode, but the code before this revision cannot
read the new ones: the downgrade rewrites them without a dictionary.

Revision ID: 0006b
Revises: 0005w
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from rtk_sessions.clock import utc_now
from rtk_sessions.storage.types import UTCDateTime

revision = "0006b"
down_revision = "0005w"
branch_labels = None
depends_on = None

#: ``toast_tuple_target`` at its maximum (TOAST_TUPLE_TARGET_MAIN): a state moves to TOAST only
#: when it no longer fits a page.
_STATES_TOAST_TARGET = 8160
_PEERS_FILLFACTOR = 80

_SQLITE_IDS = (
    "CREATE TABLE {name} (app_id VARCHAR(64) NOT NULL, event_id VARCHAR(128) NOT NULL,"
    " received_at DATETIME NOT NULL,"
    " CONSTRAINT pk_ingested_events PRIMARY KEY (app_id, event_id)){suffix}"
)


def _rebuild_sqlite_ids(suffix: str) -> None:
    op.execute(_SQLITE_IDS.format(name="ingested_events_new", suffix=suffix))
    op.execute(
        "INSERT INTO ingested_events_new (app_id, event_id, received_at)"
        " SELECT app_id, event_id, received_at FROM ingested_events"
    )
    op.execute("DROP TABLE ingested_events")
    op.execute("ALTER TABLE ingested_events_new RENAME TO ingested_events")


def upgrade() -> None:
    # peer.event replays are recognised by their client_events row from now on (the ids already
    # in ingested_events stay there and are still checked); the unique index also serves the
    # peer report's read by peer_id, which sorts a peer's events itself.
    op.add_column("client_events", sa.Column("event_id", sa.String(length=128), nullable=True))
    op.drop_index("ix_client_events_peer_ts", table_name="client_events")
    op.create_index(
        "uq_client_events_peer_event", "client_events", ["peer_id", "event_id"], unique=True
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"ALTER TABLE peer_connection_states SET (toast_tuple_target = {_STATES_TOAST_TARGET})"
        )
        op.execute(f"ALTER TABLE peers SET (fillfactor = {_PEERS_FILLFACTOR})")
    else:
        _rebuild_sqlite_ids(" WITHOUT ROWID")


def downgrade() -> None:
    from rtk_sessions.storage.blocks import plain

    conn = op.get_bind()
    # The ids of the client events applied since the upgrade back into ingested_events, where the
    # code of revision 0005w looks them up.
    conn.execute(
        sa.text(
            "INSERT INTO ingested_events (app_id, event_id, received_at)"
            " SELECT p.app_id, c.event_id, :now FROM client_events c"
            " JOIN peers p ON p.id = c.peer_id WHERE c.event_id IS NOT NULL"
            " ON CONFLICT DO NOTHING"
        ).bindparams(sa.bindparam("now", type_=UTCDateTime())),
        {"now": utc_now()},
    )
    op.drop_index("uq_client_events_peer_event", table_name="client_events")
    with op.batch_alter_table("client_events") as alter:
        alter.drop_column("event_id")
    op.create_index("ix_client_events_peer_ts", "client_events", ["peer_id", "timestamp"])
    if conn.dialect.name == "postgresql":
        op.execute("ALTER TABLE peer_connection_states RESET (toast_tuple_target)")
        op.execute("ALTER TABLE peers RESET (fillfactor)")
    else:
        _rebuild_sqlite_ids("")
    # Blocks and states compressed with a preset dictionary, rewritten without (``plain``): the
    # code of revision 0005w decodes plain zlib only. A zlib stream has a dictionary when FDICT
    # (0x20) is set in its second byte.
    keys = {
        "sample_blocks": ("app_id", "peer_id", "kind", "connection_id", "start_ms", "received_day"),
        "peer_connection_states": ("app_id", "peer_id", "connection_id"),
    }
    for table, key in keys.items():
        column = "rows" if table == "sample_blocks" else "state"
        where = " AND ".join(f"{k} = :{k}" for k in key)
        update = sa.text(f"UPDATE {table} SET {column} = :data WHERE {where}")
        select = sa.text(f"SELECT {', '.join(key)}, {column} FROM {table}")
        batch: list[dict[str, object]] = []
        for row in conn.execute(select).yield_per(1000):
            data = bytes(row[-1])
            if len(data) > 1 and data[1] & 0x20:
                batch.append({**dict(zip(key, row[:-1], strict=True)), "data": plain(data)})
            if len(batch) >= 1000:
                conn.execute(update, batch)
                batch = []
        if batch:
            conn.execute(update, batch)
