"""Session lists by creation time: indexes ascending on ``created_at`` (``id`` descending).

0003's ``ix_sessions_list_created`` and ``ix_sessions_list_status_created`` were keyed
``created_at DESC, id``. New sessions come in time order, so each was inserted at the front of its
app's range: PostgreSQL splits such a page in half and leaves it half empty, and the pages end up
in reverse physical order (measured on a 1M-session app: 51 % leaf density, 100 %
fragmentation, 209 MB). Keyed ``created_at, id DESC`` the same index serves the same two orders
(the list's ``created_at DESC, id ASC`` is a backward scan, its reverse a forward one) while new
entries go to the end of the range, where PostgreSQL packs pages (about 90 % density, in physical
order). A deep page skips half as many index pages; ``domain.sessions`` walks a deep page from
the end whose scan is forward when the two are about as far (forward scans are cheaper).

Rebuilt on both databases (one schema); the downgrade restores 0003's definitions.

Revision ID: 0006r
Revises: 0006b
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006r"
down_revision = "0006b"
branch_labels = None
depends_on = None

TOP = "parent_session_id IS NULL"

NEW = {
    "ix_sessions_list_created": "app_id, created_at, id DESC, parent_session_id",
    "ix_sessions_list_status_created": "app_id, status, created_at, id DESC, parent_session_id",
}
OLD = {
    "ix_sessions_list_created": "app_id, created_at DESC, id, parent_session_id",
    "ix_sessions_list_status_created": "app_id, status, created_at DESC, id, parent_session_id",
}


def _rebuild(indexes: dict[str, str]) -> None:
    for name, columns in indexes.items():
        op.execute(f"DROP INDEX {name}")
        op.execute(f"CREATE INDEX {name} ON sessions ({columns}) WHERE {TOP}")
    if op.get_bind().execute(sa.text("SELECT 1 FROM sessions LIMIT 1")).first() is not None:
        dialect = op.get_bind().dialect.name
        op.execute("ANALYZE sessions" if dialect == "postgresql" else "ANALYZE")


def upgrade() -> None:
    _rebuild(NEW)


def downgrade() -> None:
    _rebuild(OLD)
