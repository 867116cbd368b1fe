"""Top-level sessions counted by creation day, so that a deep list page skips whole days.

A list page at offset k walks k entries of a list index (0006r): at offset 500,000 of a
1M-session app, 45 ms on SQLite and 89 ms on PostgreSQL (p50, docs/performance.md). With the
number of top-level sessions of each (app, status, UTC day of ``created_at``), a page of the
default order (by ``created_at``) finds the day its first entry falls in from these counts, then
walks that day's entries only (``domain.sessions._day_skip``).

``session_day_counts`` is kept like ``session_counts`` (0003, 0007l), by triggers of its own on
``sessions``: PostgreSQL statement triggers on insert and delete (the transition tables grouped
by day) and a row trigger on the update of a counted column, each adding to rows of its own
transaction (``tx = txid_current()``), folded into ``tx = 0`` by ``rtk_fold_session_day_counts()``
(the sweeper, ``domain.lifecycle.fold_session_day_counts``); SQLite row triggers writing ``tx = 0``.
``day`` is a ``date`` on PostgreSQL (``created_at AT TIME ZONE 'UTC'``) and the ``YYYY-MM-DD``
text of the stored time on SQLite.

The upgrade counts the existing sessions; the downgrade drops the table, triggers and functions.

Revision ID: 0008d
Revises: 0007l
Create Date: 2026-11-30
"""

from __future__ import annotations

from alembic import op

revision = "0008d"
down_revision = "0007l"
branch_labels = None
depends_on = None

TOP = "parent_session_id IS NULL"
PG_DAY = "(({t}.created_at AT TIME ZONE 'UTC')::date)"
SQLITE_DAY = "substr({t}.created_at, 1, 10)"
KEY = "app_id, status, day, tx"
UPSERT = f"ON CONFLICT ({KEY}) DO UPDATE SET n = session_day_counts.n + EXCLUDED.n"

PG_FUNCTIONS = {
    "rtk_session_day_counts_ins": f"""BEGIN
    INSERT INTO session_day_counts ({KEY}, n)
    SELECT app_id, status, {PG_DAY.format(t="new_rows")}, txid_current(), count(*) FROM new_rows
    WHERE {TOP} GROUP BY 1, 2, 3 {UPSERT};
    RETURN NULL;
END""",
    "rtk_session_day_counts_del": f"""BEGIN
    INSERT INTO session_day_counts ({KEY}, n)
    SELECT app_id, status, {PG_DAY.format(t="old_rows")}, txid_current(), -count(*) FROM old_rows
    WHERE {TOP} GROUP BY 1, 2, 3 {UPSERT};
    RETURN NULL;
END""",
    "rtk_session_day_counts_upd": f"""BEGIN
    IF OLD.{TOP} THEN
        INSERT INTO session_day_counts ({KEY}, n)
        VALUES (OLD.app_id, OLD.status, {PG_DAY.format(t="OLD")}, txid_current(), -1) {UPSERT};
    END IF;
    IF NEW.{TOP} THEN
        INSERT INTO session_day_counts ({KEY}, n)
        VALUES (NEW.app_id, NEW.status, {PG_DAY.format(t="NEW")}, txid_current(), 1) {UPSERT};
    END IF;
    RETURN NULL;
END""",
}

CHANGED = (
    "OLD.status IS DISTINCT FROM NEW.status OR OLD.app_id IS DISTINCT FROM NEW.app_id "
    f"OR (OLD.{TOP}) IS DISTINCT FROM (NEW.{TOP}) OR OLD.created_at IS DISTINCT FROM NEW.created_at"
)
COUNTED = "status, app_id, parent_session_id, created_at"

PG_TRIGGERS = [
    "CREATE TRIGGER sessions_day_counts_ai AFTER INSERT ON sessions REFERENCING NEW TABLE AS "
    "new_rows FOR EACH STATEMENT EXECUTE FUNCTION rtk_session_day_counts_ins()",
    "CREATE TRIGGER sessions_day_counts_ad AFTER DELETE ON sessions REFERENCING OLD TABLE AS "
    "old_rows FOR EACH STATEMENT EXECUTE FUNCTION rtk_session_day_counts_del()",
    f"CREATE TRIGGER sessions_day_counts_au AFTER UPDATE OF {COUNTED} ON sessions FOR EACH ROW "
    f"WHEN ({CHANGED}) EXECUTE FUNCTION rtk_session_day_counts_upd()",
]

# Moves the committed deltas (and the caller's own) into the base rows; returns how many delta
# rows it folded; 0 while another fold runs (as 0007l's rtk_fold_session_counts).
PG_FOLD = """CREATE FUNCTION rtk_fold_session_day_counts() RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE folded bigint;
BEGIN
    IF NOT pg_try_advisory_xact_lock(hashtext('rtk_fold_session_day_counts')) THEN
        RETURN 0;
    END IF;
    WITH gone AS (DELETE FROM session_day_counts WHERE tx <> 0 RETURNING app_id, status, day, n),
    sums AS (SELECT app_id, status, day, sum(n) AS n, count(*) AS rows FROM gone
             GROUP BY app_id, status, day),
    base AS (INSERT INTO session_day_counts (app_id, status, day, tx, n)
             SELECT app_id, status, day, 0, n FROM sums ORDER BY app_id, status, day
             ON CONFLICT (app_id, status, day, tx)
             DO UPDATE SET n = session_day_counts.n + EXCLUDED.n)
    SELECT coalesce(sum(rows), 0) INTO folded FROM sums;
    RETURN folded;
END $$"""

SQLITE_TRIGGERS = [
    f"""CREATE TRIGGER sessions_day_counts_ai AFTER INSERT ON sessions WHEN NEW.{TOP} BEGIN
    INSERT INTO session_day_counts ({KEY}, n)
    VALUES (NEW.app_id, NEW.status, {SQLITE_DAY.format(t="NEW")}, 0, 1)
    ON CONFLICT ({KEY}) DO UPDATE SET n = n + 1;
END""",
    f"""CREATE TRIGGER sessions_day_counts_ad AFTER DELETE ON sessions WHEN OLD.{TOP} BEGIN
    UPDATE session_day_counts SET n = n - 1 WHERE app_id = OLD.app_id AND status = OLD.status
    AND day = {SQLITE_DAY.format(t="OLD")} AND tx = 0;
END""",
    f"""CREATE TRIGGER sessions_day_counts_au AFTER UPDATE OF {COUNTED} ON sessions
WHEN {CHANGED.replace("IS DISTINCT FROM", "IS NOT")} BEGIN
    UPDATE session_day_counts SET n = n - 1
    WHERE OLD.{TOP} AND app_id = OLD.app_id AND status = OLD.status
    AND day = {SQLITE_DAY.format(t="OLD")} AND tx = 0;
    INSERT INTO session_day_counts ({KEY}, n)
    SELECT NEW.app_id, NEW.status, {SQLITE_DAY.format(t="NEW")}, 0, 1 WHERE NEW.{TOP}
    ON CONFLICT ({KEY}) DO UPDATE SET n = n + 1;
END""",
]


def upgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    op.execute(
        "CREATE TABLE session_day_counts (app_id VARCHAR(64) NOT NULL, "
        f"status VARCHAR(8) NOT NULL, day {'DATE' if postgresql else 'VARCHAR(10)'} NOT NULL, "
        "tx BIGINT DEFAULT 0 NOT NULL, n BIGINT NOT NULL, "
        f"CONSTRAINT pk_session_day_counts PRIMARY KEY ({KEY}))"
    )
    day = (PG_DAY if postgresql else SQLITE_DAY).format(t="sessions")
    if postgresql:
        # No session is written between the count and the triggers.
        op.execute("LOCK TABLE sessions IN SHARE ROW EXCLUSIVE MODE")
    op.execute(
        f"INSERT INTO session_day_counts ({KEY}, n) SELECT app_id, status, {day}, 0, count(*) "
        f"FROM sessions WHERE {TOP} GROUP BY 1, 2, 3"
    )
    if not postgresql:
        for ddl in SQLITE_TRIGGERS:
            op.execute(ddl)
        return
    for name, body in PG_FUNCTIONS.items():
        op.execute(f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $${body} $$")
    for ddl in PG_TRIGGERS:
        op.execute(ddl)
    op.execute(PG_FOLD)


def downgrade() -> None:
    for name in ("sessions_day_counts_ai", "sessions_day_counts_ad", "sessions_day_counts_au"):
        op.execute(f"DROP TRIGGER IF EXISTS {name}" + (" ON sessions" if _pg() else ""))
    if _pg():
        for name in (*PG_FUNCTIONS, "rtk_fold_session_day_counts"):
            op.execute(f"DROP FUNCTION IF EXISTS {name}()")
    op.execute("DROP TABLE session_day_counts")


def _pg() -> bool:
    return op.get_bind().dialect.name == "postgresql"
