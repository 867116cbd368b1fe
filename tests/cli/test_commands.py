"""``apps list``, ``tokens list``, ``tokens revoke`` and ``db downgrade`` against real databases
(SQLite and PostgreSQL), and a revoked token refused by the official SDK."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import cloudflare
import httpx
import pytest
from click.testing import CliRunner, Result

from rtk_sessions.cli import main
from tests.conftest import LiveServer, make_tenant, migrated_database
from tests.servers import Server, start_serve, stop_all, wait_until
from tests.servers import make_tenant as make_db_tenant


def rtk(*args: str) -> Result:
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == 0, (args, result.output, result.exception)
    return result


def test_apps_list(database_url: str) -> None:
    account = uuid.uuid4().hex
    first = rtk(
        "apps", "create", "--account", account, "--name", "First", "--database-url", database_url
    )
    second = rtk(
        "apps",
        "create",
        "--account",
        account,
        "--name",
        "Second app",
        "--database-url",
        database_url,
    )
    rtk(
        "apps",
        "create",
        "--account",
        uuid.uuid4().hex,
        "--name",
        "Elsewhere",
        "--database-url",
        database_url,
    )
    listed = rtk("apps", "list", "--account", account, "--database-url", database_url).stdout
    lines = listed.splitlines()
    assert [line.split()[0] for line in lines] == [first.stdout.strip(), second.stdout.strip()]
    assert lines[1].endswith("  Second app") and "Elsewhere" not in listed
    as_json = json.loads(
        rtk("apps", "list", "--account", account, "--json", "--database-url", database_url).stdout
    )
    assert [a["name"] for a in as_json] == ["First", "Second app"]
    assert all(a["created_at"].endswith("Z") for a in as_json)
    empty = rtk("apps", "list", "--account", uuid.uuid4().hex, "--database-url", database_url)
    assert empty.stdout == ""


def test_tokens_list_shows_ids_never_tokens(database_url: str) -> None:
    account = uuid.uuid4().hex
    made = [
        json.loads(
            rtk(
                "tokens",
                "create",
                "--account",
                account,
                "--name",
                name,
                "--json",
                "--database-url",
                database_url,
            ).stdout
        )
        for name in ("ci", "laptop")
    ]
    listed = rtk("tokens", "list", "--account", account, "--database-url", database_url).stdout
    assert [line.split()[0] for line in listed.splitlines()] == [t["id"] for t in made]
    assert [line.split()[-1] for line in listed.splitlines()] == ["ci", "laptop"]
    everyone = rtk("tokens", "list", "--json", "--database-url", database_url).stdout
    assert {t["id"] for t in made} <= {t["id"] for t in json.loads(everyone)}
    for t in made:
        assert t["token"] not in listed and t["token"] not in everyone


def test_revoked_token_gets_401(live_server: LiveServer) -> None:
    """Revoked through the CLI in the server's own process: refused at once (the domain function
    drops the token from this process's auth cache too)."""
    tenant = make_tenant(live_server, "revoke")
    sdk = tenant.sdk()
    sdk.realtime_kit.sessions.get_sessions(tenant.app_id, account_id=tenant.account_id)  # cached
    url = live_server.database_url
    [row] = json.loads(
        rtk(
            "tokens", "list", "--account", tenant.account_id, "--json", "--database-url", url
        ).stdout
    )
    done = rtk("tokens", "revoke", row["id"], "--account", tenant.account_id, "--database-url", url)
    assert done.stdout.startswith(f"revoked {row['id']}")
    with pytest.raises(cloudflare.AuthenticationError):
        sdk.realtime_kit.sessions.get_sessions(tenant.app_id, account_id=tenant.account_id)
    listed = rtk("tokens", "list", "--account", tenant.account_id, "--database-url", url)
    assert listed.stdout == ""
    again = CliRunner().invoke(
        main, ["tokens", "revoke", row["id"], "--account", tenant.account_id, "--database-url", url]
    )
    assert again.exit_code == 1 and "no API token" in again.stderr


def test_revoke_from_another_process_within_the_cache_ttl(tmp_path: Path) -> None:
    """A separate ``serve`` process that has the token cached refuses it once its auth cache
    expires (AUTH_CACHE_TTL, 5 s): polled, generously bounded, never timed."""
    url = f"sqlite:///{tmp_path / 'rtk.db'}"
    rtk("db", "upgrade", "--database-url", url)
    tenant = make_db_tenant(url, "revoke")
    servers: list[Server] = []
    try:
        server = start_serve(url, tmp_path, "serve")
        servers.append(server)
        wait_until("the server", server.up)
        sessions = tenant.base(server.url) + "/sessions"
        assert httpx.get(sessions, headers=tenant.headers()).status_code == 200
        [row] = json.loads(
            rtk(
                "tokens", "list", "--account", tenant.account_id, "--json", "--database-url", url
            ).stdout
        )
        rtk("tokens", "revoke", row["id"], "--account", tenant.account_id, "--database-url", url)
        wait_until(
            "401 for the revoked token",
            lambda: httpx.get(sessions, headers=tenant.headers()).status_code == 401,
            timeout=60,
        )
    finally:
        stop_all(servers)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def fresh_database(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    with migrated_database(request.param, tmp_path_factory, prefix="rtk_cli") as url:
        yield url


def test_db_downgrade_and_upgrade_again(fresh_database: str) -> None:
    url = fresh_database
    head = rtk("db", "current", "--database-url", url).stdout.strip()
    account = uuid.uuid4().hex
    rtk("apps", "create", "--account", account, "--name", "Kept", "--database-url", url)
    down = rtk("db", "downgrade", "-1", "--database-url", url).stdout.strip()
    previous = rtk("db", "current", "--database-url", url).stdout.strip()
    assert down == f"Database at {previous}" and previous not in ("", head, "(empty)")
    up = rtk("db", "upgrade", "--database-url", url).stdout.strip()
    assert up == f"Database at {head}"
    assert "Kept" in rtk("apps", "list", "--account", account, "--database-url", url).stdout
    rtk("db", "downgrade", "base", "--database-url", url)
    assert rtk("db", "current", "--database-url", url).stdout.strip() == "(empty)"
