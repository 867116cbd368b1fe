"""Daily range partitions of ``sample_blocks`` on PostgreSQL (declarative partitioning).

Partition ``sample_blocks_pYYYYMMDD`` holds the blocks whose ``start_ms`` falls on that UTC day;
``sample_blocks_default`` holds the rest (recordings of old calls, clients with wrong clocks).
Partitions are created a week ahead (``ensure``, run by migrations, on start and by the sweeper), so
retention drops whole days with ``DROP TABLE`` (``drop_before``) instead of deleting rows.
SQLite has no partitions: there, every function here does nothing.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, text

__all__ = ["DAY_MS", "drop_before", "ensure", "partition_name"]

DAY_MS = 86_400_000
_NAME = re.compile(r"^sample_blocks_p(\d{8})$")
_LOCK_KEY = 0x72746B5F70617274  # "rtk_part": this module's advisory lock


def partition_name(day: datetime) -> str:
    """``sample_blocks_pYYYYMMDD`` of the UTC day of ``day``."""
    return f"sample_blocks_p{day.astimezone(UTC):%Y%m%d}"


def _day_start_ms(day: datetime) -> int:
    start = day.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return int(start.timestamp() * 1000)


def ensure(conn: Connection, now: datetime, *, days_ahead: int = 7) -> list[str]:
    """Create the default partition and the daily ones from yesterday to ``days_ahead`` days on.

    A day whose rows already went to the default partition is skipped (PostgreSQL refuses to
    create a partition that would take rows out of the default one). Returns the created names.
    """
    if conn.dialect.name != "postgresql":
        return []
    # Several servers may start at once: one creates, the others wait and then see the result.
    conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
    conn.execute(
        text("CREATE TABLE IF NOT EXISTS sample_blocks_default PARTITION OF sample_blocks DEFAULT")
    )
    existing = set(
        conn.scalars(
            text(
                "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                "WHERE i.inhparent = 'sample_blocks'::regclass"
            )
        )
    )
    created = []
    for offset in range(-1, days_ahead + 1):
        day = now + timedelta(days=offset)
        name = partition_name(day)
        if name in existing:
            continue
        lo = _day_start_ms(day)
        taken = conn.scalar(
            text(
                "SELECT EXISTS (SELECT 1 FROM sample_blocks_default "
                "WHERE start_ms >= :lo AND start_ms < :hi)"
            ),
            {"lo": lo, "hi": lo + DAY_MS},
        )
        if taken:
            continue
        conn.execute(
            text(
                f"CREATE TABLE IF NOT EXISTS {name} PARTITION OF sample_blocks "
                f"FOR VALUES FROM ({lo}) TO ({lo + DAY_MS})"
            )
        )
        created.append(name)
    return created


def drop_before(conn: Connection, cutoff_ms: int) -> list[str]:
    """Drop the daily partitions that end at or before ``cutoff_ms``; returns their names."""
    if conn.dialect.name != "postgresql":
        return []
    names = conn.scalars(
        text(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = 'sample_blocks'::regclass"
        )
    ).all()
    dropped = []
    for name in sorted(names):
        match = _NAME.match(name)
        if match is None:
            continue
        day = datetime.strptime(match.group(1), "%Y%m%d").replace(tzinfo=UTC)
        if _day_start_ms(day) + DAY_MS <= cutoff_ms:
            conn.execute(text(f"DROP TABLE {name}"))
            dropped.append(name)
    return dropped
