"""Chat and transcript through the ingestion API in, the official SDK and the signed URLs out.

Runs on SQLite and PostgreSQL (the ``live_server`` fixture). Every URL the SDK returns is
downloaded and its content checked against what was ingested.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import cloudflare
import pytest
import webvtt

from rtk_sessions.clock import iso
from rtk_sessions.exports import CHAT_CSV_COLUMNS, TRANSCRIPT_CSV_COLUMNS
from rtk_sessions.security import sign_path
from tests.conftest import LiveServer, Tenant
from tests.helpers import post_events

from .util import Person, download, new_id, segment_event, start_session

T0 = datetime(2024, 6, 3, 9, 0, tzinfo=UTC)

ALICE = Person("peer-alice", "user-alice", "Alice Ångström", "cust-alice")
BOB = Person("peer-bob", "user-bob", 'Bob, "the builder"', None)


def people() -> list[Person]:
    # peer ids are unique per app; each test gets a fresh tenant, but make them unique anyway
    suffix = new_id("")
    return [
        Person(ALICE.peer_id + suffix, ALICE.user_id, ALICE.name, ALICE.custom_id),
        Person(BOB.peer_id + suffix, BOB.user_id, BOB.name, None),
    ]


def chat_event(session_id: str | None, at: datetime, payload: str, **extra: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "id": new_id("chat"),
        "type": "chat.message",
        "timestamp": iso(at),
        "payload_type": "TEXT_MESSAGE",
        "payload": payload,
        **extra,
    }
    if session_id is not None:
        event["session_id"] = session_id
    return event


def csv_rows(data: bytes) -> tuple[list[str], list[dict[str, str]]]:
    text = data.decode("utf-8")
    reader = csv.DictReader(io.StringIO(text, newline=""))
    rows = list(reader)
    return list(reader.fieldnames or []), rows


def sdk_chat(tenant: Tenant, session_id: str) -> Any:
    return tenant.sdk().realtime_kit.sessions.get_session_chat(
        session_id, account_id=tenant.account_id, app_id=tenant.app_id
    )


def sdk_transcript(tenant: Tenant, session_id: str, fmt: str | None = None) -> Any:
    kwargs = {} if fmt is None else {"format": fmt}
    return tenant.sdk().realtime_kit.sessions.get_session_transcripts(
        session_id, account_id=tenant.account_id, app_id=tenant.app_id, **kwargs
    )


# ---- chat ------------------------------------------------------------------------------------


TRICKY = [
    "Hello, world",
    'Zoë said: "naïve" café — ok?',
    "line one\nline two\r\nline three",
    "emoji 🎉🚀 and 中文 and עברית",
    ",,,leading commas and trailing,",
    "  spaces kept  ",
    "=1+2 looks like a formula",
]


def test_chat_round_trip_with_unicode_commas_newlines_edits_and_pins(tenant: Tenant) -> None:
    alice, bob = people()
    meeting_id, session_id = start_session(tenant, [alice, bob], at=T0)
    events = []
    for i, text in enumerate(TRICKY):
        sender = alice if i % 2 == 0 else bob
        events.append(
            chat_event(
                session_id,
                T0 + timedelta(seconds=10 + i),
                text,
                peer_id=sender.peer_id,
                message_id=f"m{i}",
            )
        )
    events += [
        chat_event(
            None,
            T0 + timedelta(seconds=30),
            "https://example.com/cat.png",
            payload_type="IMAGE_MESSAGE",
            meeting_id=meeting_id,
            peer_id=bob.peer_id,
            message_id="img",
        ),
        chat_event(
            session_id,
            T0 + timedelta(seconds=31),
            "https://example.com/a,b.pdf",
            payload_type="FILE_MESSAGE",
            pinned=True,
            message_id="file",
            sender={"user_id": "bot-1", "display_name": "Notes bot"},
        ),
        # an edit of m0 and a pin of m1 (same text: pinned, not edited)
        chat_event(
            session_id,
            T0 + timedelta(seconds=40),
            "Hello, world (edited)",
            peer_id=alice.peer_id,
            message_id="m0",
        ),
        chat_event(
            session_id,
            T0 + timedelta(seconds=41),
            TRICKY[1],
            peer_id=bob.peer_id,
            message_id="m1",
            pinned=True,
        ),
    ]
    post_events(tenant, events[:5])
    post_events(tenant, events[5:])
    post_events(tenant, events)  # a replay changes nothing

    result = sdk_chat(tenant, session_id)
    assert result.data is not None
    assert result.data.chat_download_url.startswith(tenant.server.url + "/downloads/chat/")
    expiry = datetime.fromisoformat(result.data.chat_download_url_expiry.replace("Z", "+00:00"))
    assert timedelta(minutes=59) < expiry - datetime.now(UTC) <= timedelta(hours=1)

    response = download(result.data.chat_download_url)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    header, rows = csv_rows(response.content)
    assert tuple(header) == CHAT_CSV_COLUMNS
    assert [r["id"] for r in rows] == [f"m{i}" for i in range(len(TRICKY))] + ["img", "file"]
    by_id = {r["id"]: r for r in rows}
    for i, text in enumerate(TRICKY):
        row = by_id[f"m{i}"]
        sender = alice if i % 2 == 0 else bob
        if i != 0:
            assert row["payload"] == text
        assert row["participantId"] == sender.peer_id
        assert row["displayName"] == sender.name
        assert row["sessionId"] == session_id and row["meetingId"] == meeting_id
        assert row["payloadType"] == "TEXT_MESSAGE"
        assert row["createdAt"] == iso(T0 + timedelta(seconds=10 + i))
    assert by_id["m0"]["payload"] == "Hello, world (edited)"
    assert by_id["m0"]["isEdited"] == "true" and by_id["m0"]["pinned"] == "false"
    assert by_id["m1"]["isEdited"] == "false" and by_id["m1"]["pinned"] == "true"
    assert by_id["m2"]["isEdited"] == "false"
    assert by_id["img"]["payloadType"] == "IMAGE_MESSAGE"
    assert by_id["img"]["payload"] == "https://example.com/cat.png"
    assert by_id["file"] | {} == by_id["file"]
    assert by_id["file"]["payloadType"] == "FILE_MESSAGE" and by_id["file"]["pinned"] == "true"
    assert by_id["file"]["participantId"] == "bot-1"
    assert by_id["file"]["displayName"] == "Notes bot"


def test_chat_edit_arriving_before_the_original_converges(tenant: Tenant) -> None:
    (alice, _) = people()
    _, session_id = start_session(tenant, [alice], at=T0)
    edit = chat_event(
        session_id, T0 + timedelta(seconds=9), "v2", peer_id=alice.peer_id, message_id="x"
    )
    original = chat_event(
        session_id, T0 + timedelta(seconds=5), "v1", peer_id=alice.peer_id, message_id="x"
    )
    post_events(tenant, [edit])
    post_events(tenant, [original])
    _, rows = csv_rows(download(sdk_chat(tenant, session_id).data.chat_download_url).content)
    assert len(rows) == 1
    assert rows[0]["payload"] == "v2" and rows[0]["isEdited"] == "true"
    assert rows[0]["createdAt"] == iso(T0 + timedelta(seconds=5))


def test_empty_chat_is_a_header_only_file(tenant: Tenant) -> None:
    _, session_id = start_session(tenant, people()[:1], at=T0)
    result = sdk_chat(tenant, session_id)
    response = download(result.data.chat_download_url)
    assert response.status_code == 200
    assert response.content == (",".join(CHAT_CSV_COLUMNS) + "\r\n").encode()


def test_chat_events_that_cannot_be_placed_are_rejected(tenant: Tenant) -> None:
    (alice, bob) = people()
    _, session_id = start_session(tenant, [alice], at=T0)
    _, other_session = start_session(tenant, [bob], at=T0)
    bad = [
        chat_event("no-such-session", T0, "x"),
        chat_event(None, T0, "x"),  # no session, meeting or peer
        chat_event(other_session, T0, "x", peer_id=alice.peer_id),  # peer not in that session
        {**chat_event(None, T0, "x"), "meeting_id": "no-such-meeting"},
        {**chat_event(session_id, T0, "x"), "payload_type": "VIDEO_MESSAGE"},
    ]
    for event in bad:
        response = post_events(tenant, [event], expect=400)
        assert response.json()["success"] is False
    _, rows = csv_rows(download(sdk_chat(tenant, session_id).data.chat_download_url).content)
    assert rows == []


def test_unknown_session_is_404_everywhere(tenant: Tenant) -> None:
    sessions = tenant.sdk().realtime_kit.sessions
    kw = {"account_id": tenant.account_id, "app_id": tenant.app_id}
    calls: list[Callable[[], Any]] = [
        lambda: sessions.get_session_chat("nope", **kw),
        lambda: sessions.get_session_transcripts("nope", **kw),
        lambda: sessions.get_session_summary("nope", **kw),
        lambda: sessions.generate_summary_of_transcripts("nope", **kw),
    ]
    for call in calls:
        with pytest.raises(cloudflare.NotFoundError):
            call()


def test_another_apps_session_is_404(live_server: LiveServer, tenant: Tenant) -> None:
    from tests.conftest import make_tenant

    _, session_id = start_session(tenant, people()[:1], at=T0)
    other = make_tenant(live_server, "other")
    with pytest.raises(cloudflare.NotFoundError):
        sdk_chat(other, session_id)


# ---- transcript ------------------------------------------------------------------------------


def test_no_transcript_is_404_and_partial_segments_do_not_count(tenant: Tenant) -> None:
    (alice, _) = people()
    _, session_id = start_session(tenant, [alice], at=T0)
    sessions = tenant.sdk().realtime_kit.sessions
    kw = {"account_id": tenant.account_id, "app_id": tenant.app_id}
    post_events(
        tenant,
        [
            segment_event(
                session_id, alice, T0, T0 + timedelta(seconds=2), "interim words", is_final=False
            )
        ],
    )
    for fmt in (None, "CSV", "JSON", "SRT", "VTT"):
        with pytest.raises(cloudflare.NotFoundError) as err:
            sdk_transcript(tenant, session_id, fmt)
        assert "No transcript" in str(err.value)
    with pytest.raises(cloudflare.NotFoundError):
        sessions.generate_summary_of_transcripts(session_id, **kw)
    with pytest.raises(cloudflare.NotFoundError):
        sessions.get_session_summary(session_id, **kw)


def test_bad_format_is_400(tenant: Tenant) -> None:
    _, session_id = start_session(tenant, people()[:1], at=T0)
    with pytest.raises(cloudflare.BadRequestError):
        tenant.sdk().realtime_kit.sessions.get_session_transcripts(
            session_id,
            account_id=tenant.account_id,
            app_id=tenant.app_id,
            extra_query={"format": "vtt"},
        )


def test_transcript_identity_language_and_tricky_text(tenant: Tenant) -> None:
    (alice, bob) = people()
    _, session_id = start_session(tenant, [alice, bob], at=T0)

    def s(sec: float) -> datetime:
        return T0 + timedelta(seconds=sec)

    events = [
        segment_event(session_id, alice, s(1), s(3), "Bonjour, ça va ? 👋", language="fr-FR"),
        segment_event(session_id, bob, s(2), s(4), "Overlap, with <tags> & arrows --> here"),
        segment_event(session_id, alice, s(5), s(6), "interim", is_final=False),
        segment_event(
            session_id,
            None,
            s(7),
            s(9),
            "two\nlines",
            speaker={"user_id": "u-x", "custom_participant_id": "c-x", "display_name": "Guest, X"},
        ),
        segment_event(
            session_id, bob, s(10), s(11), "override", speaker={"display_name": "Robert"}
        ),
    ]
    post_events(tenant, events)
    post_events(tenant, events)  # replayed: no duplicates

    data = download(sdk_transcript(tenant, session_id).data.transcript_download_url).content
    header, rows = csv_rows(data)
    assert tuple(header) == TRANSCRIPT_CSV_COLUMNS
    assert [r["Transcript"] for r in rows] == [
        "Bonjour, ça va ? 👋",
        "Overlap, with <tags> & arrows --> here",
        "two\nlines",
        "override",
    ]
    assert rows[0]["Participant ID"] == alice.peer_id
    assert rows[0]["User ID"] == alice.user_id
    assert rows[0]["Custom Participant ID"] == alice.custom_id
    assert rows[0]["Participant Name"] == alice.name
    assert rows[0]["Timestamp"] == iso(s(1))
    assert rows[2]["Participant ID"] == "" and rows[2]["Participant Name"] == "Guest, X"
    assert rows[2]["Custom Participant ID"] == "c-x"
    assert rows[3]["Participant Name"] == "Robert" and rows[3]["User ID"] == bob.user_id

    doc = json.loads(
        download(sdk_transcript(tenant, session_id, "JSON").data.transcript_download_url).content
    )
    assert doc["sessionId"] == session_id and doc["sessionStart"] == iso(T0)
    assert [t["language"] for t in doc["transcript"]] == ["fr-FR", None, None, None]
    assert doc["transcript"][0]["startOffsetMs"] == 1000

    vtt = download(sdk_transcript(tenant, session_id, "VTT").data.transcript_download_url)
    assert vtt.headers["content-type"].startswith("text/vtt")
    captions = webvtt.from_buffer(io.StringIO(vtt.content.decode()))
    assert len(captions) == 4
    assert captions[1].voice == bob.name
    assert "&lt;tags&gt;" in captions[1].raw_text or "<tags>" in captions[1].text


def test_meeting_id_addresses_the_live_session(tenant: Tenant) -> None:
    (alice, _) = people()
    meeting_id, session_id = start_session(tenant, [alice], at=T0)
    event = segment_event(
        None, None, T0, T0 + timedelta(seconds=1), "via meeting id", speaker={"display_name": "Bot"}
    )
    event["meeting_id"] = meeting_id
    post_events(tenant, [event])
    _, rows = csv_rows(
        download(sdk_transcript(tenant, session_id).data.transcript_download_url).content
    )
    assert [r["Transcript"] for r in rows] == ["via meeting id"]


# ---- signed URLs -----------------------------------------------------------------------------


def _with_query(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    query.update(changes)
    return parts._replace(query=urlencode(query)).geturl()


def test_tampered_foreign_and_expired_urls_get_403(live_server: LiveServer, tenant: Tenant) -> None:
    (alice, _) = people()
    _, session_id = start_session(tenant, [alice], at=T0)
    post_events(tenant, [chat_event(session_id, T0, "secret plans", peer_id=alice.peer_id)])
    url = sdk_chat(tenant, session_id).data.chat_download_url
    assert download(url).status_code == 200
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    path = parts.path
    sig, expires = query["sig"], query["expires"]
    flipped = ("0" if sig[0] != "0" else "1") + sig[1:]
    other_name = path.replace(".csv", ".json")
    secret = live_server.app.state.secret
    past = int(datetime.now(UTC).timestamp()) - 5
    bad = [
        _with_query(url, sig=flipped),
        _with_query(url, sig=sig.upper()),
        _with_query(url, sig=""),
        _with_query(url, expires=str(int(expires) + 3600)),  # extended expiry, old signature
        _with_query(url, expires="soon"),
        parts._replace(query=f"expires={expires}").geturl(),  # no signature
        parts._replace(query="").geturl(),
        parts._replace(path=other_name).geturl(),  # another file, this signature
        parts._replace(path=path.replace("/chat/", "/transcript/")).geturl(),
        # foreign: right shape, signed with another server's secret
        _with_query(url, sig=sign_path(b"another server's secret", path, int(expires))),
        # expired: signed by this server's secret, but in the past
        _with_query(url, expires=str(past), sig=sign_path(secret, path, past)),
        # path traversal attempts
        f"{live_server.url}/downloads/chat/..%2F..%2Fsecret.key?expires={expires}&sig={sig}",
        f"{live_server.url}/downloads/files/x.csv?expires={expires}&sig={sig}",
    ]
    for candidate in bad:
        response = download(candidate)
        assert response.status_code in (403, 404), (candidate, response.status_code)
        assert b"secret plans" not in response.content
        if response.status_code == 404:  # only routing itself may answer 404 (".." in the path)
            assert "%2F" in candidate
        else:
            assert response.json()["success"] is False
    # and the genuine link still works
    assert b"secret plans" in download(url).content


def test_expired_link_made_by_the_server_is_403(live_server: LiveServer, tenant: Tenant) -> None:
    _, session_id = start_session(tenant, people()[:1], at=T0)
    url = sdk_chat(tenant, session_id).data.chat_download_url
    name = urlsplit(url).path.rsplit("/", 1)[1]
    downloads = live_server.app.state.downloads
    old, expiry = downloads.signed_url(
        "chat", name, base_url=live_server.url, now=datetime.now(UTC) - timedelta(hours=2)
    )
    assert expiry < datetime.now(UTC)
    response = download(old)
    assert response.status_code == 403
    assert "expired" in response.json()["errors"][0]["message"]


def test_another_participants_message_cannot_be_edited(tenant: Tenant) -> None:
    alice, bob = people()
    _, session_id = start_session(tenant, [alice, bob], at=T0)
    post_events(tenant, [chat_event(session_id, T0, "mine", peer_id=alice.peer_id, message_id="z")])
    forged = chat_event(
        session_id, T0 + timedelta(seconds=1), "forged", peer_id=bob.peer_id, message_id="z"
    )
    post_events(tenant, [forged], expect=403)
    _, rows = csv_rows(download(sdk_chat(tenant, session_id).data.chat_download_url).content)
    assert [(r["payload"], r["isEdited"]) for r in rows] == [("mine", "false")]
