"""Session lists at scale (docs/sessions-api.md, "Lists at scale"), on SQLite and PostgreSQL.

Sessions are written with plain SQL (as a bulk load would), so the counters and the SQLite search
index are exercised through their triggers. Every expected page and total_count is a brute-force
computation in Python over the rows read back from the database.
"""

from __future__ import annotations

import itertools
import random
import sqlite3
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from rtk_sessions.contract.params import Page
from rtk_sessions.domain import accounts
from rtk_sessions.domain import sessions as sessions_domain
from rtk_sessions.storage.engine import Database, Prepared
from rtk_sessions.storage.tables import Peer, Session
from tests.conftest import Tenant

T0 = datetime(2026, 1, 1, tzinfo=UTC)
TITLES = [
    "Weekly sync",
    "Réunion d'équipe",
    "ÜBER Straße",
    "会议室 A",
    "ΣΊΣΥΦΟΣ talk",
    "100% done",
    "a_b plan",
    'quote " mark',
    "back\\slash",
    "",
]


def _row(
    app_id: str,
    rng: random.Random,
    i: int,
    parent: str | None = None,
    prefix: str = "s",
    days: int = 0,
) -> dict[str, Any]:
    sid = f"{prefix}{i:04d}-{uuid.UUID(int=rng.getrandbits(128))}"
    meeting = f"m{rng.randrange(8)}"
    title = rng.choice(TITLES)
    # Few distinct keys: ties on both sort keys, broken by id.
    created = T0 + timedelta(minutes=rng.randrange(40))
    if days:
        # Spread over ``days`` UTC days, a third of them on a day's first or last microsecond.
        day = T0 + timedelta(days=rng.randrange(days))
        edge = rng.choice([timedelta(0), timedelta(days=1, microseconds=-1), None])
        created = day + (edge if edge is not None else timedelta(minutes=rng.randrange(40) * 30))
    status = rng.choice(["LIVE", "ENDED", "ENDED"])
    return {
        "id": sid,
        "app_id": app_id,
        "meeting_id": meeting,
        "parent_session_id": parent,
        "meeting_display_name": title,
        "type": "meeting",
        "status": status,
        "live_participants": 0,
        "max_concurrent_participants": rng.randrange(6),
        "consumed_secs": float(rng.choice([0, 0, 60, 120, 90.5, 600])),
        "last_left_at": None,
        "keep_alive_secs": 60,
        "search_text": f"{title} {meeting} {sid}".lower(),
        "created_at": created,
        "started_at": created,
        "ended_at": created + timedelta(minutes=5) if status == "ENDED" else None,
        "updated_at": created,
    }


def seed(db: Database, app_id: str, n: int, prefix: str = "s", days: int = 0) -> None:
    """``n`` top-level sessions plus a breakout room for every tenth, inserted with plain SQL;
    created within 40 minutes, or over ``days`` UTC days."""
    rng = random.Random(app_id + prefix)
    rows = [_row(app_id, rng, i, prefix=prefix, days=days) for i in range(n)]
    rows += [
        _row(app_id, rng, n + i, parent=rows[i]["id"], prefix=prefix, days=days)
        for i in range(0, n, 10)
    ]
    with db.engine.begin() as conn:
        conn.execute(sa.insert(Session.__table__), rows)


def all_rows(db: Database, app_id: str) -> list[dict[str, Any]]:
    with db.engine.connect() as conn:
        result = conn.execute(sa.select(Session.__table__).where(Session.app_id == app_id))
        return [dict(r._mapping) for r in result]


def expected(
    rows: list[dict[str, Any]], params: dict[str, Any], lookahead: int
) -> tuple[list[str], int]:
    """Brute force: the page's ids and the documented total_count."""
    hits = [r for r in rows if r["parent_session_id"] is None]
    if "status" in params:
        hits = [r for r in hits if r["status"] == params["status"]]
    if "associated_id" in params:
        hits = [r for r in hits if r["meeting_id"] == params["associated_id"]]
    if "search" in params:
        needle = params["search"].lower()
        hits = [r for r in hits if needle in r["search_text"]]
    if "participants" in params:
        low, high = (int(x) for x in params["participants"].split(":"))
        hits = [r for r in hits if low <= r["max_concurrent_participants"] <= high]
    if "start_time" in params:
        hits = [r for r in hits if r["created_at"] >= datetime.fromisoformat(params["start_time"])]
    key = "consumed_secs" if params.get("sort_by") == "minutesConsumed" else "created_at"
    hits.sort(key=lambda r: r["id"])
    hits.sort(key=lambda r: r[key], reverse=params.get("sort_order", "DESC") == "DESC")
    size = int(params.get("per_page", 25))
    offset = (int(params.get("page_no", 1)) - 1) * size
    page = [r["id"] for r in hits[offset : offset + size]]
    filtered = any(k in params for k in ("associated_id", "search", "participants", "start_time"))
    if not filtered or 0 < len(page) < size:
        return page, len(hits)
    return page, min(len(hits), offset + size + lookahead)


def get_list(tenant: Tenant, params: dict[str, Any], token: str | None = None) -> httpx.Response:
    url = (
        f"{tenant.server.base_url}/accounts/{tenant.account_id}/realtime/kit/"
        f"{tenant.app_id}/sessions"
    )
    headers = {"Authorization": f"Bearer {token or tenant.token}"}
    return httpx.get(url, params=params, headers=headers, timeout=30)


def check(tenant: Tenant, params: dict[str, Any], lookahead: int | None = None) -> None:
    """The served page and total_count equal the ones computed here from all rows (the count
    capped at the page's end + ``lookahead``, by default the service's COUNT_LOOKAHEAD)."""
    db = tenant.server.database()
    if lookahead is None:
        lookahead = sessions_domain.COUNT_LOOKAHEAD
    ids, total = expected(all_rows(db, tenant.app_id), params, lookahead)
    response = get_list(tenant, params)
    assert response.status_code == 200, response.text
    body = response.json()
    got = [s["id"] for s in body["data"]["sessions"]]
    assert got == ids, params
    paging = body["paging"]
    assert paging["total_count"] == total, params
    size = int(params.get("per_page", 25))
    start = (int(params.get("page_no", 1)) - 1) * size + 1
    if ids:
        assert (paging["start_offset"], paging["end_offset"]) == (start, start + len(ids) - 1)
    else:
        assert (paging["start_offset"], paging["end_offset"]) == (0, 0)


SORTS = [
    {},
    {"sort_order": "ASC"},
    {"sort_by": "minutesConsumed"},
    {"sort_by": "minutesConsumed", "sort_order": "ASC"},
]
PAGES = [
    {},
    {"per_page": 7, "page_no": 3},
    {"per_page": 40, "page_no": 3},  # the last, short page of LIVE: from the far end
    {"per_page": 50, "page_no": 6},
    {"per_page": 1000},
]
FILTERS = [
    {},
    {"status": "LIVE"},
    {"status": "ENDED"},
    {"associated_id": "m3"},
    {"search": "sync"},
    {"search": "m5"},
    {"participants": "2:4", "status": "ENDED"},
    {"start_time": (T0 + timedelta(minutes=20)).isoformat()},
]


@pytest.fixture
def seeded(tenant: Tenant) -> Tenant:
    seed(tenant.server.database(), tenant.app_id, 300)
    return tenant


@pytest.mark.parametrize("deep_offset", [1000, 0])
def test_every_filter_sort_and_page_matches_brute_force(
    seeded: Tenant, deep_offset: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 0: every page takes the deep-page path (ids from the index, then rows by id).
    monkeypatch.setattr(sessions_domain, "DEEP_OFFSET", deep_offset)
    for f, s, p in itertools.product(FILTERS, SORTS, PAGES):
        check(seeded, {**f, **s, **p})


def test_filtered_total_is_capped_past_the_page(
    seeded: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sessions_domain, "COUNT_LOOKAHEAD", 5)
    for params in (
        {"search": "m", "per_page": 10},
        {"associated_id": "m1", "per_page": 4, "page_no": 2},
        {"start_time": T0.isoformat(), "per_page": 20, "page_no": 14},
        {"start_time": T0.isoformat(), "per_page": 20, "page_no": 99},
        {"status": "LIVE", "per_page": 3},  # counters: exact whatever the lookahead
    ):
        check(seeded, params, lookahead=5)
    body = get_list(seeded, {"search": "m", "per_page": 10}).json()
    assert body["paging"]["total_count"] == 15  # end_offset + lookahead: "there may be more"


def test_counts_follow_status_changes_deletes_and_moves(seeded: Tenant) -> None:
    db = seeded.server.database()
    table = Session.__table__
    with db.engine.begin() as conn:
        live = conn.scalars(
            sa.select(table.c.id).where(table.c.app_id == seeded.app_id, table.c.status == "LIVE")
        ).all()
        conn.execute(
            sa.update(table)
            .where(table.c.id.in_(live[:10]))
            .values(status="ENDED", ended_at=T0 + timedelta(hours=2))
        )
        conn.execute(sa.delete(table).where(table.c.id.in_(live[10:13])))
        # A breakout room promoted to top level, and a top-level session made a breakout room.
        child = conn.scalar(
            sa.select(table.c.id)
            .where(table.c.app_id == seeded.app_id, table.c.parent_session_id.is_not(None))
            .limit(1)
        )
        conn.execute(sa.update(table).where(table.c.id == child).values(parent_session_id=None))
        conn.execute(sa.update(table).where(table.c.id == live[13]).values(parent_session_id="x"))
        # An update that changes none of the counted columns.
        conn.execute(sa.update(table).where(table.c.id == live[14]).values(live_participants=3))
    with db.unit_of_work() as s:  # through the ORM, as ingestion does
        orm = s.get(Session, live[15])
        assert orm is not None
        orm.status = "ENDED"
    for params in ({}, {"status": "LIVE"}, {"status": "ENDED"}, {"status": "LIVE", "page_no": 9}):
        check(seeded, params)


def day_counts(db: Database, app_id: str) -> tuple[dict[tuple[str, str], int], ...]:
    """(session_day_counts as the deep pages read it: sum(n) per (status, day), zeros left out;
    the same counted by brute force over the app's top-level rows)."""
    with db.engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT status, day, sum(n) FROM session_day_counts WHERE app_id = :a "
                "GROUP BY status, day"
            ),
            {"a": app_id},
        ).all()
    stored = {(status, str(day)[:10]): int(n) for status, day, n in rows if n}
    brute: dict[tuple[str, str], int] = {}
    for r in all_rows(db, app_id):
        if r["parent_session_id"] is None:
            key = (r["status"], r["created_at"].astimezone(UTC).date().isoformat())
            brute[key] = brute.get(key, 0) + 1
    return stored, brute


@pytest.fixture
def seeded_days(tenant: Tenant) -> Tenant:
    seed(tenant.server.database(), tenant.app_id, 300, days=6)
    return tenant


def _spy_day_skip(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The ``skipped`` of every ``_day_skip`` that found its day, as the list pages ran."""
    found: list[int] = []
    real = sessions_domain._day_skip

    def spy(*args: Any) -> Any:
        result = real(*args)
        if result is not None:
            found.append(result[0])
        return result

    monkeypatch.setattr(sessions_domain, "_day_skip", spy)
    return found


def test_deep_pages_skip_whole_days_and_match_brute_force(
    seeded_days: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every page takes the deep-page path; sessions on 6 days, many on a day's first or last
    # microsecond, so that pages start and end on every side of a day's boundary.
    monkeypatch.setattr(sessions_domain, "DEEP_OFFSET", 0)
    skipped = _spy_day_skip(monkeypatch)
    stored, brute = day_counts(seeded_days.server.database(), seeded_days.app_id)
    assert stored == brute
    assert len({day for _, day in stored}) == 6
    for f, order, per_page in itertools.product(
        ({}, {"status": "LIVE"}, {"status": "ENDED"}), ({}, {"sort_order": "ASC"}), (7, 40)
    ):
        for page_no in range(1, 300 // per_page + 3):
            check(seeded_days, {**f, **order, "per_page": per_page, "page_no": page_no})
    assert max(skipped) > 150  # whole days were skipped, not walked
    # By minutesConsumed no day counts apply: the index is walked, with the same pages.
    skipped.clear()
    for page_no in (1, 5, 9):
        check(seeded_days, {"sort_by": "minutesConsumed", "per_page": 30, "page_no": page_no})
    assert skipped == []


def test_day_counts_follow_status_changes_deletes_moves_and_folds(
    seeded_days: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rtk_sessions.domain.lifecycle import fold_session_day_counts

    db = seeded_days.server.database()
    table = Session.__table__
    with db.engine.begin() as conn:
        live = conn.scalars(
            sa.select(table.c.id)
            .where(table.c.app_id == seeded_days.app_id, table.c.status == "LIVE")
            .order_by(table.c.id)
        ).all()
        conn.execute(sa.update(table).where(table.c.id.in_(live[:10])).values(status="ENDED"))
        conn.execute(sa.delete(table).where(table.c.id.in_(live[10:13])))
        conn.execute(
            sa.update(table).where(table.c.id == live[13]).values(created_at=T0 + timedelta(days=9))
        )
        conn.execute(sa.update(table).where(table.c.id == live[14]).values(parent_session_id="x"))
        conn.execute(sa.update(table).where(table.c.id == live[15]).values(live_participants=2))
    with db.unit_of_work() as s:  # through the ORM, as ingestion does
        orm = s.get(Session, live[16])
        assert orm is not None
        orm.status = "ENDED"
    stored, brute = day_counts(db, seeded_days.app_id)
    assert stored == brute
    with db.unit_of_work() as s:
        fold_session_day_counts(s)
    assert day_counts(db, seeded_days.app_id) == (stored, brute)
    monkeypatch.setattr(sessions_domain, "DEEP_OFFSET", 0)
    skipped = _spy_day_skip(monkeypatch)
    for params in ({}, {"status": "LIVE", "sort_order": "ASC"}, {"status": "ENDED"}):
        for page_no in (1, 4, 8):
            check(seeded_days, {**params, "per_page": 30, "page_no": page_no})
    assert max(skipped) > 0


@pytest.mark.parametrize(
    "needle",
    [
        "%",
        "_",
        "0% d",
        "a_b",
        "a%b",
        "ü",
        "über",
        "ÜBER STR",
        "straße",
        "会议",
        "会议室 a",
        "σίσυφος",
        "ΣΊΣ",
        '"',
        'e " m',
        "\\",
        "k\\s",
        "e",
        "s0",
        "zzzz-not-there",
        "'",
    ],
)
@pytest.mark.parametrize("probe_limit", [1000, 2])
def test_search_is_a_case_insensitive_substring(
    seeded: Tenant, needle: str, probe_limit: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 1000: SQLite reads the trigram index's matches by id; 2: it scans the list in order.
    monkeypatch.setattr(sessions_domain, "FTS_PROBE_LIMIT", probe_limit)
    db = seeded.server.database()
    rows = all_rows(db, seeded.app_id)
    ids, _ = expected(rows, {"search": needle, "per_page": 1000}, 1000)
    check(seeded, {"search": needle, "per_page": 1000})
    if needle in ("%", "_", "\\"):
        # Metacharacters match literally, not as wildcards.
        assert len(ids) < sum(r["parent_session_id"] is None for r in rows)


def test_search_follows_title_changes_and_deletes(seeded: Tenant) -> None:
    db = seeded.server.database()
    table = Session.__table__
    with db.engine.begin() as conn:
        first, second = conn.scalars(
            sa.select(table.c.id)
            .where(table.c.app_id == seeded.app_id, table.c.parent_session_id.is_(None))
            .order_by(table.c.id)
            .limit(2)
        ).all()
        conn.execute(
            sa.update(table)
            .where(table.c.id == first)
            .values(meeting_display_name="Zebra", search_text=f"zebra m0 {first}")
        )
        conn.execute(
            sa.update(table).where(table.c.id == second).values(search_text=f"zebra m0 {second}")
        )
        conn.execute(sa.delete(table).where(table.c.id == second))
    for needle in ("zebra", "ZEB", first[:10]):
        check(seeded, {"search": needle})
    assert [s["id"] for s in get_list(seeded, {"search": "zebra"}).json()["data"]["sessions"]] == [
        first
    ]


def test_revoked_token_is_refused_at_once_in_this_process(seeded: Tenant) -> None:
    db = seeded.server.database()
    with db.unit_of_work() as s:
        second = accounts.create_token(s, seeded.account_id, "second")
    assert get_list(seeded, {}, token=second).status_code == 200  # now cached
    with db.unit_of_work(write=False) as s:
        from rtk_sessions.security import hash_api_token
        from rtk_sessions.storage.tables import ApiToken

        token_id = s.scalar(
            sa.select(ApiToken.id).where(ApiToken.token_hash == hash_api_token(second))
        )
    assert token_id is not None
    with db.unit_of_work() as s:
        assert accounts.revoke_token(s, seeded.account_id, token_id)
    assert get_list(seeded, {}, token=second).status_code == 401
    assert get_list(seeded, {}).status_code == 200  # the other token of the account still works
    with db.unit_of_work() as s:
        assert not accounts.revoke_token(s, "another-account", token_id)


def test_sqlite_readers_take_no_write_lock(tmp_path: Any) -> None:
    from rtk_sessions import migrations

    path = tmp_path / "r.db"
    migrations.upgrade(f"sqlite:///{path}")
    db = Database(f"sqlite:///{path}")
    try:
        with db.unit_of_work(write=False) as s:
            s.execute(sa.text("SELECT count(*) FROM sessions")).scalar()
            other = sqlite3.connect(path, timeout=0, isolation_level=None)
            other.execute("BEGIN IMMEDIATE")  # "database is locked" if the reader held the lock
            other.execute("ROLLBACK")
            other.close()
        with db.unit_of_work() as s:
            s.execute(sa.text("SELECT 1"))
            other = sqlite3.connect(path, timeout=0, isolation_level=None)
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
            other.close()
    finally:
        db.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def blank_url(request: pytest.FixtureRequest, tmp_path: Any) -> Any:
    """An empty database (no migrations yet) per dialect."""
    from rtk_sessions.config import normalize_database_url
    from tests.conftest import _drop_postgres_database, _postgres_database

    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'm.db'}"
        return
    name = f"rtk_mig_{uuid.uuid4().hex[:8]}"
    yield normalize_database_url(_postgres_database(name))
    _drop_postgres_database(name)


def _derived_state(url: str, app_id: str) -> tuple[dict[str, int], dict[str, list[str]]]:
    """session_counts as a dict, and the search results of a few needles through the list."""
    db = Database(url)
    try:
        with db.engine.connect() as conn:
            counts = {
                status: int(n)
                for status, n in conn.execute(
                    sa.text(
                        "SELECT status, sum(n) FROM session_counts WHERE app_id = :a "
                        "GROUP BY status"
                    ),
                    {"a": app_id},
                )
                if n
            }
        found = {}
        for needle in ("sync", "équipe", "0% d", "m7 s", "_"):
            with db.unit_of_work(write=False) as s:
                items, _ = sessions_domain.list_sessions(
                    s,
                    app_id,
                    sessions_domain.SessionQuery(search=needle),
                    Page(1, 1000),
                )
            found[needle] = [item["id"] for item in items]
        return counts, found
    finally:
        db.dispose()


def _brute_state(url: str, app_id: str) -> tuple[dict[str, int], dict[str, list[str]]]:
    db = Database(url)
    try:
        rows = [r for r in all_rows(db, app_id) if r["parent_session_id"] is None]
    finally:
        db.dispose()
    counts: dict[str, int] = {}
    for r in rows:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    found = {}
    for needle in ("sync", "équipe", "0% d", "m7 s", "_"):
        hits = sorted((r for r in rows if needle in r["search_text"]), key=lambda r: r["id"])
        hits.sort(key=lambda r: r["created_at"], reverse=True)
        found[needle] = [r["id"] for r in hits]
    return counts, found


def _insert_app(db: Database, app_id: str) -> None:
    """An app row in plain SQL: the migration tests start below the ORM's schema."""
    with db.engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO apps (id, account_id, name, created_at) VALUES (:i, 'acc', 'a', :t)"
            ),
            {"i": app_id, "t": T0},
        )


def test_migration_backfills_and_downgrades_on_a_populated_database(blank_url: str) -> None:
    from rtk_sessions import migrations

    migrations.upgrade(blank_url, "0002")
    app_id = str(uuid.uuid4())
    db = Database(blank_url)
    try:
        _insert_app(db, app_id)
        seed(db, app_id, 200)
    finally:
        db.dispose()
    migrations.upgrade(blank_url, "0003")
    assert migrations.current(blank_url) == "0003"
    state = _derived_state(blank_url, app_id)
    assert state == _brute_state(blank_url, app_id)
    assert sum(state[0].values()) == 200

    migrations.downgrade(blank_url, "0002")
    inspector = sa.inspect(sa.create_engine(blank_url))
    assert "session_counts" not in inspector.get_table_names()
    assert "sessions_fts" not in inspector.get_table_names()
    names = {ix["name"] for ix in inspector.get_indexes("sessions")}
    assert {"ix_sessions_app_created", "ix_sessions_app_consumed"} <= names
    assert not any(str(name).startswith("ix_sessions_list_") for name in names)
    db = Database(blank_url)
    try:  # written while the triggers are gone: the next upgrade must count it too
        seed(db, app_id, 30, prefix="t")
    finally:
        db.dispose()

    migrations.upgrade(blank_url)
    state = _derived_state(blank_url, app_id)
    assert state == _brute_state(blank_url, app_id)
    assert sum(state[0].values()) == 230


def test_migration_0007l_keeps_counts_exact_up_down_up(blank_url: str) -> None:
    """Counts written per transaction (0007l) fold back into one row per (app, status) on the
    way down, and plain-SQL inserts, status changes and deletes are counted at every revision."""
    from rtk_sessions import migrations

    migrations.upgrade(blank_url, "0006r")
    app_id = str(uuid.uuid4())
    db = Database(blank_url)

    def change(prefix: str) -> None:
        """New sessions, one of them ended and one deleted, each in a transaction of its own."""
        seed(db, app_id, 20, prefix=prefix)
        with db.engine.begin() as conn:
            conn.execute(
                sa.text(
                    "UPDATE sessions SET status = 'ENDED' WHERE id = (SELECT min(id) FROM sessions"
                    " WHERE app_id = :a AND status = 'LIVE' AND parent_session_id IS NULL)"
                ),
                {"a": app_id},
            )
        with db.engine.begin() as conn:
            conn.execute(
                sa.text(
                    "DELETE FROM sessions WHERE id = (SELECT max(id) FROM sessions"
                    " WHERE app_id = :a AND parent_session_id IS NULL)"
                ),
                {"a": app_id},
            )

    def rows_per_status() -> int:
        with db.engine.connect() as conn:
            return int(
                conn.execute(
                    sa.text(
                        "SELECT max(c) FROM (SELECT count(*) AS c FROM session_counts "
                        "WHERE app_id = :a GROUP BY status) x"
                    ),
                    {"a": app_id},
                ).scalar_one()
            )

    try:
        _insert_app(db, app_id)
        change("a")
        migrations.upgrade(blank_url, "0007l")
        assert _derived_state(blank_url, app_id) == _brute_state(blank_url, app_id)
        change("b")
        change("c")
        state = _derived_state(blank_url, app_id)
        assert state == _brute_state(blank_url, app_id)
        assert sum(state[0].values()) == 57
        if blank_url.startswith("postgresql"):
            assert rows_per_status() > 1  # one row per writing transaction until folded
        migrations.downgrade(blank_url, "0006r")
        assert rows_per_status() == 1
        assert _derived_state(blank_url, app_id) == state
        change("d")
        assert _derived_state(blank_url, app_id) == _brute_state(blank_url, app_id)
        migrations.upgrade(blank_url)
        change("e")
        state = _derived_state(blank_url, app_id)
        assert state == _brute_state(blank_url, app_id)
        assert sum(state[0].values()) == 95
    finally:
        db.dispose()


def test_migration_0008d_counts_days_up_down_up(blank_url: str) -> None:
    """The upgrade counts the sessions already there by day; the triggers count later inserts,
    status changes and deletes; the downgrade drops the table, and a later upgrade counts the
    sessions written meanwhile."""
    from rtk_sessions import migrations

    migrations.upgrade(blank_url, "0007l")
    app_id = str(uuid.uuid4())
    db = Database(blank_url)
    try:
        _insert_app(db, app_id)
        seed(db, app_id, 60, prefix="a", days=4)
        migrations.upgrade(blank_url, "0008d")
        stored, brute = day_counts(db, app_id)
        assert stored == brute
        assert sum(stored.values()) == 60
        seed(db, app_id, 30, prefix="b", days=5)
        with db.engine.begin() as conn:
            conn.execute(
                sa.text(
                    "UPDATE sessions SET status = 'ENDED' WHERE app_id = :a AND status = 'LIVE' "
                    "AND id LIKE 'a%'"
                ),
                {"a": app_id},
            )
            conn.execute(
                sa.text("DELETE FROM sessions WHERE app_id = :a AND id LIKE 'b000%'"), {"a": app_id}
            )
        stored, brute = day_counts(db, app_id)
        assert stored == brute
        assert sum(stored.values()) == 80
        migrations.downgrade(blank_url, "0007l")
        assert "session_day_counts" not in sa.inspect(db.engine).get_table_names()
        seed(db, app_id, 20, prefix="c", days=3)
        migrations.upgrade(blank_url)
        stored, brute = day_counts(db, app_id)
        assert stored == brute
        assert sum(stored.values()) == 100
    finally:
        db.dispose()


@pytest.mark.parametrize(
    ("dialect", "sort", "descending", "offset", "expected"),
    [
        # The middle page of 1M by created_at DESC: from the end, a forward scan (0006r's index
        # ascends), rather than a backward one from the front that skips as many entries.
        ("postgresql", "created_at", True, 499_975, True),
        ("postgresql", "created_at", True, 600_000, True),
        ("postgresql", "created_at", True, 300_000, False),
        # By consumed_secs the list order is the forward scan: the front, unless much closer.
        ("postgresql", "consumed_secs", True, 500_000, False),
        ("postgresql", "consumed_secs", False, 700_000, True),
        # SQLite: whichever end skips fewer entries.
        ("sqlite", "created_at", True, 499_975, False),
        ("sqlite", "created_at", True, 500_000, True),
        ("sqlite", "consumed_secs", True, 500_000, True),
    ],
)
def test_a_deep_page_is_walked_from_the_cheaper_end(
    dialect: str, sort: str, descending: bool, offset: int, expected: bool
) -> None:
    key = getattr(Session, sort)
    total = 1_000_000
    walk = sessions_domain._from_the_end(dialect, key, descending, offset, offset + 25, total)
    assert walk is expected


def test_counted_pages_give_the_views_of_the_sessions_read_one_by_one(
    tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The counted lists' pages (``list_counted``: on SQLite one statement whose rows pack the
    view's values and a LIVE session's open peers' join times) give, value for value, the views
    of ``get_session``, which reads each session and its open peers with the ORM: titles that
    need escaping in JSON, LIVE sessions with two, one or no connected peers, ended ones."""
    db = tenant.server.database()
    seed(db, tenant.app_id, 40)
    now = T0 + timedelta(hours=2, microseconds=123_457)
    monkeypatch.setattr(sessions_domain, "utc_now", lambda: now)
    rows = [r for r in all_rows(db, tenant.app_id) if r["parent_session_id"] is None]
    live = [r["id"] for r in rows if r["status"] == "LIVE"]
    peers: list[tuple[str, str, datetime, datetime | None]] = []
    for k, session_id in enumerate(live):
        for j in range(k % 3):  # 0, 1 or 2 connected peers, and one that left
            joined = T0 + timedelta(minutes=7 * j + k, microseconds=1_000_003 * k + 17)
            peers.append((f"p{k}-{j}", session_id, joined, None))
        if k % 3:  # (a LIVE session whose every peer left is the sweeper's to end)
            peers.append((f"q{k}", session_id, T0, T0 + timedelta(minutes=3)))
    # seen just now by the server's clock, so that its sweeper leaves them connected
    seen_at = datetime.now(UTC) + timedelta(days=1)
    with db.engine.begin() as conn:
        conn.execute(
            sa.insert(Peer.__table__),
            [
                {
                    "id": peer_id,
                    "session_id": session_id,
                    "app_id": tenant.app_id,
                    "joined_at": joined,
                    "left_at": left,
                    "last_seen_at": seen_at,
                    "last_received_at": seen_at,
                    "meta": {},
                    "created_at": joined,
                    "updated_at": joined,
                }
                for peer_id, session_id, joined, left in peers
            ],
        )
    seen = 0
    for status, sort_by, descending in itertools.product(
        (None, "LIVE", "ENDED"), ("createdAt", "minutesConsumed"), (True, False)
    ):
        query = sessions_domain.SessionQuery(status=status, sort_by=sort_by, descending=descending)
        page = Page(1, 25)
        assert sessions_domain.is_counted(query, page)
        with db.reading_raw() as raw:
            views, _ = sessions_domain.list_counted(raw, tenant.app_id, query, page)
        assert views
        with db.unit_of_work(write=False) as s:
            for view in views:
                one = sessions_domain.get_session(
                    s, tenant.app_id, view["id"], include_breakout_rooms=False
                )
                assert view == one
                seen += view["status"] == "LIVE" and view["minutes_consumed"] > 0
    assert seen


def test_counted_pages_and_totals_match_brute_force_in_one_statement_on_postgresql(
    seeded: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every counted list (no filter, each status; both sorts and orders), its first, a middle,
    its last and a page past its end: the ids and ``total_count`` of the brute force. On
    PostgreSQL a page is one statement, run outside a transaction of its own
    (``reading_raw(one_statement=True)``), and the pooled connection goes back out of
    autocommit, so that the next unit of work is one transaction again."""
    db = seeded.server.database()
    rows = all_rows(db, seeded.app_id)
    statements: list[Any] = []
    rows_of = Prepared.rows

    def counting(self: Prepared, conn: Any, params: Any) -> Any:
        statements.append(self)
        return rows_of(self, conn, params)

    monkeypatch.setattr(Prepared, "rows", counting)
    checked = 0
    for status, sort_by, descending in itertools.product(
        (None, "LIVE", "ENDED", "NOPE"), ("createdAt", "minutesConsumed"), (True, False)
    ):
        params: dict[str, Any] = {"sort_by": sort_by, "sort_order": "DESC" if descending else "ASC"}
        if status is not None:
            params["status"] = status
        query = sessions_domain.SessionQuery(status=status, sort_by=sort_by, descending=descending)
        for number, size in ((1, 25), (3, 20), (7, 25), (40, 10), (1, 1000)):
            page = Page(number, size)
            want_ids, want_total = expected(
                rows, {**params, "page_no": number, "per_page": size}, 0
            )
            statements.clear()
            with db.reading_raw(one_statement=True) as raw:
                views, paging = sessions_domain.list_counted(raw, seeded.app_id, query, page)
            assert [v["id"] for v in views] == want_ids
            assert paging == page.paging(want_total, len(want_ids))
            if db.dialect == "postgresql":
                assert len(statements) == 1
            checked += bool(want_ids)
    assert checked > 20
    if db.dialect == "postgresql":
        for _ in range(12):  # more than the pool holds, so that each of its connections is seen
            with db.engine.connect() as conn:
                assert conn.connection.driver_connection.autocommit is False  # type: ignore[union-attr]


def test_a_common_search_is_counted_for_the_app_s_top_level_sessions_only(
    seeded: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A search term too common for the id probe is counted (``total_count``, capped) in the
    trigram index alone on SQLite (``top_app``, migration 0011b): hits of another app, of
    breakout rooms, of sessions moved out of or into the top level and of changed titles are
    counted as the brute force counts them."""
    monkeypatch.setattr(sessions_domain, "FTS_PROBE_LIMIT", 2)
    db = seeded.server.database()
    with db.unit_of_work() as s:
        other = accounts.create_app(s, seeded.account_id, "other").id
    seed(db, other, 60, prefix="o")
    table = Session.__table__
    with db.engine.begin() as conn:
        top = conn.scalars(
            sa.select(table.c.id)
            .where(table.c.app_id == seeded.app_id, table.c.parent_session_id.is_(None))
            .where(table.c.search_text.contains("sync"))
            .order_by(table.c.id)
        ).all()
        child = conn.scalars(
            sa.select(table.c.id).where(
                table.c.app_id == seeded.app_id, table.c.parent_session_id.is_not(None)
            )
        ).first()
        conn.execute(sa.update(table).where(table.c.id == top[0]).values(parent_session_id="x"))
        conn.execute(
            sa.update(table)
            .where(table.c.id == child)
            .values(parent_session_id=None, search_text=f"weekly sync m1 {child}")
        )
        conn.execute(
            sa.update(table).where(table.c.id == top[1]).values(search_text=f"retro m1 {top[1]}")
        )
    hits = len(expected(all_rows(db, seeded.app_id), {"search": "sync"}, 0)[0])
    assert hits > 12
    half = hits // 2  # full pages, the count exact (below the cap) or capped
    for params, lookahead in (
        ({"search": "sync", "per_page": half}, 1000),
        ({"search": "SYNC", "per_page": half // 2, "page_no": 2}, 1000),
        ({"search": "eekly sy", "per_page": half}, 1000),
        ({"search": "sync", "per_page": half, "sort_by": "minutesConsumed"}, 1000),
        ({"search": "sync", "per_page": 3}, 5),
        ({"search": "sync", "status": "ENDED", "per_page": 3}, 1000),  # joined to the sessions
    ):
        monkeypatch.setattr(sessions_domain, "COUNT_LOOKAHEAD", lookahead)
        check(seeded, params, lookahead=lookahead)


def test_migration_0011b_moves_the_search_index_up_down_up(blank_url: str) -> None:
    """0011b rebuilds SQLite's trigram index with ``top_app`` from the sessions (same rowids), and
    the downgrade without it; sessions written at either revision are found by search at the
    next; PostgreSQL has nothing to move (its answers are checked the same way)."""
    from rtk_sessions import migrations

    def searched(needle: str) -> list[str]:
        db = Database(blank_url)
        try:
            with db.reading() as conn:
                views, _ = sessions_domain.list_sessions(
                    conn,
                    app_id,
                    sessions_domain.SessionQuery(search=needle),
                    Page(1, 1000),
                )
            return sorted(v["id"] for v in views)
        finally:
            db.dispose()

    def brute(needle: str) -> list[str]:
        db = Database(blank_url)
        try:
            return sorted(
                expected(all_rows(db, app_id), {"search": needle, "per_page": 1000}, 0)[0]
            )
        finally:
            db.dispose()

    migrations.upgrade(blank_url, "0010c")
    app_id = str(uuid.uuid4())
    db = Database(blank_url)
    try:
        _insert_app(db, app_id)
        seed(db, app_id, 100)
    finally:
        db.dispose()
    migrations.upgrade(blank_url, "0011b")
    if blank_url.startswith("sqlite"):
        with sa.create_engine(blank_url).connect() as conn:
            wrong = conn.scalar(
                sa.text(
                    "SELECT count(*) FROM sessions_fts f JOIN sessions_fts_ids i ON i.rid = f.rowid"
                    " JOIN sessions s ON s.id = i.session_id WHERE f.session_id IS NOT s.id"
                    " OR f.search_text IS NOT s.search_text OR f.top_app IS NOT"
                    " (CASE WHEN s.parent_session_id IS NULL THEN s.app_id END)"
                )
            )
            assert wrong == 0
    assert searched("sync") == brute("sync") != []
    db = Database(blank_url)
    try:
        seed(db, app_id, 20, prefix="u")
    finally:
        db.dispose()
    assert searched("sync") == brute("sync")
    migrations.downgrade(blank_url, "0010c")
    db = Database(blank_url)
    try:
        seed(db, app_id, 20, prefix="d")
    finally:
        db.dispose()
    migrations.upgrade(blank_url)
    assert searched("sync") == brute("sync")
    assert searched("equipe") == brute("equipe")
