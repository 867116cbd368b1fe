"""Reading sessions, their participants and peer reports (spec sections 2.1–2.4 and 2.9)."""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import (
    ColumnElement,
    Connection,
    Integer,
    Select,
    String,
    bindparam,
    case,
    column,
    func,
    literal,
    literal_column,
    select,
    table,
    text,
    true,
    type_coerce,
)
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.orm import Session as DB

from rtk_sessions import stats
from rtk_sessions.clock import iso, utc_now
from rtk_sessions.contract.params import Page
from rtk_sessions.contract.views import (
    SESSION_ROW,
    participant_view,
    peer_duration_secs,
    peer_event_view,
    session_row_view,
    session_view,
)
from rtk_sessions.domain import samples
from rtk_sessions.domain.client_events import ClientEvent
from rtk_sessions.domain.client_events import peer_events as peer_client_events
from rtk_sessions.domain.lifecycle import open_peer_secs, still_connected
from rtk_sessions.errors import ParticipantNotFound, PeerNotFound, SessionNotFound
from rtk_sessions.storage.engine import Prepared, RawConnection
from rtk_sessions.storage.tables import Peer, PeerEvent, Session
from rtk_sessions.storage.types import RAW_TIME, stored_iso, stored_time


@dataclass(frozen=True)
class SessionQuery:
    associated_id: str | None = None
    status: str | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None
    search: str | None = None
    min_participants: int | None = None
    max_participants: int | None = None
    sort_by: str = "createdAt"
    descending: bool = True


# Lists at scale (docs/sessions-api.md): total_count of a filtered list counts at most this many
# matches past the end of the page (8 more pages of 25); more matches than that give a lower
# bound. Counting them is most of a filtered list's cost when its matches are common: a title word
# of 1M sessions (bench/run.py's search), in-process, timed by hand, SQLite / PostgreSQL:
# 12 / 10 ms with 1,000, 7 / 4 ms with 200.
COUNT_LOOKAHEAD = 200
# Trigram indexes serve substrings of 3 characters or more; shorter searches scan in list order.
MIN_INDEXED_SEARCH = 3
# SQLite: a search whose trigram index lookup finds at most this many sessions (all apps) reads
# them by id; a commoner one scans the list in order instead, stopping at the page and the count.
FTS_PROBE_LIMIT = 1000

# The probe reads rowids only: FTS5 answers them from its index, where reading the unindexed
# session_id column looks each hit up in its content table (at 1M sessions, 1,001 hits of a title
# word, timed by hand: 0.3 ms against 2.7 ms). The few sessions of a rare term are then named
# through sessions_fts_ids (rid = the FTS rowid).
_FTS_PROBE = text(
    "SELECT rowid FROM sessions_fts WHERE sessions_fts MATCH :phrase LIMIT :limit"
).columns(column("rowid", Integer))
_FTS_IDS = table("sessions_fts_ids", column("rid", Integer), column("session_id", String))


def _fts_phrase(needle: str) -> str:
    """An FTS5 phrase matching the trigrams of ``needle`` in order (a substring, case-folded)."""
    return '"' + needle.replace('"', '""') + '"'


def _search_condition(conn: Connection, needle: str) -> tuple[list[ColumnElement[bool]], bool]:
    """Rows whose ``search_text`` contains ``needle`` (already lower-case), through the trigram
    index when ``needle`` has at least MIN_INDEXED_SEARCH characters; and whether ``needle`` is a
    common term on SQLite (then counted through the trigram index: ``_capped_total``)."""
    if conn.dialect.name == "postgresql":
        if len(needle) >= MIN_INDEXED_SEARCH:
            # LIKE is what the pg_trgm GIN index serves (ix_sessions_search_trgm).
            return [Session.search_text.contains(needle, autoescape=True)], False
        # strpos keeps the planner off the GIN index, which cannot narrow 1-2 characters down.
        return [func.strpos(Session.search_text, needle) > 0], False
    exact = func.instr(Session.search_text, needle) > 0
    if len(needle) < MIN_INDEXED_SEARCH:
        return [exact], False
    probe = conn.scalars(
        _FTS_PROBE, {"phrase": _fts_phrase(needle), "limit": FTS_PROBE_LIMIT + 1}
    ).all()
    if len(probe) > FTS_PROBE_LIMIT:
        return [exact], True
    ids = list(conn.scalars(select(_FTS_IDS.c.session_id).where(_FTS_IDS.c.rid.in_(probe))))
    # FTS5 folds case beyond ASCII, so it finds a superset; instr keeps the exact semantics.
    return [Session.id.in_(ids), exact], False


def _list_conditions(
    conn: Connection, app_id: str, query: SessionQuery
) -> tuple[list[ColumnElement[bool]], str | None]:
    """The list's conditions, and the search term when it is to be counted through the trigram
    index (a common term on SQLite)."""
    conditions: list[ColumnElement[bool]] = [
        Session.app_id == app_id,
        Session.parent_session_id.is_(None),
    ]
    if query.associated_id is not None:
        conditions.append(Session.meeting_id == query.associated_id)
    if query.status is not None:
        conditions.append(Session.status == query.status)
    if query.start_time is not None:
        conditions.append(Session.created_at >= query.start_time)
    if query.end_time is not None:
        conditions.append(Session.created_at <= query.end_time)
    counted_by_index = None
    if query.search:
        # search_text is lower(title || meeting id || session id) (D16: case-insensitive).
        searched, common = _search_condition(conn, query.search.lower())
        conditions += searched
        counted_by_index = query.search.lower() if common else None
    if query.min_participants is not None:
        conditions.append(Session.max_concurrent_participants >= query.min_participants)
    if query.max_participants is not None:
        conditions.append(Session.max_concurrent_participants <= query.max_participants)
    return conditions, counted_by_index


_COUNT_APP = Prepared(text("SELECT coalesce(sum(n), 0) FROM session_counts WHERE app_id = :app"))
_COUNT_APP_STATUS = Prepared(
    text("SELECT coalesce(sum(n), 0) FROM session_counts WHERE app_id = :app AND status = :status")
)
_UNFILTERED = (None, None, None, None, None, None)
# From this offset on a page's ids are read from the index alone before its rows are fetched.
DEEP_OFFSET = 1000


def _unfiltered(query: SessionQuery) -> bool:
    """No filter but ``status``."""
    filters = (
        query.associated_id,
        query.start_time,
        query.end_time,
        query.search or None,
        query.min_participants,
        query.max_participants,
    )
    return filters == _UNFILTERED


def _counted_total(
    conn: Connection | RawConnection, app_id: str, query: SessionQuery
) -> int | None:
    """The exact number of matches from session_counts (kept by triggers), for the unfiltered
    and status-only lists; None for any other filter."""
    if not _unfiltered(query):
        return None
    if query.status is None:
        [(n,)] = _COUNT_APP.rows(conn, {"app": app_id})
    else:
        [(n,)] = _COUNT_APP_STATUS.rows(conn, {"app": app_id, "status": query.status})
    return int(n or 0)


_FTS = table(
    "sessions_fts",
    column("session_id", String),
    column("search_text", String),
    column("top_app", String),
)


def _capped_total(
    conn: Connection,
    conditions: list[ColumnElement[bool]],
    page: Page,
    found: int,
    search: str | None = None,
    app_id: str | None = None,
) -> int:
    """``total_count`` of a filtered list: exact when this page is its last, else the number of
    matches capped at the page's end + COUNT_LOOKAHEAD.

    search: on SQLite, a search term too common for the id probe: the matches are then counted by
    walking the trigram index's hits (each joined to its session by key) rather than the app's
    sessions in list order, which reads most rows when the term is only somewhat common (a
    bench/run.py search at 100k sessions on SQLite measured 54 ms p99 that way, 19 ms this way).

    app_id: with ``search``, when ``conditions`` are the app's top-level list and the search
    alone: the hits are then counted in the trigram index alone (``top_app``, migration 0011b),
    without joining each to its session by id, a random lookup in the primary-key index that was
    most of the count at 1M sessions (bench/search_count.py)."""
    if 0 < found < page.size:
        return page.offset + found
    cap = page.offset + page.size + COUNT_LOOKAHEAD
    if search is not None and app_id is not None:
        hits = (
            select(literal(1))
            .select_from(_FTS)
            .where(
                text("sessions_fts MATCH :phrase"),
                _FTS.c.top_app == app_id,
                func.instr(_FTS.c.search_text, search) > 0,
            )
            .limit(cap)
            .subquery()
        )
        return int(
            conn.scalar(select(func.count()).select_from(hits), {"phrase": _fts_phrase(search)})
            or 0
        )
    if search is not None:
        walk = (
            select(literal(1))
            .select_from(_FTS.join(Session, Session.id == _FTS.c.session_id))
            .where(text("sessions_fts MATCH :phrase"), *conditions)
            .limit(cap)
            .subquery()
        )
        return int(
            conn.scalar(select(func.count()).select_from(walk), {"phrase": _fts_phrase(search)})
            or 0
        )
    capped = select(literal(1)).where(*conditions).limit(cap).subquery()
    return int(conn.scalar(select(func.count()).select_from(capped)) or 0)


# The SESSION_ROW of session_row_view; the times as the driver returns them (formatted by
# stored_iso, without building aware datetimes first: a list page has a hundred of them).
_RAW = frozenset({"created_at", "started_at", "ended_at", "updated_at"})
_COLUMNS = tuple(
    type_coerce(getattr(Session, name), RAW_TIME).label(name)
    if name in _RAW
    else getattr(Session, name)
    for name in SESSION_ROW
)


def list_sessions(
    db: DB | Connection, app_id: str, query: SessionQuery, page: Page
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Top-level sessions of an app (D13), filtered, sorted (D15, ties by id) and paged (D4).

    db: an ORM session, or a Core connection in a transaction (``Database.reading``: a list
    builds no ORM objects). Returns (session views, paging). A deep page (offset >= DEEP_OFFSET)
    takes its ids from the list index alone (skipping index entries, not rows), then fetches
    those rows by id; see ``_capped_total`` for ``total_count``."""
    conn = db if isinstance(db, Connection) else db.connection()
    total = _counted_total(conn, app_id, query)
    if total is not None and page.offset < DEEP_OFFSET:
        return _counted_list(conn, app_id, query, page, total)
    conditions, counted_by_index = _list_conditions(conn, app_id, query)
    key = Session.consumed_secs if query.sort_by == "minutesConsumed" else Session.created_at
    order = (key.desc() if query.descending else key.asc(), Session.id.asc())
    if page.offset < DEEP_OFFSET:
        stmt = select(*_COLUMNS).where(*conditions).order_by(*order)
        rows = conn.execute(stmt.offset(page.offset).limit(page.size)).all()
    else:
        # From the day of its first entry when the day counts apply (unfiltered or status-only,
        # by created_at): the entries of the days before are skipped, not walked.
        offset, total_after = page.offset, total
        if total is not None and key is Session.created_at:
            skip = _day_skip(conn, app_id, query.status, query.descending, offset)
            if skip is not None:
                skipped, bound = skip
                conditions = [*conditions, bound]
                offset, total_after = offset - skipped, total - skipped
        ids = _deep_page_ids(
            conn, conditions, key, query.descending, offset, page.size, total_after
        )
        fetched = conn.execute(select(*_COLUMNS).where(Session.id.in_(ids))).all() if ids else []
        by_id = {row.id: row for row in fetched}
        rows = [by_id[i] for i in ids]
    if total is None:
        # the search alone: its matches are the index's hits of the app's top-level sessions
        alone = (
            counted_by_index is not None
            and query.status is None
            and _unfiltered(replace(query, search=None))
        )
        total = _capped_total(
            conn, conditions, page, len(rows), counted_by_index, app_id if alone else None
        )
    return _row_views(conn, rows), page.paging(total, len(rows))


def is_counted(query: SessionQuery, page: Page) -> bool:
    """Whether the list is one of the commonest (no filter or only status, a page before
    DEEP_OFFSET): ``list_counted`` reads it."""
    return page.offset < DEEP_OFFSET and _unfiltered(query)


def list_counted(
    conn: RawConnection, app_id: str, query: SessionQuery, page: Page
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """``list_sessions`` of a list that ``is_counted``, read with ``Prepared`` statements alone
    (``Database.reading_raw``). On PostgreSQL one statement (``_one_statement_page``), which
    ``reading_raw(one_statement=True)`` runs without a transaction of its own.
    raises ValueError for a list that is not counted."""
    if not is_counted(query, page):
        raise ValueError("not a counted list (is_counted)")
    if conn.dialect.name == "postgresql":
        params: dict[str, Any] = {"app_id": app_id, "status": query.status}
        params |= {"offset": page.offset, "limit": page.size}
        stmt = _one_statement_page(query.sort_by, query.descending, query.status is not None)
        rows = stmt.rows(conn, params)
        views = _one_statement_views(rows)
        return views, page.paging(int(rows[0][0]), len(views))
    total = _counted_total(conn, app_id, query)
    assert total is not None  # is_counted: no filter but status
    return _counted_list(conn, app_id, query, page, total)


def _counted_list(
    conn: Connection | RawConnection, app_id: str, query: SessionQuery, page: Page, total: int
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """A page of a counted list (``_counted_total``): statements compiled once."""
    params: dict[str, Any] = {"app_id": app_id, "status": query.status}
    params |= {"offset": page.offset, "limit": page.size}
    with_status = query.status is not None
    if conn.dialect.name == "sqlite":
        packed = _packed_page_stmt(query.sort_by, query.descending, with_status)
        packed_rows = packed.rows(conn, params)
        return _packed_views(app_id, packed_rows), page.paging(total, len(packed_rows))
    page_stmt = _counted_page_stmt(query.sort_by, query.descending, with_status)
    rows = page_stmt.rows(conn, params)
    return _row_views(conn, rows), page.paging(total, len(rows))


def _views(db: DB, rows: Sequence[Any], now: datetime | None = None) -> list[dict[str, Any]]:
    """Session views of ORM sessions; LIVE ones count their connected peers' minutes up to
    ``now``."""
    live = [row.id for row in rows if row.status == "LIVE"]
    secs = open_peer_secs(db, live, now or utc_now()) if live else {}
    return [session_view(row, live_secs=secs.get(row.id, 0.0)) for row in rows]


def _row_views(conn: Connection | RawConnection, rows: Sequence[Any]) -> list[dict[str, Any]]:
    """``_views`` of rows of ``_COLUMNS`` (times as stored), unpacked as tuples."""
    live = [row[0] for row in rows if row[5] == "LIVE"]
    secs = open_peer_secs(conn, live, utc_now()) if live else {}
    get = secs.get
    return [session_row_view(tuple(row), get(row[0], 0.0), stored_iso) for row in rows]


def _counted_page(
    columns: Sequence[Any], sort_by: str, descending: bool, with_status: bool
) -> Prepared:
    """A page of ``columns`` of the list with no filter but ``status``; binds app_id, status,
    offset, limit."""
    return Prepared(_counted_select(columns, sort_by, descending, with_status))


def _counted_select(
    columns: Sequence[Any], sort_by: str, descending: bool, with_status: bool
) -> Select[Any]:
    """The statement of ``_counted_page``."""
    conditions = [Session.app_id == bindparam("app_id"), Session.parent_session_id.is_(None)]
    if with_status:
        conditions.append(Session.status == bindparam("status"))
    key = Session.consumed_secs if sort_by == "minutesConsumed" else Session.created_at
    order = (key.desc() if descending else key.asc(), Session.id.asc())
    return (
        select(*columns)
        .where(*conditions)
        .order_by(*order)
        .offset(bindparam("offset", type_=Integer))
        .limit(bindparam("limit", type_=Integer))
    )


@functools.cache
def _counted_page_stmt(sort_by: str, descending: bool, with_status: bool) -> Prepared:
    """A page of the list with no filter but ``status``, rows of ``_COLUMNS``."""
    return _counted_page(_COLUMNS, sort_by, descending, with_status)


# SQLite: a page row of the counted lists as two values, a JSON array of its view's values (the
# SESSION_ROW but app_id and consumed_secs, then the join times of a LIVE session's connected
# peers, comma-separated) and consumed_secs (a REAL: SQLite's JSON writes 15 significant
# digits). The driver's fetch costs about a thousand instructions a value (Python 3.11's sqlite3
# releases the GIL around each), so 13 columns and a second statement for the open peers cost
# more than building and parsing the JSON (docs/performance.md).
_PACKED = tuple(name for name in SESSION_ROW if name not in ("app_id", "consumed_secs"))


@functools.cache
def _packed_page_stmt(sort_by: str, descending: bool, with_status: bool) -> Prepared:
    """``_counted_page_stmt`` with its rows packed (``_PACKED``), SQLite only."""
    # the peers of open_peer_secs, in its order (ix_peers_session_joined)
    open_joins = (
        select(func.group_concat(type_coerce(Peer.joined_at, RAW_TIME), literal_column("','")))
        .where(Peer.session_id == Session.id, still_connected())
        .scalar_subquery()
    )
    values = [
        type_coerce(getattr(Session, name), RAW_TIME) if name in _RAW else getattr(Session, name)
        for name in _PACKED
    ]
    live = case((Session.status == literal_column("'LIVE'"), open_joins), else_=None)
    columns = (func.json_array(*values, live), Session.consumed_secs)
    return _counted_page(columns, sort_by, descending, with_status)


def _open_secs(now: datetime, joins: Sequence[Any]) -> float:
    """``open_peer_secs`` of one session from its open peers' join times as the driver returns
    them, added in the same order: the list pages' views equal ``get_session``'s."""
    secs = 0.0
    for joined_at in joins:
        secs = secs + max(0.0, (now - stored_time(joined_at)).total_seconds())
    return secs


def _packed_views(app_id: str, rows: Sequence[tuple[Any, ...]]) -> list[dict[str, Any]]:
    """``_row_views`` of rows of ``_packed_page_stmt``: the same views."""
    now = utc_now()
    views = []
    for packed, consumed_secs in rows:
        (id_, meeting, name, type_, status, live, most, created, started, ended, updated, joins) = (
            orjson.loads(packed)
        )
        live_secs = _open_secs(now, joins.split(",")) if joins is not None else 0.0
        row = (id_, app_id, meeting, name, type_, status, live, most, consumed_secs)
        views.append(
            session_row_view((*row, created, started, ended, updated), live_secs, stored_iso)
        )
    return views


_SESSION_COUNTS = table(
    "session_counts", column("app_id", String), column("status", String), column("n", Integer)
)


@functools.cache
def _one_statement_page(sort_by: str, descending: bool, with_status: bool) -> Prepared:
    """PostgreSQL: a page of the list with no filter but ``status`` in one statement. Its rows:
    the list's ``total_count`` (from session_counts, the same in each row), the ``_COLUMNS`` of
    a session, then the join times of a LIVE session's connected peers (an array, in
    ``open_peer_secs``'s order: ``ix_peers_session_joined``); a page past the end is one row
    of the total and NULLs (the page joined to the count, ``LEFT JOIN LATERAL``).

    One statement is one snapshot: run outside a transaction of its own
    (``reading_raw(one_statement=True)``) it costs no BEGIN and COMMIT, each a round trip to
    the server as dear as the statement; with the count's and the open peers' statements, five
    round trips became one (docs/performance.md)."""
    open_joins = (
        select(func.array_agg(aggregate_order_by(Peer.joined_at, Peer.joined_at)))
        .where(Peer.session_id == Session.id, still_connected())
        .scalar_subquery()
    )
    live = case((Session.status == literal_column("'LIVE'"), open_joins), else_=None)
    page = _counted_select((*_COLUMNS, live.label("joins")), sort_by, descending, with_status)
    rows = page.lateral("page")
    counted = [_SESSION_COUNTS.c.app_id == bindparam("app_id")]
    if with_status:
        counted.append(_SESSION_COUNTS.c.status == bindparam("status"))
    total = (
        select(func.coalesce(func.sum(_SESSION_COUNTS.c.n), literal_column("0")).label("total"))
        .where(*counted)
        .subquery("total")
    )
    key = rows.c.consumed_secs if sort_by == "minutesConsumed" else rows.c.created_at
    return Prepared(
        select(total.c.total, *rows.c)
        .select_from(total.outerjoin(rows, true()))
        .order_by(key.desc() if descending else key.asc(), rows.c.id.asc())
    )


def _one_statement_views(rows: Sequence[tuple[Any, ...]]) -> list[dict[str, Any]]:
    """``_row_views`` of the rows of ``_one_statement_page`` that are sessions (none for a page
    past the end, whose one row has no id): the same views."""
    if rows[0][1] is None:
        return []
    now = utc_now()
    views = []
    for row in rows:
        joins = row[-1]
        live_secs = _open_secs(now, joins) if joins is not None else 0.0
        views.append(session_row_view(row[1:-1], live_secs, stored_iso))
    return views


# PostgreSQL: skipping an entry in a backward index scan costs about this many forward ones
# (measured: the middle page of 1M sessions, 84-94 ms forward, 109-142 ms backward, same index).
BACKWARD_SCAN_COST = 1.5


def _front_is_forward(key: InstrumentedAttribute[Any], descending: bool) -> bool:
    """Whether the list order is a forward scan of its index (the created_at indexes ascend,
    ``id`` descending, so the default ``created_at DESC, id ASC`` is their backward scan; the
    consumed_secs ones exist in each order). Its reverse is then a backward scan, and vice versa."""
    return not (key.key == "created_at" and descending)


def _from_the_end(
    dialect: str,
    key: InstrumentedAttribute[Any],
    descending: bool,
    offset: int,
    end: int,
    total: int,
) -> bool:
    """Whether a page ``[offset, end)`` of ``total`` is cheaper to reach from the list's end."""
    front, back = float(offset), float(total - end)
    if dialect == "postgresql":
        if _front_is_forward(key, descending):
            back *= BACKWARD_SCAN_COST
        else:
            front *= BACKWARD_SCAN_COST
    return back < front


def _deep_page_ids(
    conn: Connection,
    conditions: list[ColumnElement[bool]],
    key: InstrumentedAttribute[Any],
    descending: bool,
    offset: int,
    size: int,
    total: int | None,
) -> list[str]:
    """The ids of the ``size`` matches of ``conditions`` from ``offset`` on, from the list index
    alone. With an exact ``total`` of the matches (counters), the index may be walked from the
    other end instead (the reversed order is ``key`` the other way, then ``id`` descending), when
    that skips fewer entries: on PostgreSQL, entries of a backward scan count BACKWARD_SCAN_COST
    times (see ``_front_is_forward``)."""
    end = offset + size if total is None else min(total, offset + size)
    if total is not None and _from_the_end(conn.dialect.name, key, descending, offset, end, total):
        if end <= offset:
            return []
        order = (key.asc() if descending else key.desc(), Session.id.desc())
        stmt = select(Session.id).where(*conditions).order_by(*order)
        ids = list(conn.scalars(stmt.offset(total - end).limit(end - offset)))
        ids.reverse()
        return ids
    order = (key.desc() if descending else key.asc(), Session.id.asc())
    stmt = select(Session.id).where(*conditions).order_by(*order)
    return list(conn.scalars(stmt.offset(offset).limit(size)))


_DAY_COUNTS = Prepared(
    text("SELECT day, sum(n) FROM session_day_counts WHERE app_id = :app GROUP BY day ORDER BY day")
)
_DAY_COUNTS_STATUS = Prepared(
    text(
        "SELECT day, sum(n) FROM session_day_counts WHERE app_id = :app AND status = :status "
        "GROUP BY day ORDER BY day"
    )
)


def _day_skip(
    conn: Connection, app_id: str, status: str | None, descending: bool, offset: int
) -> tuple[int, ColumnElement[bool]] | None:
    """Where the entry at ``offset`` of an unfiltered (or status-only) list by ``created_at``
    lies, from ``session_day_counts`` (migration 0008d): ``(skipped, bound)``, where ``skipped``
    is the number of entries of the days before its day in list order, and ``bound`` the
    condition on ``created_at`` that leaves out exactly those entries (``created_at`` before the
    end of its UTC day, descending; from its start, ascending). The entry at ``offset`` is then the
    one at ``offset - skipped`` of the list with ``bound``. None when ``offset`` is past the end.

    Exact because the day counts move in the same transactions as the rows; a page of the
    default list at offset 500,000 of 1M sessions over 180 days then walks one day's entries
    (about 5,600) instead of 500,000."""
    if status is None:
        days = _DAY_COUNTS.rows(conn, {"app": app_id})
    else:
        days = _DAY_COUNTS_STATUS.rows(conn, {"app": app_id, "status": status})
    skipped = 0
    for day, n in reversed(days) if descending else days:
        count = int(n or 0)
        if skipped + count > offset:
            start = _day_start(day)
            if descending:
                return skipped, Session.created_at < start + timedelta(days=1)
            return skipped, Session.created_at >= start
        skipped += count
    return None


def _day_start(day: date | str) -> datetime:
    """Midnight UTC of a ``session_day_counts.day`` (a ``date``, or SQLite's ``YYYY-MM-DD``)."""
    if isinstance(day, str):
        day = date.fromisoformat(day[:10])
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _session(db: DB, app_id: str, session_id: str) -> Session:
    session = db.get(Session, session_id)
    if session is None or session.app_id != app_id:
        raise SessionNotFound(session_id)
    return session


def get_session(
    db: DB, app_id: str, session_id: str, *, include_breakout_rooms: bool
) -> dict[str, Any]:
    """raises SessionNotFound."""
    session = _session(db, app_id, session_id)
    rooms = None
    if include_breakout_rooms:
        children = db.scalars(
            select(Session)
            .where(Session.parent_session_id == session.id, Session.app_id == app_id)
            .order_by(Session.created_at, Session.id)
        ).all()
        rooms = _views(db, children)
    return _views(db, [session])[0] | ({} if rooms is None else {"breakout_rooms": rooms})


_EVENT_ORDER = {"PEER_CREATED": 0, "PEER_JOINING": 1, "PEER_LEAVING": 2}


def _events_by_peer(db: DB, peer_ids: list[str]) -> dict[str, list[PeerEvent]]:
    """Each peer's events in lifecycle order: CREATED, JOINING, LEAVING (spec section 3)."""
    grouped: dict[str, list[PeerEvent]] = defaultdict(list)
    for start in range(0, len(peer_ids), 500):
        chunk = peer_ids[start : start + 500]
        for event in db.scalars(select(PeerEvent).where(PeerEvent.peer_id.in_(chunk))):
            grouped[event.peer_id].append(event)
    for events in grouped.values():
        events.sort(key=lambda e: (e.created_at, _EVENT_ORDER.get(e.event_name, 3)))
    return grouped


def list_participants(
    db: DB,
    app_id: str,
    session_id: str,
    page: Page,
    *,
    now: datetime,
    search: str | None = None,
    sort_by: str = "joinedAt",
    descending: bool = False,
    include_peer_events: bool = False,
    view: str = "raw",
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Participants (one per peer, D31) of a session. raises SessionNotFound.

    view=consolidated (D14): one entry per user_id over this session and its breakout rooms, with
    the first join's id, the first ``joined_at``, the last ``left_at``, the summed duration and
    every peer's events (``_consolidate``; docs/sessions-api.md). Peers are read through the
    (session_id, joined_at) index; a session's participants are few enough to page in memory.
    """
    session = _session(db, app_id, session_id)
    peers = list(
        db.scalars(
            select(Peer).where(Peer.session_id == session.id).order_by(Peer.joined_at, Peer.id)
        )
    )
    durations = {peer.id: peer_duration_secs(peer, now) for peer in peers}
    members: dict[str, list[Peer]] = {peer.id: [peer] for peer in peers}
    if view == "consolidated":
        peers, durations, members = _consolidate(db, session, peers, now)
    if search:
        needle = search.lower()
        peers = [
            p
            for p in peers
            if any(
                needle in (v or "").lower() for v in (p.id, p.custom_participant_id, p.display_name)
            )
        ]
    if sort_by == "duration":
        peers.sort(key=lambda p: p.id)
        peers.sort(key=lambda p: durations[p.id], reverse=descending)
    else:
        peers.sort(key=lambda p: p.id)
        peers.sort(key=lambda p: p.joined_at, reverse=descending)
    total = len(peers)
    window = peers[page.offset : page.offset + page.size]
    items = []
    if include_peer_events:
        by_id = {m.id: m for p in window for m in members[p.id]}
        events = _events_by_peer(db, list(by_id))
    for peer in window:
        body = participant_view(peer, now, duration_secs=durations[peer.id])
        if include_peer_events:
            own = [e for m in members[peer.id] for e in events.get(m.id, [])]
            own.sort(key=lambda e: (e.created_at, _EVENT_ORDER.get(e.event_name, 3), e.peer_id))
            body["peer_events"] = [peer_event_view(e, by_id[e.peer_id]) for e in own]
        items.append(body)
    return items, page.paging(total, len(items))


def _consolidate(
    db: DB, session: Session, peers: list[Peer], now: datetime
) -> tuple[list[Peer], dict[str, float], dict[str, list[Peer]]]:
    """One row per ``user_id`` over this session and its breakout rooms (peers without a
    ``user_id`` stay one row each): the first join's ``id`` and identity, that join's
    ``joined_at``, the last leave's ``left_at`` (none while any of them is connected),
    ``duration`` summed, ``updated_at`` the latest; and the peers whose events the row lists.

    Returns (rows, duration seconds by row id, member peers by row id). The rows are transient
    copies; nothing is written."""
    child_ids = list(
        db.scalars(
            select(Session.id).where(
                Session.parent_session_id == session.id, Session.app_id == session.app_id
            )
        )
    )
    everyone = list(peers)
    if child_ids:
        everyone += db.scalars(select(Peer).where(Peer.session_id.in_(child_ids))).all()
    groups: dict[str, list[Peer]] = {}
    rows: list[Peer] = []
    for peer in peers:  # joined_at order: the earliest join of the session names the user
        if peer.user_id is None:
            groups[peer.id] = [peer]
        elif peer.user_id not in groups:
            groups[peer.user_id] = []
    for peer in everyone:
        if peer.user_id is not None and peer.user_id in groups:
            groups[peer.user_id].append(peer)
    durations: dict[str, float] = {}
    members: dict[str, list[Peer]] = {}
    for group in groups.values():
        group.sort(key=lambda p: (p.joined_at, p.id))
        first = next(p for p in group if p.session_id == session.id)
        still_open = any(p.left_at is None for p in group)
        last_left = None if still_open else max(p.left_at for p in group if p.left_at)
        row = Peer(
            id=first.id,
            session_id=session.id,
            user_id=first.user_id,
            custom_participant_id=first.custom_participant_id,
            display_name=first.display_name,
            preset_name=first.preset_name,
            preset_view_type=first.preset_view_type,
            socket_session_id=first.socket_session_id,
            joined_at=min(p.joined_at for p in group),
            left_at=last_left,
            created_at=first.created_at,
            updated_at=max(p.updated_at for p in group),
        )
        rows.append(row)
        durations[row.id] = sum(peer_duration_secs(p, now) for p in group)
        members[row.id] = group
    return rows, durations, members


def participant_details(
    db: DB,
    app_id: str,
    session_id: str,
    participant_id: str,
    *,
    now: datetime,
    include_peer_events: bool,
) -> dict[str, Any]:
    """raises SessionNotFound, ParticipantNotFound."""
    session = _session(db, app_id, session_id)
    peer = db.get(Peer, participant_id)
    if peer is None or peer.session_id != session.id:
        raise ParticipantNotFound(participant_id, session_id)
    body = participant_view(peer, now)
    if include_peer_events:
        events = _events_by_peer(db, [peer.id]).get(peer.id, [])
        body["peer_events"] = [peer_event_view(e, peer) for e in events]
    return body


_DEVICE_KEYS = (
    "device_info",
    "browser_metadata",
    "native_metadata",
    "sdk_name",
    "sdk_type",
    "sdk_version",
    "room_view_type",
)
_DEVICE_LISTS = (
    "audio_devices_updates",
    "video_devices_updates",
    "speaker_devices_updates",
    "selected_device_updates",
)


def peer_report(
    db: DB,
    app_id: str,
    peer_id: str,
    *,
    now: datetime,
    filters: frozenset[str] | None,
    include_peer_events: bool,
    issue_thresholds: stats.IssueThresholds | None = None,
) -> dict[str, Any]:
    """The participant and its ``peer_report`` (shape: docs/decisions.md#peer-report).
    raises PeerNotFound.

    filters (D11) restrict the report to the mapped sections; None means all. With
    ``quality_stats``, ``peer_report.detected_issues`` (an extension) lists the problems
    ``stats.detect_issues`` finds with ``issue_thresholds`` (docs/quality-metrics.md).
    """
    peer = db.get(Peer, peer_id)
    if peer is None or peer.app_id != app_id:
        raise PeerNotFound(peer_id)
    wanted = filters or frozenset(
        ("device_info", "ip_information", "precall_network_information", "events", "quality_stats")
    )
    participant = participant_view(peer, now)
    participant.pop("preset_name", None)
    if peer.preset_name is not None:
        participant["role"] = peer.preset_name
    participant["session_id"] = peer.session_id
    if include_peer_events:
        events = _events_by_peer(db, [peer.id]).get(peer.id, [])
        participant["peer_events"] = [peer_event_view(e, peer) for e in events]
    meta = peer.meta or {}
    metadata: dict[str, Any] = {}
    if "device_info" in wanted:
        metadata.update({k: meta[k] for k in _DEVICE_KEYS if k in meta})
        metadata.update({k: meta.get(k, []) for k in _DEVICE_LISTS})
    if "ip_information" in wanted and "ip_information" in meta:
        metadata["ip_information"] = meta["ip_information"]
    stored = samples.read_stored_quality(
        db, app_id, peer.id, with_quality="quality_stats" in wanted
    )
    quality, pairs = stored.quality, stored.candidate_pairs
    client_events: list[ClientEvent] | None = None
    if "events" in wanted or "quality_stats" in wanted:
        client_events = peer_client_events(db, app_id, peer.id)
    if "precall_network_information" in wanted:
        metadata["pc_metadata"] = meta.get("pc_metadata", [])
        metadata["candidate_pairs"] = pairs
    if "events" in wanted:
        metadata["events"] = [
            {"name": e.name, "timestamp": iso(e.timestamp), "metadata": e.meta or {}}
            for e in client_events or ()
        ]
    report: dict[str, Any] = {"metadata": metadata}
    if "quality_stats" in wanted:
        report["quality"] = quality  # D33: {} for a peer without telemetry
        report["detected_issues"] = stored.detected_issues(
            [(e.timestamp.timestamp() * 1000, e.name, e.meta or {}) for e in client_events or ()],
            {k: meta.get(k, []) for k in _DEVICE_LISTS},
            issue_thresholds,
        )
    participant["peer_report"] = report
    return participant
