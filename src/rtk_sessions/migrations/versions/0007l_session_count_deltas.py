"""Session counts without a shared hot row: one delta row per (app, status, writing transaction).

0003's triggers added every change to the one ``session_counts`` row of its (app, status), and the
row lock of that upsert is held until the writing transaction commits. Every ingest batch that
starts sessions of an app upserts the app's ``LIVE`` row, so concurrent batches of one app waited
for each other's whole transaction (PostgreSQL, ``bench/lifecycle_http.py``: about 1.4 of 4
backends waiting on ``Lock:transactionid`` at ``INSERT INTO sessions``).

Now ``session_counts`` is keyed ``(app_id, status, tx)``. On PostgreSQL the triggers add a
change to the row of their own transaction (``tx = txid_current()``, never reused), so no two
transactions write the same row; ``tx = 0`` is the folded base. ``fold_session_counts()`` (run by
the sweeper, ``domain.lifecycle.fold_session_counts``) moves committed deltas into the base
rows. Readers already take ``sum(n)`` over an app's (and status's) rows, so the count is exact at
every moment, folded or not. SQLite has one writer at a time: its triggers keep writing
``tx = 0`` only.

The downgrade folds everything into one row per (app, status) and restores 0003's key and
functions.

Revision ID: 0007l
Revises: 0006r
Create Date: 2026-11-30
"""

from __future__ import annotations

from alembic import op

revision = "0007l"
down_revision = "0006r"
branch_labels = None
depends_on = None

TOP = "parent_session_id IS NULL"

# Each adds to its own transaction's rows; rows of a given tx are written by that transaction only.
PG_FUNCTIONS = [
    f"""CREATE OR REPLACE FUNCTION rtk_session_counts_ins() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO session_counts (app_id, status, tx, n)
    SELECT app_id, status, txid_current(), count(*) FROM new_rows WHERE {TOP}
    GROUP BY app_id, status
    ON CONFLICT (app_id, status, tx) DO UPDATE SET n = session_counts.n + EXCLUDED.n;
    RETURN NULL;
END $$""",
    f"""CREATE OR REPLACE FUNCTION rtk_session_counts_del() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO session_counts (app_id, status, tx, n)
    SELECT app_id, status, txid_current(), -count(*) FROM old_rows WHERE {TOP}
    GROUP BY app_id, status
    ON CONFLICT (app_id, status, tx) DO UPDATE SET n = session_counts.n + EXCLUDED.n;
    RETURN NULL;
END $$""",
    f"""CREATE OR REPLACE FUNCTION rtk_session_counts_upd() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.{TOP} THEN
        INSERT INTO session_counts (app_id, status, tx, n)
        VALUES (OLD.app_id, OLD.status, txid_current(), -1)
        ON CONFLICT (app_id, status, tx) DO UPDATE SET n = session_counts.n - 1;
    END IF;
    IF NEW.{TOP} THEN
        INSERT INTO session_counts (app_id, status, tx, n)
        VALUES (NEW.app_id, NEW.status, txid_current(), 1)
        ON CONFLICT (app_id, status, tx) DO UPDATE SET n = session_counts.n + 1;
    END IF;
    RETURN NULL;
END $$""",
    # Moves the committed deltas (and the caller's own) into the base rows; returns how many
    # delta rows it folded. Skips (returns 0) while another fold runs: the two would otherwise
    # lock the same delta rows in no particular order.
    """CREATE OR REPLACE FUNCTION rtk_fold_session_counts() RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE folded bigint;
BEGIN
    IF NOT pg_try_advisory_xact_lock(hashtext('rtk_fold_session_counts')) THEN
        RETURN 0;
    END IF;
    WITH gone AS (DELETE FROM session_counts WHERE tx <> 0 RETURNING app_id, status, n),
    sums AS (SELECT app_id, status, sum(n) AS n, count(*) AS rows FROM gone
             GROUP BY app_id, status),
    base AS (INSERT INTO session_counts (app_id, status, tx, n)
             SELECT app_id, status, 0, n FROM sums ORDER BY app_id, status
             ON CONFLICT (app_id, status, tx) DO UPDATE SET n = session_counts.n + EXCLUDED.n)
    SELECT coalesce(sum(rows), 0) INTO folded FROM sums;
    RETURN folded;
END $$""",
]

# 0003's, for the downgrade.
PG_OLD_FUNCTIONS = [
    f"""CREATE OR REPLACE FUNCTION rtk_session_counts_ins() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO session_counts (app_id, status, n)
    SELECT app_id, status, count(*) FROM new_rows WHERE {TOP} GROUP BY app_id, status
    ORDER BY app_id, status
    ON CONFLICT (app_id, status) DO UPDATE SET n = session_counts.n + EXCLUDED.n;
    RETURN NULL;
END $$""",
    f"""CREATE OR REPLACE FUNCTION rtk_session_counts_del() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE session_counts c SET n = c.n - d.n
    FROM (SELECT app_id, status, count(*) AS n FROM old_rows WHERE {TOP}
          GROUP BY app_id, status) d
    WHERE c.app_id = d.app_id AND c.status = d.status;
    RETURN NULL;
END $$""",
    f"""CREATE OR REPLACE FUNCTION rtk_session_counts_upd() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.{TOP} THEN
        UPDATE session_counts SET n = n - 1 WHERE app_id = OLD.app_id AND status = OLD.status;
    END IF;
    IF NEW.{TOP} THEN
        INSERT INTO session_counts (app_id, status, n) VALUES (NEW.app_id, NEW.status, 1)
        ON CONFLICT (app_id, status) DO UPDATE SET n = session_counts.n + 1;
    END IF;
    RETURN NULL;
END $$""",
]


def _sqlite_triggers(key: str, tx: str) -> list[str]:
    """0003's SQLite counting triggers with the conflict target ``key`` (``tx``: the values of
    the extra key columns, with a leading comma, or empty)."""
    cols = ", tx" if tx else ""
    return [
        f"""CREATE TRIGGER sessions_counts_ai AFTER INSERT ON sessions WHEN NEW.{TOP} BEGIN
    INSERT INTO session_counts (app_id, status{cols}, n) VALUES (NEW.app_id, NEW.status{tx}, 1)
    ON CONFLICT ({key}) DO UPDATE SET n = n + 1;
END""",
        f"""CREATE TRIGGER sessions_counts_ad AFTER DELETE ON sessions WHEN OLD.{TOP} BEGIN
    UPDATE session_counts SET n = n - 1 WHERE app_id = OLD.app_id AND status = OLD.status{
            " AND tx = 0" if tx else ""
        };
END""",
        f"""CREATE TRIGGER sessions_counts_au AFTER UPDATE OF status, app_id, parent_session_id
ON sessions WHEN OLD.status IS NOT NEW.status OR OLD.app_id IS NOT NEW.app_id
    OR (OLD.{TOP}) IS NOT (NEW.{TOP}) BEGIN
    UPDATE session_counts SET n = n - 1
    WHERE OLD.{TOP} AND app_id = OLD.app_id AND status = OLD.status{" AND tx = 0" if tx else ""};
    INSERT INTO session_counts (app_id, status{cols}, n) SELECT NEW.app_id, NEW.status{tx}, 1
    WHERE NEW.{TOP}
    ON CONFLICT ({key}) DO UPDATE SET n = n + 1;
END""",
    ]


_SQLITE_TRIGGER_NAMES = ("sessions_counts_ai", "sessions_counts_ad", "sessions_counts_au")


def _sqlite_rebuild(with_tx: bool) -> None:
    """SQLite cannot change a primary key in place: a new table, the rows, the new triggers."""
    for name in _SQLITE_TRIGGER_NAMES:
        op.execute(f"DROP TRIGGER IF EXISTS {name}")
    key = "app_id, status, tx" if with_tx else "app_id, status"
    op.execute(
        "CREATE TABLE session_counts_new (app_id VARCHAR(64) NOT NULL, status VARCHAR(8) NOT NULL, "
        + ("tx BIGINT DEFAULT 0 NOT NULL, " if with_tx else "")
        + f"n BIGINT NOT NULL, CONSTRAINT pk_session_counts PRIMARY KEY ({key}))"
    )
    op.execute(
        "INSERT INTO session_counts_new (app_id, status, n) "
        "SELECT app_id, status, sum(n) FROM session_counts GROUP BY app_id, status"
    )
    op.execute("DROP TABLE session_counts")
    op.execute("ALTER TABLE session_counts_new RENAME TO session_counts")
    for ddl in _sqlite_triggers(key, ", 0" if with_tx else ""):
        op.execute(ddl)


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        _sqlite_rebuild(with_tx=True)
        return
    op.execute("ALTER TABLE session_counts ADD COLUMN tx BIGINT DEFAULT 0 NOT NULL")
    op.execute("ALTER TABLE session_counts DROP CONSTRAINT pk_session_counts")
    op.execute("ALTER TABLE session_counts ADD CONSTRAINT pk_session_counts PRIMARY KEY "
               "(app_id, status, tx)")  # fmt: skip
    for ddl in PG_FUNCTIONS:
        op.execute(ddl)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        _sqlite_rebuild(with_tx=False)
        return
    op.execute("LOCK TABLE session_counts IN EXCLUSIVE MODE")
    op.execute("DROP FUNCTION IF EXISTS rtk_fold_session_counts()")
    for ddl in PG_OLD_FUNCTIONS:
        op.execute(ddl)
    op.execute(
        "CREATE TEMPORARY TABLE session_counts_folded ON COMMIT DROP AS "
        "SELECT app_id, status, sum(n) AS n FROM session_counts GROUP BY app_id, status"
    )
    op.execute("DELETE FROM session_counts")
    op.execute("ALTER TABLE session_counts DROP CONSTRAINT pk_session_counts")
    op.execute("ALTER TABLE session_counts DROP COLUMN tx")
    op.execute("ALTER TABLE session_counts ADD CONSTRAINT pk_session_counts PRIMARY KEY "
               "(app_id, status)")  # fmt: skip
    op.execute(
        "INSERT INTO session_counts (app_id, status, n) SELECT app_id, status, n "
        "FROM session_counts_folded"
    )
