"""Portable column types (the only place that knows how SQLite stores time)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, Integer
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.types import NullType, TypeDecorator

from rtk_sessions.clock import iso

_RECENT_TIMES = 4096  # SQLite text of datetimes kept by UTCDateTime's bind processor


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

    def bind_processor(self, dialect: Dialect) -> Callable[[Any], Any] | None:
        """``process_bind_param`` and the dialect's own conversion in one function: inserts of
        many rows convert several datetimes per row. SQLite stores SQLAlchemy's default text
        format (``YYYY-MM-DD HH:MM:SS.ffffff``, what its ``DATETIME`` writes)."""
        if dialect.name == "sqlite":
            # The text of recent UTC datetimes (what ingestion parses and the clock gives): a
            # batch writes the same few times into many columns and rows. Only ``tzinfo is UTC``
            # gets in: equal keys are then the same instant (in a zone with a repeated hour, two
            # equal datetimes can be different instants).
            recent: dict[datetime, str] = {}

            def to_sqlite(value: datetime | None) -> str | None:
                if value is None:
                    return None
                if value.tzinfo is UTC:
                    text = recent.get(value)
                    if text is None:
                        text = value.replace(tzinfo=None).isoformat(" ", "microseconds")
                        if len(recent) >= _RECENT_TIMES:
                            recent.clear()
                        recent[value] = text
                    return text
                if value.tzinfo is None:
                    raise ValueError("naive datetime given to a UTC column")
                return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")

            return to_sqlite
        if dialect.name == "postgresql":

            def to_postgresql(value: datetime | None) -> datetime | None:
                if value is None:
                    return None
                if value.tzinfo is None:
                    raise ValueError("naive datetime given to a UTC column")
                return value.astimezone(UTC)

            return to_postgresql
        return super().bind_processor(dialect)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# The time columns of a read as the driver returns them (``raw_time``): no TypeDecorator pass.
RAW_TIME = NullType()


def _sqlalchemy_text(value: str) -> bool:
    """Whether SQLite's text is SQLAlchemy's naive UTC ``YYYY-MM-DD HH:MM:SS.ffffff`` (not, say,
    ``YYYY-MM-DD HH:MM:SS.f+HHMM``, as long)."""
    return len(value) == 26 and value[10] == " " and value[19] == "." and value[20:].isdigit()


def stored_iso(value: datetime | str) -> str:
    """``clock.iso`` of a time column's value as the driver returns it (a column read as
    RAW_TIME): an aware datetime (PostgreSQL), or SQLite's stored text, naive UTC
    ``YYYY-MM-DD HH:MM:SS.ffffff`` (SQLAlchemy's format; sliced, not parsed) or any other ISO 8601
    form SQLite may hold. A list page formats about a hundred of these."""
    if isinstance(value, str):
        # _sqlalchemy_text, inline (a call per time costs a fifth of formatting it)
        if len(value) == 26 and value[10] == " " and value[19] == "." and value[20:].isdigit():
            return f"{value[:10]}T{value[11:23]}Z"
        return iso(stored_time(value))
    return iso(value)


def stored_time(value: datetime | str) -> datetime:
    """An aware UTC datetime of a time column's value as the driver returns it (see
    ``stored_iso``). raises ValueError for text that is not ISO 8601."""
    if isinstance(value, str):
        if _sqlalchemy_text(value):
            # SQLAlchemy's naive UTC text, parsed with its offset: a quarter of the cost of
            # ``replace(tzinfo=UTC)``, whose keyword arguments are parsed at each call (a LIVE
            # session's open peers on a list page; the result's tzinfo is UTC itself)
            return datetime.fromisoformat(value + "+00:00")
        parsed = datetime.fromisoformat(value)
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    if value.tzinfo is UTC:
        return value
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# JSON documents: JSONB on PostgreSQL (compact, indexable), JSON text on SQLite.
JSONDocument = JSON().with_variant(JSONB(), "postgresql")

# 64-bit surrogate keys for append-only tables; SQLite needs INTEGER PRIMARY KEY for its rowid
# alias.
BigId = BigInteger().with_variant(Integer(), "sqlite")
