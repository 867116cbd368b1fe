"""Ingest over HTTP with 1 and 2 server workers, base revision vs current, side by side.

    .venv/bin/python bench/ingest_workers.py [--base REV] [--rounds 2] [--secs 10]
                                             [--database URL]

For each round, for the ``src/`` of git revision ``--base`` (extracted with ``git archive``) and
of this tree, alternating, and for 1 and 2 workers: a fresh database (SQLite: a file in a
temporary directory; ``--database``: a ``postgresql://`` URL of a server where a database of its
own is created and dropped), ``rtk-sessions serve [--workers 2]`` with ``PYTHONPATH`` of that
``src``, then 100-event batches of real recorded clients (``bench/payloads.py``) from 1 and then
8 concurrent clients for ``--secs`` each, as ``bench/run.py``'s ingest runs. Prints, per
configuration, the best round's samples/s and the server's CPU (user + system of all its
processes, ``/proc``) per sample, and the ratio current / base of samples/s.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from payloads import Payloads  # noqa: E402
from run import ACCOUNT, Plan, Server, extract_src, ingest_load  # noqa: E402

CLIENTS = (1, 8)
WORKERS = (1, 2)


def _database(base_url: str | None, tmp: Path) -> tuple[str, Callable[[], None]]:
    """A fresh database's URL, and how to drop it."""
    if base_url is None:
        path = tmp / f"{uuid.uuid4().hex[:8]}.db"
        return f"sqlite:///{path}", lambda: None
    name = f"bench_workers_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(base_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.make_url(base_url).set(database=name).render_as_string(hide_password=False)

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return url, drop


def _run(
    src: Path, workers: int, args: argparse.Namespace, tmp: Path, tag: str
) -> dict[int, tuple[float, float]]:
    """{clients: (samples/s, server CPU µs per sample)} of one server."""
    url, drop = _database(args.database, tmp)
    data_dir = tmp / tag
    data_dir.mkdir()
    env = {"PYTHONPATH": str(src)}
    try:
        # the migrations of the code that serves it
        upgrade = "import sys; from rtk_sessions import migrations; migrations.upgrade(sys.argv[1])"
        subprocess.run(
            [sys.executable, "-c", upgrade, url],
            env={**os.environ, **env},
            check=True,
            capture_output=True,
        )
        server = Server(url, data_dir, workers)
        server.start(env=env)
        try:
            token = server.cli("tokens", "create", "--account", ACCOUNT, "--name", "b")["token"]
            app = server.cli("apps", "create", "--account", ACCOUNT, "--name", "i")["id"]
            plan = Plan(ingest_secs=args.secs)
            out = {}
            for clients in CLIENTS:
                load = ingest_load(
                    server, token, app, args.payloads, f"{tag}-{clients}", clients, 100, plan
                )
                out[clients] = (
                    load.samples / load.seconds,
                    load.cpu_seconds / load.samples * 1e6,
                )
            return out
        finally:
            server.stop()
    finally:
        drop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", default="HEAD", help="git revision to compare with (HEAD)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--secs", type=float, default=10.0, help="seconds of each ingest run")
    parser.add_argument("--database", help="postgresql:// URL (default: SQLite)")
    args = parser.parse_args()
    args.payloads = Payloads.load()
    best: dict[tuple[str, int, int], tuple[float, float]] = {}
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        sources = {"base": extract_src(args.base, tmp / "base"), "current": ROOT / "src"}
        for round_ in range(args.rounds):
            for label, src in sources.items():
                for workers in WORKERS:
                    tag = f"{label}-{workers}w-{round_}"
                    for clients, figures in _run(src, workers, args, tmp, tag).items():
                        key = (label, workers, clients)
                        if key not in best or figures[0] > best[key][0]:
                            best[key] = figures
                        print(
                            f"  {tag}, {clients} client(s): {figures[0]:,.0f} samples/s,"
                            f" {figures[1]:.1f} µs CPU a sample",
                            file=sys.stderr,
                            flush=True,
                        )
    db = "PostgreSQL" if args.database else "SQLite"
    print(
        f"ingest over HTTP, 100-event batches, {db}; base {args.base} vs current tree,"
        f" best of {args.rounds}"
    )
    print(f"{'':28}{'base':>18}{'current':>18}{'current/base':>14}")
    for workers in WORKERS:
        for clients in CLIENTS:
            b, c = best[("base", workers, clients)], best[("current", workers, clients)]
            label = f"{workers} worker(s), {clients} client(s)"
            print(
                f"{label:28}{b[0]:>10,.0f} ({b[1]:5.1f})"
                f"{c[0]:>10,.0f} ({c[1]:5.1f}){c[0] / b[0]:>13.2f}×"
            )
    print("samples/s (server CPU µs a sample)")


if __name__ == "__main__":
    main()
