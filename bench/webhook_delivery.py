"""Webhook delivery throughput: one ingestion batch of N joins, a local receiver that verifies every
signature; prints how long until all deliveries arrived (docs/webhooks.md, Throughput).

    .venv/bin/python bench/webhook_delivery.py sqlite many|one
    .venv/bin/python bench/webhook_delivery.py postgresql+psycopg://postgres@127.0.0.1/DB many

``many``: each join its own meeting (N sessions, 2N deliveries); ``one``: one session (N+1
deliveries, strictly in order). Run from the repository root (it uses the test helpers).
"""

from __future__ import annotations

import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, ".")

from rtk_sessions import migrations
from rtk_sessions.clock import iso
from rtk_sessions.config import Settings
from tests.conftest import make_tenant, start_server
from tests.helpers import post_events
from tests.webhooks.conftest import WEBHOOK_SETTINGS, public_key, start_receiver, verify
from tests.webhooks.test_events import subscribe

N = 300


def main(database: str, shape: str) -> None:
    tmp = Path(tempfile.mkdtemp())
    url = f"sqlite:///{tmp / 'rtk.db'}" if database == "sqlite" else database
    migrations.upgrade(url)
    settings = Settings(data_dir=tmp, database_url=url, **WEBHOOK_SETTINGS)
    live, server, thread = start_server(settings)
    tenant = make_tenant(live, "measure")
    receiver, _ = start_receiver()
    subscribe(tenant, receiver.url + "/m", ["meeting.participantJoined", "meeting.started"])
    now = datetime.now(UTC)
    one_meeting = "m-" + tenant.app_id
    events: list[dict[str, Any]] = [
        {
            "id": f"j{i}-{uuid.uuid4()}",
            "type": "peer.joined",
            "timestamp": iso(now + timedelta(milliseconds=i)),
            "peer_id": f"p{i}-{uuid.uuid4()}",
            "meeting_id": str(uuid.uuid4()) if shape == "many" else one_meeting,
            "participant": {"display_name": f"P{i}"},
        }
        for i in range(N)
    ]
    expected = 2 * N if shape == "many" else N + 1
    t0 = time.monotonic()
    post_events(tenant, events)
    t1 = time.monotonic()
    receiver.wait_for("/m", lambda r: len(r) >= expected, timeout=600)
    t2 = time.monotonic()
    got = receiver.of("/m")
    key = public_key(live.url)
    for item in got:
        verify(key, item)
    print(
        f"{database[:10]} {shape}: batch of {N} joins accepted in {t1 - t0:.2f} s; "
        f"{len(got)} deliveries received and verified {t2 - t1:.2f} s later "
        f"({len(got) / (t2 - t1):.0f}/s)"
    )
    server.should_exit = True  # type: ignore[attr-defined]
    thread.join(10)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
