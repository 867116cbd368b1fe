"""Lifecycle events/s over HTTP, alone: ``bench/run.py``'s step 2, repeatable and with its causes.

    .venv/bin/python bench/lifecycle_http.py [--databases postgresql,sqlite] [--rounds 3]
                                             [--secs 8] [--compare OTHER_SRC [--label NAME]]
                                             [--postgres-url postgresql://postgres@127.0.0.1:5432/postgres]

For each database: an empty database (as ``bench/run.py`` makes it), ``rtk-sessions serve`` on it
(PostgreSQL with 2 workers, as ``bench/run.py``), an app and a token, a warm-up (one batch per
client, not reported), then ``--rounds`` runs of ``bench/run.py``'s ``lifecycle_load`` (4
clients, 1,000-event batches: peer.joined then peer.left of 10 peers in each of 50 new sessions)
for ``--secs`` each, each once the server has gone quiet (its sweeper has ended the sessions of
the round before). Per round: events/s, the server's CPU (all its processes, ``/proc``) per event
in µs, and on PostgreSQL the CPU of every ``postgres`` process of this machine per event (µs,
``/proc/<pid>/stat``; other databases' work on the same server counts too) and what the
benchmark database's backends were doing, sampled every 5 ms from ``pg_stat_activity``: the mean
number of backends per ``wait_event_type:wait_event`` (``CPU`` when active and not waiting,
``idle-in-tx`` when waiting for the server inside a transaction), and the statements that waited
on a lock.

``--compare OTHER_SRC``: the same for the revision whose ``src`` directory that is (the server and
the CLI run with ``PYTHONPATH=OTHER_SRC``, so that revision also migrates its database), the two
interleaved round by round on databases of their own, so that both see the same machine.
Prints one line per round, on PostgreSQL the tables whose sequential scans read the most rows
over all rounds (``pg_stat_user_tables``), and the best round of each revision per database.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import run as bench_run  # noqa: E402

from rtk_sessions.config import normalize_database_url  # noqa: E402


def _postgres_cpu() -> float:
    """utime + stime of every process named ``postgres`` on this machine, in seconds."""
    ticks = sum(
        int(fields[11]) + int(fields[12])
        for _, name, fields in bench_run.processes()
        if name == "postgres"
    )
    return ticks / bench_run.CLK_TCK


class WaitSampler:
    """Samples ``pg_stat_activity`` of database ``dbname`` every ``period`` seconds in a thread."""

    def __init__(self, admin_url: str, dbname: str, period: float = 0.005) -> None:
        self.engine = create_engine(normalize_database_url(admin_url), isolation_level="AUTOCOMMIT")
        self.dbname, self.period = dbname, period
        self.counts: Counter[str] = Counter()
        self.blocked: Counter[str] = Counter()  # statements waiting on a lock, first 70 chars
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        query = text(
            "SELECT state, wait_event_type, wait_event, query FROM pg_stat_activity "
            "WHERE datname = :db AND pid <> pg_backend_pid() "
            "AND state IN ('active', 'idle in transaction')"
        )
        with self.engine.connect() as conn:
            while not self._stop.is_set():
                self.samples += 1
                for state, kind, name, sql in conn.execute(query, {"db": self.dbname}):
                    if kind == "Lock":
                        self.blocked[" ".join(sql.split())[:70]] += 1
                    if state == "idle in transaction":
                        self.counts["idle-in-tx"] += 1
                    elif kind is None:
                        self.counts["CPU"] += 1
                    else:
                        self.counts[f"{kind}:{name}"] += 1
                time.sleep(self.period)

    def __enter__(self) -> WaitSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.engine.dispose()

    def top(self, n: int = 5) -> str:
        """The ``n`` commonest states, as the mean number of backends in each per sample."""
        if not self.samples:
            return ""
        states = ", ".join(f"{k} {v / self.samples:.2f}" for k, v in self.counts.most_common(n))
        blocked = "; ".join(f"{v / self.samples:.2f} {k!r}" for k, v in self.blocked.most_common(2))
        return f"{states}; waiting on a lock: {blocked or '-'}"


@dataclass
class Target:
    """One revision on one database: its server and the figures of its rounds."""

    label: str
    src: str | None
    db: bench_run.Database
    server: bench_run.Server | None = None
    token: str = ""
    app_id: str = ""
    rounds: list[dict[str, Any]] = field(default_factory=list)


@contextmanager
def _environment(src: str | None) -> Iterator[None]:
    """``PYTHONPATH`` for the server and CLI subprocesses (they inherit this process's)."""
    old = os.environ.get("PYTHONPATH")
    if src is not None:
        os.environ["PYTHONPATH"] = src
    else:
        os.environ.pop("PYTHONPATH", None)
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = old


def _start(target: Target) -> None:
    workers = 2 if target.db.name == "postgresql" else 1
    with _environment(target.src):
        server = bench_run.Server(target.db.url, target.db.data_dir, workers)
        # the CLI migrates the database with the revision under test
        app = server.cli("apps", "create", "--account", bench_run.ACCOUNT, "--name", "life")
        target.app_id = app["id"]
        target.token = server.cli(
            "tokens", "create", "--account", bench_run.ACCOUNT, "--name", "bench"
        )["token"]
        server.start()
    target.server = server


def _settle(server: bench_run.Server, limit: float = 60.0) -> None:
    """Wait (at most ``limit`` s) until the server has used under 20 ms of CPU in 0.5 s: its
    sweeper has ended the previous round's sessions and takes no CPU from the next round."""
    deadline = time.monotonic() + limit
    last = server.cpu_seconds()
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now = server.cpu_seconds()
        if now - last < 0.02:
            return
        last = now


def _round(target: Target, index: int, plan: bench_run.Plan, postgres_url: str) -> dict[str, Any]:
    assert target.server is not None
    run = f"r{index}"
    with ExitStack() as stack:
        sampler = None
        if target.db.name == "postgresql":
            dbname = target.db.url.rpartition("/")[2]
            sampler = stack.enter_context(WaitSampler(postgres_url, dbname))
        pg0 = _postgres_cpu()
        load = bench_run.lifecycle_load(target.server, target.token, target.app_id, run, plan)
        pg = _postgres_cpu() - pg0
    out: dict[str, Any] = {
        "events_per_sec": load.events / load.seconds,
        "server_us": load.cpu_seconds / load.events * 1e6,
        "events": load.events,
    }
    if sampler is not None:
        out["postgres_us"] = pg / load.events * 1e6
        out["waits"] = sampler.top()
    return out


@contextmanager
def _database(name: str, postgres_url: str) -> Iterator[bench_run.Database]:
    """``bench/run.py``'s ``database``, with a name of its own per call (it names by pid)."""
    if name == "sqlite":
        with bench_run.database(name, postgres_url) as db:
            yield db
        return
    data_dir = Path(tempfile.mkdtemp(prefix="rtk-bench-life-"))
    dbname = f"rtk_bench_life_{os.getpid()}_{time.monotonic_ns() % 10**9}"
    admin = create_engine(normalize_database_url(postgres_url), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{dbname}"')
        base, _, _ = postgres_url.rpartition("/")
        try:
            yield bench_run.Database(name, f"{base}/{dbname}", data_dir)
        finally:
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
    finally:
        admin.dispose()
        shutil.rmtree(data_dir, ignore_errors=True)


def _seq_scans(url: str, n: int = 3) -> str:
    """The ``n`` tables of database ``url`` whose sequential scans read the most rows since it was
    created (warm-up and all rounds): ``name scans×/rows read``. Read 11 s after the last round:
    a PostgreSQL backend reports its counts up to 10 s after its last transaction."""
    engine = create_engine(normalize_database_url(url))
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT relname, seq_scan, seq_tup_read FROM pg_stat_user_tables "
                    "WHERE seq_scan > 0 ORDER BY seq_tup_read DESC, relname LIMIT :n"
                ),
                {"n": n},
            ).all()
    finally:
        engine.dispose()
    return ", ".join(f"{name} {scans:,}×/{read:,} rows" for name, scans, read in rows) or "none"


def _line(target: Target, index: int, r: dict[str, Any]) -> str:
    line = (
        f"{target.db.name:10} {target.label:8} round {index}: {r['events_per_sec']:8,.0f} events/s,"
        f" server {r['server_us']:5.1f} µs/event"
    )
    if "postgres_us" in r:
        line += f", postgres {r['postgres_us']:5.1f} µs/event; backends: {r['waits']}"
    return line


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--databases", default="postgresql,sqlite")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--secs", type=float, default=8.0)
    parser.add_argument("--compare", default=None, help="another revision's src directory")
    parser.add_argument("--label", default="other", help="that revision's name in the output")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get(
            "RTK_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
    )
    args = parser.parse_args(argv)
    if "127.0.0.1" not in args.postgres_url and "localhost" not in args.postgres_url:
        parser.error("--postgres-url must point at 127.0.0.1")
    plan = bench_run.Plan(lifecycle_secs=args.secs)
    revisions: list[tuple[str, str | None]] = [("this", None)]
    if args.compare:
        revisions.insert(0, (args.label, str(Path(args.compare).resolve())))
    for name in [d.strip() for d in args.databases.split(",")]:
        with ExitStack() as stack:
            targets = []
            for label, src in revisions:
                db = stack.enter_context(_database(name, args.postgres_url))
                target = Target(label, src, db)
                stack.callback(lambda t=target: t.server and t.server.stop())
                _start(target)
                targets.append(target)
            for target in targets:  # warm up: one batch per client, not reported
                warm = bench_run.Plan(lifecycle_secs=0.0, lifecycle_max_batches=1)
                _round(target, -1, warm, args.postgres_url)
            for index in range(args.rounds):
                for target in targets:
                    for each in targets:  # none still sweeping: the CPU is all this round's
                        assert each.server is not None
                        _settle(each.server)
                    r = _round(target, index, plan, args.postgres_url)
                    target.rounds.append(r)
                    print(_line(target, index, r), flush=True)
            if name == "postgresql":
                time.sleep(11)
                for target in targets:
                    scans = _seq_scans(target.db.url)
                    print(f"{name:10} {target.label:8} sequential scans: {scans}", flush=True)
            for target in targets:
                best = max(target.rounds, key=lambda r: r["events_per_sec"])
                print(f"best {_line(target, target.rounds.index(best), best)}", flush=True)


if __name__ == "__main__":
    main()
