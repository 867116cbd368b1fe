"""SQLite's trigram index of session titles also holds whose list a session is in.

``sessions_fts`` gains ``top_app`` (unindexed): the session's ``app_id`` when it is a top-level
session (no ``parent_session_id``), NULL for a breakout room. The capped ``total_count`` of a
search for a common term (``domain.sessions._capped_total``) then counts the index's hits of the
app without joining each to its session by id: at 1M sessions that join, a random lookup in the
sessions' primary-key index per hit, was most of a search request's time
(``bench/search_count.py``, docs/performance.md).

SQLite only (an FTS5 table's columns cannot be altered: it is rebuilt from ``sessions``, with the
same rowids, under the same transaction as its new triggers); PostgreSQL has nothing to change.
The downgrade rebuilds the table of 0003.

Revision ID: 0011b
Revises: 0011a
Create Date: 2026-11-30
"""

from __future__ import annotations

from alembic import op

revision = "0011b"
down_revision = "0011a"
branch_labels = None
depends_on = None

_TRIGGERS = ("sessions_fts_ai", "sessions_fts_ad", "sessions_fts_au")
_TOP_APP = "CASE WHEN {row}.parent_session_id IS NULL THEN {row}.app_id END"
_RID = "(SELECT rid FROM sessions_fts_ids WHERE session_id = {row}.id)"

TRIGGERS = [
    f"""CREATE TRIGGER sessions_fts_ai AFTER INSERT ON sessions BEGIN
    INSERT INTO sessions_fts_ids (session_id) VALUES (NEW.id);
    INSERT INTO sessions_fts (rowid, search_text, session_id, top_app) VALUES (
        {_RID.format(row="NEW")}, NEW.search_text, NEW.id, {_TOP_APP.format(row="NEW")});
END""",
    f"""CREATE TRIGGER sessions_fts_ad AFTER DELETE ON sessions BEGIN
    DELETE FROM sessions_fts WHERE rowid = {_RID.format(row="OLD")};
    DELETE FROM sessions_fts_ids WHERE session_id = OLD.id;
END""",
    f"""CREATE TRIGGER sessions_fts_au
AFTER UPDATE OF id, search_text, app_id, parent_session_id ON sessions
WHEN OLD.id IS NOT NEW.id OR OLD.search_text IS NOT NEW.search_text
    OR ({_TOP_APP.format(row="OLD")}) IS NOT ({_TOP_APP.format(row="NEW")}) BEGIN
    DELETE FROM sessions_fts WHERE rowid = {_RID.format(row="OLD")};
    UPDATE sessions_fts_ids SET session_id = NEW.id WHERE session_id = OLD.id;
    INSERT INTO sessions_fts (rowid, search_text, session_id, top_app) VALUES (
        {_RID.format(row="NEW")}, NEW.search_text, NEW.id, {_TOP_APP.format(row="NEW")});
END""",
]

# Those of 0003, for the downgrade.
OLD_TRIGGERS = [
    f"""CREATE TRIGGER sessions_fts_ai AFTER INSERT ON sessions BEGIN
    INSERT INTO sessions_fts_ids (session_id) VALUES (NEW.id);
    INSERT INTO sessions_fts (rowid, search_text, session_id) VALUES (
        {_RID.format(row="NEW")}, NEW.search_text, NEW.id);
END""",
    f"""CREATE TRIGGER sessions_fts_ad AFTER DELETE ON sessions BEGIN
    DELETE FROM sessions_fts WHERE rowid = {_RID.format(row="OLD")};
    DELETE FROM sessions_fts_ids WHERE session_id = OLD.id;
END""",
    f"""CREATE TRIGGER sessions_fts_au AFTER UPDATE OF id, search_text ON sessions
WHEN OLD.id IS NOT NEW.id OR OLD.search_text IS NOT NEW.search_text BEGIN
    DELETE FROM sessions_fts WHERE rowid = {_RID.format(row="OLD")};
    UPDATE sessions_fts_ids SET session_id = NEW.id WHERE session_id = OLD.id;
    INSERT INTO sessions_fts (rowid, search_text, session_id) VALUES (
        {_RID.format(row="NEW")}, NEW.search_text, NEW.id);
END""",
]


def _rebuild(columns: str, values: str, triggers: list[str]) -> None:
    for name in _TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.execute("DROP TABLE sessions_fts")
    op.execute(f"CREATE VIRTUAL TABLE sessions_fts USING fts5({columns}, tokenize = 'trigram')")
    op.execute(
        "INSERT INTO sessions_fts (rowid, search_text, session_id"
        f"{', top_app' if 'top_app' in columns else ''}) "
        f"SELECT i.rid, s.search_text, s.id{values} FROM sessions_fts_ids i "
        "JOIN sessions s ON s.id = i.session_id"
    )
    for ddl in triggers:
        op.execute(ddl)


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    _rebuild(
        "search_text, session_id UNINDEXED, top_app UNINDEXED",
        ", " + _TOP_APP.format(row="s"),
        TRIGGERS,
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    _rebuild("search_text, session_id UNINDEXED", "", OLD_TRIGGERS)
