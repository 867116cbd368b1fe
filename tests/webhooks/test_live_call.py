"""A real two-Chromium call (rtk_sessions.livecall, participant tokens from the official SDK)
against a live server: the receiver gets each lifecycle event once, signed, with the peers,
times and end that the Sessions API reports for the call."""

from __future__ import annotations

import json
import os
import shutil
from collections import Counter

import pytest

from rtk_sessions.domain.webhooks import EVENTS
from rtk_sessions.livecall import run_call
from tests.conftest import LiveServer, make_tenant
from tests.webhooks.conftest import Receiver, public_key, verify
from tests.webhooks.test_events import subscribe

pytestmark = pytest.mark.browser
CHROMIUM = os.environ.get("RTK_CHROMIUM", "/usr/bin/chromium")


def test_live_call_webhooks(hook_server: LiveServer, receiver: Receiver) -> None:
    if not (os.path.exists(CHROMIUM) or shutil.which(CHROMIUM)):
        pytest.skip(f"{CHROMIUM} not found")
    t = make_tenant(hook_server, "live-webhooks")
    subscribe(t, receiver.url + "/live", list(EVENTS))
    meetings = t.sdk().realtime_kit.meetings
    meeting = meetings.create(
        t.app_id, account_id=t.account_id, title="Live call", session_keep_alive_time_in_secs=1
    ).data
    kw = {"account_id": t.account_id, "app_id": t.app_id}
    a = meetings.add_participant(
        meeting.id, **kw, custom_participant_id="alice", preset_name="group_call_host", name="Alice"
    ).data
    b = meetings.add_participant(
        meeting.id,
        **kw,
        custom_participant_id="bob",
        preset_name="group_call_participant",
        name="Bob",
    ).data
    endpoint = f"{t.server.base_url}/accounts/{t.account_id}/realtime/kit/{t.app_id}/ingest"
    result = run_call(
        endpoint=endpoint,
        tokens=(a.token, b.token),
        meeting_id=meeting.id,
        participants=({"display_name": "Alice"}, {"display_name": "Bob"}),
        chromium=CHROMIUM,
        duration_s=10,
    )
    assert result.ok, [(p.role, p.error) for p in result.peers]
    got = receiver.wait_for(
        "/live", lambda r: any(x.payload["event"] == "meeting.ended" for x in r), timeout=90
    )
    key = public_key(hook_server.url)
    for item in got:
        verify(key, item)
    payloads = [r.payload for r in got]
    assert Counter(p["event"] for p in payloads) == {
        "meeting.started": 1,
        "meeting.participantJoined": 2,
        "meeting.participantLeft": 2,
        "meeting.ended": 1,
    }
    assert payloads[0]["event"] == "meeting.started" and payloads[-1]["event"] == "meeting.ended"
    session_id = payloads[0]["meeting"]["sessionId"]
    sessions = t.sdk().realtime_kit.sessions
    details = sessions.get_session_details(session_id, **kw).data
    assert details.status == "ENDED" and payloads[-1]["meeting"]["endedAt"] == details.ended_at
    assert payloads[-1]["reason"] == "ALL_PARTICIPANTS_LEFT"
    people = {
        p.id: p for p in sessions.get_session_participants(session_id, **kw).data.participants
    }
    assert set(people) == {p.peer_id for p in result.peers}
    left = [p for p in payloads if p["event"] == "meeting.participantLeft"]
    joined = [p for p in payloads if p["event"] == "meeting.participantJoined"]
    for entry in joined + left:
        part = entry["participant"]
        row = people[part["peerId"]]
        assert (
            part["userId"] == row.user_id
            and part["customParticipantId"] == row.custom_participant_id
        )
        assert part["joinedAt"] == row.joined_at and part["displayName"] in ("Alice", "Bob")
    for entry in left:
        row = people[entry["participant"]["peerId"]]
        assert entry["participant"]["leftAt"] == row.left_at and entry["reason"] == "LEFT"
    print("received webhook of a real call:", json.dumps(left[0], indent=1))
    print(
        "headers:", json.dumps({k: v for k, v in got[-2].headers.items() if k.startswith("rtk-")})
    )
