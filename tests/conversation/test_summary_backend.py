"""Summary jobs against an OpenAI-compatible backend (a fake one on a real socket): failures are
retried with backoff and reported in GET summary's 404; a server killed with a job in flight hands
it over to the next server. Each test gets its own database (SQLite and PostgreSQL) so no other
server's worker takes its jobs."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import cloudflare
import httpx
import pytest
import uvicorn
from sqlalchemy import select

from rtk_sessions.config import Settings, normalize_database_url
from rtk_sessions.storage.engine import Database
from rtk_sessions.storage.tables import JobRow
from tests.conftest import (
    LiveServer,
    Tenant,
    _drop_postgres_database,
    _postgres_database,
    start_server,
)
from tests.helpers import post_events

from .util import Person, download, segment_event, start_session, wait_for

T0 = datetime(2024, 6, 3, 9, 0, tzinfo=UTC)
ANSWER = "## Meeting summary\n\n- Alice proposed the plan; Bob agreed."


class FakeLLM(BaseHTTPRequestHandler):
    calls: dict[str, int] = {}  # noqa: RUF012 - per path prefix
    release = threading.Event()
    entered = threading.Event()

    def log_message(self, *args: object) -> None:
        pass

    def _send(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except OSError:
            pass  # the client is gone (killed server)

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        mode = self.path.split("/")[1]
        FakeLLM.calls[mode] = FakeLLM.calls.get(mode, 0) + 1
        ok = {"choices": [{"message": {"role": "assistant", "content": ANSWER}}]}
        if mode.startswith("flaky") and FakeLLM.calls[mode] <= 2:
            self._send(500, {"error": {"message": "model overloaded"}})
        elif mode.startswith("down"):
            self._send(503, {"error": {"message": "model overloaded"}})
        elif mode.startswith("hang"):
            FakeLLM.entered.set()
            FakeLLM.release.wait(60)
            self._send(200, ok)
        else:
            self._send(200, ok)


@pytest.fixture(scope="module")
def llm() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeLLM)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    FakeLLM.release.set()
    server.shutdown()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def fresh_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    from rtk_sessions import migrations

    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'rtk.db'}"
        migrations.upgrade(url)
        yield url
        return
    name = f"rtk_test_jobs_{uuid.uuid4().hex[:10]}"
    url = _postgres_database(name)
    migrations.upgrade(normalize_database_url(url))
    yield url
    _drop_postgres_database(name)


def settings_for(url: str, data_dir: Path, base_url: str, **extra: Any) -> Settings:
    return Settings(
        data_dir=data_dir,
        database_url=url,
        secret_key="test-secret",
        sweep_interval_secs=0.2,
        summarizer="openai",
        openai_base_url=base_url,
        openai_model="fake-model",
        openai_timeout_secs=5,
        job_backoff_secs=0.3,
        job_lease_secs=2,
        job_poll_secs=0.1,
        **extra,
    )


def tenant_on(server: LiveServer) -> Tenant:
    from rtk_sessions.domain import accounts

    db = Database(normalize_database_url(server.database_url))
    account_id = uuid.uuid4().hex
    with db.unit_of_work() as s:
        app = accounts.create_app(s, account_id, "backend")
        token = accounts.create_token(s, account_id)
        app_id = app.id
    db.dispose()
    return Tenant(account_id, app_id, token, server)


def with_transcript(tenant: Tenant) -> str:
    alice, bob = (
        Person("p-a-" + uuid.uuid4().hex, "u-a", "Alice"),
        Person("p-b-" + uuid.uuid4().hex, "u-b", "Bob"),
    )
    _, session_id = start_session(tenant, [alice, bob], at=T0)
    post_events(
        tenant,
        [
            segment_event(
                session_id,
                alice,
                T0 + timedelta(seconds=1),
                T0 + timedelta(seconds=4),
                "I propose we ship the new plan on Friday.",
            ),
            segment_event(
                session_id,
                bob,
                T0 + timedelta(seconds=5),
                T0 + timedelta(seconds=7),
                "Agreed, Friday works for the whole team.",
            ),
        ],
    )
    return session_id


def kw(tenant: Tenant) -> dict[str, str]:
    return {"account_id": tenant.account_id, "app_id": tenant.app_id}


def summary_or_reason(tenant: Tenant, session_id: str) -> tuple[str | None, str | None]:
    try:
        result = tenant.sdk().realtime_kit.sessions.get_session_summary(session_id, **kw(tenant))
    except cloudflare.NotFoundError as exc:
        return None, str(exc)
    return download(result.data.summary_download_url).text, None


def jobs_of(url: str, session_id: str) -> list[JobRow]:
    db = Database(normalize_database_url(url))
    try:
        with db.unit_of_work(write=False) as s:
            return list(s.scalars(select(JobRow).where(JobRow.key == session_id)))
    finally:
        db.dispose()


def stop(server: uvicorn.Server, thread: threading.Thread) -> None:
    server.should_exit = True
    thread.join(timeout=15)


def test_failing_backend_is_retried_with_backoff(fresh_url: str, tmp_path: Path, llm: str) -> None:
    mode = f"flaky{uuid.uuid4().hex[:6]}"
    live, server, thread = start_server(settings_for(fresh_url, tmp_path, f"{llm}/{mode}/v1"))
    try:
        tenant = tenant_on(live)
        session_id = with_transcript(tenant)
        sessions = tenant.sdk().realtime_kit.sessions
        started = sessions.generate_summary_of_transcripts(session_id, **kw(tenant))
        assert started.data.status == "IN_PROGRESS"
        # while the backend fails, GET summary is 404 and says why
        reason = wait_for(
            lambda: (
                ((r := summary_or_reason(tenant, session_id)[1]) and "HTTP 500" in r and r) or None
            ),
            timeout=20,
        )
        assert "model overloaded" in reason and "retry" in reason
        text = wait_for(lambda: summary_or_reason(tenant, session_id)[0], timeout=30)
        assert text == ANSWER + "\n"
        assert FakeLLM.calls[mode] == 3
        [job] = jobs_of(fresh_url, session_id)
        assert (job.status, job.attempts) == ("done", 3)
        assert "HTTP 500" in (job.last_error or "")
    finally:
        stop(server, thread)


def test_backend_that_stays_down_fails_the_job(fresh_url: str, tmp_path: Path, llm: str) -> None:
    mode = f"down{uuid.uuid4().hex[:6]}"
    live, server, thread = start_server(
        settings_for(fresh_url, tmp_path, f"{llm}/{mode}/v1", job_max_attempts=2)
    )
    try:
        tenant = tenant_on(live)
        session_id = with_transcript(tenant)
        sessions = tenant.sdk().realtime_kit.sessions
        sessions.generate_summary_of_transcripts(session_id, **kw(tenant))
        reason = wait_for(
            lambda: (
                ((r := summary_or_reason(tenant, session_id)[1]) and "failed after" in r and r)
                or None
            ),
            timeout=20,
        )
        assert "failed after 2 attempt(s)" in reason
        assert "HTTP 503" in reason and "model overloaded" in reason
        assert FakeLLM.calls[mode] == 2
        # asking again queues a new job (the old one failed for good)
        again = sessions.generate_summary_of_transcripts(session_id, **kw(tenant))
        assert again.data.status == "IN_PROGRESS"
        wait_for(lambda: len(jobs_of(fresh_url, session_id)) == 2)
    finally:
        stop(server, thread)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_restart_with_a_job_in_flight(fresh_url: str, tmp_path: Path, llm: str) -> None:
    """A server process is killed (SIGKILL) while its summarizer call is in flight; the next
    server claims the job once the lease has run out and finishes it."""
    FakeLLM.entered.clear()
    FakeLLM.release.clear()
    port = _free_port()
    env = {
        **os.environ,
        "RTK_DATA_DIR": str(tmp_path),
        "RTK_SECRET_KEY": "test-secret",
        "RTK_SUMMARIZER": "openai",
        "RTK_OPENAI_BASE_URL": f"{llm}/hang{uuid.uuid4().hex[:6]}/v1",
        "RTK_OPENAI_MODEL": "fake-model",
        "RTK_OPENAI_TIMEOUT_SECS": "60",
        "RTK_JOB_LEASE_SECS": "2",
        "RTK_JOB_POLL_SECS": "0.1",
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "rtk_sessions",
            "serve",
            "--port",
            str(port),
            "--database-url",
            fresh_url,
            "--log-level",
            "warning",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:

        def up() -> bool:
            try:
                return httpx.get(url + "/client/v4/nope", timeout=1).status_code == 404
            except httpx.HTTPError:
                return False

        wait_for(up, timeout=30)
        first = LiveServer(url, fresh_url, None, None)  # type: ignore[arg-type]  # a subprocess: no app here
        tenant = tenant_on(first)
        session_id = with_transcript(tenant)
        started = tenant.sdk().realtime_kit.sessions.generate_summary_of_transcripts(
            session_id, **kw(tenant)
        )
        assert started.data.status == "IN_PROGRESS"
        assert FakeLLM.entered.wait(20), "the job never reached the summarizer"
        [job] = jobs_of(fresh_url, session_id)
        assert job.status == "running" and job.attempts == 1
        dead_worker = job.locked_by
    finally:
        proc.kill()
        proc.wait(10)
    FakeLLM.release.set()  # the hung request can finish now; nobody is listening

    live, server, thread = start_server(settings_for(fresh_url, tmp_path, f"{llm}/ok/v1"))
    try:
        tenant = Tenant(tenant.account_id, tenant.app_id, tenant.token, live)
        text, reason = summary_or_reason(tenant, session_id)
        assert text is not None or "in progress" in (reason or "")  # leased by the dead worker
        t0 = time.monotonic()
        text = wait_for(lambda: summary_or_reason(tenant, session_id)[0], timeout=30)
        assert text == ANSWER + "\n"
        assert time.monotonic() - t0 < 15
        [job] = jobs_of(fresh_url, session_id)
        assert (job.status, job.attempts) == ("done", 2)
        assert job.locked_by is None and dead_worker is not None
    finally:
        stop(server, thread)
