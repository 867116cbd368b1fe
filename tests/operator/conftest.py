"""Fixtures of the operator's tools tests: fresh databases (SQLite and PostgreSQL) at a chosen
migration revision, and Prometheus text parsed into comparable values."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import LiveServer, _drop_postgres_database, _postgres_database, start_server

MakeDatabase = Callable[[str | None], str]
#: ``serve(database_url, **settings)`` (the ``serve`` fixture)
Serve = Callable[..., LiveServer]


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def make_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MakeDatabase]:
    """``make(revision)``: a new empty database of this test's dialect, migrated to ``revision``
    (None: not migrated at all); returns its SQLAlchemy URL. Dropped after the test."""
    from rtk_sessions import migrations
    from rtk_sessions.config import normalize_database_url

    created: list[str] = []

    def make(revision: str | None = "head") -> str:
        if request.param == "sqlite":
            url = f"sqlite:///{tmp_path / f'rtk-{uuid.uuid4().hex[:6]}.db'}"
        else:
            name = f"rtk_op_{uuid.uuid4().hex[:10]}"
            url = normalize_database_url(_postgres_database(name))
            created.append(name)
        if revision is not None:
            migrations.upgrade(url, revision)
        return url

    yield make
    for name in created:
        _drop_postgres_database(name)


Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse_metrics(text: str) -> Samples:
    """Every sample of a Prometheus text exposition: (sample name, labels) -> value. Parsing
    with ``prometheus_client.parser`` also checks that the text is well formed."""
    out: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            key = (sample.name, frozenset(sample.labels.items()))
            assert key not in out, f"sample repeated: {key}"
            out[key] = sample.value
    return out


def value(samples: Samples, name: str, **labels: str) -> float:
    """The value of one sample (0 when absent: a labelled counter not yet incremented)."""
    return samples.get((name, frozenset(labels.items())), 0.0)


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Serve]:
    """``serve(database_url, **settings)``: an in-process server (no sweeper) over a database
    as it is (never migrated by the server); stopped after the test."""
    from rtk_sessions.config import Settings

    servers = []

    def start(database_url: str, **extra: Any) -> LiveServer:
        settings = Settings(data_dir=tmp_path / "data", database_url=database_url, **extra)
        live, server, thread = start_server(settings, background=False)
        servers.append((server, thread))
        return live

    yield start
    for server, thread in servers:
        server.should_exit = True
        thread.join(timeout=10)
