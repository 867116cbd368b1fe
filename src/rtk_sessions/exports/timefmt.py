"""Offsets and cue clocks shared by the exports (absolute times: :func:`rtk_sessions.clock.iso`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


def _require_aware(dt: datetime) -> datetime:
    if dt.tzinfo is None or dt.tzinfo.utcoffset(dt) is None:
        raise ValueError(f"naive datetime {dt!r}: exports need timezone-aware datetimes")
    return dt.astimezone(UTC)


def offset_ms(dt: datetime, origin: datetime) -> int:
    """Milliseconds from ``origin`` to ``dt``, never negative (a cue cannot start before 0)."""
    delta: timedelta = _require_aware(dt) - _require_aware(origin)
    ms = delta // timedelta(milliseconds=1)
    return max(0, ms)


def clock(ms: int, sep: str) -> str:
    """``HH:MM:SS<sep>mmm``; hours may exceed 99 only in absurd cases and are then not padded."""
    h, rem = divmod(ms, 3_600_000)
    m, rem = divmod(rem, 60_000)
    s, milli = divmod(rem, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{milli:03d}"
