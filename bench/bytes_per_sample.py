"""Database bytes per ingested sample, per table, on SQLite and PostgreSQL side by side, in-process.

    .venv/bin/python bench/bytes_per_sample.py [--scale 1.0] [--database URL]
        [--sqlite-only | --postgresql-only] [--runs ingest_1c_100e,...] [--maintenance-secs 10]

Ingests the real recorded clients of ``bench/payloads.py`` with ``api.ingest.parse_batch`` +
``api.ingest.apply_batch`` (everything the ingest endpoint does with a body, without HTTP, as
``bench/ingest_cpu.py``) into a fresh SQLite file and a fresh PostgreSQL database, in the four runs
of ``bench/run.py``'s ingest: 1 client × 100-event batches, 8 clients × 100-event batches, 1 client
× 1-event batches, 8 clients × 1-event batches (the clients' batches interleaved in turn; every
client replays its own template instances, each a new peer, meeting and session). The number of
batches per run is the share of ``bench/run.py``'s last full run (``docs/performance.md``: about
200 100-event batches a run and 1,600 / 800 events in the 1-event runs) times ``--scale``.

Between batches, every ``--maintenance-secs`` seconds of the run (``storage.planner.INTERVAL_SECS``,
as the server's sweeper does; 0: never), the PostgreSQL maintenance of the sweeper's leader on a
server whose autovacuum is off: ``planner.vacuum_stale``, then ``planner.analyze_stale`` (nothing
on SQLite, or with autovacuum on). Without it, the space of the sample blocks a merge deletes is
never reused during the run (docs/performance.md).

Measured as ``bench/run.py``'s ``database_bytes`` (size after − size before the four runs, ÷ their
samples), then split by table:

* SQLite: (``page_count`` − ``freelist_count``) × ``page_size`` after ``wal_checkpoint(TRUNCATE)``;
  per table, the pages of the ``dbstat`` virtual table, a table's indexes (its primary key's
  included when it is not the rowid) as one column;
* PostgreSQL: Σ ``pg_total_relation_size`` of every table after ``VACUUM`` (not FULL); per table
  (partitions added to their parent), heap (``pg_relation_size`` of all forks), indexes
  (``pg_indexes_size``) and TOAST (the rest).

Output: one line per table that grew, bytes per sample in each column, and the totals; the total of
the per-table columns equals the ``database_bytes`` difference. ``--database``: a ``postgresql://``
URL of a server where the script may create and drop a database (default
``postgresql://postgres@127.0.0.1:5432/postgres``); ``--runs``: only these of the four runs.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from payloads import Batch, Payloads  # noqa: E402

from rtk_sessions import migrations  # noqa: E402
from rtk_sessions.api.deps import AppScope  # noqa: E402
from rtk_sessions.api.ingest import apply_batch, parse_batch  # noqa: E402
from rtk_sessions.config import Settings, normalize_database_url  # noqa: E402
from rtk_sessions.domain import accounts  # noqa: E402
from rtk_sessions.storage import planner  # noqa: E402
from rtk_sessions.storage.engine import Database  # noqa: E402

# (run name, clients, events per batch, batches per client at --scale 1)
RUNS = (
    ("ingest_1c_100e", 1, 100, 200),
    ("ingest_8c_100e", 8, 100, 25),
    ("ingest_1c_1e", 1, 1, 1600),
    ("ingest_8c_1e", 8, 1, 100),
)

Sizes = dict[str, dict[str, int]]  # {table: {column: bytes}}


def sizes(db: Database) -> Sizes:
    """Bytes per table, split as the module docstring says; ``"*"`` holds the run.py total."""
    engine = db.engine
    if db.dialect == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM")
            total = conn.execute(
                sa.text(
                    "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c"
                    " JOIN pg_namespace n ON n.oid = c.relnamespace"
                    " WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p', 'm')"
                )
            ).scalar_one()
            rows = conn.execute(
                sa.text(
                    "SELECT coalesce(p.relname, c.relname), pg_total_relation_size(c.oid),"
                    " pg_relation_size(c.oid, 'main') + pg_relation_size(c.oid, 'fsm')"
                    " + pg_relation_size(c.oid, 'vm'), pg_indexes_size(c.oid)"
                    " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                    " LEFT JOIN pg_inherits i ON i.inhrelid = c.oid"
                    " LEFT JOIN pg_class p ON p.oid = i.inhparent"
                    " WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p', 'm')"
                )
            ).all()
        out: Sizes = {"*": {"total": int(total)}}
        for name, all_bytes, heap, indexes in rows:
            t = out.setdefault(name, {"heap": 0, "index": 0, "toast": 0})
            t["heap"] += int(heap)
            t["index"] += int(indexes)
            t["toast"] += int(all_bytes) - int(heap) - int(indexes)
        return out
    # A plain engine, as bench/run.py's: the service's begins every transaction with BEGIN
    # IMMEDIATE, and a checkpoint cannot run inside a transaction.
    plain = sa.create_engine(db.url)
    with plain.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        pages = conn.exec_driver_sql("PRAGMA page_count").scalar_one()
        free = conn.exec_driver_sql("PRAGMA freelist_count").scalar_one()
        size = conn.exec_driver_sql("PRAGMA page_size").scalar_one()
        owner: dict[str, str] = {}
        for name, table in conn.exec_driver_sql(
            "SELECT name, tbl_name FROM sqlite_master WHERE rootpage > 0"
        ):
            owner[name] = table
        used = conn.exec_driver_sql("SELECT name, sum(pgsize) FROM dbstat GROUP BY name").all()
    out = {"*": {"total": int((pages - free) * size)}}
    for name, nbytes in used:
        table = owner.get(name, name)
        t = out.setdefault(table, {"heap": 0, "index": 0})
        t["heap" if table == name else "index"] += int(nbytes)
    plain.dispose()
    return out


def interleave(payloads: Payloads, run: str, clients: int, size: int, per: int) -> Iterator[Batch]:
    """``per`` batches of each client, client after client in turn."""
    gens = [payloads.batches(f"{run}-{i}", size) for i in range(clients)]
    for _ in range(per):
        for gen in gens:
            yield next(gen)


def maintain(db: Database) -> None:
    """What the sweeper's leader does every ``planner.INTERVAL_SECS`` on PostgreSQL (a tree
    before the leader vacuumed only analyzes)."""
    vacuum = getattr(planner, "vacuum_stale", None)
    if vacuum is not None:
        vacuum(db.engine)
    planner.analyze_stale(db.engine)


def measure(
    url: str,
    payloads: Payloads,
    scale: float,
    runs: frozenset[str] | None = None,
    maintenance_secs: float = planner.INTERVAL_SECS,
) -> tuple[Sizes, Sizes, int]:
    """Migrate ``url``, ingest the four runs (or those named in ``runs``), with ``maintain``
    every ``maintenance_secs`` (0: never); (sizes before, sizes after, samples ingested)."""
    migrations.upgrade(url)
    settings = Settings()
    db = Database(url)
    try:
        with db.unit_of_work() as s:
            app_id = accounts.create_app(s, "acct", "bytes").id
        scope = AppScope("acct", app_id)
        before = sizes(db)
        samples = 0
        due = time.monotonic() + maintenance_secs
        for run, clients, size, per in RUNS:
            if runs is not None and run not in runs:
                continue
            count = max(1, round(per * scale))
            for batch in interleave(payloads, run, clients, size, count):
                apply_batch(db, settings, scope, parse_batch(batch.body, settings))
                samples += batch.samples
                if maintenance_secs > 0 and time.monotonic() >= due:
                    maintain(db)
                    due = time.monotonic() + maintenance_secs
        return before, sizes(db), samples
    finally:
        db.dispose()


def postgres_database(base_url: str) -> tuple[str, Callable[[], None]]:
    """A fresh database on the server of ``base_url`` and a function dropping it."""
    base_url = normalize_database_url(base_url)
    name = f"bytes_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(base_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = sa.engine.make_url(base_url).set(database=name).render_as_string(hide_password=False)

    def drop() -> None:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()

    return url, drop


def growth(before: Sizes, after: Sizes, samples: int) -> dict[str, dict[str, float]]:
    """Per table and column, (after − before) ÷ samples, tables that did not grow left out."""
    out: dict[str, dict[str, float]] = {}
    for table, cols in after.items():
        old = before.get(table, {})
        per = {k: (v - old.get(k, 0)) / samples for k, v in cols.items()}
        if any(per.values()):
            out[table] = per
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="batches × this (1.0)")
    parser.add_argument("--database", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--sqlite-only", action="store_true")
    parser.add_argument("--postgresql-only", action="store_true")
    parser.add_argument(
        "--runs",
        help="comma-separated run names to keep (default all: "
        + ",".join(r[0] for r in RUNS)
        + ")",
    )
    parser.add_argument(
        "--maintenance-secs",
        type=float,
        default=planner.INTERVAL_SECS,
        help="the sweeper leader's PostgreSQL VACUUM/ANALYZE every this many seconds (0: never)",
    )
    args = parser.parse_args()
    runs = frozenset(args.runs.split(",")) if args.runs else None
    payloads = Payloads.load()
    results: dict[str, tuple[dict[str, dict[str, float]], int]] = {}
    if not args.postgresql_only:
        with tempfile.TemporaryDirectory() as tmp:
            before, after, n = measure(
                f"sqlite:///{tmp}/bytes.db", payloads, args.scale, runs, args.maintenance_secs
            )
        results["sqlite"] = (growth(before, after, n), n)
    if not args.sqlite_only:
        url, drop = postgres_database(args.database)
        try:
            before, after, n = measure(url, payloads, args.scale, runs, args.maintenance_secs)
        finally:
            drop()
        results["postgresql"] = (growth(before, after, n), n)
    report(results)


def report(results: dict[str, tuple[dict[str, dict[str, float]], int]]) -> None:
    """Print the side-by-side table."""
    tables = sorted(
        {t for per, _ in results.values() for t in per if t != "*"},
        key=lambda t: -max(sum(per.get(t, {}).values()) for per, _ in results.values()),
    )
    cols = {"sqlite": ("heap", "index"), "postgresql": ("heap", "index", "toast")}
    head = f"{'bytes per sample':28}"
    for db, _ in results.items():
        head += " | " + f"{db} " + " ".join(f"{c:>7}" for c in (*cols[db], "all"))
    print(head)
    print("-" * len(head))

    def line(label: str, get: Callable[[str, str], float]) -> str:
        text = f"{label:28}"
        for db in results:
            values = [get(db, c) for c in cols[db]]
            text += (
                " | " + " " * len(db) + " " + " ".join(f"{v:7.1f}" for v in [*values, sum(values)])
            )
        return text

    def of_table(table: str) -> Callable[[str, str], float]:
        return lambda db, c: results[db][0].get(table, {}).get(c, 0.0)

    for table in tables:
        print(line(table, of_table(table)))
    print(
        line(
            "sum of tables",
            lambda db, c: sum(p.get(c, 0.0) for t, p in results[db][0].items() if t != "*"),
        )
    )
    total = "  ".join(
        f"{db}: {results[db][0]['*']['total']:.1f} B/sample over {results[db][1]:,} samples"
        for db in results
    )
    print(f"bench/run.py measure (database_bytes) — {total}")


if __name__ == "__main__":
    main()
