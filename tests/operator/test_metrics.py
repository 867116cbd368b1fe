"""``/metrics`` (docs/deployment.md): Prometheus text that parses, whose counters move by exactly
the traffic sent (a real recording ingested, a session list, a 400, a 401), whose gauges equal
the database's own counts, with route templates (never ids or tokens) as labels. SQLite and
PostgreSQL."""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from rtk_sessions.app import Sweeper
from rtk_sessions.clock import utc_now
from rtk_sessions.domain.lifecycle import LIVE
from rtk_sessions.importers import load_recording
from rtk_sessions.importers.ingest import to_ingest_events
from rtk_sessions.jobs import FAILED, QUEUED, JobRunner, JobSettings, enqueue
from rtk_sessions.storage.tables import JobRow, SampleBlock, Session
from tests.conftest import REAL_STATS, LiveServer, make_tenant
from tests.helpers import ingest_url
from tests.operator.conftest import MakeDatabase, Samples, Serve, parse_metrics, value

KIT = "/client/v4/accounts/{account_id}/realtime/kit"
INGEST = KIT + "/{app_id}/ingest"
SESSIONS = KIT + "/{app_id}/sessions"
BATCH = 8


def scrape(server: LiveServer) -> tuple[Samples, str]:
    response = httpx.get(f"{server.url}/metrics", timeout=30)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return parse_metrics(response.text), response.text


def delta(before: Samples, after: Samples, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


def recording_events(tag: str) -> tuple[list[dict[str, Any]], str, str]:
    client = load_recording(REAL_STATS / "jitsi-rtcstats_chrome-relay.rtcstats.jsonl").clients[0]
    peer_id, session_id = f"{tag}-{uuid.uuid4().hex[:8]}", str(uuid.uuid4())
    events = to_ingest_events(
        client,
        peer_id=peer_id,
        meeting_id=str(uuid.uuid4()),
        session_id=session_id,
        meeting_title=None,
        id_prefix=f"{peer_id}:ev",
    )
    return events, peer_id, session_id


def test_counters_move_with_traffic(make_database: MakeDatabase, serve: Serve) -> None:
    server = serve(make_database("head"), session_keep_alive_secs=0)
    tenant = make_tenant(server)
    auth = {"Authorization": f"Bearer {tenant.token}"}
    events, peer_id, session_id = recording_events("metrics")
    batches = [events[i : i + BATCH] for i in range(0, len(events), BATCH)]
    assert len(batches) >= 3

    before, _ = scrape(server)
    for batch in batches:
        response = httpx.post(ingest_url(tenant), json={"events": batch}, headers=auth, timeout=60)
        assert response.status_code == 200, response.text
    replay = httpx.post(ingest_url(tenant), json={"events": batches[1]}, headers=auth, timeout=60)
    assert replay.json()["data"] == {"accepted": 0, "duplicates": len(batches[1])}
    listing = httpx.get(
        f"{server.base_url}/accounts/{tenant.account_id}/realtime/kit/{tenant.app_id}/sessions",
        headers=auth,
    )
    assert listing.status_code == 200
    # A method HTTP parsers know (WebDAV's) that no route takes; one they do not know (BREW)
    # never reaches the app: httptools answers 400 itself.
    odd = httpx.request("PROPFIND", f"{server.url}/no/such/{tenant.app_id}", headers=auth)
    assert odd.status_code == 404
    malformed = httpx.post(ingest_url(tenant), content=b"{not json", headers=auth)
    assert malformed.status_code == 400
    anonymous = httpx.post(ingest_url(tenant), json={"events": batches[0]})
    assert anonymous.status_code == 401
    after, text = scrape(server)

    with server.database().unit_of_work(write=False) as s:
        stored_rows = s.scalar(
            select(func.sum(SampleBlock.row_count)).where(SampleBlock.app_id == tenant.app_id)
        )
        live_sessions = s.scalar(
            select(func.count())
            .select_from(Session)
            .where(Session.status == LIVE, Session.parent_session_id.is_(None))
        )
    assert stored_rows and stored_rows > 0
    acknowledged = len(batches) + 1
    assert delta(before, after, "rtk_ingest_batches_acknowledged_total") == acknowledged
    assert delta(before, after, "rtk_ingest_events_total", outcome="accepted") == len(events)
    assert delta(before, after, "rtk_ingest_events_total", outcome="duplicate") == len(batches[1])
    assert delta(before, after, "rtk_ingest_samples_total") == stored_rows
    assert delta(before, after, "rtk_ingest_batches_rejected_total", reason="400") == 1
    assert delta(before, after, "rtk_ingest_batches_rejected_total", reason="401") == 1
    requests = "rtk_http_requests_total"
    assert delta(before, after, requests, method="POST", route=INGEST, status="200") == acknowledged
    assert delta(before, after, requests, method="POST", route=INGEST, status="400") == 1
    assert delta(before, after, requests, method="POST", route=INGEST, status="401") == 1
    assert delta(before, after, requests, method="GET", route=SESSIONS, status="200") == 1
    latency = "rtk_http_request_duration_seconds_count"
    assert delta(before, after, latency, method="POST", route=INGEST) == acknowledged + 2
    assert delta(before, after, latency, method="GET", route=SESSIONS) == 1
    inf = "rtk_http_request_duration_seconds_bucket"
    assert delta(before, after, inf, method="GET", route=SESSIONS, le="+Inf") == 1
    # Unknown paths and methods fall into bounded labels.
    assert delta(before, after, requests, method="other", route="unmatched", status="404") == 1
    # Gauges read from the database at scrape time.
    assert live_sessions == 1
    assert value(after, "rtk_sessions_live") == live_sessions
    assert value(after, "rtk_database_scrape_error") == 0
    # Labels name route templates: no id, token or raw path.
    for secret in (tenant.app_id, tenant.account_id, tenant.token, peer_id, session_id):
        assert secret not in text

    # The sweeper ends the session (keep-alive 0): one run counted, the gauge follows.
    assert server.sweep() == [session_id]
    swept, _ = scrape(server)
    # At least: the counter is per process, and other in-process servers' sweepers (the suite's
    # live_server) add theirs (test_serve checks it in a process of its own).
    assert delta(after, swept, "rtk_sweeper_runs_total") >= 1
    assert value(swept, "rtk_sessions_live") == 0


def test_job_metrics(make_database: MakeDatabase, serve: Serve) -> None:
    """Queue depth and failed jobs from the ``jobs`` table; failed attempts counted by kind."""
    server = serve(make_database("head"))
    db = server.database()
    kind = f"op-test-{uuid.uuid4().hex[:6]}"
    before, _ = scrape(server)
    with db.unit_of_work() as s:
        for key in ("a", "b"):
            enqueue(s, kind, key, now=utc_now(), max_attempts=2)
    queued, _ = scrape(server)
    assert value(queued, "rtk_jobs", status="queued") == 2

    def broken(job: JobRow) -> None:
        raise RuntimeError("handler broke")

    runner = JobRunner(db, {kind: broken}, JobSettings(backoff_secs=0.001, backoff_max_secs=0.001))
    attempts = 0
    deadline = time.monotonic() + 60
    while True:  # every attempt fails: 2 jobs × 2 attempts, then both are failed
        with db.unit_of_work(write=False) as s:
            left = s.scalar(select(func.count()).select_from(JobRow).where(JobRow.status == QUEUED))
        if not left:
            break
        assert time.monotonic() < deadline, "jobs not run"
        if runner.run_one():
            attempts += 1
        else:
            time.sleep(0.01)  # waiting out the retry backoff
    after, _ = scrape(server)
    with db.unit_of_work(write=False) as s:
        failed = s.scalar(select(func.count()).select_from(JobRow).where(JobRow.status == FAILED))
    assert (attempts, failed) == (4, 2)
    failures = "rtk_job_failures_total"
    assert delta(before, after, failures, kind=kind, final="false") == 2
    assert delta(before, after, failures, kind=kind, final="true") == 2
    assert value(after, "rtk_jobs", status="queued") == 0
    assert value(after, "rtk_jobs", status="failed") == failed


def test_sweeper_failures_counted(
    make_database: MakeDatabase, serve: Serve, tmp_path: Path
) -> None:
    from rtk_sessions.config import Settings

    server = serve(make_database("head"))
    settings = Settings(
        data_dir=tmp_path / "sweeper", database_url=server.database_url, sweep_interval_secs=0.02
    )
    sweeper = Sweeper(server.database(), settings)
    calls = 0
    enough = threading.Event()

    def failing() -> list[str]:
        nonlocal calls
        calls += 1
        if calls >= 3:
            enough.set()
        raise RuntimeError("database went away")

    sweeper.run_once = failing  # type: ignore[method-assign]
    before, _ = scrape(server)
    sweeper.start()
    assert enough.wait(60), "the sweeper stopped after a failure"
    sweeper.stop()
    after, _ = scrape(server)
    assert delta(before, after, "rtk_sweeper_failures_total") == calls


@pytest.mark.parametrize("enabled", [True, False])
def test_metrics_switch(make_database: MakeDatabase, serve: Serve, enabled: bool) -> None:
    server = serve(make_database("head"), metrics=enabled)
    response = httpx.get(f"{server.url}/metrics")
    assert response.status_code == (200 if enabled else 404)
    assert ("/metrics" in httpx.get(f"{server.url}/openapi.json").json()["paths"]) is enabled
    # Request ids are independent of metrics.
    assert httpx.get(f"{server.url}/healthz").headers["X-Request-ID"]


def test_unhandled_error_counted_with_request_id(
    make_database: MakeDatabase, tmp_path: Path
) -> None:
    """A handler that raises: a 500 in the envelope, counted as 500 under its route, with the
    request id in the response like any other answer."""
    from fastapi.testclient import TestClient

    from rtk_sessions.app import create_app
    from rtk_sessions.config import Settings

    app = create_app(
        Settings(data_dir=tmp_path / "data", database_url=make_database("head")), background=False
    )

    def boom() -> None:
        raise RuntimeError("a bug")

    app.add_api_route("/boom/{thing_id}", boom)
    with TestClient(app, raise_server_exceptions=False) as client:
        before = parse_metrics(client.get("/metrics").text)
        response = client.get("/boom/secret-id-1", headers={"X-Request-ID": "boom-1"})
        after = parse_metrics(client.get("/metrics").text)
    assert response.status_code == 500
    assert response.json()["success"] is False
    assert response.headers["X-Request-ID"] == "boom-1"
    labels = {"method": "GET", "route": "/boom/{thing_id}", "status": "500"}
    assert delta(before, after, "rtk_http_requests_total", **labels) == 1
