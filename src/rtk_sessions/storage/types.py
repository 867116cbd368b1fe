"""Portable column types (the only place that knows how SQLite stores time)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import JSON, BigInteger, DateTime, Integer
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.types import NullType, TypeDecorator

from rtk_sessions.clock import iso


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, on both databases.

    PostgreSQL stores ``timestamptz``; SQLite has no time zone, so naive UTC is stored there.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# The time columns of a read as the driver returns them (``raw_time``): no TypeDecorator pass.
RAW_TIME = NullType()


def stored_iso(value: datetime | str) -> str:
    """``clock.iso`` of a time column's value as the driver returns it (a column read as
    RAW_TIME): an aware datetime (PostgreSQL), or SQLite's stored text, naive UTC
    ``YYYY-MM-DD HH:MM:SS.ffffff`` (SQLAlchemy's format; sliced, not parsed) or any other ISO 8601
    form SQLite may hold. A list page formats about a hundred of these."""
    if isinstance(value, str):
        if len(value) == 26 and value[10] == " " and value[19] == ".":
            return f"{value[:10]}T{value[11:23]}Z"
        return iso(stored_time(value))
    return iso(value)


def stored_time(value: datetime | str) -> datetime:
    """An aware UTC datetime of a time column's value as the driver returns it (see
    ``stored_iso``). raises ValueError for text that is not ISO 8601."""
    if isinstance(value, str):
        parsed = datetime.fromisoformat(value)
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# JSON documents: JSONB on PostgreSQL (compact, indexable), JSON text on SQLite.
JSONDocument = JSON().with_variant(JSONB(), "postgresql")

# 64-bit surrogate keys for append-only tables; SQLite needs INTEGER PRIMARY KEY for its rowid
# alias.
BigId = BigInteger().with_variant(Integer(), "sqlite")
