"""``rtk-sessions tokens``: API tokens (``Authorization: Bearer``) of accounts."""

from __future__ import annotations

import json

import click

from rtk_sessions.cli.common import database_url_option, fail, load_settings, main, open_database
from rtk_sessions.clock import iso


@main.group()
def tokens() -> None:
    """API tokens (Authorization: Bearer)."""


@tokens.command("create")
@click.option("--account", "account_id", required=True)
@click.option("--name", default=None)
@database_url_option
@click.option("--json", "as_json", is_flag=True, help='Print {"token", "id", "account_id"}.')
def tokens_create(
    account_id: str, name: str | None, database_url: str | None, as_json: bool
) -> None:
    """Create an API token for an account and print it (it is stored hashed; keep it)."""
    from rtk_sessions.domain import accounts

    database = open_database(load_settings(database_url))
    try:
        with database.unit_of_work() as s:
            token = accounts.create_token(s, account_id, name)
            s.flush()
            token_id = accounts.token_id(s, token)
    finally:
        database.dispose()
    click.echo(
        json.dumps({"token": token, "id": token_id, "account_id": account_id}) if as_json else token
    )


@tokens.command("list")
@click.option("--account", "account_id", default=None, help="Only this account's tokens.")
@database_url_option
@click.option("--json", "as_json", is_flag=True, help="Print one JSON array.")
def tokens_list(account_id: str | None, database_url: str | None, as_json: bool) -> None:
    """List API tokens, oldest first: id, account, creation time (UTC) and name, one a line.

    The tokens themselves cannot be shown: only their SHA-256 is stored. `tokens revoke` takes
    the id.
    """
    from rtk_sessions.domain import accounts

    database = open_database(load_settings(database_url))
    try:
        with database.unit_of_work(write=False) as s:
            rows = [
                {
                    "id": t.id,
                    "account_id": t.account_id,
                    "name": t.name,
                    "created_at": iso(t.created_at),
                }
                for t in accounts.list_tokens(s, account_id)
            ]
    finally:
        database.dispose()
    if as_json:
        click.echo(json.dumps(rows))
        return
    for row in rows:
        click.echo(f"{row['id']}  {row['account_id']}  {row['created_at']}  {row['name'] or ''}")


@tokens.command("revoke")
@click.argument("token_id")
@click.option("--account", "account_id", required=True, help="The token's account.")
@database_url_option
def tokens_revoke(token_id: str, account_id: str, database_url: str | None) -> None:
    """Revoke (delete) API token TOKEN_ID (an id from `tokens list`) of an account.

    Requests with it get 401 from then on. A server process that used the token in the last
    few seconds has it cached and refuses it once its auth cache expires, at most
    AUTH_CACHE_TTL (5) seconds after this command (docs/deployment.md).
    """
    from rtk_sessions.domain import accounts

    database = open_database(load_settings(database_url))
    try:
        with database.unit_of_work() as s:
            found = accounts.revoke_token(s, account_id, token_id)
    finally:
        database.dispose()
    if not found:
        fail(
            f"no API token {token_id} in account {account_id} "
            f"(see: rtk-sessions tokens list --account {account_id})"
        )
    click.echo(
        f"revoked {token_id}; running servers refuse it within "
        f"{accounts.AUTH_CACHE_TTL:g} s (their auth cache)"
    )
