"""Meetings and participant tokens through the official SDK; what a participant token may do."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import cloudflare
import jwt
import pytest

from tests.conftest import LiveServer, Tenant, make_tenant
from tests.helpers import post_events


def _now_ms(offset_s: float = 0.0) -> float:
    return (datetime.now(UTC) + timedelta(seconds=offset_s)).timestamp() * 1000


def test_meeting_crud(tenant: Tenant) -> None:
    meetings = tenant.sdk().realtime_kit.meetings
    a = tenant.account_id
    created = meetings.create(
        tenant.app_id,
        account_id=a,
        title="Weekly sync",
        session_keep_alive_time_in_secs=5,
        persist_chat=True,
        summarize_on_end=True,
        ai_config={"summarization": {"word_limit": 120, "text_format": "plain_text"}},
    )
    meeting = created.data
    assert created.success is True
    assert meeting.title == "Weekly sync" and meeting.status == "ACTIVE"
    assert (
        meeting.session_keep_alive_time_in_secs == 5
        and meeting.persist_chat
        and meeting.summarize_on_end
    )
    assert meeting.ai_config.summarization.word_limit == 120
    assert isinstance(meeting.created_at, datetime)  # the SDK parses our ISO timestamps

    other = meetings.create(tenant.app_id, account_id=a, title="Retro").data
    listed = meetings.get(tenant.app_id, account_id=a)
    assert {m.id for m in listed.data} == {meeting.id, other.id}
    assert listed.paging.total_count == 2 and listed.paging.start_offset == 1
    assert [m.id for m in meetings.get(tenant.app_id, account_id=a, search="weekly").data] == [
        meeting.id
    ]
    assert meetings.get(tenant.app_id, account_id=a, status="INACTIVE").data == []

    fetched = meetings.get_meeting_by_id(meeting.id, account_id=a, app_id=tenant.app_id).data
    assert fetched.id == meeting.id and fetched.title == "Weekly sync"
    patched = meetings.update_meeting_by_id(
        meeting.id, account_id=a, app_id=tenant.app_id, title="Weekly", status="INACTIVE"
    ).data
    assert (patched.title, patched.status, patched.persist_chat) == ("Weekly", "INACTIVE", True)
    replaced = meetings.replace_meeting_by_id(
        meeting.id, account_id=a, app_id=tenant.app_id, title="Fresh"
    ).data
    assert (replaced.title, replaced.persist_chat, replaced.session_keep_alive_time_in_secs) == (
        "Fresh",
        False,
        60,
    )

    with pytest.raises(cloudflare.NotFoundError):
        meetings.get_meeting_by_id("nope", account_id=a, app_id=tenant.app_id)
    with pytest.raises(cloudflare.BadRequestError):
        meetings.create(tenant.app_id, account_id=a, session_keep_alive_time_in_secs=-1)
    with pytest.raises(cloudflare.BadRequestError):
        meetings.create(tenant.app_id, account_id=a, extra_body={"persist_chat": "yes"})


def test_participants_crud_and_tokens(tenant: Tenant) -> None:
    meetings = tenant.sdk().realtime_kit.meetings
    a = tenant.account_id
    meeting = meetings.create(tenant.app_id, account_id=a, title="Pairing").data
    added = meetings.add_participant(
        meeting.id,
        account_id=a,
        app_id=tenant.app_id,
        custom_participant_id="ada@example.com",
        preset_name="group_call_host",
        name="Ada",
    ).data
    assert added.token and added.custom_participant_id == "ada@example.com" and added.name == "Ada"
    claims = jwt.decode(added.token, options={"verify_signature": False})
    assert claims["sub"] == added.id and claims["mtg"] == meeting.id and claims["exp"] > time.time()

    listed = meetings.get_meeting_participants(meeting.id, account_id=a, app_id=tenant.app_id)
    assert [p.id for p in listed.data] == [added.id] and listed.paging.total_count == 1
    assert "token" not in listed.to_dict()["data"][0]
    got = meetings.get_meeting_participant(
        added.id, account_id=a, app_id=tenant.app_id, meeting_id=meeting.id
    ).data
    assert got.preset_name == "group_call_host"
    edited = meetings.edit_participant(
        added.id, account_id=a, app_id=tenant.app_id, meeting_id=meeting.id, name="Ada L."
    ).data
    assert edited.name == "Ada L."

    refreshed = meetings.refresh_participant_token(
        added.id, account_id=a, app_id=tenant.app_id, meeting_id=meeting.id
    ).data
    assert refreshed.token != added.token
    join = {"id": "j", "type": "peer.joined", "timestamp": _now_ms(), "peer_id": "tok-peer"}
    post_events(tenant, [join], token=added.token, expect=401)  # replaced by the refresh
    post_events(tenant, [join], token=refreshed.token)

    with pytest.raises(cloudflare.BadRequestError):
        meetings.add_participant(
            meeting.id,
            account_id=a,
            app_id=tenant.app_id,
            custom_participant_id="x",
            preset_name="",
        )
    deleted = meetings.delete_meeting_participant(
        added.id, account_id=a, app_id=tenant.app_id, meeting_id=meeting.id
    )
    assert deleted.data.custom_participant_id == "ada@example.com"
    with pytest.raises(cloudflare.NotFoundError):
        meetings.get_meeting_participant(
            added.id, account_id=a, app_id=tenant.app_id, meeting_id=meeting.id
        )
    post_events(
        tenant, [{**join, "id": "j2"}], token=refreshed.token, expect=401
    )  # participant gone


def test_session_participants_carry_the_meeting_participant_identity(tenant: Tenant) -> None:
    meetings = tenant.sdk().realtime_kit.meetings
    a = tenant.account_id
    meeting = meetings.create(tenant.app_id, account_id=a, title="Identity").data
    ada = meetings.add_participant(
        meeting.id,
        account_id=a,
        app_id=tenant.app_id,
        custom_participant_id="c-ada",
        preset_name="webinar_host",
        name="Ada",
    ).data
    post_events(
        tenant,
        [
            {
                "id": "i1",
                "type": "peer.joined",
                "timestamp": _now_ms(-5),
                "peer_id": "id-peer",
                "participant": {"user_id": "spoofed", "preset_view_type": "WEBINAR"},
            }
        ],
        token=ada.token,
    )
    sessions = tenant.sdk().realtime_kit.sessions
    live = sessions.get_sessions(
        tenant.app_id, account_id=a, associated_id=meeting.id
    ).data.sessions
    assert (
        len(live) == 1 and live[0].meeting_display_name == "Identity" and live[0].status == "LIVE"
    )
    participant = sessions.get_session_participant_details(
        "id-peer",
        account_id=a,
        app_id=tenant.app_id,
        session_id=live[0].id,
        include_peer_events=True,
    ).data.participant
    assert (
        participant.user_id,
        participant.custom_participant_id,
        participant.display_name,
        participant.preset_name,
    ) == (ada.id, "c-ada", "Ada", "webinar_host")
    assert {e.participant_id for e in participant.peer_events} == {ada.id}
    report = sessions.get_participant_data_from_peer_id(
        "id-peer", account_id=a, app_id=tenant.app_id
    ).data.participant
    assert report.role == "webinar_host" and report.user_id == ada.id


def test_participant_token_scope(live_server: LiveServer, tenant: Tenant) -> None:
    a = tenant.account_id
    meetings = tenant.sdk().realtime_kit.meetings
    meeting = meetings.create(tenant.app_id, account_id=a, title="Scope").data
    other_meeting = meetings.create(tenant.app_id, account_id=a, title="Elsewhere").data
    ada = meetings.add_participant(
        meeting.id, account_id=a, app_id=tenant.app_id, custom_participant_id="a", preset_name="p"
    ).data
    bob = meetings.add_participant(
        meeting.id, account_id=a, app_id=tenant.app_id, custom_participant_id="b", preset_name="p"
    ).data
    post_events(
        tenant,
        [{"id": "s1", "type": "peer.joined", "timestamp": _now_ms(-9), "peer_id": "ada-peer"}],
        token=ada.token,
    )
    post_events(
        tenant,
        [{"id": "s2", "type": "peer.joined", "timestamp": _now_ms(-9), "peer_id": "bob-peer"}],
        token=bob.token,
    )

    # It cannot read any API.
    as_ada = cloudflare.Cloudflare(
        api_token=ada.token, base_url=tenant.server.base_url, max_retries=0
    )
    with pytest.raises(cloudflare.PermissionDeniedError):
        as_ada.realtime_kit.sessions.get_sessions(tenant.app_id, account_id=a)
    with pytest.raises(cloudflare.PermissionDeniedError):
        as_ada.realtime_kit.meetings.get(tenant.app_id, account_id=a)
    # It cannot write for another participant, meeting, app, or pick a session.
    body = post_events(
        tenant,
        [{"id": "s3", "type": "peer.left", "timestamp": _now_ms(), "peer_id": "bob-peer"}],
        token=ada.token,
        expect=403,
    ).json()
    assert "not this participant" in body["error"]["message"]
    post_events(
        tenant,
        [
            {
                "id": "s4",
                "type": "peer.joined",
                "timestamp": _now_ms(),
                "peer_id": "x",
                "meeting_id": other_meeting.id,
            }
        ],
        token=ada.token,
        expect=403,
    )
    post_events(
        tenant,
        [
            {
                "id": "s5",
                "type": "peer.joined",
                "timestamp": _now_ms(),
                "peer_id": "y",
                "session_id": "chosen",
            }
        ],
        token=ada.token,
        expect=403,
    )
    elsewhere = make_tenant(live_server, "elsewhere")
    post_events(
        elsewhere,
        [{"id": "s6", "type": "peer.left", "timestamp": _now_ms(), "peer_id": "ada-peer"}],
        token=ada.token,
        expect=403,
    )
    # Its own events go through; tampered and expired tokens are refused.
    post_events(
        tenant,
        [{"id": "s7", "type": "peer.left", "timestamp": _now_ms(), "peer_id": "ada-peer"}],
        token=ada.token,
    )
    header, payload, signature = ada.token.split(".")
    post_events(tenant, [], token=f"{header}.{payload}.{signature[::-1]}", expect=401)
    secret = live_server.app.state.secret
    claims = jwt.decode(ada.token, secret, algorithms=["HS256"], audience="rtk-sessions:ingest")
    expired = jwt.encode({**claims, "exp": int(time.time()) - 5}, secret, algorithm="HS256")
    body = post_events(tenant, [], token=expired, expect=401).json()
    assert "expired" in body["error"]["message"]
    forged = jwt.encode(claims, b"not the server secret, but 32+ bytes long", algorithm="HS256")
    post_events(tenant, [], token=forged, expect=401)


def test_beacon_token_in_query(tenant: Tenant) -> None:
    """navigator.sendBeacon cannot set headers: a participant token may come as ?token=."""
    import httpx

    from tests.helpers import ingest_url

    meetings = tenant.sdk().realtime_kit.meetings
    meeting = meetings.create(tenant.app_id, account_id=tenant.account_id, title="Beacon").data
    ada = meetings.add_participant(
        meeting.id,
        account_id=tenant.account_id,
        app_id=tenant.app_id,
        custom_participant_id="a",
        preset_name="p",
    ).data
    event = {"id": "b1", "type": "peer.joined", "timestamp": _now_ms(), "peer_id": "beacon-peer"}
    response = httpx.post(
        ingest_url(tenant),
        params={"token": ada.token},
        content=__import__("json").dumps({"events": [event]}),
        headers={"Content-Type": "text/plain;charset=UTF-8"},
        timeout=10,
    )
    assert response.status_code == 200 and response.json()["data"]["accepted"] == 1


def test_participant_token_chat_and_transcript_only_as_itself(tenant: Tenant) -> None:
    a = tenant.account_id
    meetings = tenant.sdk().realtime_kit.meetings
    meeting = meetings.create(tenant.app_id, account_id=a, title="Chatty").data
    ada = meetings.add_participant(
        meeting.id, account_id=a, app_id=tenant.app_id, custom_participant_id="a", preset_name="p"
    ).data
    bob = meetings.add_participant(
        meeting.id, account_id=a, app_id=tenant.app_id, custom_participant_id="b", preset_name="p"
    ).data
    post_events(
        tenant,
        [{"id": "c1", "type": "peer.joined", "timestamp": _now_ms(-5), "peer_id": "chat-ada"}],
        token=ada.token,
    )
    chat = {
        "id": "c2",
        "type": "chat.message",
        "timestamp": _now_ms(),
        "peer_id": "chat-ada",
        "payload_type": "TEXT_MESSAGE",
        "payload": "hi",
    }
    post_events(
        tenant,
        [{**chat, "sender": {"user_id": bob.id, "display_name": "Bob"}}],
        token=ada.token,
        expect=403,
    )
    post_events(tenant, [{**chat, "session_id": "another-session"}], token=ada.token, expect=403)
    post_events(tenant, [{**chat, "peer_id": None}], token=ada.token, expect=403)
    segment = {
        "id": "c3",
        "type": "transcript.segment",
        "timestamp": _now_ms(),
        "peer_id": "chat-ada",
        "start": _now_ms(-2),
        "end": _now_ms(-1),
        "text": "hello",
        "speaker": {"user_id": bob.id},
    }
    post_events(tenant, [segment], token=ada.token, expect=403)
    assert (
        post_events(tenant, [chat, {**segment, "speaker": None}], token=ada.token).json()["data"][
            "accepted"
        ]
        == 2
    )
