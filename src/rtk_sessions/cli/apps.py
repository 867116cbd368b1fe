"""``rtk-sessions apps``: RealtimeKit apps of an account."""

from __future__ import annotations

import json

import click

from rtk_sessions.cli.common import database_url_option, load_settings, main, open_database
from rtk_sessions.clock import iso


@main.group()
def apps() -> None:
    """RealtimeKit apps."""


@apps.command("create")
@click.option("--account", "account_id", required=True, help="Account id (at most 32 characters).")
@click.option("--name", required=True)
@database_url_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def apps_create(account_id: str, name: str, database_url: str | None, as_json: bool) -> None:
    """Create an app and print its id."""
    from rtk_sessions.domain import accounts

    database = open_database(load_settings(database_url))
    try:
        with database.unit_of_work() as s:
            app = accounts.create_app(s, account_id, name)
            app_id = app.id
    finally:
        database.dispose()
    click.echo(
        json.dumps({"id": app_id, "account_id": account_id, "name": name}) if as_json else app_id
    )


@apps.command("list")
@click.option("--account", "account_id", required=True, help="Account id.")
@database_url_option
@click.option("--json", "as_json", is_flag=True, help="Print one JSON array.")
def apps_list(account_id: str, database_url: str | None, as_json: bool) -> None:
    """List the apps of an account, oldest first: id, creation time (UTC) and name, one a line."""
    from rtk_sessions.domain import accounts

    accounts.check_account_id(account_id)
    database = open_database(load_settings(database_url))
    rows: list[dict[str, str]] = []
    try:
        with database.unit_of_work(write=False) as s:
            page_size = 1000
            while True:
                page = accounts.list_apps(
                    s, account_id, offset=len(rows), limit=page_size, search=None, descending=False
                )
                rows += [
                    {"id": a.id, "name": a.name, "created_at": iso(a.created_at)} for a in page.apps
                ]
                if len(page.apps) < page_size:
                    break
    finally:
        database.dispose()
    if as_json:
        click.echo(json.dumps(rows))
        return
    for row in rows:
        click.echo(f"{row['id']}  {row['created_at']}  {row['name']}")
