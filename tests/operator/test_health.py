"""``/healthz`` and ``/readyz`` (docs/deployment.md): answers on a database at head, behind head
and unreachable, on SQLite and PostgreSQL; both outside authentication and in the OpenAPI."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

import httpx
from alembic.script import ScriptDirectory

from rtk_sessions import migrations
from rtk_sessions.observability import JsonFormatter
from tests.conftest import LiveServer
from tests.operator.conftest import MakeDatabase, Serve

SCRIPTS = ScriptDirectory.from_config(migrations.alembic_config("sqlite://"))
HEAD = SCRIPTS.get_current_head()
assert HEAD is not None
_HEAD_REVISION = SCRIPTS.get_revision(HEAD)
assert _HEAD_REVISION is not None and isinstance(_HEAD_REVISION.down_revision, str)
PREVIOUS: str = _HEAD_REVISION.down_revision


def test_ready_at_head(make_database: MakeDatabase, serve: Serve) -> None:
    url = make_database("head")
    live = serve(url)
    health = httpx.get(f"{live.url}/healthz")
    assert (health.status_code, health.json()) == (200, {"status": "ok"})
    ready = httpx.get(f"{live.url}/readyz")
    assert ready.status_code == 200
    assert ready.json() == {
        "status": "ready",
        "database": url.split(":")[0].split("+")[0],
        "revision": migrations.current(url),
    }
    assert migrations.current(url) == HEAD


def test_not_ready_behind_head(make_database: MakeDatabase, serve: Serve) -> None:
    assert PREVIOUS is not None
    url = make_database(PREVIOUS)
    live = serve(url)
    assert httpx.get(f"{live.url}/healthz").status_code == 200  # alive, but not ready
    ready = httpx.get(f"{live.url}/readyz")
    assert ready.status_code == 503
    body = ready.json()
    assert body["status"] == "unavailable"
    assert (body["revision"], body["head"]) == (PREVIOUS, HEAD)
    assert "migration head" in body["reason"]
    # Migrating the database makes the same server ready, without a restart.
    migrations.upgrade(url)
    assert httpx.get(f"{live.url}/readyz").status_code == 200


def test_not_ready_without_database(
    make_database: MakeDatabase, serve: Serve, tmp_path: Path
) -> None:
    """A database that does not answer: 503 naming the error class, never the URL; the warning
    logged while handling the request carries that request's id."""
    url = make_database(None)
    if url.startswith("sqlite"):
        # The server creates a missing SQLite file (mode 0600) and its directory; a file that is
        # not a database cannot be read.
        corrupt = tmp_path / "no-such-db" / "rtk.db"
        corrupt.parent.mkdir()
        corrupt.write_bytes(b"this is not an SQLite database\n" * 200)
        unreachable = f"sqlite:///{corrupt}"
    else:
        unreachable = "postgresql+psycopg://postgres:s3cret@127.0.0.1:1/nothing"
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("rtk_sessions.health")
    logger.addHandler(handler)
    try:
        live = serve(unreachable)
        ready = httpx.get(f"{live.url}/readyz", headers={"X-Request-ID": "ready-probe-1"})
    finally:
        logger.removeHandler(handler)
    assert ready.status_code == 503
    body = ready.json()
    assert body["status"] == "unavailable"
    assert body["reason"].startswith("database unreachable (")
    assert "s3cret" not in ready.text and "no-such-db" not in ready.text
    assert ready.headers["X-Request-ID"] == "ready-probe-1"
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert lines, "the failure was not logged"
    assert {line["request_id"] for line in lines} == {"ready-probe-1"}
    assert all(line["logger"] == "rtk_sessions.health" for line in lines)


def test_documented_and_outside_auth(live_server: LiveServer) -> None:
    spec = httpx.get(f"{live_server.url}/openapi.json").json()
    for path in ("/healthz", "/readyz", "/metrics"):
        operation = spec["paths"][path]["get"]
        assert "security" not in operation, path
        assert operation["summary"], path
    assert set(spec["paths"]["/readyz"]["get"]["responses"]) >= {"200", "503"}
    # No credentials needed, and a bad one changes nothing.
    for path in ("/healthz", "/readyz", "/metrics"):
        response = httpx.get(f"{live_server.url}{path}", headers={"Authorization": "Bearer x"})
        assert response.status_code == 200, path
