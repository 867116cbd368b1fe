"""Fewer bytes per ingested sample on PostgreSQL, by storage settings only (no data changes).

``ix_sessions_search_trgm`` (pg_trgm GIN, 0001) without ``fastupdate``: with it, every new
session row version (a session insert, and every update of an indexed column: a non-HOT update)
queued its ~80 trigrams in the index's pending list, up to ``gin_pending_list_limit`` (4 MB),
whose pages stay in the file after VACUUM merges them (about 10 times the merged index in
``bench/bytes_per_sample.py --postgresql-only``). Entries now go straight into the index.

``sample_blocks`` partitions keep a block up to a page in their row (``toast_tuple_target``, as
``peer_connection_states`` since 0006b) instead of in TOAST chunks with a TOAST index of their
own: a block is zlib already, so TOAST's compression never paid. New partitions get it from
``storage.partitions.ensure``; here the existing ones (it applies to rows written from now on).

``peer_connection_states`` leaves room in each page (``fillfactor``) for the new version of its
rows: every batch rewrites a connection's state, and a new version that fits its page is a HOT
update that the next access prunes, instead of a copy on another page with new index entries.

SQLite: nothing to change.

Revision ID: 0009b
Revises: 0008d
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009b"
down_revision = "0008d"
branch_labels = None
depends_on = None

#: ``toast_tuple_target`` at its maximum (TOAST_TUPLE_TARGET_MAIN), as in 0006b: a block moves to
#: TOAST only when it no longer fits a page (``storage.partitions.PARTITION_OPTIONS``).
_BLOCKS_TOAST_TARGET = 8160
#: Per cent of a ``peer_connection_states`` page that inserts fill (``storage.tables``).
_STATES_FILLFACTOR = 70

_PARTITIONS = sa.text(
    "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
    " WHERE i.inhparent = 'sample_blocks'::regclass ORDER BY c.relname"
)


def upgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name != "postgresql":
        return
    op.execute("ALTER INDEX ix_sessions_search_trgm SET (fastupdate = off)")
    # The entries queued so far, into the index (they would otherwise wait for a VACUUM).
    op.execute("SELECT gin_clean_pending_list('ix_sessions_search_trgm'::regclass)")
    for name in conn.scalars(_PARTITIONS).all():
        op.execute(f"ALTER TABLE {name} SET (toast_tuple_target = {_BLOCKS_TOAST_TARGET})")
    op.execute(f"ALTER TABLE peer_connection_states SET (fillfactor = {_STATES_FILLFACTOR})")


def downgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name != "postgresql":
        return
    op.execute("ALTER INDEX ix_sessions_search_trgm RESET (fastupdate)")
    for name in conn.scalars(_PARTITIONS).all():
        op.execute(f"ALTER TABLE {name} RESET (toast_tuple_target)")
    op.execute("ALTER TABLE peer_connection_states RESET (fillfactor)")
