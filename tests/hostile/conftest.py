"""Fixtures of the hostile-input tests: a server of their own, on a database of their own."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import LiveServer, migrated_database, start_server


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def own_database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A migrated, empty database that no other test (and no other sweeper) touches."""
    with migrated_database(request.param, tmp_path_factory, "rtk_hostile") as url:
        yield url


@pytest.fixture
def quiet_server(
    own_database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """A live server without background work: only the test sweeps (``live.sweep()``)."""
    from rtk_sessions.config import Settings

    settings = Settings(data_dir=tmp_path_factory.mktemp("data"), database_url=own_database_url)
    live, server, thread = start_server(settings, background=False)
    yield live
    server.should_exit = True
    thread.join(timeout=10)
