"""Background workers are declared in one registry and started and stopped by the app in one
place: in registration order, stopped in reverse, and a worker that never started is disposed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from rtk_sessions import workers
from rtk_sessions.app import create_app
from rtk_sessions.config import Settings


class Recorder:
    def __init__(self, name: str, log: list[str]) -> None:
        self.name, self.log = name, log

    def start(self) -> None:
        self.log.append(f"start {self.name}")

    def stop(self) -> None:
        self.log.append(f"stop {self.name}")

    def dispose(self) -> None:
        self.log.append(f"dispose {self.name}")


@pytest.fixture
def log() -> Iterator[list[str]]:
    entries: list[str] = []
    saved = dict(workers._REGISTRY)
    workers.register("first_test_worker", lambda ctx: Recorder("first", entries))
    workers.register("second_test_worker", lambda ctx: Recorder("second", entries))
    yield entries
    workers._REGISTRY.clear()
    workers._REGISTRY.update(saved)


def settings(tmp_path: Path) -> Settings:
    from rtk_sessions import migrations

    url = f"sqlite:///{tmp_path / 'rtk.db'}"
    migrations.upgrade(url)
    return Settings(data_dir=tmp_path, database_url=url)


def test_the_service_registers_its_workers() -> None:
    assert workers.registered()[:3] == ["sweeper", "jobs", "webhooks"]


def test_registered_workers_start_in_order_and_stop_in_reverse(
    tmp_path: Path, log: list[str]
) -> None:
    app = create_app(settings(tmp_path), background=True)
    with TestClient(app):
        assert log == ["start first", "start second"]
        assert isinstance(app.state.first_test_worker, Recorder)
        assert app.state.jobs is not None and app.state.sweeper is not None
    assert log[2:] == ["stop second", "stop first"]


def test_without_background_workers_are_built_not_started_and_disposed(
    tmp_path: Path, log: list[str]
) -> None:
    app = create_app(settings(tmp_path), background=False)
    with TestClient(app):
        assert log == []
    assert log == ["dispose second", "dispose first"]
