import csv
import io
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import srt
import webvtt

from rtk_sessions.exports import (
    TRANSCRIPT_CSV_COLUMNS,
    Segment,
    transcript_file,
)


def _load_ami() -> Any:
    import importlib.util
    import sys
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "summarize" / "ami.py"
    spec = importlib.util.spec_from_file_location("rtk_test_ami_fixtures", path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


load_meeting = _load_ami().load_meeting

T0 = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)


def at(s: float) -> datetime:
    return T0 + timedelta(seconds=s)


def seg(a: float, b: float, text: str, name: str | None = "Alice", **kw: Any) -> Segment:
    base: dict[str, Any] = {
        "start": at(a),
        "end": at(b),
        "text": text,
        "peer_id": "peer-a",
        "user_id": "user-a",
        "custom_participant_id": "cust-a",
        "name": name,
        "language": "en-US",
    }
    base.update(kw)
    return Segment(**base)


SEGS = [
    # given out of order, with an overlap (Bob talks over Alice) and awkward text
    seg(
        5.0,
        7.5,
        'Second, with a comma and "quotes"',
        name="Bob",
        peer_id="peer-b",
        user_id="user-b",
        custom_participant_id=None,
    ),
    seg(1.25, 6.0, "First <b>bold</b> & more --> arrows\n\nafter a blank line"),
    seg(9.0, 10.0, "   "),  # whitespace only: dropped
    seg(12.0, 11.0, "Ends before it starts", name=None, custom_participant_id=None),
    seg(3600 + 2.5, 3600 + 4.0, "Zoë says héllo 日本語", name="Zoë"),
]


def render(fmt: str, segs: list[Segment] = SEGS, **kw: Any) -> Any:
    return transcript_file(segs, fmt, session_start=T0, **kw)


def test_media_types_and_format_names() -> None:
    assert render("CSV")[1] == "text/csv; charset=utf-8"
    assert render("JSON")[1] == "application/json"
    assert render("SRT")[1].startswith("application/x-subrip")
    assert render("VTT")[1].startswith("text/vtt")
    assert render("vtt")[0] == render("VTT")[0]
    with pytest.raises(ValueError):
        render("TXT")


def test_csv_columns_order_and_round_trip() -> None:
    data, _ = render("CSV")
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8"), newline="")))
    assert tuple(rows[0]) == TRANSCRIPT_CSV_COLUMNS
    assert [r["Timestamp"] for r in rows] == [
        "2024-05-01T10:00:01.250Z",
        "2024-05-01T10:00:05.000Z",
        "2024-05-01T10:00:12.000Z",
        "2024-05-01T11:00:02.500Z",
    ]
    assert rows[0]["Transcript"] == "First <b>bold</b> & more --> arrows\n\nafter a blank line"
    assert rows[1] == {
        "Timestamp": "2024-05-01T10:00:05.000Z",
        "Participant ID": "peer-b",
        "User ID": "user-b",
        "Custom Participant ID": "",
        "Participant Name": "Bob",
        "Transcript": 'Second, with a comma and "quotes"',
    }
    assert rows[3]["Participant Name"] == "Zoë"


def test_empty_transcript_csv_is_header_only() -> None:
    data, _ = render("CSV", [])
    assert data.decode().splitlines() == [",".join(TRANSCRIPT_CSV_COLUMNS)]


def test_json_is_self_describing() -> None:
    doc = json.loads(render("JSON", session_id="sess-1")[0])
    assert doc["version"] == 1 and doc["sessionId"] == "sess-1"
    assert doc["sessionStart"] == "2024-05-01T10:00:00.000Z"
    first, second, third, fourth = doc["transcript"]
    assert first == {
        "startTime": "2024-05-01T10:00:01.250Z",
        "endTime": "2024-05-01T10:00:06.000Z",
        "startOffsetMs": 1250,
        "endOffsetMs": 6000,
        "participantId": "peer-a",
        "userId": "user-a",
        "customParticipantId": "cust-a",
        "name": "Alice",
        "speaker": "Alice",
        "text": "First <b>bold</b> & more --> arrows\n\nafter a blank line",
        "language": "en-US",
    }
    assert second["name"] == "Bob"
    # end before start is clamped; label falls back to user id
    assert third["startTime"] == third["endTime"] and third["speaker"] == "user-a"
    assert fourth["text"] == "Zoë says héllo 日本語"
    assert "sessionId" not in json.loads(render("JSON")[0])


def test_srt_parses_with_srt_library() -> None:
    subs = list(srt.parse(render("SRT")[0].decode("utf-8")))
    assert [s.index for s in subs] == [1, 2, 3, 4]
    assert subs[0].start == timedelta(seconds=1.25) and subs[0].end == timedelta(seconds=6)
    # overlap kept: Bob starts before Alice ends
    assert subs[1].start < subs[0].end
    assert subs[0].content == "Alice: First <b>bold</b> & more --> arrows\nafter a blank line"
    assert subs[1].content.startswith("Bob: Second, with a comma")
    assert subs[2].start == subs[2].end == timedelta(seconds=12)
    assert subs[3].start == timedelta(hours=1, seconds=2.5)
    assert subs[3].content == "Zoë: Zoë says héllo 日本語"


def test_vtt_parses_with_webvtt_and_carries_voice() -> None:
    text = render("VTT")[0].decode("utf-8")
    assert text.startswith("WEBVTT\n")
    assert "<v Alice>" in text and "<v Bob>" in text and "<v Zoë>" in text
    vtt = webvtt.from_string(text)
    caps = list(vtt.captions)
    assert [c.voice for c in caps] == ["Alice", "Bob", "user-a", "Zoë"]
    assert caps[0].start == "00:00:01.250" and caps[0].end == "00:00:06.000"
    assert caps[3].start == "01:00:02.500"
    # markup in speech is escaped, not interpreted; no early cue end
    assert "&lt;b&gt;bold&lt;/b&gt; &amp; more --&gt; arrows" in caps[0].raw_text


def test_segments_before_session_start_clamp_to_zero() -> None:
    early = [seg(-5, -1, "said before the session started")]
    assert next(iter(srt.parse(render("SRT", early)[0].decode()))).start == timedelta(0)
    assert next(iter(webvtt.from_string(render("VTT", early)[0].decode()))).start == "00:00:00.000"


def test_equal_start_times_keep_caller_order() -> None:
    same = [seg(1, 2, "one"), seg(1, 2, "two", name="Bob"), seg(1, 2, "three", name="Cy")]
    subs = list(srt.parse(render("SRT", same)[0].decode()))
    assert [s.content for s in subs] == ["Alice: one", "Bob: two", "Cy: three"]


@pytest.mark.parametrize("meeting_id", ["ES2002a", "IS1008a"])
def test_real_meeting_exports_parse(meeting_id: str) -> None:
    m = load_meeting(meeting_id)
    start = m.segments[0].start
    subs = list(srt.parse(transcript_file(m.segments, "SRT", session_start=start)[0].decode()))
    caps = list(
        webvtt.from_string(
            transcript_file(m.segments, "VTT", session_start=start)[0].decode()
        ).captions
    )
    assert len(subs) == len(caps) == len(m.segments)
    assert caps[0].voice == "Laura (Project Manager)" if meeting_id == "ES2002a" else caps[0].voice
    assert all(c.voice for c in caps)
    assert [s.start for s in subs] == sorted(s.start for s in subs)
