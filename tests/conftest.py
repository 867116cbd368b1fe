"""Live servers on real sockets, over SQLite and PostgreSQL, with the official SDK as client.

PostgreSQL: ``RTK_TEST_POSTGRES_URL`` names a server/database we may create databases from
(default ``postgresql://postgres@127.0.0.1:5432/postgres``). Without a server the PostgreSQL tests
skip, unless ``RTK_REQUIRE_POSTGRES=1`` (CI sets it), where they fail.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    import uvicorn
    from fastapi import FastAPI

    from rtk_sessions.config import Settings
    from rtk_sessions.storage.engine import Database

FIXTURES = Path(__file__).parent / "fixtures"
REAL_STATS = FIXTURES / "real-stats"
PG_ADMIN_URL = os.environ.get(
    "RTK_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


def _postgres_database(name: str) -> str:
    """Create database ``name`` on the test server; return its URL. Skips or fails without one."""
    import psycopg

    try:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as exc:
        if os.environ.get("RTK_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"PostgreSQL required but unreachable at {PG_ADMIN_URL}: {exc}")
        pytest.skip(f"PostgreSQL unreachable at {PG_ADMIN_URL}: {exc}")
    base, _, _ = PG_ADMIN_URL.rpartition("/")
    return f"{base}/{name}"


def _drop_postgres_database(name: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def migrated_database(
    dialect: str, tmp_path_factory: pytest.TempPathFactory, prefix: str = "rtk_test"
) -> Iterator[str]:
    """A new database of ``dialect`` ("sqlite" or "postgresql"), migrated to head; a PostgreSQL
    one (named ``{prefix}_{pid}_{random}``) is dropped afterwards."""
    from rtk_sessions import migrations
    from rtk_sessions.config import normalize_database_url

    if dialect == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp(prefix) / 'rtk.db'}"
        migrations.upgrade(url)
        yield url
        return
    name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    url = _postgres_database(name)
    try:
        migrations.upgrade(normalize_database_url(url))
        yield url
    finally:
        _drop_postgres_database(name)


@pytest.fixture(
    scope="session",
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
)
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A migrated, empty database per dialect for the whole test session."""
    with migrated_database(request.param, tmp_path_factory) as url:
        yield url


@dataclass
class LiveServer:
    """A running rtk-sessions server."""

    url: str  # http://127.0.0.1:PORT
    database_url: str
    settings: Settings
    app: FastAPI

    @property
    def base_url(self) -> str:
        return f"{self.url}/client/v4"

    def database(self) -> Database:
        db: Database = self.app.state.db
        return db

    def sweep(self) -> list[str]:
        ended: list[str] = self.app.state.sweeper.run_once()
        return ended


def start_server(
    settings: Settings, *, background: bool = True, host: str = "127.0.0.1", port: int = 0
) -> tuple[LiveServer, uvicorn.Server, threading.Thread]:
    import uvicorn

    from rtk_sessions.app import create_app

    app = create_app(settings, background=background)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("server did not start")
        time.sleep(0.02)
    live = LiveServer(f"http://127.0.0.1:{port}", settings.database_url or "", settings, app)
    return live, server, thread


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def own_database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A migrated, empty database that no other test (and no other sweeper) touches."""
    with migrated_database(request.param, tmp_path_factory, "rtk_own") as url:
        yield url


@pytest.fixture
def quiet_server(
    own_database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """A live server (in this process) without background work on ``own_database_url``: only the
    test sweeps (``live.sweep()``)."""
    from rtk_sessions.config import Settings

    settings = Settings(data_dir=tmp_path_factory.mktemp("data"), database_url=own_database_url)
    live, server, thread = start_server(settings, background=False)
    yield live
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="session")
def live_server(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """The service on a real socket (uvicorn), with its sweeper, over ``database_url``."""
    from rtk_sessions.config import Settings

    settings = Settings(
        data_dir=tmp_path_factory.mktemp("data"),
        database_url=database_url,
        sweep_interval_secs=0.2,
    )
    live, server, thread = start_server(settings)
    yield live
    server.should_exit = True
    thread.join(timeout=10)


@dataclass
class Tenant:
    """An account with an app and an API token, on a live server."""

    account_id: str
    app_id: str
    token: str
    server: LiveServer

    def sdk(self, **kwargs: Any) -> Any:
        """The official client (``cloudflare.Cloudflare``) for this tenant. Typed ``Any``: the
        SDK's response models make every field optional, and the tests assert on the values."""
        import cloudflare

        return cloudflare.Cloudflare(
            api_token=self.token, base_url=self.server.base_url, max_retries=0, **kwargs
        )


def make_tenant(server: LiveServer, name: str = "test") -> Tenant:
    from rtk_sessions.domain import accounts

    account_id = uuid.uuid4().hex
    with server.database().unit_of_work() as s:
        app = accounts.create_app(s, account_id, name)
        token = accounts.create_token(s, account_id)
        app_id = app.id
    return Tenant(account_id, app_id, token, server)


@pytest.fixture
def tenant(live_server: LiveServer) -> Tenant:
    """A fresh account+app+token: tests never see each other's data."""
    return make_tenant(live_server)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The reliability figures (tests/reliability/figures.py) at the end of every run that made
    any: requests fuzzed, routes × credentials tried, kills survived, events lost."""
    from tests.reliability import figures

    lines = figures.lines()
    if lines:
        terminalreporter.section("reliability figures")
        for line in lines:
            terminalreporter.write_line(line)
