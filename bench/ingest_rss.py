"""Peak RSS of a ``serve`` worker under the ingest load of ``bench/run.py``, and what it is made of.

    .venv/bin/python bench/ingest_rss.py [--database sqlite:///path.db] [--clients 8]
                                         [--secs 20] [--lists 200] [--env NAME=VALUE ...]

Starts ``rtk-sessions serve`` on ``--database`` (default: a fresh SQLite file; an existing,
seeded one, e.g. by ``bench/seed.py --sessions 1M``, adds its memory map and page caches), posts
100-event batches of real getStats reports (``bench/payloads.py``) from ``--clients`` threads for
``--secs`` seconds, then GETs ``--lists`` session-list pages of the largest app, half of them
deep (offsets spread over the whole list), and prints the worker's ``VmHWM`` (peak RSS) with its
current ``RssAnon``/``RssFile`` (heap vs mapped file pages), in MB (10^6 bytes). ``--env``
passes settings to the server (``RTK_INGEST_CONCURRENCY=2``, ...).
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))


def _status(pid: int) -> dict[str, float]:
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmHWM", "VmRSS", "RssAnon", "RssFile", "RssShmem"):
            out[name] = int(value.split()[0]) * 1024 / 1e6
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database", default=None)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--secs", type=float, default=20.0)
    parser.add_argument("--lists", type=int, default=200)
    parser.add_argument("--env", action="append", default=[])
    args = parser.parse_args()

    import run
    from payloads import Payloads
    from sqlalchemy import create_engine, text

    from rtk_sessions import migrations
    from rtk_sessions.config import normalize_database_url

    for item in args.env:
        name, _, value = item.partition("=")
        os.environ[name] = value
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database or f"sqlite:///{Path(tmp) / 'rss.db'}"
        migrations.upgrade(normalize_database_url(url))
        server = run.Server(url, Path(tmp), 1)
        server.start()
        try:
            token = server.cli("tokens", "create", "--account", run.ACCOUNT, "--name", "rss")
            app = server.cli("apps", "create", "--account", run.ACCOUNT, "--name", "rss")["id"]
            plan = run.Plan(ingest_secs=args.secs)
            load = run.ingest_load(
                server,
                token["token"],
                app,
                Payloads.load(),
                f"rss{os.getpid()}",
                args.clients,
                100,
                plan,
            )
            [pid] = server.worker_pids()
            mid = _status(pid)
            print(
                f"ingest: {load.samples:,} samples in {load.requests:,} requests,"
                f" {load.seconds:.1f} s; VmHWM {mid['VmHWM']:.0f} MB"
                f" (now RssAnon {mid['RssAnon']:.0f}, RssFile {mid['RssFile']:.0f})"
            )
            engine = create_engine(normalize_database_url(url))
            with engine.connect() as conn:
                largest, total, account = conn.execute(
                    text(
                        "SELECT c.app_id, sum(c.n), min(a.account_id) FROM session_counts c"
                        " JOIN apps a ON a.id = c.app_id GROUP BY c.app_id ORDER BY 2 DESC"
                    )
                ).first() or (app, 0, run.ACCOUNT)
            engine.dispose()
            if account != run.ACCOUNT:
                token = server.cli("tokens", "create", "--account", account, "--name", "rss")
            rng = random.Random(1)
            base = f"/client/v4/accounts/{account}/realtime/kit/{largest}/sessions"
            pages = max(1, int(total or 0) // 25)
            with run._client(server, token["token"]) as client:
                for k in range(args.lists):
                    page = rng.randint(1, pages) if k % 2 else 1 + k % 5
                    response = client.get(f"{base}?page_no={page}&per_page=25")
                    if response.status_code != 200:
                        raise RuntimeError(f"list: {response.status_code} {response.text[:200]}")
            end = _status(pid)
            print(
                f"after {args.lists} list pages of {int(total or 0):,} sessions:"
                f" VmHWM {end['VmHWM']:.0f} MB (now RssAnon {end['RssAnon']:.0f},"
                f" RssFile {end['RssFile']:.0f})"
            )
        finally:
            server.stop()


if __name__ == "__main__":
    main()
