"""Fixtures of the storage tests."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from rtk_sessions.config import normalize_database_url
from tests.conftest import _drop_postgres_database, _postgres_database


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database (no migrations applied), for the migration tests."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'rtk.db'}"
        return
    name = f"rtk_storage_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    url = normalize_database_url(_postgres_database(name))
    yield url
    _drop_postgres_database(name)
