"""Fixtures of the reliability suite: a server of its own, on a database of its own, per dialect,
and accounts with apps and API tokens on it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import LiveServer, Tenant, make_tenant, migrated_database, start_server


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def own_database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A migrated, empty database that no other test (and no other sweeper) touches."""
    with migrated_database(request.param, tmp_path_factory, "rtk_rel") as url:
        yield url


@pytest.fixture
def quiet_server(
    own_database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """A live server (in this process) without background work on ``own_database_url``."""
    from rtk_sessions.config import Settings

    settings = Settings(data_dir=tmp_path_factory.mktemp("data"), database_url=own_database_url)
    live, server, thread = start_server(settings, background=False)
    yield live
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def own_tenant(quiet_server: LiveServer) -> Tenant:
    """An account with an app and an API token on ``quiet_server``."""
    return make_tenant(quiet_server, "reliability")


def dialect(url: str) -> str:
    """``"sqlite"`` or ``"postgresql"`` for a database URL."""
    return "sqlite" if url.startswith("sqlite") else "postgresql"
