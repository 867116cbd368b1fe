"""Org analytics of an app (``realtime_kit.analytics.get_org_analytics``), from stored sessions.

For the UTC days ``start_date`` … ``end_date`` (inclusive; a session belongs to the day it was
created on, UTC):

- ``session_stats.sessions_count``: top-level sessions (breakout rooms are part of their parent,
  as in session lists, D13 in docs/decisions.md);
- ``session_stats.sessions_minutes_consumed``: participant-minutes of those sessions and of their
  breakout rooms created in the range (``minutes_consumed``; a LIVE session's includes its
  connected peers up to now), rounded to 4 decimals;
- ``session_stats.day_stats``: one entry per day of the range, zeros included, oldest first:
  ``{day: "YYYY-MM-DD", total_sessions, total_session_minutes}``;
- ``recording_stats``: present and zero (rtk-sessions records nothing), with zero day stats.

Defaults: ``end_date`` today (UTC), ``start_date`` 29 days before ``end_date``. A range longer
than MAX_DAYS days, a start after the end, or a date not ``YYYY-MM-DD`` is a BadRequest.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session as DB

from rtk_sessions.contract.params import parse_day as parse_day  # the rule lives with the others
from rtk_sessions.contract.views import minutes
from rtk_sessions.domain.lifecycle import LIVE, open_peer_secs
from rtk_sessions.errors import BadRequest
from rtk_sessions.storage.tables import Session

MAX_DAYS = 366
DEFAULT_DAYS = 30


def date_range(start: date | None, end: date | None, *, today: date) -> tuple[date, date]:
    """The range with defaults filled in. raises BadRequest."""
    end = end or (today if start is None else min(start + timedelta(days=DEFAULT_DAYS - 1), today))
    start = start or end - timedelta(days=DEFAULT_DAYS - 1)
    if start > end:
        raise BadRequest("start_date must not be after end_date")
    if (end - start).days + 1 > MAX_DAYS:
        raise BadRequest(f"the date range must be at most {MAX_DAYS} days")
    return start, end


def org_analytics(db: DB, app_id: str, start: date, end: date, *, now: datetime) -> dict[str, Any]:
    """The SDK's ``AnalyticsGetOrgAnalyticsResponse.data`` for ``app_id`` over ``start``…``end``."""
    low = datetime.combine(start, time.min, tzinfo=UTC)
    high = datetime.combine(end + timedelta(days=1), time.min, tzinfo=UTC)
    if db.get_bind().dialect.name == "postgresql":
        day = func.date(func.timezone("UTC", Session.created_at))
    else:  # SQLite stores naive UTC text; date() reads its day
        day = func.date(Session.created_at)
    top = Session.parent_session_id.is_(None)
    in_range = (Session.app_id == app_id, Session.created_at >= low, Session.created_at < high)
    grouped = db.execute(
        select(
            day.label("day"),
            func.count().filter(top).label("sessions"),
            func.coalesce(func.sum(Session.consumed_secs), 0.0).label("secs"),
        )
        .where(*in_range)
        .group_by(day)
    ).all()
    live = db.execute(select(Session.id, day.label("day")).where(*in_range, Session.status == LIVE))
    live_day = {row.id: str(row.day) for row in live}
    extra: dict[str, float] = {}
    for session_id, seconds in open_peer_secs(db, list(live_day), now).items():
        extra[live_day[session_id]] = extra.get(live_day[session_id], 0.0) + seconds
    days = (end - start).days + 1
    counts = [0] * days
    secs = [0.0] * days
    for row in grouped:
        index = (date.fromisoformat(str(row.day)) - start).days
        if 0 <= index < days:
            counts[index] += int(row.sessions)
            secs[index] += float(row.secs) + extra.get(str(row.day), 0.0)
    day_names = [(start + timedelta(days=i)).isoformat() for i in range(days)]
    return {
        "session_stats": {
            "sessions_count": sum(counts),
            "sessions_minutes_consumed": minutes(sum(secs)),
            "day_stats": [
                {"day": day, "total_sessions": n, "total_session_minutes": minutes(s)}
                for day, n, s in zip(day_names, counts, secs, strict=True)
            ],
        },
        "recording_stats": {
            "recording_count": 0,
            "recording_minutes_consumed": 0.0,
            "day_stats": [
                {"day": day, "total_recordings": 0, "total_recording_minutes": 0}
                for day in day_names
            ],
        },
    }
