"""The production-fleet benchmark (issue 7): the real server over HTTP, SQLite and PostgreSQL.

    .venv/bin/python bench/run.py [--sizes 10k,100k,1M] [--databases sqlite,postgresql] [--quick]
                                  [--postgres-url postgresql://postgres@127.0.0.1:5432/postgres]
                                  [--json results.json]

For each database, one after the other: create an empty database (PostgreSQL: a database of its
own on the ``--postgres-url`` server, dropped at the end; SQLite: a file in a temporary
``RTK_DATA_DIR``), start ``rtk-sessions serve`` on 127.0.0.1 as a subprocess (with
``--workers 2`` when the command has that option), create apps and an API token with the CLI, then:

1. ingest over HTTP: batches of real recorded clients (``bench/payloads.py``), 1 and 8 concurrent
   clients, 100-event and 1-event batches; samples/s from the known sample rows per event. Server
   CPU (utime+stime of its processes, ``/proc/<pid>/stat``) over the 100-event runs ÷ samples.
   Database growth over all ingest runs ÷ samples. The floor: the same number of rows, ~20 typed
   columns each, bulk-loaded into a plain table (PostgreSQL ``COPY``, SQLite ``executemany``, one
   transaction); ingest ÷ floor. Then stored == sent is checked through the API.
2. lifecycle events over HTTP: peer.joined/peer.left of 10 peers in each of 50 sessions per
   1000-event batch, 4 clients; events/s.
3. a two-hour peer (3,600 reports of 2 s, about 14,400 sample rows) ingested into a seeded app,
   then for each size: ``bench/seed.py`` grows that app to the size, and sequential requests time
   the session list (default, ``sort_by=minutesConsumed``, ``status=ENDED``, ``search``, a 7-day
   ``start_time``/``end_time`` window, a deep page at offset size/2), session details, participants
   and the two-hour peer's report: p50/p99 in ms, and each p99 ÷ that of the first size.
4. list-sessions requests/s ÷ ``GET /healthz`` requests/s, same concurrency and duration.
5. peak RSS (``VmHWM``) of the server processes at the end.

Every loop is bounded in count and in time (each makes at least one request, and an ingest run
at least one that carries samples); only 127.0.0.1 is contacted. Targets are issue 7's.
``--json`` writes every figure as ``{database: {key: value}}``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine, create_engine, text

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "src"))

import seed as seeder  # noqa: E402
from payloads import Payloads, long_peer  # noqa: E402

from rtk_sessions import migrations  # noqa: E402
from rtk_sessions.config import normalize_database_url  # noqa: E402

CLI = Path(sys.executable).parent / "rtk-sessions"
ACCOUNT = "bench"
KIT = f"/client/v4/accounts/{ACCOUNT}/realtime/kit"
PER_PAGE = 25
CLK_TCK = os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------- settings


@dataclass(frozen=True)
class Plan:
    """How long and how many: the full run, or ``--quick`` (a smoke run, not a measurement)."""

    ingest_secs: float = 10.0
    ingest_max_batches: int = 2_000  # per client
    lifecycle_secs: float = 8.0
    lifecycle_max_batches: int = 200
    lifecycle_sessions: int = 50  # per batch, 10 peers each: 20 events per session
    latency_requests: int = 200  # per query
    latency_secs: float = 20.0  # per query
    # A nearest-rank p99 of n requests is their maximum when n < 100: 200 make it the third
    # largest, a percentile rather than one pause of a shared machine.
    report_requests: int = 200
    rate_secs: float = 5.0
    rate_clients: int = 4
    rate_max_requests: int = 100_000
    long_peer_reports: int = 3_600

    @classmethod
    def quick(cls) -> Plan:
        return cls(
            ingest_secs=1.0,
            ingest_max_batches=30,
            lifecycle_secs=1.0,
            lifecycle_max_batches=3,
            lifecycle_sessions=5,
            latency_requests=10,
            latency_secs=3.0,
            report_requests=3,
            rate_secs=0.5,
            long_peer_reports=120,
        )


def extract_src(rev: str, into: Path) -> Path:
    """The ``src/`` of git revision ``rev`` of this repository, extracted under ``into``
    (``git archive``): a base to compare with, run with ``PYTHONPATH`` of the returned path."""
    into.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(
        ["git", "-C", str(HERE.parent), "archive", rev, "src"], capture_output=True, check=True
    )
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
    return into / "src"


# ---------------------------------------------------------------- the server


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _has_workers_option() -> bool:
    out = subprocess.run([str(CLI), "serve", "--help"], capture_output=True, text=True, check=True)
    return "--workers" in out.stdout


def processes() -> Iterator[tuple[int, str, list[str]]]:
    """(pid, command name, the ``/proc/<pid>/stat`` fields after the name: state, ppid, …) of
    every process of this machine that can still be read."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        end = stat.rindex(")")
        yield int(entry.name), stat[stat.index("(") + 1 : end], stat[end + 2 :].split()


def _children(pid: int) -> list[int]:
    return [child for child, _, fields in processes() if int(fields[1]) == pid]


class Server:
    """``rtk-sessions serve`` as a subprocess; its processes' CPU time and peak RSS from /proc."""

    def __init__(self, database_url: str, data_dir: Path, workers: int) -> None:
        self.database_url, self.data_dir, self.workers = database_url, data_dir, workers
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = data_dir / "server.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["RTK_DATA_DIR"] = str(self.data_dir)
        # Seeded LIVE sessions have a peer in the call: keep the sweeper from leaving it mid-run.
        env["RTK_PEER_TIMEOUT_SECS"] = "86400"
        env.pop("RTK_DATABASE_URL", None)
        return env

    def cli(self, *args: str) -> Any:
        """Run ``rtk-sessions ARGS --database-url URL --json``; returns the parsed JSON."""
        cmd = [str(CLI), *args, "--database-url", self.database_url, "--json"]
        out = subprocess.run(cmd, capture_output=True, text=True, env=self.env(), check=True)
        return json.loads(out.stdout)

    def start(
        self,
        *,
        prefix: Sequence[str] = (),
        env: dict[str, str] | None = None,
        timeout: float = 90.0,
    ) -> None:
        """Start ``rtk-sessions serve`` and wait until it answers ``/healthz`` (and all its workers
        are up). prefix: a command to run it under (``valgrind …``); env: variables on top of
        ``self.env()``; timeout: seconds to wait for it. raises RuntimeError."""
        cmd = [*prefix, str(CLI), "serve", "--host", "127.0.0.1", "--port", str(self.port)]
        cmd += ["--database-url", self.database_url, "--log-level", "warning"]
        if self.workers > 1:
            cmd += ["--workers", str(self.workers)]
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                cmd, stdout=log, stderr=subprocess.STDOUT, env=self.env() | (env or {})
            )
        deadline = time.monotonic() + timeout
        with httpx.Client(base_url=self.base, trust_env=False, timeout=2) as client:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"server exited: {self.log.read_text()[-2000:]}")
                try:
                    if client.get("/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.2)
            else:
                raise RuntimeError(f"server did not answer /healthz within {timeout:.0f} s")
        if self.workers > 1:  # wait until every worker process is up
            while time.monotonic() < deadline and len(self.pids()) <= self.workers:
                time.sleep(0.2)

    def pids(self) -> list[int]:
        assert self.proc is not None
        todo, seen = [self.proc.pid], []
        while todo:
            pid = todo.pop()
            seen.append(pid)
            todo += _children(pid)
        return seen

    def worker_pids(self) -> list[int]:
        """The processes that serve requests: the children with --workers, else the main one."""
        assert self.proc is not None
        if self.workers <= 1:
            return [self.proc.pid]
        tree = self.pids()[1:]  # descendants: uvicorn's spawned workers, or forked ones
        return [p for p in tree if "resource_tracker" not in _cmdline(p)] or [self.proc.pid]

    def cpu_seconds(self) -> float:
        """utime + stime of all the server's processes, in seconds."""
        total = 0
        for pid in self.pids():
            try:
                stat = Path(f"/proc/{pid}/stat").read_text()
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2 :].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15)
        return total / CLK_TCK

    def peak_rss_mb(self) -> float:
        """The largest ``VmHWM`` of the worker processes, in MB (10^6 bytes)."""
        peaks = []
        for pid in self.worker_pids():
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peaks.append(int(line.split()[1]) * 1024 / 1e6)
        return max(peaks)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


# ---------------------------------------------------------------- databases


@dataclass
class Database:
    """One database under test: its URL for the server and a SQLAlchemy engine for sizes."""

    name: str
    url: str
    data_dir: Path
    drop: Callable[[], None] = lambda: None

    def engine(self) -> Engine:
        return create_engine(normalize_database_url(self.url))


@contextmanager
def database(name: str, postgres_url: str) -> Iterator[Database]:
    data_dir = Path(tempfile.mkdtemp(prefix=f"rtk-bench-{name}-"))
    try:
        if name == "sqlite":
            yield Database(name, f"sqlite:///{data_dir / 'rtk.db'}", data_dir)
            return
        dbname = f"rtk_bench_{os.getpid()}"
        admin = create_engine(normalize_database_url(postgres_url), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{dbname}"')
            conn.exec_driver_sql(f'CREATE DATABASE "{dbname}"')
        base, _, _ = postgres_url.rpartition("/")
        try:
            yield Database(name, f"{base}/{dbname}", data_dir)
        finally:
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
            admin.dispose()
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


def database_bytes(db: Database, *, vacuum: bool = True) -> int:
    """Bytes used by every table and index (PostgreSQL after VACUUM unless ``vacuum`` is False;
    SQLite after a checkpoint)."""
    engine = db.engine()
    try:
        if db.name == "postgresql":
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                if vacuum:
                    conn.exec_driver_sql("VACUUM")
                return int(
                    conn.execute(
                        text(
                            "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c"
                            " JOIN pg_namespace n ON n.oid = c.relnamespace"
                            " WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p', 'm')"
                        )
                    ).scalar_one()
                )
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            pages = conn.exec_driver_sql("PRAGMA page_count").scalar_one()
            free = conn.exec_driver_sql("PRAGMA freelist_count").scalar_one()
            size = conn.exec_driver_sql("PRAGMA page_size").scalar_one()
            return int((pages - free) * size)
    finally:
        engine.dispose()


FLOOR_COLUMNS = (
    ("ts", "timestamp", "TIMESTAMPTZ"), ("peer", "int", "BIGINT"), ("stream", "int", "BIGINT"),
    ("kind", "int", "SMALLINT"), ("ssrc", "int", "BIGINT"), ("packets", "int", "BIGINT"),
    ("bytes", "int", "BIGINT"), ("packets_lost", "int", "BIGINT"), ("nacks", "int", "INTEGER"),
    ("plis", "int", "INTEGER"), ("firs", "int", "INTEGER"), ("frames", "int", "BIGINT"),
    ("frames_dropped", "int", "INTEGER"), ("key_frames", "int", "INTEGER"),
    ("jitter", "float", "DOUBLE PRECISION"), ("rtt", "float", "DOUBLE PRECISION"),
    ("fps", "float", "DOUBLE PRECISION"), ("bitrate", "float", "DOUBLE PRECISION"),
    ("audio_level", "float", "DOUBLE PRECISION"), ("loss_pct", "float", "DOUBLE PRECISION"),
)  # fmt: skip


def floor_rows_per_sec(db: Database, rows: int) -> float:
    """Bulk-load ``rows`` rows of 20 typed columns into a new plain table; rows/s (table dropped).

    PostgreSQL: ``COPY … FROM STDIN`` through psycopg into a table of the database under test;
    SQLite: ``executemany`` in one transaction into a new file beside it, with the server's pragmas
    (WAL, synchronous=NORMAL). Rows are built before the clock starts.
    """
    rng = random.Random(1)
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    pool: list[tuple[Any, ...]] = []
    for i in range(min(rows, 10_000)):
        ts = t0 + timedelta(seconds=2 * i)
        values: list[Any] = [ts if db.name == "postgresql" else ts.isoformat(" ")]
        for _, _, pg in FLOOR_COLUMNS[1:]:
            limit = {"SMALLINT": 1 << 3, "INTEGER": 1 << 20, "BIGINT": 1 << 40}.get(pg)
            values.append(rng.randrange(limit) if limit else rng.random() * 100)
        pool.append(tuple(values))
    data = [pool[i % len(pool)] for i in range(rows)]
    if db.name == "postgresql":
        engine = db.engine()
        ddl = ", ".join(f"{n} {pg}" for n, _, pg in FLOOR_COLUMNS)
        names = ", ".join(n for n, _, _ in FLOOR_COLUMNS)
        raw = engine.raw_connection()
        try:
            conn: Any = raw.driver_connection
            conn.execute(f"CREATE TABLE bench_floor ({ddl})")
            conn.commit()
            began = time.perf_counter()
            with conn.cursor() as cur, cur.copy(f"COPY bench_floor ({names}) FROM STDIN") as copy:
                for row in data:
                    copy.write_row(row)
            conn.commit()
            seconds = time.perf_counter() - began
            conn.execute("DROP TABLE bench_floor")
            conn.commit()
        finally:
            raw.close()
            engine.dispose()
        return rows / seconds
    import sqlite3

    path = db.data_dir / "floor.db"
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        types = {"timestamp": "TEXT", "int": "INTEGER", "float": "REAL"}
        conn.execute(
            "CREATE TABLE bench_floor ("
            + ", ".join(f"{n} {types[k]}" for n, k, _ in FLOOR_COLUMNS)
            + ")"
        )
        marks = ", ".join("?" for _ in FLOOR_COLUMNS)
        began = time.perf_counter()
        conn.execute("BEGIN")
        conn.executemany(f"INSERT INTO bench_floor VALUES ({marks})", data)
        conn.execute("COMMIT")
        seconds = time.perf_counter() - began
    finally:
        conn.close()
        path.unlink(missing_ok=True)
    return rows / seconds


# ---------------------------------------------------------------- HTTP load


def _client(server: Server, token: str) -> httpx.Client:
    return httpx.Client(
        base_url=server.base,
        headers={"authorization": f"Bearer {token}", "content-type": "application/json"},
        trust_env=False,
        timeout=120,
    )


@dataclass
class Load:
    """What concurrent senders did: totals and wall time."""

    requests: int = 0
    events: int = 0
    samples: int = 0
    seconds: float = 0.0
    cpu_seconds: float = 0.0
    errors: list[str] = field(default_factory=list)


def _run_clients(
    server: Server, clients: int, secs: float, work: Callable[[int, float, Load], None]
) -> Load:
    """Run ``work(client index, deadline, totals)`` in ``clients`` threads; time and server CPU."""
    total = Load()
    lock = threading.Lock()
    barrier = threading.Barrier(clients + 1)

    def body(index: int) -> None:
        mine = Load()
        barrier.wait()
        try:
            work(index, time.perf_counter() + secs, mine)
        except Exception as exc:  # reported, and fails the run below
            mine.errors.append(repr(exc))
        with lock:
            total.requests += mine.requests
            total.events += mine.events
            total.samples += mine.samples
            total.errors += mine.errors

    threads = [threading.Thread(target=body, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    cpu = server.cpu_seconds()
    barrier.wait()
    began = time.perf_counter()
    for t in threads:
        t.join()
    total.seconds = time.perf_counter() - began
    total.cpu_seconds = server.cpu_seconds() - cpu
    if total.errors:
        raise RuntimeError(f"{len(total.errors)} failed requests, first: {total.errors[0]}")
    return total


def _post(client: httpx.Client, path: str, body: bytes, events: int) -> None:
    response = client.post(path, content=body)
    if response.status_code != 200:
        raise RuntimeError(f"ingest answered {response.status_code}: {response.text[:300]}")
    data = response.json()["data"]
    if data["accepted"] != events or data["duplicates"]:
        raise RuntimeError(f"ingest accepted {data} of {events} events")


def ingest_load(
    server: Server,
    token: str,
    app_id: str,
    payloads: Payloads,
    run: str,
    clients: int,
    batch: int,
    plan: Plan,
) -> Load:
    """Real recorded clients' events in ``batch``-event requests from ``clients`` threads."""
    path = f"{KIT}/{app_id}/ingest"

    def work(index: int, deadline: float, load: Load) -> None:
        batches = payloads.batches(f"{run}-{index}", batch)
        with _client(server, token) as client:
            # until the deadline, and past it until a sample went (the first events of a
            # recording carry none); never more than ingest_max_batches
            while load.requests < plan.ingest_max_batches and (
                time.perf_counter() < deadline or not load.samples
            ):
                b = next(batches)
                _post(client, path, b.body, b.events)
                load.requests += 1
                load.events += b.events
                load.samples += b.samples

    return _run_clients(server, clients, plan.ingest_secs, work)


def lifecycle_load(server: Server, token: str, app_id: str, run: str, plan: Plan) -> Load:
    """peer.joined then peer.left of 10 peers in each of 50 sessions per 1000-event batch."""
    path = f"{KIT}/{app_id}/ingest"
    t0 = 1_780_000_000_000

    def work(index: int, deadline: float, load: Load) -> None:
        n = 0
        with _client(server, token) as client:
            while load.requests < plan.lifecycle_max_batches and (
                not load.requests or time.perf_counter() < deadline
            ):
                events = []
                for s in range(plan.lifecycle_sessions):
                    tag = f"{run}-{index}-{n}-{s}"
                    for p in range(10):
                        events.append(
                            {"id": f"{tag}-{p}:j", "type": "peer.joined", "peer_id": f"{tag}-{p}",
                             "timestamp": t0 + p * 1000, "meeting_id": f"m-{tag}",
                             "session_id": f"s-{tag}", "meeting_title": "lifecycle",
                             "participant": {"display_name": f"Peer {p}"}}
                        )  # fmt: skip
                    for p in range(10):
                        events.append(
                            {"id": f"{tag}-{p}:l", "type": "peer.left", "peer_id": f"{tag}-{p}",
                             "timestamp": t0 + 600_000 + p * 1000}
                        )  # fmt: skip
                _post(client, path, json.dumps({"events": events}).encode(), len(events))
                n += 1
                load.requests += 1
                load.events += len(events)

    return _run_clients(server, 4, plan.lifecycle_secs, work)


def ingest_long_peer(
    server: Server, token: str, app_id: str, payloads: Payloads, plan: Plan
) -> str:
    """Ingest the two-hour peer (in 100-event batches) into ``app_id``; returns its peer id."""
    start = (datetime.now(UTC) - timedelta(hours=3)).timestamp() * 1000
    events = long_peer(payloads, "two-hours", start, reports=plan.long_peer_reports)
    with _client(server, token) as client:
        for i in range(0, len(events), 100):
            chunk = events[i : i + 100]
            _post(
                client, f"{KIT}/{app_id}/ingest", json.dumps({"events": chunk}).encode(), len(chunk)
            )
    return "p-two-hours"


def sample_rows(server: Server, token: str, app_id: str, peer_id: str) -> int:
    """Sample rows of a peer, counted in its peer report (the 8 quality arrays)."""
    with _client(server, token) as client:
        response = client.get(f"{KIT}/{app_id}/sessions/peer-report/{peer_id}")
        response.raise_for_status()
    quality = response.json()["data"]["participant"]["peer_report"].get("quality", {})
    return sum(len(v) for k, v in quality.items() if isinstance(v, list))


def latencies(
    server: Server, token: str, paths: Sequence[str], count: int, secs: float
) -> list[float]:
    """Sequential GETs cycling over ``paths`` (at most ``count`` or ``secs``); times in ms."""
    times: list[float] = []
    with _client(server, token) as client:
        client.get(paths[0]).raise_for_status()  # warm the connection
        deadline = time.perf_counter() + secs
        while len(times) < count and (not times or time.perf_counter() < deadline):
            path = paths[len(times) % len(paths)]
            began = time.perf_counter()
            response = client.get(path)
            times.append((time.perf_counter() - began) * 1000)
            if response.status_code != 200:
                raise RuntimeError(f"GET {path}: {response.status_code} {response.text[:300]}")
    return times


def request_rate(server: Server, token: str, path: str, plan: Plan) -> float:
    """Requests/s of ``plan.rate_clients`` threads GETting ``path`` for ``plan.rate_secs``."""
    budget = plan.rate_max_requests // plan.rate_clients

    def work(_: int, deadline: float, load: Load) -> None:
        with _client(server, token) as client:
            while load.requests < budget and (not load.requests or time.perf_counter() < deadline):
                response = client.get(path)
                if response.status_code != 200:
                    raise RuntimeError(f"GET {path}: {response.status_code}")
                load.requests += 1

    load = _run_clients(server, plan.rate_clients, plan.rate_secs, work)
    return load.requests / load.seconds


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in 0..100)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


# ---------------------------------------------------------------- the suite


def list_queries(size: int, now: datetime) -> dict[str, list[str]]:
    """The session-list requests timed at ``size`` seeded sessions, by row key."""
    words = ("retro", "kickoff", "standup", "townhall", "incident")
    windows = []
    for k in range(5):
        end = now - timedelta(days=30 + 17 * k)
        start = end - timedelta(days=7)
        windows.append(
            f"start_time={start.strftime('%Y-%m-%dT%H:%M:%SZ')}"
            f"&end_time={end.strftime('%Y-%m-%dT%H:%M:%SZ')}"
        )
    deep = max(1, size // 2 // PER_PAGE)
    return {
        "default": [""],
        "sort_minutes": ["?sort_by=minutesConsumed"],
        "status_ended": ["?status=ENDED"],
        "search": [f"?search={w}" for w in words],
        "time_range": [f"?{w}" for w in windows],
        "deep_page": [f"?page_no={deep + k}&per_page={PER_PAGE}" for k in range(3)],
    }


LIST_LABELS = {
    "default": "list sessions, default",
    "sort_minutes": "list sessions, sort_by=minutesConsumed",
    "status_ended": "list sessions, status=ENDED",
    "search": "list sessions, search=<title word>",
    "time_range": "list sessions, 7-day start/end_time",
    "deep_page": "list sessions, deep page (offset size/2)",
    "details": "session details",
    "participants": "participants of a session",
    "peer_report": "peer report of the 2-hour peer",
}


def run_database(
    db: Database, sizes: Sequence[int], plan: Plan, payloads: Payloads
) -> dict[str, Any]:
    """Everything for one database; returns ``{key: value}``."""
    out: dict[str, Any] = {}
    # Two workers on both databases: on SQLite they share its one write lock, taken only after a
    # batch's getStats pass (api.ingest.apply_batch), so one parses while the other writes.
    workers = 2 if _has_workers_option() else 1
    out["workers"] = workers
    migrations.upgrade(normalize_database_url(db.url))
    server = Server(db.url, db.data_dir, workers)
    server.start()
    try:
        token = server.cli("tokens", "create", "--account", ACCOUNT, "--name", "bench")["token"]
        ingest_app = server.cli("apps", "create", "--account", ACCOUNT, "--name", "ingest")["id"]
        seeded_app = server.cli("apps", "create", "--account", ACCOUNT, "--name", "seeded")["id"]
        _log(f"{db.name}: server on {server.base}, {workers} worker(s)")

        # 1. ingest
        before = database_bytes(db)
        samples_100 = cpu_100 = 0.0
        for clients, batch in ((1, 100), (8, 100), (1, 1), (8, 1)):
            key = f"ingest_{clients}c_{batch}e"
            load = ingest_load(server, token, ingest_app, payloads, key, clients, batch, plan)
            out[key] = load.samples / load.seconds
            out[key + "_samples"] = load.samples
            if batch == 100:
                samples_100 += load.samples
                cpu_100 += load.cpu_seconds
            _log(
                f"{db.name}: {key}: {load.samples:,} samples, {load.requests:,} requests"
                f" in {load.seconds:.1f} s"
            )
        after = database_bytes(db)
        total = sum(out[f"ingest_{c}c_{b}e_samples"] for c in (1, 8) for b in (100, 1))
        out["bytes_per_sample"] = (after - before) / total
        out["cpu_us_per_sample"] = cpu_100 / samples_100 * 1e6
        best = max(out["ingest_1c_100e"], out["ingest_8c_100e"])
        floor_rows = int(max(out["ingest_1c_100e_samples"], out["ingest_8c_100e_samples"]))
        out["floor"] = floor_rows_per_sec(db, floor_rows)
        out["ingest_vs_floor"] = best / out["floor"]
        # stored == sent: the first instance of client 0 of the 8-client run is template 0, whole
        expected = sum(payloads.templates[0].samples)
        stored = sample_rows(server, token, ingest_app, "p-ingest_8c_100e-0-0")
        out["stored_matches_sent"] = 1.0 if stored == expected else 0.0
        if stored != expected:
            _log(f"{db.name}: stored {stored} sample rows of p-ingest_8c_100e-0-0, sent {expected}")

        # 2. lifecycle
        load = lifecycle_load(server, token, ingest_app, "life", plan)
        out["lifecycle"] = load.events / load.seconds

        # 3. list latency per size
        peer = ingest_long_peer(server, token, seeded_app, payloads, plan)
        out["long_peer_rows"] = sample_rows(server, token, seeded_app, peer)
        seeded, session_ids = 0, []
        for size in sizes:
            result = seeder.seed(
                db.url, size - seeded, app_id=seeded_app, start=seeded, migrate=False
            )
            seeded = size
            session_ids += result.sample_session_ids
            out[f"seed_secs@{size}"] = result.seconds
            _log(
                f"{db.name}: seeded {size:,} sessions"
                f" (+{result.sessions:,} in {result.seconds:.1f} s)"
            )
            base = f"{KIT}/{seeded_app}/sessions"
            paths = {
                k: [base + q for q in v] for k, v in list_queries(size, datetime.now(UTC)).items()
            }
            rng = random.Random(size)
            picks = rng.sample(session_ids, min(50, len(session_ids)))
            paths["details"] = [f"{base}/{s}" for s in picks]
            paths["participants"] = [f"{base}/{s}/participants" for s in picks]
            paths["peer_report"] = [f"{base}/peer-report/{peer}"]
            for key, urls in paths.items():
                count = plan.report_requests if key == "peer_report" else plan.latency_requests
                times = latencies(server, token, urls, count, plan.latency_secs)
                out[f"{key}_p50@{size}"] = percentile(times, 50)
                out[f"{key}_p99@{size}"] = percentile(times, 99)
            _log(f"{db.name}: latencies at {size:,} done")

        # 4. list vs bare endpoint
        largest = sizes[-1]
        list_rate = request_rate(server, token, f"{KIT}/{seeded_app}/sessions", plan)
        bare_rate = request_rate(server, token, "/healthz", plan)
        out[f"list_rps@{largest}"], out["healthz_rps"] = list_rate, bare_rate
        out[f"list_vs_healthz@{largest}"] = list_rate / bare_rate

        # 5. memory
        out["peak_rss_mb"] = server.peak_rss_mb()
    finally:
        server.stop()
    return out


# ---------------------------------------------------------------- the report


@dataclass(frozen=True)
class Target:
    """``value op bound``; ``ratio`` is value/bound (≥) or bound/value (≤): ≥ 1 passes."""

    op: str
    bound: float

    def ratio(self, value: float) -> float:
        if self.op == ">=":
            return value / self.bound
        return self.bound / value if value else math.inf

    def text(self, unit_fmt: str) -> str:
        return ("≥ " if self.op == ">=" else "≤ ") + format(self.bound, unit_fmt)


@dataclass(frozen=True)
class Row:
    """A printed row: label, result key, number format, and a target per database (or none)."""

    label: str
    key: str
    fmt: str
    targets: dict[str, Target] = field(default_factory=dict)
    second: str | None = None  # a second key shown as "a / b" (p50 / p99: p99 is judged)


def _both(op: str, bound: float) -> dict[str, Target]:
    return {"sqlite": Target(op, bound), "postgresql": Target(op, bound)}


def rows(sizes: Sequence[int]) -> list[Row]:
    """Every row of the main table (the largest size for latencies)."""
    n = sizes[-1]
    ingest = {"sqlite": Target(">=", 10_000), "postgresql": Target(">=", 20_000)}
    out = [
        Row("server worker processes", "workers", ".0f"),
        Row("ingest samples/s, 1 client, 100-event batches", "ingest_1c_100e", ",.0f", ingest),
        Row("ingest samples/s, 8 clients, 100-event batches", "ingest_8c_100e", ",.0f", ingest),
        Row("ingest samples/s, 1 client, 1-event batches", "ingest_1c_1e", ",.0f"),
        Row("ingest samples/s, 8 clients, 1-event batches", "ingest_8c_1e", ",.0f"),
        Row("floor: bulk load rows/s (20 typed columns)", "floor", ",.0f"),
        Row("ingest / floor (best 100-event run)", "ingest_vs_floor", ".3f", _both(">=", 0.1)),
        Row("lifecycle events/s (peer.joined/left)", "lifecycle", ",.0f", _both(">=", 5_000)),
        Row(
            "server CPU µs per sample (100-event runs)", "cpu_us_per_sample", ".1f", _both("<=", 60)
        ),
        Row(
            "database bytes per sample (all tables+indexes)",
            "bytes_per_sample",
            ".1f",
            {"sqlite": Target("<=", 80), "postgresql": Target("<=", 60)},
        ),
        Row(
            "stored == sent (peer report rows, 1 = yes)",
            "stored_matches_sent",
            ".0f",
            _both(">=", 1),
        ),
        Row("2-hour peer: sample rows in its report", "long_peer_rows", ",.0f"),
    ]
    for key, label in LIST_LABELS.items():
        bound = (
            100
            if key == "deep_page"
            else 50
            if key in ("details", "participants", "peer_report")
            else 20
        )
        out.append(
            Row(
                f"{label} @{_size(n)}, p50 / p99 ms",
                f"{key}_p50@{n}",
                ".1f",
                _both("<=", bound),
                f"{key}_p99@{n}",
            )
        )
    out += [
        Row(f"list sessions req/s @{_size(n)} (4 clients)", f"list_rps@{n}", ",.0f"),
        Row("GET /healthz req/s (4 clients)", "healthz_rps", ",.0f"),
        Row(f"list ÷ healthz req/s @{_size(n)}", f"list_vs_healthz@{n}", ".3f", _both(">=", 0.4)),
        Row("peak RSS per worker, MB (VmHWM)", "peak_rss_mb", ".0f", _both("<=", 250)),
    ]
    return out


def _size(n: int) -> str:
    return (
        f"{n // 1_000_000}M" if n % 1_000_000 == 0 else f"{n // 1000}k" if n % 1000 == 0 else str(n)
    )


def render(results: dict[str, dict[str, Any]], sizes: Sequence[int]) -> str:
    """The main table and the growth table, as text."""
    dbs = list(results)
    width = 62
    lines = [
        f"{'':{width}}" + "".join(f" | {d:<36}" for d in dbs),
        f"{'metric':{width}}"
        + "".join(f" | {'value':>15} {'target':>10} {'ratio':>9}" for _ in dbs),
        "-" * (width + 39 * len(dbs)),
    ]
    for row in rows(sizes):
        cells = []
        for d in dbs:
            value = results[d].get(row.key)
            judged = results[d].get(row.second) if row.second else value
            if value is None or judged is None:
                cells.append(f" | {'n/a':>15} {'':>10} {'':>9}")
                continue
            shown = format(value, row.fmt)
            if row.second:
                shown += " / " + format(judged, row.fmt)
            target = row.targets.get(d)
            if target is None:
                cells.append(f" | {shown:>15} {'':>10} {'':>9}")
                continue
            ratio = target.ratio(judged)
            verdict = "pass" if ratio >= 1 else "FAIL"
            cells.append(f" | {shown:>15} {target.text('g'):>10} {ratio:>5.2f} {verdict}")
        lines.append(f"{row.label:{width}}" + "".join(cells))
    lines += [
        "",
        f"p99 (ms) by size, and (×) its ratio to the {_size(sizes[0])} figure;"
        " target for the lists: ≤ 2×",
        "",
    ]
    cell = 18 * len(sizes) + 5
    header = f"{'query':{width}}"
    for d in dbs:
        header += f" | {d + ': ' + '  '.join(f'{_size(s):>16}' for s in sizes):<{cell}}"
    lines.append(header)
    for key, label in LIST_LABELS.items():
        line = f"{label:{width}}"
        for d in dbs:
            parts = []
            for s in sizes:
                p99 = results[d].get(f"{key}_p99@{s}")
                first = results[d].get(f"{key}_p99@{sizes[0]}")
                if p99 is None:
                    parts.append(f"{'n/a':>16}")
                elif s == sizes[0] or not first:
                    parts.append(f"{p99:>16.1f}")
                else:
                    parts.append(f"{p99:>7.1f} ({p99 / first:5.2f}×)".rjust(16))
            verdict = ""
            last, first = (results[d].get(f"{key}_p99@{s}") for s in (sizes[-1], sizes[0]))
            if len(sizes) > 1 and last is not None and first:
                results[d][f"{key}_growth"] = last / first
                if key in _LISTS:
                    verdict = "pass" if last / first <= 2 else "FAIL"
            line += f" | {' ' * (len(d) + 2)}{'  '.join(parts)} {verdict:4}"
        lines.append(line)
    return "\n".join(lines)


#: The lists whose p99 growth the issue bounds (≤ 2× the first size's): the default list, the
#: sort, the status filter and the search. The time window and the deep page are judged by
#: their own targets at the largest size (≤ 20 ms; ≤ 100 ms): a page at offset size/2 skips
#: size/2 index entries, so it grows with the size by construction.
_LISTS = ("default", "sort_minutes", "status_ended", "search")


def _log(message: str) -> None:
    print(f"[{datetime.now(UTC).strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10k,100k,1M", help="seeded session counts, ascending")
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--quick", action="store_true", help="short loops: a smoke run")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get(
            "RTK_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
        help="server where a database of this run is created and dropped",
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args(argv)
    sizes = sorted(seeder.parse_count(s) for s in args.sizes.split(","))
    names = [d.strip() for d in args.databases.split(",")]
    for name in names:
        if name not in ("sqlite", "postgresql"):
            parser.error(f"unknown database {name}")
    if not args.postgres_url.startswith(("postgresql://", "postgres://")):
        parser.error("--postgres-url must be postgresql://…")
    if "127.0.0.1" not in args.postgres_url and "localhost" not in args.postgres_url:
        parser.error("--postgres-url must point at 127.0.0.1")
    plan = Plan.quick() if args.quick else Plan()
    payloads = Payloads.load()
    results: dict[str, dict[str, Any]] = {}
    for name in names:
        with database(name, args.postgres_url) as db:
            results[name] = run_database(db, sizes, plan, payloads)
    report = render(results, sizes)
    print(
        f"rtk-sessions benchmark, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, sizes "
        f"{','.join(_size(s) for s in sizes)}"
        f"{' (--quick: smoke run, not a measurement)' if args.quick else ''}; "
        + ", ".join(f"{d}: {results[d]['workers']} worker(s)" for d in results)
    )
    print(report)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
