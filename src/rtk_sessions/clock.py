"""The one place that reads the wall clock, and the timestamp formats of the API."""

from __future__ import annotations

from datetime import UTC, datetime


def utc_now() -> datetime:
    """Current time, timezone-aware UTC."""
    return datetime.now(UTC)


def iso(dt: datetime) -> str:
    """The API's time format everywhere: ``YYYY-MM-DDTHH:MM:SS.sssZ`` (UTC, milliseconds truncated).

    A naive datetime is taken as UTC. (``isoformat``: four times faster than ``strftime``, and
    list pages format about a hundred of these.)
    """
    if dt.tzinfo is not None and dt.utcoffset():
        dt = dt.astimezone(UTC)
    return dt.replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"


def from_epoch_ms(ms: float) -> datetime:
    """Epoch milliseconds (W3C DOMHighResTimeStamp as sent by browsers) to aware UTC."""
    return datetime.fromtimestamp(ms / 1000.0, UTC)


def parse_iso(value: str) -> datetime:
    """Parse ISO 8601 with ``Z``, an offset or none (naive = UTC), with optional fractions
    (D17 in docs/decisions.md).

    raises ValueError on anything else.
    """
    text = value.strip()
    if not text or len(text) > 64:
        raise ValueError(f"not an ISO 8601 time: {value!r}")
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    dt = datetime.fromisoformat(text)
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)
