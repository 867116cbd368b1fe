"""Session lists at scale: maintained counts, list indexes and (SQLite) a trigram search index.

* ``session_counts`` holds the number of top-level sessions per (app, status). Triggers on
  ``sessions`` keep it in step with every insert, delete and change of status, app or parent, so
  rows written with plain SQL (bulk loads, manual fixes) are counted too. The unfiltered and
  status-only session lists read their ``total_count`` from it instead of counting rows.
* Partial indexes ``WHERE parent_session_id IS NULL`` (lists show top-level sessions only) in the
  order the list sorts, the tie-breaker ``id`` last, replace the three plain ``(app_id, ...)``
  indexes of 0001: the first page is an index range scan and a deep page skips entries of the
  index only (it covers ``id``).
* SQLite: ``sessions_fts`` (FTS5, ``trigram`` tokenizer) over ``sessions.search_text`` with the
  session id unindexed, plus ``sessions_fts_ids`` mapping each session id to its FTS rowid (the
  rowid of ``sessions`` itself is not stable across VACUUM). Triggers keep both in step.
  PostgreSQL already has ``ix_sessions_search_trgm`` (pg_trgm GIN, 0001).

Later migrations that rebuild ``sessions`` in SQLite batch mode drop its triggers with the old
table: they must run ``_create_triggers`` of this revision again (or an equivalent) afterwards.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TOP = "parent_session_id IS NULL"

# name -> columns (SQL), all partial on TOP. The trailing parent_session_id (always NULL in them)
# lets SQLite check TOP from the index itself, so a page of ids is a covering-index scan there.
LIST_INDEXES = {
    "ix_sessions_list_created": "app_id, created_at DESC, id, parent_session_id",
    "ix_sessions_list_consumed": "app_id, consumed_secs DESC, id, parent_session_id",
    "ix_sessions_list_consumed_asc": "app_id, consumed_secs, id, parent_session_id",
    "ix_sessions_list_status_created": "app_id, status, created_at DESC, id, parent_session_id",
    "ix_sessions_list_status_consumed": (
        "app_id, status, consumed_secs DESC, id, parent_session_id"
    ),
}

OLD_INDEXES = {
    "ix_sessions_app_consumed": ["app_id", "consumed_secs"],
    "ix_sessions_app_created": ["app_id", "created_at"],
    "ix_sessions_app_status_created": ["app_id", "status", "created_at"],
}

SQLITE_COUNT_TRIGGERS = [
    f"""CREATE TRIGGER sessions_counts_ai AFTER INSERT ON sessions WHEN NEW.{TOP} BEGIN
    INSERT INTO session_counts (app_id, status, n) VALUES (NEW.app_id, NEW.status, 1)
    ON CONFLICT (app_id, status) DO UPDATE SET n = n + 1;
END""",
    f"""CREATE TRIGGER sessions_counts_ad AFTER DELETE ON sessions WHEN OLD.{TOP} BEGIN
    UPDATE session_counts SET n = n - 1 WHERE app_id = OLD.app_id AND status = OLD.status;
END""",
    f"""CREATE TRIGGER sessions_counts_au AFTER UPDATE OF status, app_id, parent_session_id
ON sessions WHEN OLD.status IS NOT NEW.status OR OLD.app_id IS NOT NEW.app_id
    OR (OLD.{TOP}) IS NOT (NEW.{TOP}) BEGIN
    UPDATE session_counts SET n = n - 1
    WHERE OLD.{TOP} AND app_id = OLD.app_id AND status = OLD.status;
    INSERT INTO session_counts (app_id, status, n) SELECT NEW.app_id, NEW.status, 1
    WHERE NEW.{TOP}
    ON CONFLICT (app_id, status) DO UPDATE SET n = n + 1;
END""",
]

SQLITE_FTS_TRIGGERS = [
    """CREATE TRIGGER sessions_fts_ai AFTER INSERT ON sessions BEGIN
    INSERT INTO sessions_fts_ids (session_id) VALUES (NEW.id);
    INSERT INTO sessions_fts (rowid, search_text, session_id) VALUES (
        (SELECT rid FROM sessions_fts_ids WHERE session_id = NEW.id), NEW.search_text, NEW.id);
END""",
    """CREATE TRIGGER sessions_fts_ad AFTER DELETE ON sessions BEGIN
    DELETE FROM sessions_fts
    WHERE rowid = (SELECT rid FROM sessions_fts_ids WHERE session_id = OLD.id);
    DELETE FROM sessions_fts_ids WHERE session_id = OLD.id;
END""",
    """CREATE TRIGGER sessions_fts_au AFTER UPDATE OF id, search_text ON sessions
WHEN OLD.id IS NOT NEW.id OR OLD.search_text IS NOT NEW.search_text BEGIN
    DELETE FROM sessions_fts
    WHERE rowid = (SELECT rid FROM sessions_fts_ids WHERE session_id = OLD.id);
    UPDATE sessions_fts_ids SET session_id = NEW.id WHERE session_id = OLD.id;
    INSERT INTO sessions_fts (rowid, search_text, session_id) VALUES (
        (SELECT rid FROM sessions_fts_ids WHERE session_id = NEW.id), NEW.search_text, NEW.id);
END""",
]

# Inserts and deletes are counted per statement (transition tables: a bulk INSERT ... SELECT or
# COPY touches each counter row once); a change of status, app or parent per row, only when one
# of them really changes, so the frequent participant-count updates never lock a counter row.
PG_COUNT_DDL = [
    f"""CREATE FUNCTION rtk_session_counts_ins() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO session_counts (app_id, status, n)
    SELECT app_id, status, count(*) FROM new_rows WHERE {TOP} GROUP BY app_id, status
    ORDER BY app_id, status
    ON CONFLICT (app_id, status) DO UPDATE SET n = session_counts.n + EXCLUDED.n;
    RETURN NULL;
END $$""",
    f"""CREATE FUNCTION rtk_session_counts_del() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE session_counts c SET n = c.n - d.n
    FROM (SELECT app_id, status, count(*) AS n FROM old_rows WHERE {TOP}
          GROUP BY app_id, status) d
    WHERE c.app_id = d.app_id AND c.status = d.status;
    RETURN NULL;
END $$""",
    f"""CREATE FUNCTION rtk_session_counts_upd() RETURNS trigger LANGUAGE plpgsql AS $$
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
    """CREATE TRIGGER sessions_counts_ai AFTER INSERT ON sessions
REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION rtk_session_counts_ins()""",
    """CREATE TRIGGER sessions_counts_ad AFTER DELETE ON sessions
REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION rtk_session_counts_del()""",
    f"""CREATE TRIGGER sessions_counts_au AFTER UPDATE OF status, app_id, parent_session_id
ON sessions FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status
    OR OLD.app_id IS DISTINCT FROM NEW.app_id OR (OLD.{TOP}) IS DISTINCT FROM (NEW.{TOP}))
EXECUTE FUNCTION rtk_session_counts_upd()""",
]

PG_DROP = [
    "DROP TRIGGER IF EXISTS sessions_counts_au ON sessions",
    "DROP TRIGGER IF EXISTS sessions_counts_ad ON sessions",
    "DROP TRIGGER IF EXISTS sessions_counts_ai ON sessions",
    "DROP FUNCTION IF EXISTS rtk_session_counts_upd()",
    "DROP FUNCTION IF EXISTS rtk_session_counts_del()",
    "DROP FUNCTION IF EXISTS rtk_session_counts_ins()",
]


def _create_triggers(dialect: str) -> None:
    """The triggers that keep ``session_counts`` (and on SQLite the FTS index) in step."""
    for ddl in PG_COUNT_DDL if dialect == "postgresql" else SQLITE_COUNT_TRIGGERS:
        op.execute(ddl)
    if dialect == "sqlite":
        for ddl in SQLITE_FTS_TRIGGERS:
            op.execute(ddl)


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.create_table(
        "session_counts",
        sa.Column("app_id", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("app_id", "status", name=op.f("pk_session_counts")),
    )
    for name, columns in LIST_INDEXES.items():
        op.execute(f"CREATE INDEX {name} ON sessions ({columns}) WHERE {TOP}")
    for name in OLD_INDEXES:
        op.execute(f"DROP INDEX {name}")
    if dialect == "sqlite":
        op.execute(
            "CREATE TABLE sessions_fts_ids (rid INTEGER PRIMARY KEY, "
            "session_id VARCHAR(64) NOT NULL UNIQUE)"
        )
        op.execute(
            "CREATE VIRTUAL TABLE sessions_fts USING fts5("
            "search_text, session_id UNINDEXED, tokenize = 'trigram')"
        )
    # Backfill under the same transaction as the triggers: nothing is counted twice or missed.
    _create_triggers(dialect)
    op.execute(
        "INSERT INTO session_counts (app_id, status, n) SELECT app_id, status, count(*) "
        f"FROM sessions WHERE {TOP} GROUP BY app_id, status"
    )
    if dialect == "sqlite":
        op.execute("INSERT INTO sessions_fts_ids (session_id) SELECT id FROM sessions ORDER BY id")
        op.execute(
            "INSERT INTO sessions_fts (rowid, search_text, session_id) "
            "SELECT i.rid, s.search_text, s.id FROM sessions_fts_ids i "
            "JOIN sessions s ON s.id = i.session_id"
        )
    # Planner statistics for the new indexes, only where there is something to measure: the
    # statistics of an empty table would mislead SQLite's planner once the table fills up.
    if op.get_bind().execute(sa.text("SELECT 1 FROM sessions LIMIT 1")).first() is not None:
        op.execute("ANALYZE sessions" if dialect == "postgresql" else "ANALYZE")


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        for ddl in PG_DROP:
            op.execute(ddl)
    else:
        for name in (
            "sessions_counts_ai",
            "sessions_counts_ad",
            "sessions_counts_au",
            "sessions_fts_ai",
            "sessions_fts_ad",
            "sessions_fts_au",
        ):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute("DROP TABLE IF EXISTS sessions_fts")
        op.execute("DROP TABLE IF EXISTS sessions_fts_ids")
    for name, columns in OLD_INDEXES.items():
        op.create_index(name, "sessions", columns, unique=False)
    for name in LIST_INDEXES:
        op.execute(f"DROP INDEX {name}")
    op.drop_table("session_counts")
