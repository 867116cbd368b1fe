"""A real ``rtk-sessions serve`` process SIGKILLed while a webhook POST is in flight: after the
restart the delivery goes out again (same delivery id, at least once), then the rest in order."""

from __future__ import annotations

import signal
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import cloudflare
import httpx
import pytest

from rtk_sessions.domain.webhooks import EVENTS
from tests.conftest import migrated_database
from tests.conversation.util import Person
from tests.servers import make_tenant, restartable_port, start_serve, stop_all, wait_until
from tests.webhooks.conftest import Received, Receiver, public_key, verify
from tests.webhooks.test_events import _join, _left


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def fresh_database(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    with migrated_database(request.param, tmp_path_factory, prefix="rtk_hookkill") as url:
        yield url


def test_kill_9_during_delivery_still_delivers(
    fresh_database: str,
    tmp_path: Path,
    receiver: Receiver,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in {
        "RTK_WEBHOOKS_ALLOW_PRIVATE_TARGETS": "true",
        "RTK_WEBHOOKS_BACKOFF_SECS": "0.2",
        "RTK_WEBHOOKS_BACKOFF_MAX_SECS": "0.5",
        "RTK_WEBHOOKS_POLL_SECS": "0.1",
        "RTK_WEBHOOKS_TIMEOUT_SECS": "120",
    }.items():
        monkeypatch.setenv(name, value)
    in_flight, release = threading.Event(), threading.Event()

    def delay(r: Received) -> float:
        if not in_flight.is_set():
            in_flight.set()  # the first POST hangs until the server that sent it is dead
            release.wait(60)
        return 0.0

    receiver.delay = delay
    tenant = make_tenant(fresh_database, "kill")
    port = restartable_port()
    servers = [start_serve(fresh_database, tmp_path, "server", port=port)]
    try:
        wait_until("the server to serve", servers[0].up, timeout=90)
        sdk = cloudflare.Cloudflare(
            api_token=tenant.token, base_url=servers[0].url + "/client/v4", max_retries=0
        )
        sdk.realtime_kit.webhooks.create_webhook(
            tenant.app_id,
            account_id=tenant.account_id,
            name="kill",
            url=receiver.url + "/kill",
            events=list(EVENTS),
        )
        alice = Person(f"peer-{uuid.uuid4()}", None, "Alice")
        now = datetime.now(UTC)
        events = [_join(str(uuid.uuid4()), alice, now), _left(alice, now)]
        response = httpx.post(
            tenant.base(servers[0].url) + "/ingest",
            json={"events": events},
            headers=tenant.headers(),
            timeout=30,
        )
        assert response.status_code == 200, response.text
        assert in_flight.wait(60), "the first delivery was never sent"
        servers[0].proc.send_signal(signal.SIGKILL)
        servers[0].proc.wait(timeout=30)
        assert servers[0].proc.returncode == -signal.SIGKILL
        release.set()
        servers.append(start_serve(fresh_database, tmp_path, "server", port=port))
        wait_until("the restarted server to serve", servers[1].up, timeout=90)
        got = receiver.wait_for("/kill", lambda r: len(r) >= 4, timeout=90)
        key = public_key(servers[1].url)
        for item in got:
            verify(key, item)
        assert [r.payload["event"] for r in got] == [
            "meeting.started",  # cut off by the kill
            "meeting.started",  # sent again after the restart
            "meeting.participantJoined",
            "meeting.participantLeft",
        ]
        assert got[0].headers["rtk-delivery-id"] == got[1].headers["rtk-delivery-id"]
        assert got[0].body == got[1].body
        hook_id = got[0].payload["webhookId"]
        listed = httpx.get(
            tenant.base(servers[1].url) + f"/webhooks/{hook_id}/deliveries",
            headers=tenant.headers(),
            timeout=10,
        ).json()["data"]
        started = listed[-1]
        assert started["status"] == "delivered"
        cut, done = started["attempt_log"]
        assert cut["finished_at"] is None and cut["status_code"] is None  # the killed attempt
        assert done["status_code"] == 200
    finally:
        release.set()
        stop_all(servers)
