"""PostgreSQL without autovacuum: the sweeper's leader analyzes and vacuums what autovacuum would.

The test server of this project runs with ``autovacuum = off`` (as CI's does), which is how
``meetings`` and ``sessions`` came to be scanned whole per lifecycle batch (docs/performance.md).
On a server with autovacuum on, ``stale_tables`` must leave everything to autovacuum.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import Engine, create_engine, insert

from rtk_sessions.config import Settings, normalize_database_url
from rtk_sessions.storage import planner
from rtk_sessions.storage.tables import App, Meeting
from tests.conftest import migrated_database, start_server


@pytest.fixture
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with migrated_database("postgresql", tmp_path_factory, "rtk_planner") as raw:
        yield normalize_database_url(raw)


@pytest.fixture
def engine(url: str) -> Iterator[Engine]:
    engine = create_engine(url)
    yield engine
    engine.dispose()


def _autovacuum_on(engine: Engine) -> bool:
    with engine.connect() as connection:
        return connection.exec_driver_sql("SHOW autovacuum").scalar() == "on"


def _add_meetings(engine: Engine, count: int) -> None:
    """``count`` meetings in one transaction, whose statistics the server has counted on return
    (``pg_stat_force_next_flush``: a backend otherwise reports them up to a second later)."""
    now = datetime.now(UTC)
    with engine.begin() as connection:
        app_id = str(uuid.uuid4())
        connection.execute(
            insert(App).values(id=app_id, account_id="acct", name="app", created_at=now)
        )
        connection.execute(
            insert(Meeting),
            [
                {"id": str(uuid.uuid4()), "app_id": app_id, "created_at": now, "updated_at": now}
                for _ in range(count)
            ],
        )
        connection.exec_driver_sql("SELECT pg_stat_force_next_flush()")


def _analyzed(engine: Engine, table: str) -> tuple[bool, float]:
    """Whether ``table`` was ever analyzed (by anyone), and the planner's row count of it."""
    with engine.connect() as connection:
        row = connection.exec_driver_sql(
            "SELECT coalesce(s.last_analyze, s.last_autoanalyze) IS NOT NULL, c.reltuples "
            "FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid "
            "WHERE s.relname = %(t)s AND s.schemaname = current_schema()",
            {"t": table},
        ).one()
    return bool(row[0]), float(row[1])


@pytest.mark.postgres
def test_tables_grown_past_autovacuums_threshold_are_analyzed_once(engine: Engine) -> None:
    _add_meetings(engine, 1000)
    if _autovacuum_on(engine):
        assert planner.stale_tables(engine) == []
        return
    assert _analyzed(engine, "meetings") == (False, -1.0)  # never analyzed: estimated from widths

    assert planner.stale_tables(engine) == ["meetings"]  # one row of apps: under the threshold

    assert "meetings" in planner.analyze_stale(engine)
    assert _analyzed(engine, "meetings") == (True, 1000.0)
    assert "meetings" not in planner.stale_tables(engine)

    # autovacuum's rule: threshold (50) + scale factor (0.1) × 1000 rows = 150 modified rows
    _add_meetings(engine, 100)
    assert "meetings" not in planner.stale_tables(engine)
    _add_meetings(engine, 60)
    assert "meetings" in planner.stale_tables(engine)


@pytest.mark.postgres
def test_a_table_another_transaction_holds_is_skipped_until_next_time(
    engine: Engine, url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if _autovacuum_on(engine):
        pytest.skip("the server's autovacuum analyzes; stale_tables is empty (test above)")
    _add_meetings(engine, 1000)
    monkeypatch.setattr(planner, "LOCK_TIMEOUT", "50ms")
    with psycopg.connect(url.replace("postgresql+psycopg", "postgresql")) as holder:
        holder.execute("LOCK TABLE meetings IN SHARE UPDATE EXCLUSIVE MODE")  # as VACUUM takes
        assert planner.analyze_stale(engine) == []
        holder.rollback()
    assert _analyzed(engine, "meetings")[0] is False
    assert planner.analyze_stale(engine) == ["meetings"]


def _vacuumed(engine: Engine, table: str) -> tuple[bool, int]:
    """Whether ``table`` was ever vacuumed (by anyone), and its dead rows as counted now."""
    with engine.connect() as connection:
        row = connection.exec_driver_sql(
            "SELECT coalesce(last_vacuum, last_autovacuum) IS NOT NULL, n_dead_tup "
            "FROM pg_stat_user_tables WHERE relname = %(t)s AND schemaname = current_schema()",
            {"t": table},
        ).one()
    return bool(row[0]), int(row[1])


def _delete_meetings(engine: Engine, count: int) -> None:
    with engine.begin() as connection:
        connection.exec_driver_sql(
            "DELETE FROM meetings WHERE id IN (SELECT id FROM meetings ORDER BY id LIMIT %(n)s)",
            {"n": count},
        )
        connection.exec_driver_sql("SELECT pg_stat_force_next_flush()")


def _heap_pages(engine: Engine, table: str) -> int:
    with engine.connect() as connection:
        return int(
            connection.exec_driver_sql(
                "SELECT pg_relation_size(%(t)s::regclass) / current_setting('block_size')::int",
                {"t": table},
            ).scalar_one()
        )


@pytest.mark.postgres
def test_tables_past_autovacuums_vacuum_threshold_are_vacuumed(engine: Engine) -> None:
    _add_meetings(engine, 1000)
    if _autovacuum_on(engine):
        assert planner.dead_tables(engine) == []
        return
    # never vacuumed nor analyzed (reltuples -1, taken as 0): the insert rule is more than
    # autovacuum_vacuum_insert_threshold (1000) + 0.2 × 0 rows inserted since the last vacuum
    assert "meetings" not in planner.dead_tables(engine)
    _add_meetings(engine, 1)
    assert "meetings" in planner.dead_tables(engine)
    assert "meetings" in planner.vacuum_stale(engine)
    assert _vacuumed(engine, "meetings") == (True, 0)
    assert "meetings" not in planner.dead_tables(engine)

    # the dead-row rule: threshold (50) + scale factor (0.2) × 1,001 rows = 250.2 dead rows
    _delete_meetings(engine, 250)
    assert "meetings" not in planner.dead_tables(engine)
    _delete_meetings(engine, 1)
    assert "meetings" in planner.dead_tables(engine)
    assert "meetings" in planner.vacuum_stale(engine)
    assert _vacuumed(engine, "meetings")[1] == 0


@pytest.mark.postgres
def test_vacuumed_space_is_reused_by_new_rows(engine: Engine) -> None:
    """What the vacuum is for: rows written after a vacuum go into the space of the rows deleted
    before it, instead of growing the table (without a vacuum they would grow it)."""
    if _autovacuum_on(engine):
        pytest.skip("the server's autovacuum vacuums; dead_tables is empty (test above)")
    _add_meetings(engine, 3000)
    _delete_meetings(engine, 2000)
    pages = _heap_pages(engine, "meetings")
    _add_meetings(engine, 1500)  # without a vacuum: into new pages at the end of the table
    grown = _heap_pages(engine, "meetings") - pages
    assert grown > 0

    _delete_meetings(engine, 1500)
    assert "meetings" in planner.vacuum_stale(engine)
    pages = _heap_pages(engine, "meetings")
    _add_meetings(engine, 1500)
    assert _heap_pages(engine, "meetings") - pages < grown / 2


@pytest.mark.postgres
def test_the_sweeper_of_a_running_server_vacuums_and_analyzes(
    url: str, engine: Engine, tmp_path: Path
) -> None:
    if _autovacuum_on(engine):
        pytest.skip("the server's autovacuum does both; nothing is stale or dead (tests above)")
    _add_meetings(engine, 1001)  # past both rules (tests above)
    settings = Settings(data_dir=tmp_path, database_url=url, sweep_interval_secs=0.05)
    _live, server, thread = start_server(settings)
    try:
        deadline = time.monotonic() + 30  # the first sweep after the lead does both

        def done() -> bool:
            return _vacuumed(engine, "meetings")[0] and _analyzed(engine, "meetings")[0]

        while not done() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _vacuumed(engine, "meetings") == (True, 0)
        assert _analyzed(engine, "meetings") == (True, 1001.0)
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_nothing_is_stale_on_sqlite(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'x.db'}")
    try:
        assert planner.stale_tables(engine) == []
        assert planner.analyze_stale(engine) == []
        assert planner.dead_tables(engine) == []
        assert planner.vacuum_stale(engine) == []
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_tables_due_for_analyze_are_vacuumed_so_pages_left_by_backends_are_filled(
    url: str, engine: Engine
) -> None:
    """Two backends add rows in turn, the leader's step (``vacuum_stale`` then ``analyze_stale``)
    between rounds. Each ANALYZE makes both backends forget the page they were filling; without a
    vacuum the free space map does not know it, and one of the two pages stays part empty at every
    round (planner's docstring). The table is never past autovacuum's own vacuum thresholds."""
    if _autovacuum_on(engine):
        pytest.skip("the server's autovacuum does both; nothing is stale or dead (tests above)")
    _add_meetings(engine, 1)
    app_id = _app_of_meetings(engine)
    rows = 0
    other = create_engine(url, isolation_level="AUTOCOMMIT")
    with other.connect() as one, other.connect() as two:  # two backends
        for _ in range(5):
            for k in range(160):
                now = datetime.now(UTC)
                (one if k % 2 else two).execute(
                    insert(Meeting).values(
                        id=str(uuid.uuid4()), app_id=app_id, created_at=now, updated_at=now
                    )
                )
            rows += 160
            for conn in (one, two):
                conn.exec_driver_sql("SELECT pg_stat_force_next_flush()")
            assert "meetings" not in planner.dead_tables(engine)
            planner.vacuum_stale(engine)  # the leader's step
            assert "meetings" in planner.analyze_stale(engine)
    other.dispose()
    with engine.connect() as connection:
        per_page = connection.exec_driver_sql(
            "SELECT max(n) FROM (SELECT count(*) AS n FROM meetings"
            " GROUP BY (ctid::text::point)[0]) AS pages"
        ).scalar_one()
    full = -(-(rows + 1) // per_page)  # the pages the rows need, each filled as the fullest
    assert _heap_pages(engine, "meetings") <= full + 1


def _app_of_meetings(engine: Engine) -> str:
    with engine.connect() as connection:
        return str(connection.exec_driver_sql("SELECT app_id FROM meetings LIMIT 1").scalar_one())
