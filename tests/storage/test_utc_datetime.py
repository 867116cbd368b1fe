"""UTCDateTime's own bind processor writes exactly what process_bind_param and the dialect's
DATETIME conversion wrote (the stored text on SQLite is compared and indexed as text)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import sqlite
from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from rtk_sessions.storage.types import UTCDateTime

NEW_YORK = ZoneInfo("America/New_York")
VALUES = [
    datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
    datetime(2026, 1, 2, 3, 4, 5, 7, tzinfo=UTC),
    datetime(2026, 1, 2, 3, 4, 5, 999_999, tzinfo=UTC),
    datetime(1, 1, 1, tzinfo=UTC),
    datetime(5, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=-3))),
    datetime(9999, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC),
    datetime(2026, 6, 1, 0, 0, tzinfo=timezone(timedelta(hours=5, minutes=30))),
    # The repeated hour: equal datetimes that are two instants.
    datetime(2025, 11, 2, 1, 30, tzinfo=NEW_YORK),
    datetime(2025, 11, 2, 1, 30, fold=1, tzinfo=NEW_YORK),
    None,
]


def _processors(dialect: Dialect) -> tuple[Any, Any]:
    impl = UTCDateTime().dialect_impl(dialect)
    assert isinstance(impl, UTCDateTime)
    generic = TypeDecorator.bind_processor(impl, dialect)  # process_bind_param + the dialect's
    return impl.bind_processor(dialect), generic


@pytest.mark.parametrize("dialect", [sqlite.dialect(), PGDialect_psycopg()])  # type: ignore[no-untyped-call]
def test_bind_processor_matches_the_generic_conversion(dialect: Dialect) -> None:
    fast, generic = _processors(dialect)
    assert callable(fast) and callable(generic)
    for _ in range(2):  # the second time from the SQLite processor's memo
        for value in VALUES:
            assert fast(value) == generic(value), value
    assert fast(VALUES[7]) != fast(VALUES[8])
    naive = datetime(2026, 1, 1, tzinfo=UTC).replace(tzinfo=None)
    with pytest.raises(ValueError, match="naive"):
        fast(naive)
    with pytest.raises(ValueError, match="naive"):
        generic(naive)


def test_sqlite_text_and_round_trip() -> None:
    engine = sa.create_engine("sqlite://")
    table = sa.Table("t", sa.MetaData(), sa.Column("at", UTCDateTime))
    table.metadata.create_all(engine)
    stored = [v for v in VALUES if v is not None]
    with engine.begin() as conn:
        conn.execute(table.insert(), [{"at": v} for v in stored])
        texts = conn.execute(sa.text("SELECT at FROM t")).scalars().all()
        back = conn.execute(sa.select(table.c.at)).scalars().all()
    assert texts[0] == "2026-01-02 03:04:05.000000"
    assert texts[3] == "0001-01-01 00:00:00.000000"
    assert back == [v.astimezone(UTC) for v in stored]
