"""On a PostgreSQL server whose autovacuum is off: the planner's statistics and dead rows' space.

PostgreSQL's planner chooses between an index and a sequential scan from each table's statistics
(``pg_class.reltuples``, ``pg_statistic``), which ``ANALYZE`` writes and autovacuum runs on its
own. With ``autovacuum = off`` nothing writes them: a table created empty by the migrations keeps
``reltuples = -1`` and is estimated from its file size and declared column widths, so as
``meetings`` and ``sessions`` grow under ingestion the planner goes on taking them for a few
hundred rows and scans them whole once per lifecycle batch instead of taking their primary key
(docs/performance.md, "Lifecycle on PostgreSQL").

``analyze_stale`` does autovacuum's analyze step for such a server: it analyzes each of this
schema's tables that autovacuum would, by autovacuum's own rule (modified rows since the last
analyze above ``autovacuum_analyze_threshold + autovacuum_analyze_scale_factor × reltuples``, read
from the server's settings). With autovacuum on it does nothing: autovacuum does it. The session
sweeper's leader calls it every ``INTERVAL_SECS`` (``app.Sweeper``). SQLite's planner assumes
large tables where it has no statistics and prefers their indexes, so nothing is done there.

``vacuum_stale`` does autovacuum's vacuum step the same way: it vacuums each table with more dead
rows than ``autovacuum_vacuum_threshold + autovacuum_vacuum_scale_factor × reltuples``, or more rows
inserted since its last vacuum than ``autovacuum_vacuum_insert_threshold +
autovacuum_vacuum_insert_scale_factor × reltuples``. Without it nothing records the space of
deleted and updated rows in a table's free-space map, so new rows never reuse it and the files
only grow: ingestion deletes sample blocks as it merges them (``domain.samples``) and rewrites a
connection's state every batch, and on this project's test server (autovacuum off) that left the
``sample_blocks`` partitions about a third empty (docs/performance.md, "Dead rows' space").

``vacuum_stale`` also vacuums the tables that ``analyze_stale`` is about to analyze (autovacuum
would not: its insert rule waits for 1,000 rows and a fifth of the table). An ``ANALYZE`` (as a
``VACUUM``) invalidates every backend's cached copy of the table, and with it the page each backend
was adding rows to; without a vacuum the free space map knows nothing of those pages, so each
backend that inserts next goes to the table's last page or a new one, and the page it was filling
stays part empty for good. With the server's processes each inserting through several
connections, that left a part-empty page per connection and table at every analyze: on the
benchmark's server (two workers) ``meetings``, whose rows are about 145 bytes, took 379-439 bytes
of heap a row, against 156 in-process (one connection), and so did the other tables written once
per event or peer (``peer_events``, ``ingested_events``, ``client_event_blocks``, ...). A vacuum
before the analyze records those pages' free space, and new rows fill them (docs/performance.md,
"Bytes per sample over HTTP").

Partitioned tables' parents (``sample_blocks``) are left out, as autovacuum leaves them: their
leaf partitions are ordinary tables and are analyzed and vacuumed like the others.
"""

from __future__ import annotations

import logging

from sqlalchemy import Engine, TextClause, text
from sqlalchemy.exc import DBAPIError

__all__ = ["INTERVAL_SECS", "analyze_stale", "dead_tables", "stale_tables", "vacuum_stale"]

log = logging.getLogger("rtk_sessions.planner")

#: Seconds between two checks by the sweeper's leader (a catalog query for each step).
INTERVAL_SECS = 10.0

#: How long an ``ANALYZE`` waits for a table that another transaction holds (a ``VACUUM``, an
#: index build, ``rtk-sessions prune`` dropping a partition) before it gives up until next time.
LOCK_TIMEOUT = "1s"


def _rule(condition: str, most: str) -> TextClause:
    """The names of this schema's plain tables that meet ``condition`` (over
    ``pg_stat_user_tables s`` and ``pg_class c``), on a server whose autovacuum is off, largest
    ``most`` first. ``c.reltuples`` is -1 for a table never vacuumed nor analyzed."""
    return text(
        f"""
        SELECT c.relname
        FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid
        WHERE s.schemaname = current_schema()
          AND c.relkind = 'r'
          AND current_setting('autovacuum') = 'off'
          AND ({condition})
        ORDER BY {most} DESC, c.relname
        """
    )


_STALE = _rule(
    """
    s.n_mod_since_analyze >
        current_setting('autovacuum_analyze_threshold')::float8
        + current_setting('autovacuum_analyze_scale_factor')::float8 * greatest(c.reltuples, 0)
    """,
    "s.n_mod_since_analyze",
)

#: ``autovacuum_vacuum_insert_threshold = -1`` turns vacuums for inserted rows off.
_DEAD = _rule(
    """
    s.n_dead_tup >
        current_setting('autovacuum_vacuum_threshold')::float8
        + current_setting('autovacuum_vacuum_scale_factor')::float8 * greatest(c.reltuples, 0)
    OR current_setting('autovacuum_vacuum_insert_threshold')::float8 >= 0
    AND s.n_ins_since_vacuum >
        current_setting('autovacuum_vacuum_insert_threshold')::float8
        + current_setting('autovacuum_vacuum_insert_scale_factor')::float8
          * greatest(c.reltuples, 0)
    """,
    "s.n_dead_tup",
)


def _tables(engine: Engine, query: TextClause) -> list[str]:
    if engine.dialect.name != "postgresql":
        return []
    with engine.connect() as connection:
        return list(connection.execute(query).scalars())


def stale_tables(engine: Engine) -> list[str]:
    """This schema's tables that autovacuum would analyze now, most modified first; ``[]`` when
    autovacuum is on (it analyzes them itself) and on any database but PostgreSQL."""
    return _tables(engine, _STALE)


def analyze_stale(engine: Engine) -> list[str]:
    """``ANALYZE`` each of ``stale_tables``, each in its own transaction, and return the names of
    those analyzed. A table locked by another transaction for longer than ``LOCK_TIMEOUT`` is
    skipped (logged) and found stale again at the next call; other database errors raise."""
    analyzed: list[str] = []
    for name in stale_tables(engine):
        quoted = engine.dialect.identifier_preparer.quote(name)
        with engine.connect() as connection:
            try:
                with connection.begin():
                    connection.exec_driver_sql(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
                    connection.exec_driver_sql(f"ANALYZE {quoted}")
            except DBAPIError as exc:
                if getattr(exc.orig, "sqlstate", None) != "55P03":  # lock_not_available
                    raise
                log.info("ANALYZE %s skipped: the table is locked (%s)", name, LOCK_TIMEOUT)
                continue
        analyzed.append(name)
    if analyzed:
        log.info("analyzed %s (autovacuum is off)", ", ".join(analyzed))
    return analyzed


def dead_tables(engine: Engine) -> list[str]:
    """This schema's tables that autovacuum would vacuum now, most dead rows first; ``[]`` when
    autovacuum is on (it vacuums them itself) and on any database but PostgreSQL. A server's
    ``autovacuum_vacuum_insert_threshold = -1`` (no vacuums for inserts) is followed here too."""
    return _tables(engine, _DEAD)


def vacuum_stale(engine: Engine) -> list[str]:
    """``VACUUM (SKIP_LOCKED)`` each of ``dead_tables``, then each of ``stale_tables`` not among
    them (the module docstring: the pages that the analyze makes backends leave part empty), each
    in its own transaction, and return their names. A table that another transaction holds in a
    conflicting lock (an ``ANALYZE``, another ``VACUUM``, ``rtk-sessions prune`` dropping a
    partition) is skipped by PostgreSQL with a warning, and found again at the next call. A plain
    ``VACUUM`` takes no lock that ingestion or reads wait for. Other database errors raise."""
    names = dead_tables(engine)
    names += [name for name in stale_tables(engine) if name not in names]
    if not names:
        return []
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        for name in names:
            quoted = engine.dialect.identifier_preparer.quote(name)
            connection.exec_driver_sql(f"VACUUM (SKIP_LOCKED) {quoted}")
    log.info("vacuumed %s (autovacuum is off)", ", ".join(names))
    return names
