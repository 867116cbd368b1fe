"""The one place that reads the wall clock, and the timestamp formats of the API."""

from __future__ import annotations

from datetime import UTC, datetime


def utc_now() -> datetime:
    """Current time, timezone-aware UTC."""
    return datetime.now(UTC)


def iso(dt: datetime, *, require_aware: bool = False) -> str:
    """The one time format of the API and the exports: ``YYYY-MM-DDTHH:MM:SS.sssZ`` (UTC,
    milliseconds truncated), e.g. ``2023-02-01T10:51:08.039Z``.

    A naive datetime is taken as UTC, unless ``require_aware`` (the exports): then it raises
    ValueError. (``isoformat``: four times faster than ``strftime``, and list pages format about
    a hundred of these.)
    """
    if dt.tzinfo is UTC:  # the common case: aware UTC from the database or utc_now()
        return dt.isoformat(timespec="milliseconds")[:23] + "Z"
    if dt.tzinfo is None or dt.utcoffset() is None:
        if require_aware:
            raise ValueError(f"naive datetime {dt!r}: exports need timezone-aware datetimes")
    elif dt.utcoffset():
        dt = dt.astimezone(UTC)
    return dt.replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"


def from_epoch_ms(ms: float) -> datetime:
    """Epoch milliseconds (W3C DOMHighResTimeStamp as sent by browsers) to aware UTC."""
    return datetime.fromtimestamp(ms / 1000.0, UTC)


def parse_iso(value: str) -> datetime:
    """Parse ISO 8601 with ``Z``, an offset or none (naive = UTC), with optional fractions
    (D17 in docs/decisions.md).

    raises ValueError on anything else, and on a time whose UTC lies outside ``datetime``'s
    years 1..9999 (``0001-01-01T00:00:00+00:01``).
    """
    text = value.strip()
    if not text or len(text) > 64:
        raise ValueError(f"not an ISO 8601 time: {value!r}")
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    dt = datetime.fromisoformat(text)
    if dt.tzinfo is None:
        return dt.replace(tzinfo=UTC)
    try:
        return dt.astimezone(UTC)
    except OverflowError:
        raise ValueError(f"time out of range: {value!r}") from None
