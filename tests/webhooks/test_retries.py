"""Retries with back-off on non-2xx and timeouts, order kept per session while retrying, the attempt
log, and disabling after ``webhooks_disable_after`` failed attempts in a row (5 in these tests)."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import httpx

from rtk_sessions.domain.webhooks import EVENTS
from tests.conftest import LiveServer, Tenant, make_tenant
from tests.conversation.util import Person
from tests.helpers import post_events
from tests.webhooks.conftest import WEBHOOK_SETTINGS, Received, Receiver, public_key, verify
from tests.webhooks.test_events import _join, _left, subscribe


def _deliveries(t: Tenant, hook_id: str) -> list[dict[str, Any]]:
    url = f"{t.server.base_url}/accounts/{t.account_id}/realtime/kit/{t.app_id}/webhooks/{hook_id}/deliveries"
    response = httpx.get(url, headers={"Authorization": f"Bearer {t.token}"}, timeout=10)
    assert response.status_code == 200, response.text
    return list(reversed(response.json()["data"]))  # oldest first


def test_failed_attempts_are_retried_in_order(hook_server: LiveServer, receiver: Receiver) -> None:
    t = make_tenant(hook_server, "retries")
    hook_id = subscribe(t, receiver.url + "/flaky", list(EVENTS))
    tries: Counter[str] = Counter()
    attempt_of: dict[int, int] = {}

    def delay(r: Received) -> float:  # called first, when the request arrives
        tries[r.headers["rtk-delivery-id"]] += 1
        n = attempt_of[id(r)] = tries[r.headers["rtk-delivery-id"]]
        # the third attempt of meeting.started outlives the 3 s timeout
        return 4.5 if r.payload["event"] == "meeting.started" and n == 3 else 0.0

    def respond(r: Received) -> int:
        first = r.payload["event"] == "meeting.started"
        return 500 if first and attempt_of[id(r)] <= 2 else 200

    receiver.respond, receiver.delay = respond, delay
    alice = Person(f"peer-{uuid.uuid4()}", None, "Alice")
    post_events(t, [_join(str(uuid.uuid4()), alice, datetime.now(UTC))])
    got = receiver.wait_for(
        "/flaky", lambda r: any(x.payload["event"] == "meeting.participantJoined" for x in r)
    )
    key = public_key(hook_server.url)
    for item in got:
        verify(key, item)
    events = [r.payload["event"] for r in got]
    # started: 500, 500, timeout, 200; the join waits for it (same session) and goes once.
    assert events == ["meeting.started"] * 4 + ["meeting.participantJoined"]
    assert len({r.headers["rtk-delivery-id"] for r in got[:4]}) == 1, (
        "retries keep their delivery id"
    )
    assert len({r.body for r in got[:4]}) == 1, "and their exact body"
    started, joined = _deliveries(t, hook_id)
    assert started["status"] == "delivered" and started["attempts"] == 4
    log = started["attempt_log"]
    assert [a["status_code"] for a in log] == [500, 500, None, 200]
    assert log[0]["error"] == "HTTP 500 from 127.0.0.1" and "timed out" in log[2]["error"]
    assert joined["attempts"] == 1 and joined["attempt_log"][0]["status_code"] == 200
    hook = (
        t.sdk()
        .realtime_kit.webhooks.get_webhook_by_id(hook_id, account_id=t.account_id, app_id=t.app_id)
        .data
    )
    assert hook.enabled is True and hook.model_extra["consecutive_failures"] == 0


def test_a_webhook_that_keeps_failing_is_disabled(
    hook_server: LiveServer, receiver: Receiver
) -> None:
    limit = WEBHOOK_SETTINGS["webhooks_disable_after"]
    t = make_tenant(hook_server, "disable")
    hook_id = subscribe(t, receiver.url + "/dead", list(EVENTS))
    receiver.respond = lambda r: 503
    alice = Person(f"peer-{uuid.uuid4()}", None, "Alice")
    meeting_id = str(uuid.uuid4())
    now = datetime.now(UTC)
    post_events(t, [_join(meeting_id, alice, now)])
    hooks = t.sdk().realtime_kit.webhooks
    kw = {"account_id": t.account_id, "app_id": t.app_id}

    def disabled() -> bool:
        return hooks.get_webhook_by_id(hook_id, **kw).data.enabled is False

    receiver.wait_for("/dead", lambda _r: disabled())
    hook = hooks.get_webhook_by_id(hook_id, **kw).data
    assert f"disabled after {limit} failed delivery attempts" in hook.model_extra["disabled_reason"]
    deliveries = _deliveries(t, hook_id)
    assert [d["status"] for d in deliveries] == ["pending", "pending"]  # held, not dropped
    assert sum(d["attempts"] for d in deliveries) == limit
    assert len(receiver.of("/dead")) == limit
    assert all(a["status_code"] == 503 for d in deliveries for a in d["attempt_log"])
    # While disabled, no new deliveries are written.
    post_events(t, [_left(alice, now)])
    assert len(_deliveries(t, hook_id)) == 2
    # Enabled again (and the receiver fixed): the held deliveries go out, in order, once each.
    receiver.respond = lambda r: 200
    edited = hooks.edit_webhook(hook_id, **kw, enabled=True).data
    assert edited.enabled is True and edited.model_extra["disabled_reason"] is None
    got = receiver.wait_for("/dead", lambda r: len(r) >= limit + 2)
    assert [r.payload["event"] for r in got[limit:]] == [
        "meeting.started",
        "meeting.participantJoined",
    ]
    assert [d["status"] for d in _deliveries(t, hook_id)] == ["delivered", "delivered"]


def test_cli_shows_webhooks_and_attempts(hook_server: LiveServer, receiver: Receiver) -> None:
    import json
    import subprocess
    import sys

    t = make_tenant(hook_server, "cli")
    hook_id = subscribe(t, receiver.url + "/cli", ["meeting.started"])
    calls = Counter[str]()

    def respond(r: Received) -> int:
        calls[r.headers["rtk-delivery-id"]] += 1
        return 502 if calls[r.headers["rtk-delivery-id"]] == 1 else 204

    receiver.respond = respond
    post_events(
        t, [_join(str(uuid.uuid4()), Person(f"peer-{uuid.uuid4()}", None, "A"), datetime.now(UTC))]
    )
    receiver.wait_for("/cli", lambda r: len(r) >= 2)
    receiver.wait_for("/cli", lambda _r: _deliveries(t, hook_id)[0]["status"] == "delivered")

    def cli(*args: str) -> str:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "rtk_sessions",
                "webhooks",
                *args,
                "--database-url",
                hook_server.database_url,
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    listed = json.loads(cli("list", "--app", t.app_id, "--json"))
    assert [(w["id"], w["enabled"]) for w in listed] == [(hook_id, True)]
    shown = json.loads(cli("deliveries", hook_id, "--json"))
    assert len(shown) == 1 and shown[0]["event"] == "meeting.started"
    assert [a["status_code"] for a in shown[0]["attempt_log"]] == [502, 204]
    text = cli("deliveries", hook_id)
    assert "meeting.started  delivered  attempts=2" in text and "#1" in text and "502" in text


def test_a_slow_receiver_holds_up_only_its_own_webhook(
    hook_server: LiveServer, receiver: Receiver
) -> None:
    import threading

    t = make_tenant(hook_server, "slow")
    subscribe(t, receiver.url + "/slow", list(EVENTS), "slow")
    subscribe(t, receiver.url + "/fast", list(EVENTS), "fast")
    fast_done = threading.Event()
    held: list[bool] = []

    def delay(r: Received) -> float:
        if r.path == "/slow" and not held:
            # held until the other webhook got everything (or 2.5 s, under the 3 s timeout)
            held.append(fast_done.wait(2.5))
        return 0.0

    receiver.delay = delay
    post_events(
        t, [_join(str(uuid.uuid4()), Person(f"peer-{uuid.uuid4()}", None, "A"), datetime.now(UTC))]
    )
    receiver.wait_for("/fast", lambda r: len(r) >= 2)
    fast_done.set()
    receiver.wait_for("/slow", lambda r: len(r) >= 2)
    assert held == [True], "the fast webhook was served while the slow one's POST was in flight"
