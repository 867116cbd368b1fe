"""Presets, the active session, org analytics and the unsupported routes through the official
``cloudflare`` 5.9.0 SDK against a live server (SQLite and PostgreSQL: the ``tenant`` fixture)."""

from __future__ import annotations

import inspect
from datetime import UTC, datetime, timedelta
from typing import Any

import cloudflare
import httpx
import pytest

from tests.conftest import Tenant
from tests.helpers import post_events

CONFIG: dict[str, Any] = {
    "view_type": "WEBINAR",
    "max_screenshare_count": 1,
    "max_video_streams": {"desktop": 9, "mobile": 4},
    "media": {
        "screenshare": {"frame_rate": 5, "quality": "hd"},
        "video": {"frame_rate": 30, "quality": "hd", "simulcast": True},
        "audio": {"enable_high_bitrate": False, "enable_stereo": False},
    },
}
PERMISSIONS: dict[str, Any] = {
    "accept_waiting_requests": True,
    "can_record": False,
    "kick_participant": True,
    "chat": {
        "private": {"can_receive": True, "can_send": True, "files": False, "text": True},
        "public": {"can_send": True, "files": False, "text": True},
    },
    "media": {
        "audio": {"can_produce": "ALLOWED"},
        "video": {"can_produce": "ALLOWED"},
        "screenshare": {"can_produce": "NOT_ALLOWED"},
    },
    "waiting_room_type": "SKIP",
}
UI: dict[str, Any] = {
    "design_tokens": {
        "border_radius": "rounded",
        "border_width": "thin",
        "spacing_base": 4,
        "theme": "dark",
        "colors": {"danger": "#FF2D2D", "text": "#EEEEEE", "video_bg": "#191919"},
    }
}


def _ms(offset_s: float = 0.0) -> float:
    return (datetime.now(UTC) + timedelta(seconds=offset_s)).timestamp() * 1000


def _create_preset(tenant: Tenant, name: str, view_type: str = "WEBINAR") -> Any:
    return (
        tenant.sdk()
        .realtime_kit.presets.create(
            tenant.app_id,
            account_id=tenant.account_id,
            name=name,
            config={**CONFIG, "view_type": view_type},
            permissions=PERMISSIONS,
            ui=UI,
        )
        .data
    )


def test_presets_every_method(tenant: Tenant) -> None:
    presets = tenant.sdk().realtime_kit.presets
    a, app = tenant.account_id, tenant.app_id
    host = _create_preset(tenant, "webinar_host")
    assert host.name == "webinar_host" and host.config.view_type == "WEBINAR"
    assert host.config.media.video.simulcast is True
    assert host.permissions.chat.private.can_receive is True
    assert host.ui.design_tokens.colors.danger == "#FF2D2D"
    _create_preset(tenant, "webinar_viewer")
    got = presets.get_preset_by_id(host.id, account_id=a, app_id=app).data
    assert got.model_dump() == host.model_dump()
    listed = presets.get(app, account_id=a, per_page=1, page_no=2)
    assert [p.name for p in listed.data] == ["webinar_viewer"]
    assert listed.paging.total_count == 2
    assert [p.name for p in presets.get(app, account_id=a, search="HOST").data] == ["webinar_host"]
    # PATCH merges objects key by key
    patched = presets.update(
        host.id,
        account_id=a,
        app_id=app,
        config={"view_type": "GROUP_CALL", "media": {"video": {"frame_rate": 15}}},
    ).data
    assert patched.config.view_type == "GROUP_CALL"
    assert patched.config.media.video.frame_rate == 15
    assert patched.config.media.video.quality == "hd"  # kept
    assert patched.permissions.model_dump() == host.permissions.model_dump()
    # PUT replaces every document
    replaced = presets.replace_preset_by_id(
        host.id,
        account_id=a,
        app_id=app,
        name="host",
        config={"view_type": "AUDIO_ROOM"},
        permissions={"kick_participant": False},
        ui={"design_tokens": {"theme": "light"}},
    ).data
    assert replaced.name == "host" and replaced.config.model_dump(exclude_none=True) == {
        "view_type": "AUDIO_ROOM"
    }
    assert replaced.created_at == host.created_at and replaced.updated_at >= host.updated_at
    deleted = presets.delete(host.id, account_id=a, app_id=app).data
    assert deleted.id == host.id
    with pytest.raises(cloudflare.NotFoundError):
        presets.get_preset_by_id(host.id, account_id=a, app_id=app)
    with pytest.raises(cloudflare.BadRequestError, match="already exists"):
        _create_preset(tenant, "webinar_viewer")
    with pytest.raises(cloudflare.BadRequestError, match="view_type"):
        presets.create(
            app,
            account_id=a,
            name="x",
            config={"view_type": "THEATRE"},
            permissions={},
            ui={},
        )


def test_preset_hostile_bodies_answer_400(tenant: Tenant) -> None:
    url = (
        f"{tenant.server.base_url}/accounts/{tenant.account_id}/realtime/kit/"
        f"{tenant.app_id}/presets"
    )
    headers = {"Authorization": f"Bearer {tenant.token}"}
    good = {"name": "p", "config": CONFIG, "permissions": PERMISSIONS, "ui": UI}
    for body in (
        b"{",
        b"[]",
        b"{}",
        {**good, "name": ""},
        {**good, "name": "a\x00b"},
        {**good, "ui": {"k\x00": 1}},
        {**good, "permissions": {"x": "\x00"}},
        {**good, "config": {**CONFIG, "media": "nested" * 0 + "\x00"}},
        {**good, "surprise": 1},
        {**good, "ui": 5},
    ):
        kwargs: dict[str, Any] = {"content": body} if isinstance(body, bytes) else {"json": body}
        response = httpx.post(url, headers=headers, timeout=30, **kwargs)
        assert response.status_code == 400, (body, response.text)
        assert response.json()["success"] is False and response.json()["errors"]


def test_unknown_preset_name_is_refused_once_the_app_has_presets(tenant: Tenant) -> None:
    meetings = tenant.sdk().realtime_kit.meetings
    a, app = tenant.account_id, tenant.app_id
    meeting = meetings.create(app, account_id=a, title="Presets").data
    # an app without presets accepts any name (imports, sessions from before presets)
    meetings.add_participant(
        meeting.id, account_id=a, app_id=app, custom_participant_id="x", preset_name="anything"
    )
    _create_preset(tenant, "webinar_host")
    with pytest.raises(cloudflare.NotFoundError, match="Preset nope not found"):
        meetings.add_participant(
            meeting.id, account_id=a, app_id=app, custom_participant_id="y", preset_name="nope"
        )
    ada = meetings.add_participant(
        meeting.id,
        account_id=a,
        app_id=app,
        custom_participant_id="ada",
        preset_name="webinar_host",
    ).data
    with pytest.raises(cloudflare.NotFoundError, match="Preset nope not found"):
        meetings.edit_participant(
            ada.id, account_id=a, app_id=app, meeting_id=meeting.id, preset_name="nope"
        )


def test_preset_view_type_fills_peer_events(tenant: Tenant) -> None:
    sdk = tenant.sdk()
    a, app = tenant.account_id, tenant.app_id
    _create_preset(tenant, "stage", view_type="AUDIO_ROOM")
    meeting = sdk.realtime_kit.meetings.create(app, account_id=a, title="Views").data
    ada = sdk.realtime_kit.meetings.add_participant(
        meeting.id, account_id=a, app_id=app, custom_participant_id="ada", preset_name="stage"
    ).data
    post_events(
        tenant,
        [
            {
                "id": "v1",
                "type": "peer.joined",
                "timestamp": _ms(-5),
                "peer_id": f"{tenant.app_id}-view",
            }
        ],
        token=ada.token,
    )
    report = sdk.realtime_kit.sessions.get_participant_data_from_peer_id(
        f"{tenant.app_id}-view", account_id=a, app_id=app, include_peer_events=True
    ).data.participant
    assert {e.preset_view_type for e in report.peer_events} == {"AUDIO_ROOM"}


def _join(tenant: Tenant, token: str, peer_id: str, at: float = -60.0) -> None:
    post_events(
        tenant,
        [
            {
                "id": f"join-{peer_id}",
                "type": "peer.joined",
                "timestamp": _ms(at),
                "peer_id": peer_id,
            }
        ],
        token=token,
    )


def test_active_session_and_kicks(tenant: Tenant) -> None:
    sdk = tenant.sdk()
    a, app = tenant.account_id, tenant.app_id
    meetings, active = sdk.realtime_kit.meetings, sdk.realtime_kit.active_session
    meeting = meetings.create(app, account_id=a, title="Kicks").data
    with pytest.raises(cloudflare.NotFoundError, match="No active session"):
        active.get_active_session(meeting.id, account_id=a, app_id=app)
    with pytest.raises(cloudflare.NotFoundError, match="Meeting"):
        active.get_active_session("no-such-meeting", account_id=a, app_id=app)
    people = {
        name: meetings.add_participant(
            meeting.id,
            account_id=a,
            app_id=app,
            custom_participant_id=f"c-{name}",
            preset_name="p",
            name=name.title(),
        ).data
        for name in ("ada", "bob", "cy", "dee")
    }
    for name, person in people.items():
        _join(tenant, person.token, f"{tenant.app_id}-{name}")
    live = active.get_active_session(meeting.id, account_id=a, app_id=app).data
    assert live.status == "LIVE" and live.associated_id == meeting.id
    assert live.live_participants == 4
    # four peers connected for about a minute each: LIVE minutes count them up to now
    assert live.minutes_consumed >= 4 * 0.99
    details = sdk.realtime_kit.sessions.get_session_details(live.id, account_id=a, app_id=app)
    assert details.data.id == live.id

    kicked = active.kick_participants(
        meeting.id,
        account_id=a,
        app_id=app,
        participant_ids=[people["ada"].id],
        custom_participant_ids=["c-bob", "c-nobody"],
    ).data
    assert kicked.action == "kick"
    assert sorted(p.name for p in kicked.participants) == ["Ada", "Bob"]
    for name in ("ada", "bob"):
        # the token is refused at once (no auth cache in between) ...
        refused = post_events(
            tenant,
            [
                {
                    "id": f"late-{name}",
                    "type": "peer.left",
                    "timestamp": _ms(),
                    "peer_id": f"{tenant.app_id}-{name}",
                }
            ],
            token=people[name].token,
            expect=401,
        )
        assert "replaced" in refused.text
        # ... and so are later events about the peer sent with an API token
        post_events(
            tenant,
            [
                {
                    "id": f"api-{name}",
                    "type": "peer.metadata",
                    "timestamp": _ms(),
                    "peer_id": f"{tenant.app_id}-{name}",
                    "sdk_name": "x",
                }
            ],
            expect=403,
        )
        participant = sdk.realtime_kit.sessions.get_session_participant_details(
            f"{tenant.app_id}-{name}",
            account_id=a,
            app_id=app,
            session_id=live.id,
            include_peer_events=True,
        ).data.participant
        assert participant.left_at is not None
        assert [e.event_name for e in participant.peer_events][-1] == "PEER_LEAVING"
    after = active.get_active_session(meeting.id, account_id=a, app_id=app).data
    assert after.live_participants == 2
    # cy and dee are untouched
    post_events(
        tenant,
        [
            {
                "id": "cy-meta",
                "type": "peer.metadata",
                "timestamp": _ms(),
                "peer_id": f"{tenant.app_id}-cy",
                "sdk_name": "x",
            }
        ],
        token=people["cy"].token,
    )
    with pytest.raises(cloudflare.BadRequestError):
        active.kick_participants(meeting.id, account_id=a, app_id=app)

    everyone = active.kick_all_participants(meeting.id, account_id=a, app_id=app).data
    assert everyone.action == "kick_all" and everyone.kicked_participants_count == 2
    for name in ("cy", "dee"):
        post_events(
            tenant,
            [
                {
                    "id": f"late2-{name}",
                    "type": "peer.metadata",
                    "timestamp": _ms(),
                    "peer_id": f"{tenant.app_id}-{name}",
                    "sdk_name": "x",
                }
            ],
            token=people[name].token,
            expect=401,
        )
    ended = sdk.realtime_kit.sessions.get_session_details(live.id, account_id=a, app_id=app).data
    assert ended.live_participants == 0
    # a refreshed token lets a kicked participant back in, as a new peer
    token = meetings.refresh_participant_token(
        people["ada"].id, account_id=a, app_id=app, meeting_id=meeting.id
    ).data.token
    _join(tenant, token, f"{tenant.app_id}-ada-2", at=0)
    back = active.get_active_session(meeting.id, account_id=a, app_id=app).data
    assert back.live_participants == 1


def test_create_poll_is_not_supported(tenant: Tenant) -> None:
    sdk = tenant.sdk()
    meeting = sdk.realtime_kit.meetings.create(tenant.app_id, account_id=tenant.account_id).data
    with pytest.raises(cloudflare.APIStatusError) as caught:
        sdk.realtime_kit.active_session.create_poll(
            meeting.id,
            account_id=tenant.account_id,
            app_id=tenant.app_id,
            options=["yes", "no"],
            question="Lunch?",
        )
    assert caught.value.status_code == 501
    assert not isinstance(caught.value, cloudflare.NotFoundError)
    assert "Polls are not supported" in str(caught.value)


def test_org_analytics(tenant: Tenant) -> None:
    sdk = tenant.sdk()
    a, app = tenant.account_id, tenant.app_id
    base = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)

    def ms(t: datetime) -> float:
        return t.timestamp() * 1000

    events = []
    # day 1: two sessions (3 and 2 participant-minutes); day 3: one of 10 minutes
    for i, (start, minutes) in enumerate(
        [(base, 3.0), (base + timedelta(hours=2), 2.0), (base + timedelta(days=2), 10.0)]
    ):
        events += [
            {
                "id": f"aj{i}",
                "type": "peer.joined",
                "timestamp": ms(start),
                "peer_id": f"{tenant.app_id}-an-{i}",
                "meeting_id": f"analytics-{i}",
            },
            {
                "id": f"al{i}",
                "type": "peer.left",
                "timestamp": ms(start + timedelta(minutes=minutes)),
                "peer_id": f"{tenant.app_id}-an-{i}",
            },
        ]
    post_events(tenant, events)
    data = sdk.realtime_kit.analytics.get_org_analytics(
        app, account_id=a, start_date="2026-03-01", end_date="2026-03-04"
    ).data
    stats = data.session_stats
    assert stats.sessions_count == 3 and stats.sessions_minutes_consumed == 15.0
    assert [(d.day, d.total_sessions, d.total_session_minutes) for d in stats.day_stats] == [
        ("2026-03-01", 2, 5.0),
        ("2026-03-02", 0, 0.0),
        ("2026-03-03", 1, 10.0),
        ("2026-03-04", 0, 0.0),
    ]
    assert data.recording_stats.recording_count == 0
    assert data.recording_stats.recording_minutes_consumed == 0
    assert {d.total_recordings for d in data.recording_stats.day_stats} == {0}
    one = sdk.realtime_kit.analytics.get_org_analytics(
        app, account_id=a, start_date="2026-03-03", end_date="2026-03-03"
    ).data.session_stats
    assert (one.sessions_count, one.sessions_minutes_consumed) == (1, 10.0)
    for bad in (
        {"start_date": "2026-03-05", "end_date": "2026-03-01"},
        {"start_date": "March"},
        {"start_date": "2020-01-01", "end_date": "2026-01-01"},
    ):
        with pytest.raises(cloudflare.BadRequestError):
            sdk.realtime_kit.analytics.get_org_analytics(app, account_id=a, **bad)


# --- every method of client.realtime_kit, classified -------------------------------------------

SAMPLE_ARGS: dict[str, Any] = {
    "config": CONFIG,
    "permissions": PERMISSIONS,
    "ui": UI,
    "name": "coverage",
    "options": ["a", "b"],
    "question": "q?",
    "custom_participant_id": "cov",
    "preset_name": "coverage",
    "url": "https://example.com/hook",
    "events": ["meeting.started"],
    "action": "stop",
    "meeting_id": None,  # filled in
    "audio_config": {},
    "video_config": {},
}


def sdk_methods(client: cloudflare.Cloudflare) -> list[tuple[str, str, Any]]:
    """(resource, method, bound method) for every public method of ``client.realtime_kit.*``."""
    kit = client.realtime_kit
    found = []
    for resource_name, _ in inspect.getmembers(type(kit)):
        if resource_name.startswith(("_", "with_")):
            continue
        resource = getattr(kit, resource_name)
        if not hasattr(resource, "with_raw_response"):
            continue
        for method_name, method in inspect.getmembers(resource, inspect.ismethod):
            if method_name.startswith(("_", "with_")):
                continue
            found.append((resource_name, method_name, method))
    return found


def _call(method: Any, ids: dict[str, str]) -> Any:
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    for name, param in inspect.signature(method).parameters.items():
        if param.default is not inspect.Parameter.empty or param.kind in (
            param.VAR_KEYWORD,
            param.VAR_POSITIONAL,
        ):
            continue
        value = ids.get(name, SAMPLE_ARGS.get(name))
        if value is None and name.endswith("_id"):
            value = "00000000-0000-0000-0000-000000000000"
        if value is None:
            raise AssertionError(f"no sample value for required {name} of {method}")
        if param.kind is param.POSITIONAL_OR_KEYWORD:
            args.append(value)
        else:
            kwargs[name] = value
    return method(*args, **kwargs)


def classify(tenant: Tenant) -> dict[str, str]:
    """``resource.method`` → "supported" (answered by a route of this service, 2xx or a domain
    error such as 404 for a made-up id) or "501"; a "Route not found" 404 fails."""
    client = tenant.sdk()
    meeting = client.realtime_kit.meetings.create(tenant.app_id, account_id=tenant.account_id).data
    ids = {"account_id": tenant.account_id, "app_id": tenant.app_id, "meeting_id": meeting.id}
    table: dict[str, str] = {}
    for resource, name, method in sdk_methods(client):
        key = f"{resource}.{name}"
        try:
            _call(method, ids)
            table[key] = "supported"
        except cloudflare.APIStatusError as exc:
            body = exc.body if isinstance(exc.body, dict) else {}
            assert body.get("success") is False, (key, exc.body)  # the contract's envelope
            if exc.status_code == 501:
                assert "not supported" in str(exc), key
                assert not isinstance(exc, cloudflare.NotFoundError)
                table[key] = "501"
            else:
                assert "Route not found" not in str(exc), (key, str(exc))
                table[key] = "supported"
    return table


def test_every_realtime_kit_method_is_served_or_501(tenant: Tenant) -> None:
    table = classify(tenant)
    width = max(map(len, table))
    print("\nSDK 5.9.0 realtime_kit coverage (method → supported / 501):")
    for key in sorted(table):
        print(f"  {key.ljust(width)}  {table[key]}")
    supported = sum(1 for v in table.values() if v == "supported")
    print(f"  {supported} supported, {len(table) - supported} answer 501, {len(table)} methods")
    assert len(table) == 55
    for key, value in table.items():
        resource, method = key.split(".")
        if resource in ("apps", "meetings", "sessions", "presets", "analytics", "webhooks"):
            assert value == "supported", key
        elif resource == "active_session":
            assert value == ("501" if method == "create_poll" else "supported"), key
        elif resource == "recordings":
            assert value == "501", key
        elif resource == "livestreams":
            # get_org_analytics shares GET /analytics/daywise with analytics.get_org_analytics
            assert value == ("supported" if method == "get_org_analytics" else "501"), key
        else:
            raise AssertionError(f"{key}: a resource this test does not classify")


def test_allow_header_lists_every_method(tenant: Tenant) -> None:
    base = f"{tenant.server.base_url}/accounts/{tenant.account_id}/realtime/kit/{tenant.app_id}"
    headers = {"Authorization": f"Bearer {tenant.token}"}
    response = httpx.delete(f"{base}/sessions/any/summary", headers=headers, timeout=30)
    assert response.status_code == 405
    assert {m.strip() for m in response.headers["allow"].split(",")} >= {"GET", "POST"}
    assert "DELETE" not in response.headers["allow"]
    assert response.json()["errors"][0]["code"] == 405
    response = httpx.post(f"{base}/presets/some-id", headers=headers, timeout=30)
    assert response.status_code == 405
    assert {m.strip() for m in response.headers["allow"].split(",")} >= {
        "GET",
        "PATCH",
        "PUT",
        "DELETE",
    }


def test_x_auth_email_and_key(tenant: Tenant) -> None:
    client = cloudflare.Cloudflare(
        api_email="someone@example.com",
        api_key=tenant.token,
        base_url=tenant.server.base_url,
        max_retries=0,
    )
    sessions = client.realtime_kit.sessions.get_sessions(
        tenant.app_id, account_id=tenant.account_id
    )
    assert sessions.success is True
    wrong = cloudflare.Cloudflare(
        api_email="someone@example.com",
        api_key="not-a-token",
        base_url=tenant.server.base_url,
        max_retries=0,
    )
    with pytest.raises(cloudflare.AuthenticationError):
        wrong.realtime_kit.sessions.get_sessions(tenant.app_id, account_id=tenant.account_id)


# --- the contract mismatches of issue 11 ---------------------------------------------------------


def test_consolidated_row_takes_first_join_last_leave_and_every_peers_events(
    tenant: Tenant,
) -> None:
    """Bob joins, leaves, rejoins and leaves: his consolidated row spans both peers."""
    sdk = tenant.sdk()
    a, app = tenant.account_id, tenant.app_id
    t0 = datetime(2026, 4, 2, 23, 20, tzinfo=UTC)
    meeting_id, session_id = f"{app}-m", f"{app}-s"

    def at(minutes: float) -> float:
        return (t0 + timedelta(minutes=minutes)).timestamp() * 1000

    def join(peer: str, user: str, minutes: float) -> dict[str, Any]:
        return {
            "id": f"j-{peer}",
            "type": "peer.joined",
            "timestamp": at(minutes),
            "peer_id": f"{app}-{peer}",
            "meeting_id": meeting_id,
            "session_id": session_id,
            "participant": {"user_id": user, "display_name": user.title()},
        }

    def leave(peer: str, minutes: float) -> dict[str, Any]:
        return {
            "id": f"l-{peer}",
            "type": "peer.left",
            "timestamp": at(minutes),
            "peer_id": f"{app}-{peer}",
        }

    post_events(
        tenant,
        [
            join("ada", "ada", 0),
            join("bob1", "bob", 1),
            leave("bob1", 6),
            join("bob2", "bob", 10),
            leave("bob2", 19.8),
            leave("ada", 20),
        ],
    )
    rows = sdk.realtime_kit.sessions.get_session_participants(
        session_id, account_id=a, app_id=app, view="consolidated", include_peer_events=True
    ).data.participants
    bob = next(r for r in rows if r.user_id == "bob")
    assert len(rows) == 2
    assert bob.id == f"{app}-bob1"  # the first join's id (docs/sessions-api.md)
    assert bob.joined_at.startswith("2026-04-02T23:21:00")
    assert bob.left_at.startswith("2026-04-02T23:39:48")  # the last leave
    assert bob.duration == pytest.approx(5 + 9.8)
    events = [(e.peer_id.rsplit("-", 1)[1], e.event_name) for e in bob.peer_events]
    assert events == [
        ("bob1", "PEER_CREATED"),
        ("bob1", "PEER_JOINING"),
        ("bob1", "PEER_LEAVING"),
        ("bob2", "PEER_CREATED"),
        ("bob2", "PEER_JOINING"),
        ("bob2", "PEER_LEAVING"),
    ]
    raw = sdk.realtime_kit.sessions.get_session_participants(
        session_id, account_id=a, app_id=app
    ).data.participants
    assert len(raw) == 3  # raw: one row per peer, unchanged


def test_live_minutes_consumed_counts_connected_peers_up_to_now(tenant: Tenant) -> None:
    sdk = tenant.sdk()
    a, app = tenant.account_id, tenant.app_id
    meeting_id = f"{app}-live"
    post_events(
        tenant,
        [
            {
                "id": "lj1",
                "type": "peer.joined",
                "timestamp": _ms(-5.4 * 60),
                "peer_id": f"{app}-stays",
                "meeting_id": meeting_id,
            },
            {
                "id": "lj2",
                "type": "peer.joined",
                "timestamp": _ms(-4 * 60),
                "peer_id": f"{app}-goes",
                "meeting_id": meeting_id,
            },
            {"id": "ll2", "type": "peer.left", "timestamp": _ms(-2 * 60), "peer_id": f"{app}-goes"},
        ],
    )
    (listed,) = sdk.realtime_kit.sessions.get_sessions(
        app, account_id=a, associated_id=meeting_id
    ).data.sessions
    assert listed.status == "LIVE"
    # 2.0 minutes of the peer that left + at least 5.4 of the one still connected
    assert listed.minutes_consumed >= 7.4 - 0.01
    details = sdk.realtime_kit.sessions.get_session_details(
        listed.id, account_id=a, app_id=app
    ).data
    assert details.minutes_consumed >= listed.minutes_consumed


def test_a_connection_without_transport_role_lists_its_pairs_once(tenant: Tenant) -> None:
    """The real P2P recording: one connection sends and receives; each selected pair once."""
    from tests.api.test_sdk_sessions import P2P, cli

    out = cli(
        "import",
        str(P2P),
        "--account",
        tenant.account_id,
        "--app",
        tenant.app_id,
        "--meeting-title",
        "pairs once",
        "--json",
        database_url=tenant.server.database_url,
    )
    import json

    (peer_id,) = json.loads(out)["peer_ids"]
    meta = (
        tenant.sdk()
        .realtime_kit.sessions.get_participant_data_from_peer_id(
            peer_id, account_id=tenant.account_id, app_id=tenant.app_id
        )
        .data.participant.peer_report.metadata
    )

    def key(p: Any) -> tuple[Any, ...]:
        return (p.local_candidate_id, p.remote_candidate_id)

    producing = {key(p) for p in meta.candidate_pairs.producing_transport}
    consuming = {key(p) for p in meta.candidate_pairs.consuming_transport}
    assert producing | consuming
    assert not producing & consuming, producing & consuming
