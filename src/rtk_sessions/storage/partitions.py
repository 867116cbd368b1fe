"""Daily partitions of ``sample_blocks`` on PostgreSQL (declarative range partitioning).

``sample_blocks`` is partitioned by ``received_day``, the server's UTC day number (days since
1970-01-01) on which a block was written. Partition ``sample_blocks_pYYYYMMDD`` holds one day;
``sample_blocks_default`` catches anything else (a server clock far off). Partitions are created a
week ahead (``ensure``: by the migration, and hourly by the server), so retention drops whole days
with ``DROP TABLE`` (``drop_before``) instead of deleting rows. SQLite has no partitions: there,
these functions do nothing.

Every partition is created ``WITH (PARTITION_OPTIONS)``: a block stays in its row up to a page
(``toast_tuple_target``) instead of in TOAST chunks (migration 0009b; a block is zlib already, so
TOAST's compression never paid).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Connection, text

__all__ = ["PARTITION_OPTIONS", "day_number", "drop_before", "ensure", "partition_name"]

#: Storage parameters of every partition (a partitioned table has none of its own).
PARTITION_OPTIONS = "toast_tuple_target = 8160"

_EPOCH = date(1970, 1, 1)
_NAME = re.compile(r"^sample_blocks_p(\d{8})$")
_LOCK_KEY = 0x72746B5F70617274  # "rtk_part": this module's advisory lock
_CHILDREN = text(
    "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
    "WHERE i.inhparent = 'sample_blocks'::regclass"
)


def day_number(moment: datetime) -> int:
    """Days from 1970-01-01 to the UTC day of ``moment``."""
    return (moment.astimezone(UTC).date() - _EPOCH).days


def partition_name(day: int) -> str:
    """``sample_blocks_pYYYYMMDD`` of a day number."""
    return f"sample_blocks_p{_EPOCH + timedelta(days=day):%Y%m%d}"


def ensure(conn: Connection, now: datetime, *, days_ahead: int = 7) -> list[str]:
    """Create the default partition and the daily ones from yesterday to ``days_ahead`` days on.

    A day that already has rows in the default partition is skipped (PostgreSQL refuses to create
    a partition that would take rows out of the default one). Returns the names created.
    """
    if conn.dialect.name != "postgresql":
        return []
    # Several servers may start at once: one creates, the others wait and then see the result.
    conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
    conn.execute(
        text(
            "CREATE TABLE IF NOT EXISTS sample_blocks_default PARTITION OF sample_blocks DEFAULT"
            f" WITH ({PARTITION_OPTIONS})"
        )
    )
    existing = set(conn.scalars(_CHILDREN))
    today = day_number(now)
    created = []
    for day in range(today - 1, today + days_ahead + 1):
        name = partition_name(day)
        if name in existing:
            continue
        taken = conn.scalar(
            text("SELECT EXISTS (SELECT 1 FROM sample_blocks_default WHERE received_day = :day)"),
            {"day": day},
        )
        if taken:
            continue
        conn.execute(
            text(
                f"CREATE TABLE {name} PARTITION OF sample_blocks "
                f"FOR VALUES FROM ({day}) TO ({day + 1}) WITH ({PARTITION_OPTIONS})"
            )
        )
        created.append(name)
    return created


def drop_before(conn: Connection, cutoff_day: int) -> list[str]:
    """Drop the daily partitions of days before ``cutoff_day``; returns their names."""
    if conn.dialect.name != "postgresql":
        return []
    dropped = []
    for name in sorted(conn.scalars(_CHILDREN)):
        match = _NAME.match(name)
        if match is None:
            continue
        day = (date.fromisoformat(match.group(1)) - _EPOCH).days
        if day < cutoff_day:
            conn.execute(text(f"DROP TABLE {name}"))
            dropped.append(name)
    return dropped
