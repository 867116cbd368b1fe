"""Alembic migrations: one tree for SQLite and PostgreSQL (batch mode on SQLite)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

HERE = Path(__file__).parent


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(HERE))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    """Apply migrations up to ``revision`` on the database at ``url``, once across processes.

    Holds ``leader.migration_lock(url)`` (a PostgreSQL advisory lock, or a file lock beside a
    SQLite file) around ``alembic upgrade``: processes that start together wait for the first,
    then find nothing left to apply.
    """
    from rtk_sessions.leader import migration_lock

    with migration_lock(url):
        command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str) -> None:
    """Revert migrations down to ``revision`` (an id, ``-1``, ``base``) under the same lock as
    ``upgrade``. raises alembic.util.exc.CommandError for a revision the tree does not know."""
    from rtk_sessions.leader import migration_lock

    with migration_lock(url):
        command.downgrade(alembic_config(url), revision)


def current(url: str) -> str | None:
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy import create_engine

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()
