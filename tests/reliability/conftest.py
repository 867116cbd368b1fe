"""Fixtures of the reliability suite: accounts with apps and API tokens on ``quiet_server`` (a
server of its own on a database of its own, per dialect: tests/conftest.py)."""

from __future__ import annotations

import pytest

from tests.conftest import LiveServer, Tenant, make_tenant


@pytest.fixture
def own_tenant(quiet_server: LiveServer) -> Tenant:
    """An account with an app and an API token on ``quiet_server``."""
    return make_tenant(quiet_server, "reliability")


def dialect(url: str) -> str:
    """``"sqlite"`` or ``"postgresql"`` for a database URL."""
    return "sqlite" if url.startswith("sqlite") else "postgresql"
