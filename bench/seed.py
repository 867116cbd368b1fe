"""Seed an app with N realistic sessions (meetings, sessions, peers, peer events), fast.

    .venv/bin/python bench/seed.py --database-url URL --sessions 100k [--app-id APP] [--start 0]

What one call adds to the app (all times UTC, ``now`` = the wall clock):

* ``sessions`` sessions, numbered ``start .. start+sessions-1`` (ids are derived from the number, so
  calling again with ``--start`` = the previous total grows the same app: 10k, then +90k, ...).
  ``created_at`` is spread uniformly over the 180 days before ``now`` (inserted in time order, as a
  live system would), except 1% created in the last 3 hours, which are ``LIVE`` with their last peer
  still in the call; all others are ``ENDED`` (``ended_at`` = last leave + 60 s keep-alive).
* one meeting per 4 sessions; its title is three words from ``TITLE_WORDS`` (``"Platform weekly
  retro"``), the title of its sessions; ``search_text`` follows the rule of
  ``rtk_sessions.domain.lifecycle`` (lower(title meeting_id session_id)).
* 1 to 5 peers per session (mean 2.5), each staying 2 to 90 minutes, with its peer events
  (PEER_CREATED and PEER_JOINING at the join, PEER_LEAVING with minutes consumed at the leave);
  ``consumed_secs`` and ``max_concurrent_participants`` are computed from these peers.

How: the server's migrations run first (so triggers that keep derived structures exist before the
insert), then rows are bulk-loaded in chunks of 20,000 sessions with their rows, one transaction
each: PostgreSQL ``COPY`` through psycopg, SQLite ``executemany`` of an INSERT of the metadata's
columns; then ``ANALYZE`` (PostgreSQL: ``VACUUM (ANALYZE)``). Two worker processes make the
rows of the next chunks while the main process loads the current one. Column lists are checked
against ``rtk_sessions.storage.tables``: a column this seeder does not know that is NOT NULL
without a default raises ``SchemaChanged`` (a scalar default is filled in), so a new required column
breaks the seeder loudly instead of silently.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import sys
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT / "src") not in sys.path:
    sys.path.insert(0, str(ROOT / "src"))

from sqlalchemy import Engine, Table, insert  # noqa: E402

from rtk_sessions import migrations  # noqa: E402
from rtk_sessions.config import normalize_database_url  # noqa: E402
from rtk_sessions.storage import tables  # noqa: E402
from rtk_sessions.storage.engine import make_engine  # noqa: E402
from rtk_sessions.storage.types import UTCDateTime  # noqa: E402

TITLE_WORDS: tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]] = (
    (
        "Platform", "Payments", "Growth", "Mobile", "Design", "Sales", "Support", "Infra",
        "Data", "Security", "Marketing", "Finance", "Legal", "Research", "Frontend", "Backend",
    ),
    ("weekly", "daily", "quarterly", "monthly", "adhoc", "biweekly", "annual", "urgent"),
    (
        "standup", "retro", "planning", "review", "sync", "interview", "onboarding", "demo",
        "allhands", "incident", "brainstorm", "kickoff", "townhall", "training", "oneonone",
    ),
)  # fmt: skip
HISTORY_DAYS = 180
LIVE_FRACTION = 0.01
LIVE_WINDOW_SECS = 3 * 3600
SESSIONS_PER_MEETING = 4
KEEP_ALIVE_SECS = 60
CHUNK_SESSIONS = 20_000
GENERATORS = 2  # worker processes that make rows while the main one loads them
PRESETS = ("group_call_host", "group_call_participant")


class SchemaChanged(RuntimeError):
    """The tables' metadata no longer matches what this seeder writes."""


@dataclass
class SeedResult:
    """What a ``seed`` call did; ``sample_session_ids`` are spread over the seeded range."""

    app_id: str
    sessions: int
    peers: int
    peer_events: int
    seconds: float
    sample_session_ids: list[str] = field(default_factory=list)


def parse_count(value: str) -> int:
    """``"10k"`` → 10000, ``"1M"`` → 1000000, ``"250"`` → 250."""
    v = value.strip().lower()
    scale = {"k": 1_000, "m": 1_000_000}.get(v[-1:], 1)
    return int(float(v[:-1] if scale > 1 else v) * scale)


def _uuid(rng: random.Random) -> str:
    """A random id in UUID text form (version bits not set: only the shape matters here)."""
    h = f"{rng.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


class _Columns:
    """The columns written to one table, checked against its metadata; fills scalar defaults."""

    def __init__(self, table: Table, names: Sequence[str], times: Sequence[str]) -> None:
        self.table = table
        known = {c.name for c in table.columns}
        unknown = [n for n in names if n not in known]
        if unknown:
            raise SchemaChanged(f"{table.name} has no column(s) {unknown}; update bench/seed.py")
        for name in times:
            if not isinstance(table.c[name].type, UTCDateTime):
                raise SchemaChanged(f"{table.name}.{name} is no longer a UTCDateTime")
        extra: list[tuple[str, Any]] = []
        for col in table.columns:
            if col.name in names or col.nullable or col.server_default is not None:
                continue
            if col.primary_key and col.autoincrement is True:
                continue
            default = col.default
            if default is not None and getattr(default, "is_scalar", False):
                extra.append((col.name, cast(Any, default).arg))
                continue
            raise SchemaChanged(
                f"{table.name}.{col.name} is NOT NULL without a default; bench/seed.py must fill it"
            )
        self.names = tuple(names) + tuple(n for n, _ in extra)
        self.tail = tuple(v for _, v in extra)


class _Format:
    """How one database takes values in bulk: time text and booleans."""

    def __init__(self, dialect: str) -> None:
        self.dialect = dialect
        # SQLite: the storage format of SQLAlchemy's SQLite DATETIME (naive UTC); PostgreSQL: text
        self._suffix = "" if dialect == "sqlite" else "+00:00"
        self._days: dict[int, str] = {}

    def time(self, epoch: float) -> str:
        """``YYYY-MM-DD HH:MM:SS.ffffff`` (+00:00 on PostgreSQL) of an epoch in seconds."""
        micros = round(epoch * 1_000_000)
        day, rest = divmod(micros, 86_400_000_000)
        prefix = self._days.get(day)
        if prefix is None:
            prefix = datetime.fromtimestamp(day * 86400, UTC).strftime("%Y-%m-%d ")
            self._days[day] = prefix
        secs, us = divmod(rest, 1_000_000)
        hours, secs = divmod(secs, 3600)
        minutes, secs = divmod(secs, 60)
        return f"{prefix}{hours:02d}:{minutes:02d}:{secs:02d}.{us:06d}{self._suffix}"

    def flag(self, value: bool) -> Any:
        return int(value) if self.dialect == "sqlite" else value


def _check_time_format(engine: Engine, fmt: _Format) -> None:
    """raises SchemaChanged if SQLAlchemy would store a time differently from ``fmt.time``."""
    if fmt.dialect != "sqlite":
        return  # PostgreSQL parses the text itself; a wrong type fails the COPY
    sample = 1_700_000_000.25
    col_type = tables.Session.__table__.c.created_at.type
    bind = col_type.dialect_impl(engine.dialect).bind_processor(engine.dialect)
    expected = bind(datetime.fromtimestamp(sample, UTC)) if bind else None
    if expected != fmt.time(sample):
        raise SchemaChanged(f"SQLite time format changed: {expected!r} != {fmt.time(sample)!r}")


SESSION_COLS = (
    "id", "app_id", "meeting_id", "parent_session_id", "meeting_display_name", "type", "status",
    "live_participants", "max_concurrent_participants", "consumed_secs", "last_left_at",
    "keep_alive_secs", "search_text", "created_at", "started_at", "ended_at", "updated_at",
)  # fmt: skip
SESSION_TIMES = ("last_left_at", "created_at", "started_at", "ended_at", "updated_at")
MEETING_COLS = (
    "id", "app_id", "title", "status", "record_on_start", "live_stream_on_start", "persist_chat",
    "summarize_on_end", "transcribe_on_end", "session_keep_alive_time_in_secs", "created_at",
    "updated_at",
)  # fmt: skip
PEER_COLS = (
    "id", "session_id", "app_id", "user_id", "custom_participant_id", "display_name",
    "preset_name", "preset_view_type", "joined_at", "left_at", "last_seen_at", "last_received_at",
    "metadata", "created_at", "updated_at",
)  # fmt: skip
PEER_TIMES = ("joined_at", "left_at", "last_seen_at", "last_received_at", "created_at")
EVENT_COLS = (
    "id", "peer_id", "session_id", "event_name", "minutes_consumed", "created_at", "updated_at",
)  # fmt: skip


@dataclass
class _Chunk:
    meetings: list[tuple[Any, ...]] = field(default_factory=list)
    sessions: list[tuple[Any, ...]] = field(default_factory=list)
    peers: list[tuple[Any, ...]] = field(default_factory=list)
    events: list[tuple[Any, ...]] = field(default_factory=list)


def _max_concurrent(spans: list[tuple[float, float]]) -> int:
    edges = sorted([(a, 1) for a, _ in spans] + [(b, -1) for _, b in spans])
    live = peak = 0
    for _, step in edges:
        live += step
        peak = max(peak, live)
    return peak


def _chunk_times(count: int, index: int, now: float, rng: random.Random) -> list[float]:
    """Sorted creation times of sessions ``index..index+CHUNK_SESSIONS`` of a ``count`` batch.

    The batch's history is cut into consecutive slices, one per chunk, so chunks made apart (in
    parallel) are still in time order; the batch's last ``LIVE_FRACTION`` is in the LIVE window.
    """
    end = min(index + CHUNK_SESSIONS, count)
    n_old = count - int(count * LIVE_FRACTION)
    old_span = HISTORY_DAYS * 86400.0 - LIVE_WINDOW_SECS
    oldest = now - HISTORY_DAYS * 86400.0
    times = []
    for i in range(index, end):
        if i < n_old:
            times.append(oldest + (i + rng.random()) / n_old * old_span)
        else:
            live_part = (i - n_old + rng.random()) / (count - n_old)
            times.append(now - LIVE_WINDOW_SECS + live_part * LIVE_WINDOW_SECS)
    return times


def _generate(
    app_id: str, start: int, count: int, index: int, now: float, dialect: str, seed: int
) -> _Chunk:
    """Rows of sessions ``start+index ..`` (one chunk of ``CHUNK_SESSIONS`` of a ``count`` batch).

    Deterministic in its arguments, so chunks can be made in parallel processes.
    """
    rng = random.Random(f"{seed}:{app_id}:{start}:{count}:{index}")
    fmt = _Format(dialect)
    created = _chunk_times(count, index, now, rng)
    t, f = fmt.time, fmt.flag
    no = f(False)
    t_now = t(now)
    meeting_ids: list[tuple[str, str]] = []
    chunk = _Chunk()
    for i, t0 in enumerate(created):
        number = start + index + i
        created_text = t(t0)
        if number % SESSIONS_PER_MEETING == 0 or not meeting_ids:
            title = " ".join(rng.choice(words) for words in TITLE_WORDS)
            meeting_id = _uuid(rng)
            meeting_ids.append((meeting_id, title))
            chunk.meetings.append(
                (meeting_id, app_id, title, "ACTIVE", no, no, no, no, no, KEEP_ALIVE_SECS,
                 created_text, created_text)
            )  # fmt: skip
        else:
            meeting_id, title = meeting_ids[-1 - rng.randrange(min(len(meeting_ids), 50))]
        session_id = _uuid(rng)
        live = now - t0 < LIVE_WINDOW_SECS
        n_peers = rng.choice((1, 1, 1, 2, 2, 2, 2, 3, 3, 4, 4, 5))
        spans: list[tuple[float, float]] = []
        for p in range(n_peers):
            joined = t0 + (0.0 if p == 0 else rng.random() * 300.0)
            spans.append((joined, joined + 120.0 + rng.random() * 5280.0))
        if live:  # the last peer is still in the call
            j, _ = spans[-1]
            spans[-1] = (j, now + 3600.0)
        consumed = 0.0
        last_left = 0.0
        for p, (joined, left) in enumerate(spans):
            peer_id = _uuid(rng)
            still_in = live and p == n_peers - 1
            name = f"user{rng.randrange(100_000)}"
            tj = created_text if p == 0 else t(joined)
            tl = None if still_in else t(left)
            seen = t_now if still_in else tl
            chunk.peers.append(
                (peer_id, session_id, app_id, _uuid(rng), f"{name}@example.com", name.title(),
                 PRESETS[p > 0], "GROUP_CALL", tj, tl, seen, seen, "{}", tj, seen)
            )  # fmt: skip
            chunk.events.append((_uuid(rng), peer_id, session_id, "PEER_CREATED", 0.0, tj, tj))
            chunk.events.append((_uuid(rng), peer_id, session_id, "PEER_JOINING", 0.0, tj, tj))
            if not still_in:
                duration = left - joined
                consumed += duration
                last_left = max(last_left, left)
                chunk.events.append(
                    (_uuid(rng), peer_id, session_id, "PEER_LEAVING", duration / 60.0, tl, tl)
                )
        peak = _max_concurrent([(a, min(b, now)) for a, b in spans])
        ended = None if live else t(last_left + KEEP_ALIVE_SECS)
        search = f"{title} {meeting_id} {session_id}".lower()
        chunk.sessions.append(
            (session_id, app_id, meeting_id, None, title, "meeting", "LIVE" if live else "ENDED",
             1 if live else 0, peak, round(consumed, 3), t(last_left) if last_left else None,
             KEEP_ALIVE_SECS, search, created_text, created_text, ended,
             t_now if live else ended)
        )  # fmt: skip
    return chunk


def _chunks(
    app_id: str, start: int, count: int, now: float, dialect: str, seed: int
) -> Iterator[_Chunk]:
    """The batch's chunks in order, made by worker processes while the caller loads earlier ones."""
    indexes = range(0, count, CHUNK_SESSIONS)
    if len(indexes) <= 1:
        for index in indexes:
            yield _generate(app_id, start, count, index, now, dialect, seed)
        return
    workers = max(1, min(GENERATORS, (os.cpu_count() or 1)))
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
        pending: deque[Future[_Chunk]] = deque()
        todo = iter(indexes)
        for index in todo:
            pending.append(pool.submit(_generate, app_id, start, count, index, now, dialect, seed))
            if len(pending) > workers:
                break
        while pending:
            chunk = pending.popleft().result()
            following = next(todo, None)
            if following is not None:
                pending.append(
                    pool.submit(_generate, app_id, start, count, following, now, dialect, seed)
                )
            yield chunk


def _loader(engine: Engine) -> Callable[[list[tuple[_Columns, list[tuple[Any, ...]]]]], None]:
    """A function that bulk-loads ``[(columns, rows)]`` in one transaction on ``engine``."""
    if engine.dialect.name == "postgresql":

        def load_pg(batches: list[tuple[_Columns, list[tuple[Any, ...]]]]) -> None:
            raw = engine.raw_connection()
            try:
                conn: Any = raw.driver_connection
                with conn.cursor() as cur:
                    for cols, rows in batches:
                        names = ", ".join(f'"{n}"' for n in cols.names)
                        with cur.copy(f'COPY "{cols.table.name}" ({names}) FROM STDIN') as copy:
                            tail = cols.tail
                            for row in rows:
                                copy.write_row(row + tail if tail else row)
                conn.commit()
            finally:
                raw.close()

        return load_pg

    def load_sqlite(batches: list[tuple[_Columns, list[tuple[Any, ...]]]]) -> None:
        with engine.begin() as conn:
            # a big page cache for this connection only: random-key index inserts stay in memory
            conn.exec_driver_sql("PRAGMA cache_size = -1000000")
            for cols, rows in batches:
                names = ", ".join(f'"{n}"' for n in cols.names)
                marks = ", ".join("?" for _ in cols.names)
                sql = f'INSERT INTO "{cols.table.name}" ({names}) VALUES ({marks})'
                tail = cols.tail
                # DBAPI executemany: one prepared statement for all rows
                conn.exec_driver_sql(sql, [row + tail for row in rows] if tail else rows)

    return load_sqlite


def _ensure_app(engine: Engine, app_id: str | None, account_id: str, now: datetime) -> str:
    apps: Table = tables.App.__table__
    with engine.begin() as conn:
        if app_id is not None:
            if conn.execute(apps.select().where(apps.c.id == app_id)).first() is None:
                raise SystemExit(f"no app {app_id}")
            return app_id
        new_id = str(uuid.uuid4())
        conn.execute(
            insert(apps).values(id=new_id, account_id=account_id, name="seeded", created_at=now)
        )
        return new_id


def analyze(engine: Engine) -> None:
    """``ANALYZE`` so the planner knows the new sizes; on PostgreSQL ``VACUUM (ANALYZE)``, which
    also sets the visibility map that index-only scans (deep list pages) rely on, as autovacuum
    would on a live database (a bulk load leaves it unset)."""
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM (ANALYZE)")
    else:
        with engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")


def seed(
    database_url: str,
    count: int,
    *,
    app_id: str | None = None,
    account_id: str = "bench",
    start: int = 0,
    seed_value: int = 7,
    now: datetime | None = None,
    migrate: bool = True,
    samples: int = 200,
) -> SeedResult:
    """Add ``count`` sessions (numbers ``start..``) with peers and peer events to an app.

    database_url: ``postgresql://…`` or ``sqlite:///path``; the app is created when ``app_id`` is
    None. Returns the counts, the wall time in seconds and ``samples`` session ids spread over the
    seeded range. raises SchemaChanged (see the module docstring).
    """
    url = normalize_database_url(database_url)
    if migrate:
        migrations.upgrade(url)
    engine = make_engine(url)
    try:
        moment = now or datetime.now(UTC)
        fmt = _Format(engine.dialect.name)
        _check_time_format(engine, fmt)
        app = _ensure_app(engine, app_id, account_id, moment)
        cols_m = _Columns(tables.Meeting.__table__, MEETING_COLS, ("created_at", "updated_at"))
        cols_s = _Columns(tables.Session.__table__, SESSION_COLS, SESSION_TIMES)
        cols_p = _Columns(tables.Peer.__table__, PEER_COLS, PEER_TIMES)
        cols_e = _Columns(tables.PeerEvent.__table__, EVENT_COLS, ("created_at", "updated_at"))
        load = _loader(engine)
        began = time.perf_counter()
        result = SeedResult(app, 0, 0, 0, 0.0)
        every = max(1, count // max(samples, 1))
        for chunk in _chunks(app, start, count, moment.timestamp(), fmt.dialect, seed_value):
            load(
                [
                    (cols_m, chunk.meetings),
                    (cols_s, chunk.sessions),
                    (cols_p, chunk.peers),
                    (cols_e, chunk.events),
                ]
            )
            base = result.sessions
            result.sample_session_ids += [
                row[0] for k, row in enumerate(chunk.sessions) if (base + k) % every == 0
            ]
            result.sessions += len(chunk.sessions)
            result.peers += len(chunk.peers)
            result.peer_events += len(chunk.events)
        analyze(engine)
        result.seconds = time.perf_counter() - began
        return result
    finally:
        engine.dispose()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", required=True, help="postgresql://… or sqlite:///path")
    parser.add_argument("--sessions", default="10k", help="how many to add: 10k, 100k, 1M, …")
    parser.add_argument("--app-id", default=None, help="existing app (default: create one)")
    parser.add_argument("--account", default="bench", help="account of a created app")
    parser.add_argument("--start", type=parse_count, default=0, help="first session number")
    parser.add_argument("--seed", type=int, default=7, help="random seed")
    args = parser.parse_args(argv)
    result = seed(
        args.database_url,
        parse_count(args.sessions),
        app_id=args.app_id,
        account_id=args.account,
        start=args.start,
        seed_value=args.seed,
    )
    print(
        f"app {result.app_id}: +{result.sessions:,} sessions, {result.peers:,} peers, "
        f"{result.peer_events:,} peer events in {result.seconds:.1f} s"
    )


if __name__ == "__main__":
    main()
