"""A real two-Chromium call in which the backend kicks Bob through the official SDK: his peer leaves
at the kick (PEER_LEAVING), his collector's later batches are refused (401, dropped and reported),
and Alice's call goes on to its end."""

from __future__ import annotations

import threading
import time
from datetime import datetime
from typing import Any

import pytest

from rtk_sessions.livecall import CallResult, run_call
from tests.conftest import make_tenant
from tests.live.test_live_sdk import Server, server, setup_meeting  # noqa: F401 (fixture)

pytestmark = pytest.mark.browser


def _epoch(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def test_kicked_participant_leaves_a_live_call(server: Server, need_chromium: str) -> None:  # noqa: F811
    assert server.live is not None
    tenant = make_tenant(server.live, "live-kick")
    meeting, alice, bob = setup_meeting(tenant, "Kick during a call")
    kit = tenant.sdk().realtime_kit
    kw = {"account_id": tenant.account_id, "app_id": tenant.app_id}
    endpoint = f"{server.live.url}/client/v4/accounts/{tenant.account_id}/realtime/kit/{tenant.app_id}/ingest"
    outcome: dict[str, Any] = {}

    def run() -> None:
        outcome["result"] = run_call(
            endpoint=endpoint,
            tokens=(alice.token, bob.token),
            meeting_id=meeting.id,
            participants=({"display_name": "Alice"}, {"display_name": "Bob"}),
            chromium=need_chromium,
            duration_s=24,
        )

    caller = threading.Thread(target=run)
    caller.start()
    kicked_at = None
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and caller.is_alive():
            try:
                live = kit.active_session.get_active_session(meeting.id, **kw).data
            except Exception:  # no session yet
                live = None
            if live is not None and live.live_participants == 2:
                time.sleep(4)  # some stats of both first
                kicked_at = time.time()
                kicked = kit.active_session.kick_participants(
                    meeting.id, custom_participant_ids=["bob"], **kw
                ).data
                assert [p.id for p in kicked.participants] == [bob.id]
                break
            time.sleep(0.5)
    finally:
        caller.join(180)
    assert kicked_at is not None, "both browsers never joined"
    result: CallResult = outcome["result"]
    a, b = result.peers
    assert a.ok, (a.error, a.logs[-10:])
    collector = b.collector or {}
    assert collector["counters"]["dropped"] > 0, (b.error, collector, b.logs[-10:])
    assert "401" in " ".join(map(str, [b.error, *b.logs])), (b.error, b.logs[-10:])

    session_id = live.id
    people = kit.sessions.get_session_participants(
        session_id, include_peer_events=True, **kw
    ).data.participants
    by_custom = {p.custom_participant_id: p for p in people}
    bob_row, alice_row = by_custom["bob"], by_custom["alice"]
    assert bob_row.left_at is not None
    assert abs(_epoch(bob_row.left_at) - kicked_at) < 3, (bob_row.left_at, kicked_at)
    assert bob_row.peer_events[-1].event_name == "PEER_LEAVING"
    assert _epoch(alice_row.left_at) > _epoch(bob_row.left_at) + 5  # Alice stayed on
    report = kit.sessions.get_participant_data_from_peer_id(bob_row.id, **kw).to_dict()
    assert report["data"]["participant"]["peer_report"]["quality"]["audio_producer"]  # kept
