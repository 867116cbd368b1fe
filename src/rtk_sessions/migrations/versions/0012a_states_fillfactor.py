"""``peer_connection_states`` pages filled whole again (PostgreSQL ``fillfactor`` 70 → default 100).

0009b left 30 % of every states page empty for the new version of its rows (a HOT update). Now
that the sweeper's leader vacuums the table (``storage.planner.vacuum_stale``), the room left by
the rows' old versions is found again through the free space map, and the empty share of every
page was space the benchmark's ingest never used: ``bench/ingest_bytes.py --batches
170,30,800,140`` (``bench/run.py``'s ingest over HTTP, two workers) measured the states at
13.2–13.6 bytes a sample with 70 and 11.0–11.6 with 100 (docs/performance.md). Storage settings
only: no row changes; the setting applies to pages written from now on.

SQLite: nothing to change.

Revision ID: 0012a
Revises: 0011b
Create Date: 2026-12-01
"""

from __future__ import annotations

from alembic import op

revision = "0012a"
down_revision = "0011b"
branch_labels = None
depends_on = None

#: 0009b's fillfactor, for the downgrade.
_OLD_FILLFACTOR = 70


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("ALTER TABLE peer_connection_states RESET (fillfactor)")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f"ALTER TABLE peer_connection_states SET (fillfactor = {_OLD_FILLFACTOR})")
