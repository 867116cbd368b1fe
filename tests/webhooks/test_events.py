"""Webhook events from what really happened: a session through the ingestion API (joins, chat,
transcript, leaves, the sweeper's end, the summary job) and imported real recordings. A receiver
verifies every signature with the published key, each event fires once per cause, in order per
session, and nothing fires for a batch that rolled back."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import func, select

from rtk_sessions.clock import iso
from rtk_sessions.domain.webhooks import EVENTS
from rtk_sessions.storage.tables import WebhookDeliveryRow
from tests.conftest import REAL_STATS, LiveServer, Tenant, make_tenant
from tests.conversation.util import Person, new_id, segment_event
from tests.helpers import post_events
from tests.webhooks.conftest import Receiver, public_key, verify

P2P = REAL_STATS / "jitsi-rtcstats_google-standard-stats-p2p.rtcstats.jsonl"
SFU = REAL_STATS / "jitsi-rtcstats_google-standard-stats-sfu.rtcstats.jsonl"


def subscribe(t: Tenant, url: str, events: list[str], name: str = "hook") -> str:
    hook = t.sdk().realtime_kit.webhooks.create_webhook(
        t.app_id,
        account_id=t.account_id,
        name=name,
        url=url,
        events=events,
    )
    webhook_id: str = hook.data.id
    return webhook_id


def _join(meeting_id: str, p: Person, at: datetime) -> dict[str, Any]:
    return {
        "id": new_id("join"),
        "type": "peer.joined",
        "timestamp": iso(at),
        "peer_id": p.peer_id,
        "meeting_id": meeting_id,
        "participant": {
            "user_id": p.user_id,
            "display_name": p.name,
            "custom_participant_id": p.custom_id,
            "preset_name": "group_call_host",
        },
    }


def _left(p: Person, at: datetime) -> dict[str, Any]:
    return {"id": new_id("left"), "type": "peer.left", "timestamp": iso(at), "peer_id": p.peer_id}


def test_a_session_fires_each_event_once_signed_and_in_order(
    hook_server: LiveServer, receiver: Receiver
) -> None:
    t = make_tenant(hook_server, "events")
    subscribe(t, receiver.url + "/all", list(EVENTS), "all")
    subscribe(t, receiver.url + "/joins", ["meeting.participantJoined"], "joins")
    sdk = t.sdk().realtime_kit
    meeting = sdk.meetings.create(
        t.app_id,
        account_id=t.account_id,
        title="Weekly sync",
        summarize_on_end=True,
        session_keep_alive_time_in_secs=1,
    ).data
    alice = Person(f"peer-{uuid.uuid4()}", "user-alice", "Alice", "alice")
    bob = Person(f"peer-{uuid.uuid4()}", "user-bob", "Bob", "bob")
    t0 = datetime.now(UTC) - timedelta(minutes=3)
    post_events(
        t, [_join(meeting.id, alice, t0), _join(meeting.id, bob, t0 + timedelta(seconds=4))]
    )
    live = sdk.sessions.get_sessions(t.app_id, account_id=t.account_id).data.sessions
    session_id = live[0].id
    words = [
        (alice, 10, 14, "Good morning, let us review the release checklist for the mobile app."),
        (bob, 15, 21, "The crash on older Android phones is fixed and the build passed all tests."),
        (alice, 22, 30, "Then we ship on Thursday and send the release notes to the support team."),
    ]
    post_events(
        t,
        [
            {
                "id": new_id("chat"),
                "type": "chat.message",
                "timestamp": iso(t0 + timedelta(seconds=8)),
                "peer_id": alice.peer_id,
                "payload_type": "TEXT_MESSAGE",
                "payload": "checklist: https://example.com/release",
            },
            segment_event(
                session_id,
                bob,
                t0 + timedelta(seconds=9),
                t0 + timedelta(seconds=9.5),
                "Th",
                is_final=False,
            ),
            *[
                segment_event(
                    session_id, p, t0 + timedelta(seconds=a), t0 + timedelta(seconds=b), text
                )
                for p, a, b, text in words
            ],
            _left(bob, t0 + timedelta(seconds=60)),
            _left(alice, t0 + timedelta(seconds=75)),
        ],
    )
    expected = [
        "meeting.started",
        "meeting.participantJoined",
        "meeting.participantJoined",
        "meeting.participantLeft",
        "meeting.participantLeft",
        "meeting.ended",
        "meeting.chatSynced",
        "meeting.transcript",
        "meeting.summary",
    ]
    got = receiver.wait_for("/all", lambda r: len(r) >= len(expected))
    key = public_key(hook_server.url)
    for item in got:
        verify(key, item)
    payloads = [r.payload for r in got]
    assert [p["event"] for p in payloads] == expected, "one each, in the order they happened"
    assert len({p["eventId"] for p in payloads}) == len(expected)
    assert {p["meeting"]["sessionId"] for p in payloads} == {session_id}
    assert all(p["appId"] == t.app_id and p["meeting"]["id"] == meeting.id for p in payloads)

    details = sdk.sessions.get_session_details(
        session_id, account_id=t.account_id, app_id=t.app_id
    ).data
    started, j1, j2, l1, l2, ended, chat, transcript, summary = payloads
    assert started["meeting"]["status"] == "LIVE" and started["meeting"]["title"] == "Weekly sync"
    assert started["meeting"]["startedAt"] == iso(t0) == details.started_at
    assert [j1["participant"]["displayName"], j2["participant"]["displayName"]] == ["Alice", "Bob"]
    people = {
        p.custom_participant_id: p
        for p in sdk.sessions.get_session_participants(
            session_id, account_id=t.account_id, app_id=t.app_id
        ).data.participants
    }
    for joined in (j1, j2):
        part = joined["participant"]
        row = people[part["customParticipantId"]]
        assert part["peerId"] == row.id and part["userId"] == row.user_id
        assert part["joinedAt"] == row.joined_at and part["leftAt"] is None
    assert [l1["participant"]["displayName"], l2["participant"]["displayName"]] == ["Bob", "Alice"]
    for left in (l1, l2):
        part = left["participant"]
        row = people[part["customParticipantId"]]
        assert left["reason"] == "LEFT" and part["leftAt"] == row.left_at
        assert abs(part["minutesConsumed"] - row.duration) < 1e-3
    assert ended["reason"] == "ALL_PARTICIPANTS_LEFT"
    assert ended["meeting"]["status"] == "ENDED" and ended["meeting"]["endedAt"] == details.ended_at
    assert chat["chat"]["messages"] == 1
    assert chat["chat"]["api"].endswith(f"/{t.app_id}/sessions/{session_id}/chat")
    assert transcript["transcript"]["segments"] == 3  # final ones only
    assert summary["summary"]["segments"] == 3 and summary["summary"]["textFormat"]
    fetched = sdk.sessions.get_session_summary(session_id, account_id=t.account_id, app_id=t.app_id)
    assert fetched.data is not None
    # The webhook subscribed to joins only got the joins, with its own delivery ids.
    joins = receiver.wait_for("/joins", lambda r: len(r) >= 2)
    assert [r.payload["event"] for r in joins] == ["meeting.participantJoined"] * 2
    assert {r.payload["eventId"] for r in joins} == {j1["eventId"], j2["eventId"]}
    assert not {r.payload["deliveryId"] for r in joins} & {p["deliveryId"] for p in payloads}
    # Delivered deliveries are visible with their attempts.
    url = f"{t.server.base_url}/accounts/{t.account_id}/realtime/kit/{t.app_id}/webhooks/{started['webhookId']}/deliveries"
    listed = httpx.get(url, headers={"Authorization": f"Bearer {t.token}"}, timeout=10).json()
    assert [d["event"] for d in reversed(listed["data"])] == expected
    assert all(
        d["status"] == "delivered" and d["attempt_log"][-1]["status_code"] == 200
        for d in listed["data"]
    )
    # Chat arriving after the end: one more chatSynced, nothing else.
    post_events(
        t,
        [
            {
                "id": new_id("chat"),
                "type": "chat.message",
                "timestamp": iso(t0 + timedelta(seconds=70)),
                "session_id": session_id,
                "payload_type": "TEXT_MESSAGE",
                "payload": "late sync from a client that was offline",
            }
        ],
    )
    late = receiver.wait_for("/all", lambda r: len(r) > len(expected))
    assert [r.payload["event"] for r in late[len(expected) :]] == ["meeting.chatSynced"]
    assert late[-1].payload["chat"]["messages"] == 2


def test_a_rolled_back_batch_fires_nothing(hook_server: LiveServer, receiver: Receiver) -> None:
    t = make_tenant(hook_server, "rollback")
    hook_id = subscribe(t, receiver.url + "/rb", list(EVENTS))
    meeting_id = str(uuid.uuid4())
    alice = Person(f"peer-{uuid.uuid4()}", None, "Alice")
    now = datetime.now(UTC)
    unknown = _left(Person("peer-that-never-joined", None, None), now)
    post_events(t, [_join(meeting_id, alice, now), unknown], expect=400)
    post_events(t, [_join(meeting_id, alice, now)])  # the same join alone commits
    got = receiver.wait_for("/rb", lambda r: len(r) >= 2)
    assert [r.payload["event"] for r in got] == ["meeting.started", "meeting.participantJoined"]
    with hook_server.database().unit_of_work(write=False) as s:
        n = s.scalar(select(func.count()).where(WebhookDeliveryRow.webhook_id == hook_id))
    assert n == 2


def test_imported_recordings_fire_lifecycle_events(
    hook_server: LiveServer, receiver: Receiver
) -> None:
    from rtk_sessions.importers.service import import_recordings

    t = make_tenant(hook_server, "import")
    subscribe(t, receiver.url + "/imp", list(EVENTS))
    result = import_recordings(
        hook_server.database(),
        hook_server.settings,
        [P2P, SFU],
        account_id=t.account_id,
        app_id=t.app_id,
        meeting_title="Two recorded clients",
    )
    got = receiver.wait_for("/imp", lambda r: any(x.payload["event"] == "meeting.ended" for x in r))
    key = public_key(hook_server.url)
    for item in got:
        verify(key, item)
    events = [r.payload["event"] for r in got]
    assert Counter(events) == {
        "meeting.started": 1,
        "meeting.participantJoined": 2,
        "meeting.participantLeft": 2,
        "meeting.ended": 1,
    }
    assert events[0] == "meeting.started" and events[-1] == "meeting.ended"
    sdk = t.sdk().realtime_kit.sessions
    people = sdk.get_session_participants(
        result.session_id, account_id=t.account_id, app_id=t.app_id
    ).data.participants
    by_peer = {p.id: p for p in people}
    for r in got:
        p = r.payload
        assert p["meeting"]["sessionId"] == result.session_id
        assert p["meeting"]["title"] == "Two recorded clients"
        if p["event"] == "meeting.participantLeft":
            row = by_peer[p["participant"]["peerId"]]
            assert p["participant"]["joinedAt"] == row.joined_at
            assert p["participant"]["leftAt"] == row.left_at
    # A second import of the same files changes nothing and fires nothing.
    import_recordings(
        hook_server.database(),
        hook_server.settings,
        [P2P, SFU],
        account_id=t.account_id,
        app_id=t.app_id,
        meeting_title="Two recorded clients",
    )
    with hook_server.database().unit_of_work(write=False) as s:
        n = s.scalar(select(func.count()).where(WebhookDeliveryRow.app_id == t.app_id))
    assert n == len(got)
