"""Time of one ``GET .../sessions/peer-report/{peer_id}`` of a two-hour peer, in process.

    .venv/bin/python bench/peer_report.py [--repeat 30] [--reports 3600]

A fresh SQLite database (migrated) and the application (``create_app``, no background threads)
driven by Starlette's ``TestClient``; the two-hour peer of ``bench/payloads.py:long_peer``
(``--reports`` ``peer.stats`` events, 2 s apart, from the real reports of
``bench/data/ingest-payloads.json.gz``) is ingested through the ingestion route, then the peer
report is fetched ``--repeat`` times. Prints the response size and the median and best wall
time and process CPU time per request (the machine is shared: CPU time is the steadier figure).
Run it against another revision's code with ``PYTHONPATH=<that src>``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import uuid
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


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=30)
    ap.add_argument("--reports", type=int, default=3600)
    args = ap.parse_args()
    print(f"rtk_sessions from {Path(rtk_sessions.__file__).parent}")
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/rtk.db"
        migrations.upgrade(url)
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
            wall, cpu = [], []
            size = 0
            for _ in range(args.repeat + 2):
                w, c = time.perf_counter(), time.process_time()
                r = client.get(path, headers=headers)
                wall.append(time.perf_counter() - w)
                cpu.append(time.process_time() - c)
                assert r.status_code == 200, r.text
                size = len(r.content)
            wall, cpu = wall[2:], cpu[2:]  # the first requests warm caches up
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
