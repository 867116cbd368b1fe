"""``rtk-sessions serve`` as operators run it: JSON log lines with request ids and no secrets
(``RTK_LOG_FORMAT=json``), and ``--workers 2`` whose ``/metrics`` sums both workers (Prometheus
multiprocess mode in a fresh directory the parent removes on exit). SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from prometheus_client.multiprocess import MultiProcessCollector

from rtk_sessions.domain import accounts
from rtk_sessions.storage.engine import Database
from tests.operator.conftest import MakeDatabase, parse_metrics, value

SECRET = "operator-test-secret-0123456789abcdef"


@dataclass
class Served:
    url: str
    log: Path
    proc: subprocess.Popen[bytes]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def serve_process(tmp_path: Path) -> Iterator[Callable[..., Served]]:
    """``start(database_url, *args, **env)``: ``python -m rtk_sessions serve`` on a free port,
    its output in a file, waited for until /readyz answers 200; stopped after the test."""
    started: list[Served] = []

    def start(database_url: str, *args: str, **env: str) -> Served:
        port = free_port()
        log = tmp_path / f"serve-{len(started)}.log"
        proc = subprocess.Popen(
            [sys.executable, "-m", "rtk_sessions", "serve", "--port", str(port), *args],
            env={
                **os.environ,
                "RTK_DATABASE_URL": database_url,
                "RTK_DATA_DIR": str(tmp_path / "data"),
                "RTK_SECRET_KEY": SECRET,
                **env,
            },
            stdout=log.open("wb"),  # uvicorn's access log goes to stdout, the rest to stderr
            stderr=subprocess.STDOUT,
        )
        served = Served(f"http://127.0.0.1:{port}", log, proc)
        started.append(served)
        deadline = time.monotonic() + 90
        while True:
            assert proc.poll() is None, f"serve exited:\n{log.read_text()}"
            assert time.monotonic() < deadline, f"serve not ready:\n{log.read_text()}"
            try:
                if httpx.get(f"{served.url}/readyz", timeout=2).status_code == 200:
                    return served
            except httpx.TransportError:
                pass
            time.sleep(0.1)

    yield start
    for served in started:
        served.stop()


def tenant_on(database_url: str) -> tuple[str, str, str]:
    db = Database(database_url)
    try:
        with db.unit_of_work() as s:
            account_id = uuid.uuid4().hex
            app = accounts.create_app(s, account_id, "ops")
            return account_id, app.id, accounts.create_token(s, account_id)
    finally:
        db.dispose()


def test_json_logs(make_database: MakeDatabase, serve_process: Callable[..., Served]) -> None:
    url = make_database("head")
    account_id, app_id, token = tenant_on(url)
    served = serve_process(url, "--log-level", "info", RTK_LOG_FORMAT="json")
    kit = f"{served.url}/client/v4/accounts/{account_id}/realtime/kit/{app_id}"
    signature = "c2lnbmF0dXJlLW9mLWEtZG93bmxvYWQ"
    sent: list[tuple[str, httpx.Response]] = []

    def get(path: str, **kwargs: object) -> httpx.Response:
        response = httpx.get(path, timeout=30, **kwargs)  # type: ignore[arg-type]
        sent.append((path, response))
        return response

    given = get(f"{served.url}/healthz", headers={"X-Request-ID": "op-log-1"})
    assert given.headers["X-Request-ID"] == "op-log-1"
    insane = get(f"{served.url}/healthz", headers={"X-Request-ID": "two words\tand a tab"})
    assert len(insane.headers["X-Request-ID"]) == 32  # replaced by a generated id
    generated = get(f"{served.url}/healthz")
    assert generated.headers["X-Request-ID"] != insane.headers["X-Request-ID"]
    assert get(f"{kit}/sessions", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    get(f"{kit}/sessions?token={token}&per_page=5")
    get(f"{served.url}/downloads/chat/x.csv?expires=1&sig={signature}")
    served.stop()

    text = served.log.read_text()
    assert token not in text and signature not in text
    lines = [json.loads(line) for line in text.splitlines() if line.strip()]
    for line in lines:
        assert {"time", "level", "logger", "message", "request_id"} <= set(line), line
    access = [
        line
        for line in lines
        if line["logger"] == "uvicorn.access" and line["path"] != "/readyz"  # start-up polls
    ]
    assert [line["request_id"] for line in access] == [r.headers["X-Request-ID"] for _, r in sent]
    assert [line["status"] for line in access] == [r.status_code for _, r in sent]
    assert access[4]["path"].count("[redacted]") == 1
    assert access[5]["path"].count("[redacted]") == 1
    # Outside requests (start-up, shutdown) there is no request id.
    assert any(line["request_id"] is None for line in lines if line["logger"] != "uvicorn.access")


def per_process_counts(metrics_dir: Path, route: str) -> dict[str, float]:
    """GET ``route`` 200 answers counted by each worker (one counter file per pid)."""
    out = {}
    for path in sorted(metrics_dir.glob("counter_*.db")):
        total = 0.0
        for family in MultiProcessCollector.merge([str(path)], accumulate=True):  # type: ignore[no-untyped-call]
            for sample in family.samples:
                if sample.name == "rtk_http_requests_total" and sample.labels == {
                    "method": "GET",
                    "route": route,
                    "status": "200",
                }:
                    total += sample.value
        out[path.stem.removeprefix("counter_")] = total
    return out


def test_workers_metrics_summed(
    make_database: MakeDatabase, serve_process: Callable[..., Served], tmp_path: Path
) -> None:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    served = serve_process(
        make_database("head"), "--workers", "2", TMPDIR=str(tmp), RTK_SWEEP_INTERVAL_SECS="0.2"
    )
    (metrics_dir,) = tmp.glob("rtk-metrics-*")
    sent = 0

    def hit(_: int) -> None:
        assert httpx.get(f"{served.url}/healthz", timeout=30).status_code == 200

    with ThreadPoolExecutor(8) as pool:
        for _ in range(20):  # until both workers have answered some (fresh connections)
            list(pool.map(hit, range(16)))
            sent += 16
            counts = per_process_counts(metrics_dir, "/healthz")
            if sum(1 for n in counts.values() if n > 0) >= 2:
                break
    # A request is counted just after its answer is sent: wait for the last ones.
    deadline = time.monotonic() + 30
    while sum((counts := per_process_counts(metrics_dir, "/healthz")).values()) < sent:
        assert time.monotonic() < deadline, (counts, sent)
        time.sleep(0.05)
    assert sum(1 for n in counts.values() if n > 0) == 2, counts
    assert sum(counts.values()) == sent
    for _ in range(6):  # each scrape, whichever worker answers it, sums both
        response = httpx.get(f"{served.url}/metrics", timeout=30)
        samples = parse_metrics(response.text)
        healthz = {"method": "GET", "route": "/healthz", "status": "200"}
        assert value(samples, "rtk_http_requests_total", **healthz) == sent
        assert value(samples, "rtk_sessions_live") == 0
    # One of the workers leads and sweeps (every 0.2 s here); none failed.
    deadline = time.monotonic() + 30
    while value(samples, "rtk_sweeper_runs_total") == 0:
        assert time.monotonic() < deadline, "no sweep counted"
        time.sleep(0.2)
        samples = parse_metrics(httpx.get(f"{served.url}/metrics", timeout=30).text)
    assert value(samples, "rtk_sweeper_failures_total") == 0
    served.stop()
    assert not metrics_dir.exists()
