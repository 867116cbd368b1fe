"""Query models read by ``api.openapi._fast_query`` answer exactly as FastAPI's own parameter
resolution does: the same 200 bodies and 4xx envelopes, auth failures before query ones, the
last value of a repeated parameter, unknown parameters ignored."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from rtk_sessions import migrations
from rtk_sessions.api import openapi
from rtk_sessions.app import create_app
from rtk_sessions.config import Settings
from rtk_sessions.domain import accounts

QUERIES = [
    "",
    "status=LIVE&status=ENDED",  # repeated: the last one
    "status=ENDED&status=live",
    "status=live",
    "sort_by=created_at&sort_order=desc&page_no=abc",  # several errors at once
    "page_no=1.5",
    "per_page=-1&unknown=1&unknown=2",
    "page_no=2.0&per_page=1",
    "start_time=2024-02-01T00:00:00Z&end_time=2024-01-01T00:00:00Z",
    "start_time=yesterday",
    "participants=5:2",
    "participants=1:&search=x",
    "include_breakout_rooms=yes",
]
PATHS = [
    "/sessions",
    "/sessions/x",
    "/sessions/x/participants",
    "/sessions/peer-report/x",
    "/meetings",
]


def _answers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fast: bool) -> list[object]:
    if not fast:
        monkeypatch.setattr(openapi, "_fast_query", lambda dependant: None)
    url = f"sqlite:///{tmp_path / ('fast' if fast else 'fastapi')}.db"
    migrations.upgrade(url)
    app = create_app(Settings(data_dir=tmp_path, database_url=url), background=False)
    answers: list[object] = []
    with TestClient(app) as client:
        with app.state.db.unit_of_work() as s:
            app_id = accounts.create_app(s, "acct-q", "q", app_id="app-q").id
            token = accounts.create_token(s, "acct-q")
        base = f"/client/v4/accounts/acct-q/realtime/kit/{app_id}"
        for path in PATHS:
            for query in QUERIES:
                for auth in ("ok", "Bearer wrong", None):
                    sent = f"Bearer {token}" if auth == "ok" else auth
                    headers = {} if sent is None else {"Authorization": sent}
                    r = client.get(f"{base}{path}?{query}", headers=headers)
                    answers.append((path, query, auth, r.status_code, r.text))
    monkeypatch.undo()
    return answers


def test_fast_query_answers_as_fastapi(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert _answers(tmp_path, monkeypatch, True) == _answers(tmp_path, monkeypatch, False)
