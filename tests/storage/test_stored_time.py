"""Time values as the drivers return them (``storage.types.stored_iso``/``stored_time``), which a
session list formats without the column type's conversion: the same text as ``clock.iso`` of the
converted value, whatever form SQLite holds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from rtk_sessions.clock import iso
from rtk_sessions.storage.types import stored_iso, stored_time

MOMENT = datetime(2026, 11, 30, 8, 17, 39, 715486, tzinfo=UTC)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2026-11-30 08:17:39.715486", MOMENT),  # SQLAlchemy's SQLite format: sliced
        ("2026-11-30 08:17:39", MOMENT.replace(microsecond=0)),  # no fraction
        ("2026-11-30T08:17:39.715486", MOMENT),  # a "T"
        ("2026-11-30 08:17:39.7154", MOMENT.replace(microsecond=715400)),  # a shorter fraction
        ("2026-11-30 10:17:39.715486+02:00", MOMENT),  # an offset
        # as long as SQLAlchemy's format, with an offset: parsed, not sliced
        ("2026-11-30 10:17:39.7+0200", MOMENT.replace(microsecond=700000)),
        (MOMENT.replace(tzinfo=None), MOMENT),  # a naive datetime
        (MOMENT, MOMENT),  # PostgreSQL: aware datetimes
        (MOMENT.astimezone(timezone(timedelta(hours=-5))), MOMENT),
    ],
)
def test_stored_values_format_as_iso_of_the_converted_time(
    raw: datetime | str, expected: datetime
) -> None:
    assert stored_time(raw) == expected and stored_time(raw).tzinfo is UTC
    assert stored_iso(raw) == iso(expected)


def test_iso_of_utc_and_of_other_offsets_and_naive() -> None:
    assert iso(MOMENT) == "2026-11-30T08:17:39.715Z"  # truncated, not rounded
    assert iso(MOMENT.astimezone(timezone(timedelta(hours=9)))) == "2026-11-30T08:17:39.715Z"
    assert iso(MOMENT.replace(tzinfo=None)) == "2026-11-30T08:17:39.715Z"
    assert iso(datetime(7, 1, 2, tzinfo=UTC)) == "0007-01-02T00:00:00.000Z"
    with pytest.raises(ValueError):
        iso(MOMENT.replace(tzinfo=None), require_aware=True)
