"""Real input: the AMI meetings (tests/fixtures/transcripts) go in through the ingestion API, come
out through the official SDK in all four formats, and are summarized by the background job.
SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import json
import threading
import uuid
from dataclasses import replace
from datetime import timedelta
from typing import Any

import cloudflare
import pytest
import srt
import webvtt
from sqlalchemy import func, select

from rtk_sessions.clock import iso
from rtk_sessions.storage.tables import JobRow, Meeting, Session
from rtk_sessions.summarize import ExtractiveSummarizer, count_words
from tests.conftest import LiveServer, Tenant, make_tenant
from tests.helpers import post_events
from tests.summarize.ami import MEETING_START, load_meeting, meeting_ids
from tests.summarize.ami import Meeting as AmiMeeting

from .util import Person, download, join_events, segment_event, wait_for


class Ingested:
    def __init__(
        self,
        tenant: Tenant,
        meeting: AmiMeeting,
        session_id: str,
        meeting_id: str,
        segments: list[Any],
    ) -> None:
        self.tenant, self.meeting = tenant, meeting
        self.session_id, self.meeting_id, self.segments = session_id, meeting_id, segments


def ingest_meeting(tenant: Tenant, meeting_key: str) -> Ingested:
    """Join the four AMI speakers, then send every turn as a final segment (plus some interim
    ones that must never show up), in batches, and one batch twice."""
    ami = load_meeting(meeting_key)
    suffix = uuid.uuid4().hex[:8]
    segments = [replace(s, peer_id=f"{s.peer_id}-{suffix}") for s in ami.segments]
    people = {
        s.peer_id: Person(s.peer_id, s.user_id, s.name) for s in segments if s.peer_id is not None
    }
    meeting_id, session_id = str(uuid.uuid4()), str(uuid.uuid4())
    post_events(
        tenant, join_events(meeting_id, session_id, list(people.values()), MEETING_START, ami.title)
    )
    events = []
    for i, seg in enumerate(segments):
        person = people[seg.peer_id or ""]
        if i % 40 == 0:  # an interim hypothesis before the final one
            events.append(
                segment_event(
                    session_id, person, seg.start, seg.end, "INTERIM HYPOTHESIS", is_final=False
                )
            )
        events.append(
            segment_event(session_id, person, seg.start, seg.end, seg.text, language=seg.language)
        )
    for start in range(0, len(events), 100):
        post_events(tenant, events[start : start + 100])
    again = post_events(tenant, events[:100]).json()["data"]
    assert again == {"accepted": 0, "duplicates": 100}
    return Ingested(tenant, ami, session_id, meeting_id, segments)


@pytest.fixture(scope="module")
def ami(live_server: LiveServer) -> dict[str, Ingested]:
    tenant = make_tenant(live_server, "ami")
    return {key: ingest_meeting(tenant, key) for key in meeting_ids()}


def kw(tenant: Tenant) -> dict[str, str]:
    return {"account_id": tenant.account_id, "app_id": tenant.app_id}


def fetch(ingested: Ingested, fmt: str | None) -> bytes:
    tenant = ingested.tenant
    extra = {} if fmt is None else {"format": fmt}
    result = tenant.sdk().realtime_kit.sessions.get_session_transcripts(
        ingested.session_id, **kw(tenant), **extra
    )
    assert result.success is True and result.data is not None
    assert result.data.session_id == ingested.session_id
    assert result.data.transcript_download_url_expiry.endswith("Z")
    ext = (fmt or "CSV").lower()
    assert f".{ext}?" in result.data.transcript_download_url
    response = download(result.data.transcript_download_url)
    assert response.status_code == 200
    return response.content


@pytest.mark.parametrize("key", meeting_ids())
def test_ami_transcript_in_all_four_formats(ami: dict[str, Ingested], key: str) -> None:
    ing = ami[key]
    segs = ing.segments
    assert len(segs) > 100

    # CSV (the default)
    default = fetch(ing, None)
    assert default == fetch(ing, "CSV")
    rows = list(csv.DictReader(io.StringIO(default.decode("utf-8"), newline="")))
    assert len(rows) == len(segs)
    for row, seg in zip(rows, segs, strict=True):
        assert row["Timestamp"] == iso(seg.start)
        assert row["Participant ID"] == seg.peer_id
        assert row["User ID"] == seg.user_id
        assert row["Participant Name"] == seg.name
        assert row["Transcript"] == seg.text.strip()
    assert "INTERIM" not in default.decode()

    # JSON
    doc = json.loads(fetch(ing, "JSON"))
    assert doc["sessionId"] == ing.session_id
    assert doc["sessionStart"] == iso(MEETING_START)
    assert len(doc["transcript"]) == len(segs)
    for item, seg in zip(doc["transcript"], segs, strict=True):
        assert item["startTime"] == iso(seg.start) and item["endTime"] == iso(seg.end)
        assert item["startOffsetMs"] == round((seg.start - MEETING_START).total_seconds() * 1000)
        assert item["speaker"] == seg.name and item["userId"] == seg.user_id
        assert item["participantId"] == seg.peer_id
        assert item["text"] == seg.text.strip() and item["language"] == "en-GB"

    # SRT
    cues = list(srt.parse(fetch(ing, "SRT").decode("utf-8")))
    assert len(cues) == len(segs)
    for cue, seg in zip(cues, segs, strict=True):
        offset = round((seg.start - MEETING_START) / timedelta(milliseconds=1))
        assert cue.start == timedelta(milliseconds=offset)
        assert cue.end - cue.start == seg.end - seg.start
        assert cue.content == f"{seg.name}: {seg.text.strip()}"

    # VTT
    vtt = fetch(ing, "VTT").decode("utf-8")
    assert vtt.startswith("WEBVTT")
    captions = webvtt.from_buffer(io.StringIO(vtt))
    assert len(captions) == len(segs)
    for caption, seg in zip(captions.captions, segs, strict=True):
        assert caption.voice == seg.name
        assert caption.text == seg.text.strip()
        ms = round((seg.start - MEETING_START) / timedelta(milliseconds=1))
        assert (
            caption.start
            == f"{ms // 3600000:02d}:{ms // 60000 % 60:02d}:{ms // 1000 % 60:02d}.{ms % 1000:03d}"
        )


def summary_text(ing: Ingested) -> str | None:
    tenant = ing.tenant
    try:
        result = tenant.sdk().realtime_kit.sessions.get_session_summary(
            ing.session_id, **kw(tenant)
        )
    except cloudflare.NotFoundError as exc:
        assert "No summary" in str(exc)
        return None
    assert result.data is not None
    assert result.data.session_id == ing.session_id
    assert result.data.summary_download_url_expiry.endswith("Z")
    response = download(result.data.summary_download_url)
    assert response.status_code == 200
    return response.content.decode("utf-8")


@pytest.mark.parametrize("key", meeting_ids())
def test_ami_summary_through_the_sdk(ami: dict[str, Ingested], key: str) -> None:
    ing = ami[key]
    sessions = ing.tenant.sdk().realtime_kit.sessions
    assert summary_text(ing) is None  # 404 before it was requested

    started = sessions.generate_summary_of_transcripts(ing.session_id, **kw(ing.tenant))
    assert started.success is True and started.data is not None
    assert started.data.session_id == ing.session_id
    assert started.data.status in ("IN_PROGRESS", "COMPLETED")

    text = wait_for(lambda: summary_text(ing), timeout=60)
    expected = ExtractiveSummarizer().summarize(
        ing.segments, word_limit=500, text_format="markdown", summary_type="general"
    )
    assert text == expected
    assert text.startswith("## Meeting summary")
    assert count_words(text) <= 500
    for name in {s.name for s in ing.segments}:
        assert name.split(" ")[0] in text  # every speaker shows up

    again = sessions.generate_summary_of_transcripts(ing.session_id, **kw(ing.tenant))
    assert again.data.status == "COMPLETED"
    with ing.tenant.server.database().unit_of_work(write=False) as s:
        jobs = s.scalars(select(JobRow).where(JobRow.key == ing.session_id)).all()
    assert [(j.kind, j.status, j.attempts) for j in jobs] == [("summary", "done", 1)]


def test_concurrent_posts_make_one_job(tenant: Tenant) -> None:
    ing = ingest_meeting(tenant, "IS1008a")
    sessions = tenant.sdk().realtime_kit.sessions
    barrier = threading.Barrier(8)
    statuses: list[str] = []
    errors: list[BaseException] = []

    def post() -> None:
        try:
            barrier.wait()
            result = sessions.generate_summary_of_transcripts(ing.session_id, **kw(tenant))
            statuses.append(result.data.status)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=post) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors
    assert len(statuses) == 8 and set(statuses) <= {"IN_PROGRESS", "COMPLETED"}
    wait_for(lambda: summary_text(ing), timeout=60)
    with tenant.server.database().unit_of_work(write=False) as s:
        count = s.scalar(
            select(func.count()).select_from(JobRow).where(JobRow.key == ing.session_id)
        )
    assert count == 1


def test_ai_config_plain_text_and_word_limit(live_server: LiveServer, tenant: Tenant) -> None:
    ing = ingest_meeting(tenant, "ES2002a")
    with live_server.database().unit_of_work() as s:
        meeting = s.get(Meeting, ing.meeting_id)
        assert meeting is not None
        meeting.ai_config = {
            "summarization": {
                "word_limit": 80,
                "text_format": "plain_text",
                "summary_type": "team_meeting",
            }
        }
    sessions = tenant.sdk().realtime_kit.sessions
    sessions.generate_summary_of_transcripts(ing.session_id, **kw(tenant))
    text = wait_for(lambda: summary_text(ing), timeout=60)
    assert text == ExtractiveSummarizer().summarize(
        ing.segments, word_limit=80, text_format="plain_text", summary_type="team_meeting"
    )
    assert text.startswith("Team meeting summary") and "**" not in text
    assert count_words(text) <= 80
    url = sessions.get_session_summary(ing.session_id, **kw(tenant)).data.summary_download_url
    assert ".txt?" in url


def test_summarize_on_end(live_server: LiveServer, tenant: Tenant) -> None:
    """A meeting with summarize_on_end gets its summary when its session ends, unasked."""
    ing = ingest_meeting(tenant, "IS1008a")
    with live_server.database().unit_of_work() as s:
        meeting = s.get(Meeting, ing.meeting_id)
        session = s.get(Session, ing.session_id)
        assert meeting is not None and session is not None
        meeting.summarize_on_end = True
        session.keep_alive_secs = 0
    last = max(s.end for s in ing.segments)
    post_events(
        tenant,
        [
            {"id": f"left-{p}", "type": "peer.left", "timestamp": iso(last), "peer_id": p}
            for p in {s.peer_id for s in ing.segments}
        ],
    )
    text = wait_for(lambda: summary_text(ing), timeout=60)
    assert text.startswith("## Meeting summary")
    details = tenant.sdk().realtime_kit.sessions.get_session_details(ing.session_id, **kw(tenant))
    assert details.data.status == "ENDED"


def test_no_summary_on_end_without_the_setting(live_server: LiveServer, tenant: Tenant) -> None:
    ing = ingest_meeting(tenant, "IS1008a")
    with live_server.database().unit_of_work() as s:
        session = s.get(Session, ing.session_id)
        assert session is not None
        session.keep_alive_secs = 0
    last = max(s.end for s in ing.segments)
    post_events(
        tenant,
        [
            {"id": f"left-{p}", "type": "peer.left", "timestamp": iso(last), "peer_id": p}
            for p in {s.peer_id for s in ing.segments}
        ],
    )
    sessions = tenant.sdk().realtime_kit.sessions
    wait_for(
        lambda: sessions.get_session_details(ing.session_id, **kw(tenant)).data.status == "ENDED"
    )
    live_server.sweep()
    with pytest.raises(cloudflare.NotFoundError) as err:
        sessions.get_session_summary(ing.session_id, **kw(tenant))
    assert "none has been requested" in str(err.value)


def _summary_segments(ing: Ingested) -> int | None:
    """The number of final segments the stored summary was made from (None: no summary)."""
    from rtk_sessions.storage.tables import SummaryRow

    with ing.tenant.server.database().unit_of_work(write=False) as s:
        row = s.get(SummaryRow, ing.session_id)
        return None if row is None else row.segments


def _more_transcript(ing: Ingested, text: str, *, offset_s: float = 10.0) -> None:
    """One more final segment, after the last one, by the first speaker."""
    seg = max(ing.segments, key=lambda s: s.end)
    person = Person(seg.peer_id, seg.user_id, seg.name)
    start = seg.end + timedelta(seconds=offset_s)
    post_events(
        ing.tenant,
        [segment_event(ing.session_id, person, start, start + timedelta(seconds=5), text)],
    )


def test_post_regenerates_a_summary_made_before_more_transcript(tenant: Tenant) -> None:
    """Issue 11: a POST after more transcript arrived answered COMPLETED with the stale summary."""
    ing = ingest_meeting(tenant, "IS1008a")
    sessions = tenant.sdk().realtime_kit.sessions
    sessions.generate_summary_of_transcripts(ing.session_id, **kw(tenant))
    wait_for(lambda: summary_text(ing), timeout=60)
    again = sessions.generate_summary_of_transcripts(ing.session_id, **kw(tenant)).data
    assert again.status == "COMPLETED"  # nothing changed: nothing to do
    marker = "Zanzibar quartz xylophones dominate every remaining budget decision today"
    _more_transcript(ing, marker)
    status = sessions.generate_summary_of_transcripts(ing.session_id, **kw(tenant)).data.status
    assert status == "IN_PROGRESS"
    wait_for(lambda: _summary_segments(ing) == len(ing.segments) + 1, timeout=60)
    assert summary_text(ing)  # the regenerated summary is served


def test_summarize_on_end_also_fires_for_a_final_transcript_after_the_end(
    live_server: LiveServer, tenant: Tenant
) -> None:
    ing = ingest_meeting(tenant, "IS1008a")
    with live_server.database().unit_of_work() as s:
        meeting = s.get(Meeting, ing.meeting_id)
        session = s.get(Session, ing.session_id)
        assert meeting is not None and session is not None
        meeting.summarize_on_end = True
        session.keep_alive_secs = 0
    last = max(s.end for s in ing.segments)
    post_events(
        tenant,
        [
            {"id": f"left-{p}", "type": "peer.left", "timestamp": iso(last), "peer_id": p}
            for p in {s.peer_id for s in ing.segments}
        ],
    )
    wait_for(lambda: _summary_segments(ing) == len(ing.segments), timeout=60)
    sessions = tenant.sdk().realtime_kit.sessions
    assert sessions.get_session_details(ing.session_id, **kw(tenant)).data.status == "ENDED"
    # the transcription service delivers its last final segment after the end
    seg = max(ing.segments, key=lambda s: s.end)
    person = Person(seg.peer_id, seg.user_id, seg.name)
    start = seg.end + timedelta(seconds=1)
    late = segment_event(
        ing.session_id, person, start, start + timedelta(seconds=3), "A late closing remark."
    )
    post_events(tenant, [{**late, "peer_id": None}])
    wait_for(lambda: _summary_segments(ing) == len(ing.segments) + 1, timeout=60)
    assert summary_text(ing)
