"""``rtk-sessions db``: the schema (Alembic migrations, one tree for SQLite and PostgreSQL)."""

from __future__ import annotations

import click

from rtk_sessions.cli.common import database_url_option, load_settings, main, open_database


@main.group()
def db() -> None:
    """Database schema (Alembic migrations, one tree for SQLite and PostgreSQL)."""


@db.command("upgrade")
@database_url_option
@click.option("--revision", default="head", show_default=True)
def db_upgrade(database_url: str | None, revision: str) -> None:
    """Apply migrations up to REVISION and print the revision the database is at."""
    from rtk_sessions import migrations

    settings = load_settings(database_url)
    open_database(settings, migrate=False).dispose()
    migrations.upgrade(settings.resolved_database_url(), revision)
    click.echo(f"Database at {migrations.current(settings.resolved_database_url())}")


@db.command("downgrade", context_settings={"ignore_unknown_options": True})
@click.argument("revision")
@database_url_option
def db_downgrade(revision: str, database_url: str | None) -> None:
    """Revert migrations down to REVISION (a revision id, -1 for one step, or base for an
    empty schema) and print the revision the database is at.

    Tables and columns the reverted migrations added are dropped with their data: back up
    first. Servers of a newer version must be stopped; `rtk-sessions serve` upgrades again on
    start unless given --no-migrate.
    """
    from rtk_sessions import migrations

    settings = load_settings(database_url)
    url = settings.resolved_database_url()
    open_database(settings, migrate=False).dispose()
    migrations.downgrade(url, revision)
    click.echo(f"Database at {migrations.current(url) or '(empty)'}")


@db.command("current")
@database_url_option
def db_current(database_url: str | None) -> None:
    """Print the applied migration revision ("(empty)" for a database without the schema)."""
    from rtk_sessions import migrations

    settings = load_settings(database_url)
    open_database(settings, migrate=False).dispose()
    click.echo(migrations.current(settings.resolved_database_url()) or "(empty)")
