"""PostgreSQL: ``sample_blocks`` without its ``received_day`` index.

The index (0004) served retention's ``DELETE ... WHERE received_day < :cutoff``. On PostgreSQL the
table is partitioned by ``received_day``: retention drops the daily partitions before the cutoff
(``storage.partitions.drop_before``) and the delete's partition pruning removes every daily
partition left (all of them on or after the cutoff), so the delete only reads the default
partition (a server clock far off), as does ``storage.partitions.ensure``'s check of a day in it.
No other query filters or sorts on ``received_day`` alone. Each daily partition still carried a
copy of the index, an entry a block: about 0.7 bytes a sample in ``bench/bytes_per_sample.py
--postgresql-only``. The downgrade creates it again.

SQLite keeps the index: there retention deletes blocks in batches of rows found through it.

Revision ID: 0011a
Revises: 0010c
Create Date: 2026-11-30
"""

from __future__ import annotations

from alembic import op

revision = "0011a"
down_revision = "0010c"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    # On the partitioned parent: drops the partitions' indexes attached to it as well.
    op.drop_index("ix_sample_blocks_received_day", table_name="sample_blocks")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    # (creates each partition's index, attached to the parent's, as 0004 did)
    op.create_index("ix_sample_blocks_received_day", "sample_blocks", ["received_day"])
