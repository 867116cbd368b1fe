"""Fixtures of the API tests that drive the application in process."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from rtk_sessions import migrations
from rtk_sessions.app import create_app
from rtk_sessions.config import Settings
from rtk_sessions.domain import accounts


class Kit:
    """An app of a fresh account, called through ``TestClient`` with its API token."""

    def __init__(self, client: TestClient, base: str, token: str) -> None:
        self.client, self.base = client, base
        self.headers = {"Authorization": f"Bearer {token}"}

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> httpx.Response:
        response: httpx.Response = self.client.request(
            method, self.base + path, json=body, headers=self.headers
        )
        return response


@pytest.fixture
def kit(tmp_path: Path) -> Iterator[Kit]:
    url = f"sqlite:///{tmp_path / 'rtk.db'}"
    migrations.upgrade(url)
    app = create_app(Settings(data_dir=tmp_path, database_url=url), background=False)
    with TestClient(app) as client:
        account = uuid.uuid4().hex
        with app.state.db.unit_of_work() as s:
            app_id = accounts.create_app(s, account, "loop").id
            token = accounts.create_token(s, account)
        yield Kit(client, f"/client/v4/accounts/{account}/realtime/kit/{app_id}", token)
