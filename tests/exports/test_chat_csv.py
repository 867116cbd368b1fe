import csv
import io
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from rtk_sessions.clock import iso
from rtk_sessions.exports import CHAT_CSV_COLUMNS, ChatRow, chat_csv

T0 = datetime(2024, 5, 1, 10, 0, 0, 123456, tzinfo=UTC)


def row(i: int, payload: str, **kw: Any) -> ChatRow:
    base: dict[str, Any] = {
        "id": f"msg-{i}",
        "participant_id": f"peer-{i}",
        "session_id": "182bd5e5-6e1a-4fe4-a799-aa6d9a6ab26e",
        "meeting_id": "bbb-meeting",
        "display_name": "Zoë Ångström",
        "pinned": False,
        "is_edited": False,
        "payload_type": "TEXT_MESSAGE",
        "payload": payload,
        "created_at": T0 + timedelta(seconds=i),
    }
    base.update(kw)
    return ChatRow(**base)


def parse(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8"), newline="")))


def test_empty_chat_is_header_only() -> None:
    data = chat_csv([])
    assert data == (",".join(CHAT_CSV_COLUMNS) + "\r\n").encode()
    assert data.decode().splitlines() == [
        "id,participantId,sessionId,meetingId,displayName,pinned,isEdited,payloadType,payload,createdAt"
    ]


def test_tricky_payloads_round_trip() -> None:
    payloads = [
        "plain",
        "comma, separated, values",
        'she said "hi" and left',
        "line one\nline two\r\nline three",
        "emoji 🎉 and 日本語 and Zoë",
        "",
        '",\n"',
        "  leading and trailing spaces  ",
    ]
    rows = [row(i, p) for i, p in enumerate(payloads)]
    back = parse(chat_csv(rows))
    assert [r["payload"] for r in back] == payloads
    assert list(back[0]) == list(CHAT_CSV_COLUMNS)
    assert all(r["displayName"] == "Zoë Ångström" for r in back)


def test_fields_and_formats() -> None:
    rows = [
        row(1, "https://example.com/cat.png", payload_type="IMAGE_MESSAGE", pinned=True),
        row(2, "edited text", is_edited=True, participant_id=None, display_name=None),
    ]
    a, b = parse(chat_csv(rows))
    assert a == {
        "id": "msg-1",
        "participantId": "peer-1",
        "sessionId": "182bd5e5-6e1a-4fe4-a799-aa6d9a6ab26e",
        "meetingId": "bbb-meeting",
        "displayName": "Zoë Ångström",
        "pinned": "true",
        "isEdited": "false",
        "payloadType": "IMAGE_MESSAGE",
        "payload": "https://example.com/cat.png",
        "createdAt": "2024-05-01T10:00:01.123Z",
    }
    assert (b["participantId"], b["displayName"], b["isEdited"]) == ("", "", "true")


def test_utf8_without_bom_and_rows_in_given_order() -> None:
    data = chat_csv([row(2, "second"), row(1, "first")])
    assert not data.startswith(b"\xef\xbb\xbf")
    assert [r["id"] for r in parse(data)] == ["msg-2", "msg-1"]


def test_export_times_convert_to_utc_and_reject_naive() -> None:
    plus2 = timezone(timedelta(hours=2))
    when = datetime(2023, 2, 1, 12, 51, 8, 39999, tzinfo=plus2)
    assert iso(when, require_aware=True) == "2023-02-01T10:51:08.039Z"
    assert iso(when) == "2023-02-01T10:51:08.039Z"
    with pytest.raises(ValueError):
        iso(datetime(2023, 2, 1, 10, 51, 8), require_aware=True)  # noqa: DTZ001
    assert iso(datetime(2023, 2, 1, 10, 51, 8)) == "2023-02-01T10:51:08.000Z"  # noqa: DTZ001
