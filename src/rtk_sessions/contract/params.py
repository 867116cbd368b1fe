"""Query-parameter rules (D6–D18 in docs/decisions.md), applied by the models of
``contract.query``; failures are BadRequest."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from rtk_sessions.clock import parse_iso
from rtk_sessions.errors import BadRequest

DEFAULT_PER_PAGE = 25  # D6: the only documented default in the family (Dyte /orgs)
PEER_REPORT_FILTERS = (
    "device_info",
    "ip_information",
    "precall_network_information",
    "events",
    "quality_stats",
)


def parse_bool(name: str, raw: str | None) -> bool:
    """D8: true/false (any case) or 1/0; absent is false."""
    if raw is None:
        return False
    value = raw.strip().lower()
    if value in ("true", "1"):
        return True
    if value in ("false", "0"):
        return False
    raise BadRequest(f"{name} must be true or false, got {raw!r}")


def parse_count(name: str, raw: str | None) -> int | None:
    """D7: a non-negative integral number; ``"2.0"`` is accepted (the Python SDK sends floats)."""
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise BadRequest(f"{name} must be a non-negative integer, got {raw!r}") from None
    if not math.isfinite(value) or value < 0 or value != int(value):
        raise BadRequest(f"{name} must be a non-negative integer, got {raw!r}")
    return int(value)


def parse_day(name: str, raw: str | None) -> date | None:
    """A UTC day as ``YYYY-MM-DD`` (exactly 10 characters), or None. raises BadRequest."""
    if raw is None:
        return None
    try:
        if len(raw) != 10:
            raise ValueError(raw)
        return date.fromisoformat(raw)
    except ValueError:
        raise BadRequest(f"{name} must be a date as YYYY-MM-DD, got {raw!r}") from None


def parse_enum(name: str, raw: str | None, allowed: Sequence[str]) -> str | None:
    """D9: exact, case-sensitive match."""
    if raw is None:
        return None
    if raw not in allowed:
        raise BadRequest(f"{name} must be one of {', '.join(allowed)}, got {raw!r}")
    return raw


def parse_time(name: str, raw: str | None) -> datetime | None:
    """D17: ISO 8601 with Z, an offset, or naive (UTC)."""
    if raw is None:
        return None
    try:
        return parse_iso(raw)
    except ValueError:
        raise BadRequest(f"{name} must be an ISO 8601 date-time, got {raw!r}") from None


def parse_time_range(
    start_raw: str | None, end_raw: str | None
) -> tuple[datetime | None, datetime | None]:
    start, end = parse_time("start_time", start_raw), parse_time("end_time", end_raw)
    if start is not None and end is not None and start > end:
        raise BadRequest("start_time must not be after end_time")
    return start, end


#: The largest bound of ``participants`` (``max_concurrent_participants`` is a 32-bit INTEGER).
MAX_PARTICIPANTS = 2**31 - 1


def parse_participants_range(raw: str | None) -> tuple[int | None, int | None]:
    """D18: ``min:max`` inclusive on max_concurrent_participants, either side optional;
    ``n`` = exactly n."""
    if raw is None:
        return None, None
    text = raw.strip()
    low_raw, sep, high_raw = text.partition(":")
    if not sep:
        low_raw = high_raw = text
    try:
        low = int(low_raw) if low_raw else None
        high = int(high_raw) if high_raw else None
    except ValueError:
        raise BadRequest(f"participants must look like 'min:max', got {raw!r}") from None
    if (low is None and high is None) or (low or 0) < 0 or (high or 0) < 0:
        raise BadRequest(f"participants must look like 'min:max', got {raw!r}")
    for value in (low, high):
        if value is not None and value > MAX_PARTICIPANTS:
            # the column is a 32-bit INTEGER: beyond, PostgreSQL fails the query (a 500)
            raise BadRequest(f"participants: bounds must be at most {MAX_PARTICIPANTS}")
    if low is not None and high is not None and low > high:
        raise BadRequest("participants: min must not exceed max")
    return low, high


def parse_filters(raw: str | None) -> frozenset[str] | None:
    """D11: comma-separated, no spaces, no empty tokens, each one of the five filters."""
    if raw is None:
        return None
    tokens = raw.split(",")
    for token in tokens:
        if token not in PEER_REPORT_FILTERS:
            raise BadRequest(
                f"filters must be a comma-separated list (no spaces) of "
                f"{', '.join(PEER_REPORT_FILTERS)}; got {token!r}"
            )
    return frozenset(tokens)


#: The largest ``page_no`` and ``per_page`` (2**31 - 1): their product, the offset, stays below
#: 2**63.
MAX_PAGE_COUNT = 2**31 - 1


def parse_page_count(name: str, raw: str | None) -> int | None:
    """``page_no``/``per_page``: a count (``parse_count``) of at most ``MAX_PAGE_COUNT``.
    raises BadRequest."""
    value = parse_count(name, raw)
    if value is not None and value > MAX_PAGE_COUNT:
        raise BadRequest(f"{name} must be at most {MAX_PAGE_COUNT}, got {value}")
    return value


@dataclass(frozen=True)
class Page:
    """1-based page number and size after D6/D7 defaults."""

    number: int
    size: int

    def __post_init__(self) -> None:
        """raises BadRequest above ``MAX_PAGE_COUNT``: the offset and limit must fit the
        databases' 64-bit integers (beyond, PostgreSQL fails the query and SQLite's driver
        overflows), whichever way the page was parsed."""
        for name, value in (("page_no", self.number), ("per_page", self.size)):
            if value > MAX_PAGE_COUNT:
                raise BadRequest(f"{name} must be at most {MAX_PAGE_COUNT}, got {value}")

    @classmethod
    def parse(cls, page_no: str | None, per_page: str | None) -> Page:
        """raises BadRequest: not a count, or above ``MAX_PAGE_COUNT`` (so that the offset and
        limit fit the databases' 64-bit integers: beyond, PostgreSQL fails the query)."""
        number = parse_count("page_no", page_no) or 1
        size = parse_count("per_page", per_page) or DEFAULT_PER_PAGE
        return cls(number, size)

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.size

    def paging(self, total: int, count: int) -> dict[str, int]:
        """D4: 1-based inclusive offsets of this page's items; zeros for an empty page."""
        if count == 0:
            return {"start_offset": 0, "end_offset": 0, "total_count": total}
        start = self.offset + 1
        return {"start_offset": start, "end_offset": start + count - 1, "total_count": total}
