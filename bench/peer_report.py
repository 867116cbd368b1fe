"""Time of one ``GET .../sessions/peer-report/{peer_id}`` of a two-hour peer, in process.

    .venv/bin/python bench/peer_report.py [--repeat 30] [--reports 3600] [--database URL]
                                          [--callgrind]

A fresh database (migrated: SQLite in a temporary directory, or with ``--database`` a
``postgresql://`` URL of a server where the script may create a database, ``peer_report_…``,
dropped at the end) and the application (``create_app``, no background threads)
driven by Starlette's ``TestClient``; the two-hour peer of ``bench/payloads.py:long_peer``
(``--reports`` ``peer.stats`` events, 2 s apart, from the real reports of
``bench/data/ingest-payloads.json.gz``) is ingested through the ingestion route, then the peer
report is fetched ``--repeat`` times. Prints the response size and the median and best wall
time and process CPU time per request (the machine is shared: CPU time is the steadier figure).
Run it against another revision's code with ``PYTHONPATH=<that src>``.

``--callgrind``: the script runs itself under ``valgrind --tool=callgrind`` with instrumentation
on only during the timed requests (all threads: the client's and the application's), and prints
the instructions per request as well: repeatable on a loaded machine, slow (a minute or two).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fastapi.testclient import TestClient

import rtk_sessions
from bench.payloads import Payloads, long_peer
from rtk_sessions import migrations
from rtk_sessions.app import create_app
from rtk_sessions.config import Settings
from rtk_sessions.domain import accounts

KIT = "/client/v4/accounts/{account}/realtime/kit/{app}"


_CALLGRIND_ENV = "PEER_REPORT_CALLGRIND"


def _callgrind(*command: str) -> None:
    """Send callgrind a command (instrumentation on/off; a no-op outside valgrind)."""
    if os.environ.get(_CALLGRIND_ENV):
        subprocess.run(
            ["callgrind_control", *command, str(os.getpid())], capture_output=True, check=False
        )


@contextmanager
def _database(base_url: str | None, tmp: str) -> Iterator[str]:
    """A fresh, migrated database's URL: SQLite in ``tmp``, or a new database on the PostgreSQL
    server of ``base_url`` (dropped afterwards)."""
    if base_url is None:
        url = f"sqlite:///{tmp}/rtk.db"
        migrations.upgrade(url)
        yield url
        return
    import sqlalchemy as sa

    from rtk_sessions.config import normalize_database_url

    name = f"peer_report_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(normalize_database_url(base_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = admin.url.set(database=name).render_as_string(hide_password=False)
    try:
        migrations.upgrade(url)
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _under_callgrind(argv: list[str], repeat: int) -> int:
    """Run this script again under callgrind; print its output and the instructions a request."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "callgrind.out"
        done = subprocess.run(
            ["valgrind", "--tool=callgrind", "--instr-atstart=no",
             f"--callgrind-out-file={out}", sys.executable, __file__, *argv],
            env={**os.environ, _CALLGRIND_ENV: "1", "PYTHONHASHSEED": "0"},
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        print(done.stdout, end="")
        if done.returncode != 0:
            print(done.stderr, file=sys.stderr)
            return done.returncode
        # "summary" would count only the last dump
        match = re.search(r"^totals: (\d+)", out.read_text(), re.M)
        if match is None:
            print("no callgrind totals", file=sys.stderr)
            return 1
        print(f"callgrind: {int(match.group(1)) / repeat / 1e6:.1f} M instructions per request")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=30)
    ap.add_argument("--reports", type=int, default=3600)
    ap.add_argument("--database", help="postgresql:// URL (default: SQLite)")
    ap.add_argument("--callgrind", action="store_true")
    args = ap.parse_args()
    if args.callgrind and not os.environ.get(_CALLGRIND_ENV):
        return _under_callgrind([a for a in sys.argv[1:] if a != "--callgrind"], args.repeat)
    print(f"rtk_sessions from {Path(rtk_sessions.__file__).parent}")
    with tempfile.TemporaryDirectory() as tmp, _database(args.database, tmp) as url:
        app = create_app(Settings(data_dir=Path(tmp), database_url=url), background=False)
        with TestClient(app) as client:
            account = uuid.uuid4().hex
            with app.state.db.unit_of_work() as s:
                app_id = accounts.create_app(s, account, "bench").id
                token = accounts.create_token(s, account)
            base = KIT.format(account=account, app=app_id)
            headers = {"Authorization": f"Bearer {token}"}
            start = (datetime.now(UTC) - timedelta(hours=3)).timestamp() * 1000
            events = long_peer(Payloads.load(), "two-hours", start, reports=args.reports)
            for i in range(0, len(events), 100):
                body = json.dumps({"events": events[i : i + 100]})
                r = client.post(f"{base}/ingest", content=body, headers=headers)
                assert r.status_code == 200, r.text
            path = f"{base}/sessions/peer-report/p-two-hours"
            for _ in range(2):  # the first requests warm caches up
                assert client.get(path, headers=headers).status_code == 200
            wall, cpu = [], []
            _callgrind("-i", "on")
            for _ in range(args.repeat):
                w, c = time.perf_counter(), time.process_time()
                r = client.get(path, headers=headers)
                wall.append(time.perf_counter() - w)
                cpu.append(time.process_time() - c)
                assert r.status_code == 200, r.text
            _callgrind("-i", "off")
            size = len(r.content)
    quality = r.json()["data"]["participant"]["peer_report"]["quality"]
    rows = sum(len(v) for v in quality.values() if isinstance(v, list))
    print(f"peer report: {size} bytes, {rows} sample rows, {args.repeat} requests")
    print(
        f"wall ms: median {statistics.median(wall) * 1e3:.1f}, best {min(wall) * 1e3:.1f}; "
        f"cpu ms: median {statistics.median(cpu) * 1e3:.1f}, best {min(cpu) * 1e3:.1f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
