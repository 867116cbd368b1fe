"""``rtk-sessions webhooks``: an app's webhooks and their delivery attempts (docs/webhooks.md).

Registered on the main group with ``main.add_command(webhooks)``; reads the database directly (no
server needed), so an operator can see why a webhook was disabled.
"""

from __future__ import annotations

import json
import sys

import click


def _database(database_url: str | None):  # type: ignore[no-untyped-def]
    from rtk_sessions import migrations
    from rtk_sessions.config import Settings
    from rtk_sessions.storage.engine import Database

    settings = Settings()
    if database_url:
        settings = settings.model_copy(update={"database_url": database_url})
    url = settings.resolved_database_url()
    migrations.upgrade(url)
    return Database(url)


_DATABASE_URL = click.option(
    "--database-url",
    envvar="RTK_DATABASE_URL",
    default=None,
    help="postgresql://user@host/db, or a SQLAlchemy URL. Default: SQLite in the data directory.",
)


@click.group()
def webhooks() -> None:
    """Webhooks and their deliveries."""


@webhooks.command("list")
@click.option("--app", "app_id", required=True, help="App id.")
@_DATABASE_URL
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def list_(app_id: str, database_url: str | None, as_json: bool) -> None:
    """The app's webhooks: id, enabled, failures in a row, url, events."""
    from rtk_sessions.api.webhooks import _view
    from rtk_sessions.domain import webhooks as domain

    database = _database(database_url)
    try:
        with database.unit_of_work(write=False) as s:
            views = [_view(r) for r in domain.list_webhooks(s, app_id)]
    finally:
        database.dispose()
    if as_json:
        click.echo(json.dumps([v.model_dump() for v in views], indent=1))
        return
    for v in views:
        state = "enabled" if v.enabled else "DISABLED"
        click.echo(
            f"{v.id}  {state}  failures={v.consecutive_failures}  {v.url}  {','.join(v.events)}"
        )
        if v.disabled_reason:
            click.echo(f"    {v.disabled_reason}")


@webhooks.command("deliveries")
@click.argument("webhook_id")
@click.option("--status", type=click.Choice(["pending", "delivered"]), default=None)
@click.option("--limit", type=click.IntRange(1, 500), default=20, show_default=True)
@_DATABASE_URL
@click.option("--json", "as_json", is_flag=True, help="Print JSON (with bodies).")
def deliveries(
    webhook_id: str, status: str | None, limit: int, database_url: str | None, as_json: bool
) -> None:
    """A webhook's deliveries, newest first, each with its attempts (time, HTTP status, error)."""
    from rtk_sessions.api.webhooks import deliveries as list_deliveries
    from rtk_sessions.storage.tables import WebhookRow

    database = _database(database_url)
    try:
        with database.unit_of_work(write=False) as s:
            if s.get(WebhookRow, webhook_id) is None:
                click.echo(f"Error: webhook {webhook_id} not found", err=True)
                sys.exit(1)
            rows = list_deliveries(s, webhook_id, status=status, limit=limit)
    finally:
        database.dispose()
    if as_json:
        click.echo(json.dumps([r.model_dump() for r in rows], indent=1))
        return
    for r in rows:
        click.echo(f"{r.created_at}  {r.event}  {r.status}  attempts={r.attempts}  id={r.id}")
        for a in r.attempt_log:
            outcome = a.status_code if a.status_code is not None else (a.error or "no answer")
            click.echo(f"    #{a.attempt} {a.started_at}  {outcome}")
