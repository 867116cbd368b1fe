"""Database bytes per ingested sample over HTTP, as ``bench/run.py`` measures them, split by table.

    .venv/bin/python bench/ingest_bytes.py [--databases postgresql] [--secs 10] [--repeat 1]
        [--runs ingest_1c_100e,...] [--postgres-url URL] [--stages]

Only ``bench/run.py``'s ingest phase: a fresh database (``run.py``'s ``database``), ``rtk-sessions
serve`` started as ``run.py`` starts it (``--workers 2``; on PostgreSQL its sweeper's leader doing
the PostgreSQL maintenance every ``storage.planner.INTERVAL_SECS``), the CLI's token and app, then
the four ingest runs of ``run.py`` (``ingest_load``: 1 client × 100-event batches, 8 clients ×
100-event, 1 client × 1-event, 8 clients × 1-event, ``--secs`` seconds each). Growth is
``run.py``'s ``database_bytes`` (size after − size before, ÷ samples), split by table (heap,
indexes, TOAST) with ``bench/bytes_per_sample.py``'s ``sizes``, whose total is the same figure.

``--stages``: also the size after each run (``database_bytes`` without its ``VACUUM``, so that
the runs that follow are not changed: Σ ``pg_total_relation_size`` as it stands), as a
cumulative bytes/sample. ``--repeat N``: N servers one after the other, each on a fresh database.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "src"))

import bytes_per_sample as bps  # noqa: E402
import run as bench  # noqa: E402
from payloads import Payloads  # noqa: E402

from rtk_sessions import migrations  # noqa: E402
from rtk_sessions.config import normalize_database_url  # noqa: E402
from rtk_sessions.storage.engine import Database as ServiceDatabase  # noqa: E402

RUNS = ((1, 100), (8, 100), (1, 1), (8, 1))


def split(db: bench.Database) -> bps.Sizes:
    """``bytes_per_sample.sizes`` of the database (it runs ``database_bytes``'s ``VACUUM``)."""
    service = ServiceDatabase(db.url)
    try:
        return bps.sizes(service)
    finally:
        service.dispose()


def one(
    name: str,
    postgres_url: str,
    payloads: Payloads,
    plan: bench.Plan,
    runs: frozenset[str] | None,
    stages: bool,
    workers: int | None = None,
    batches: dict[str, int] | None = None,
) -> tuple[dict[str, dict[str, float]], int]:
    with bench.database(name, postgres_url) as db:
        if workers is None:
            workers = 2 if bench._has_workers_option() else 1  # as run.py
        migrations.upgrade(normalize_database_url(db.url))
        server = bench.Server(db.url, db.data_dir, workers)
        server.start()
        try:
            token = server.cli("tokens", "create", "--account", bench.ACCOUNT, "--name", "b")
            app = server.cli("apps", "create", "--account", bench.ACCOUNT, "--name", "ingest")
            before = split(db)
            total = 0
            for clients, size in RUNS:
                key = f"ingest_{clients}c_{size}e"
                if runs is not None and key not in runs:
                    continue
                run_plan = plan
                if batches is not None:  # a fixed count per client, whatever the time
                    run_plan = bench.Plan(ingest_secs=1e9, ingest_max_batches=batches[key])
                load = bench.ingest_load(
                    server, token["token"], app["id"], payloads, key, clients, size, run_plan
                )
                total += load.samples
                line = f"{name}: {key}: {load.samples:,} samples, {load.requests:,} requests"
                if stages and name == "postgresql":
                    grown = bench.database_bytes(db, vacuum=False) - before["*"]["total"]
                    line += f"; so far {grown / total:.1f} B/sample (no VACUUM)"
                print(line, file=sys.stderr, flush=True)
            after = split(db)
        finally:
            server.stop()
    return bps.growth(before, after, total), total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--databases", default="postgresql")
    parser.add_argument("--postgres-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--secs", type=float, default=bench.Plan.ingest_secs)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--runs", help="comma-separated run names to keep (default all four)")
    parser.add_argument("--workers", type=int, help="server workers (default: run.py's)")
    parser.add_argument(
        "--batches",
        help="N1,N2,N3,N4: each client sends exactly this many batches in each of the four runs"
        " (no time bound), so that every round ingests the same samples; e.g. 170,30,800,140",
    )
    parser.add_argument("--stages", action="store_true", help="the size after each run too")
    args = parser.parse_args()
    plan = bench.Plan(ingest_secs=args.secs)
    runs = frozenset(args.runs.split(",")) if args.runs else None
    batches = None
    if args.batches:
        counts = [int(n) for n in args.batches.split(",")]
        batches = {f"ingest_{c}c_{b}e": n for (c, b), n in zip(RUNS, counts, strict=True)}
    payloads = Payloads.load()
    for _ in range(args.repeat):
        results = {
            name: one(
                name, args.postgres_url, payloads, plan, runs, args.stages, args.workers, batches
            )
            for name in args.databases.split(",")
        }
        bps.report(results)


if __name__ == "__main__":
    main()
