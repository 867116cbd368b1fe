"""Summaries of session transcripts: requests (POST), status (GET), and the background job.

* ``request_summary`` (POST): 404 without a final transcript; a summary made from the transcript
  as it is now answers ``COMPLETED`` (one made before more final segments arrived is regenerated);
  a queued or running job answers ``IN_PROGRESS``; otherwise (also after a job failed for good) a
  new job is queued: ``IN_PROGRESS``. Never two active jobs for one session.
* ``summary_of`` (GET): the stored summary, or SummaryNotFound whose message says why (none
  requested, in progress, the last attempt's error, failed).
* ``SummaryJob``: the handler of ``summary`` jobs. It reads the final segments and the meeting's
  ``ai_config.summarization`` ({word_limit (default 500), text_format (plain_text | markdown;
  default markdown), summary_type (default general)}), runs the configured summarizer outside any
  transaction, and hands the runner a function that stores the result.
* ``summarize_ended``: called by the sweeper with the sessions that just ended; queues a job for
  those whose meeting has ``summarize_on_end`` and that have a transcript.
* ``summarize_late_transcript``: called by ingestion when a final segment arrives for an ENDED
  session whose meeting has ``summarize_on_end``: the summary is made (again) from it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session as DB

from rtk_sessions import jobs
from rtk_sessions.clock import utc_now
from rtk_sessions.config import Settings
from rtk_sessions.domain import webhooks
from rtk_sessions.domain.conversation import final_segments, has_transcript, session_of_app
from rtk_sessions.errors import SummaryNotFound, TranscriptNotFound
from rtk_sessions.storage.engine import Database
from rtk_sessions.storage.tables import (
    JobRow,
    Meeting,
    Session,
    SummaryRow,
    TranscriptSegmentRow,
)
from rtk_sessions.summarize import (
    SUMMARY_TYPES,
    ExtractiveSummarizer,
    OpenAICompatibleSummarizer,
    Summarizer,
)

KIND = "summary"
IN_PROGRESS, COMPLETED = "IN_PROGRESS", "COMPLETED"

DEFAULT_WORD_LIMIT = 500
MAX_WORD_LIMIT = 5000
DEFAULT_TEXT_FORMAT = "markdown"
DEFAULT_MAX_ATTEMPTS = int(Settings.model_fields["job_max_attempts"].default)


@dataclass(frozen=True)
class SummaryOptions:
    word_limit: int = DEFAULT_WORD_LIMIT
    text_format: str = DEFAULT_TEXT_FORMAT
    summary_type: str = "general"


def options_for(meeting: Meeting | None) -> SummaryOptions:
    """The meeting's ``ai_config.summarization``, with defaults for missing or unusable values."""
    config: Any = ((meeting.ai_config or {}) if meeting else {}).get("summarization") or {}
    if not isinstance(config, dict):
        config = {}
    limit = config.get("word_limit")
    if isinstance(limit, bool) or not isinstance(limit, int | float) or limit < 1:
        limit = DEFAULT_WORD_LIMIT
    fmt = config.get("text_format")
    kind = config.get("summary_type")
    return SummaryOptions(
        word_limit=min(int(limit), MAX_WORD_LIMIT),
        text_format=fmt if fmt in ("plain_text", "markdown") else DEFAULT_TEXT_FORMAT,
        summary_type=kind if kind in SUMMARY_TYPES else "general",
    )


def build_summarizer(settings: Settings) -> tuple[Summarizer, str]:
    """The configured summarizer and a label for it (stored with each summary)."""
    if settings.summarizer == "openai":
        assert settings.openai_base_url and settings.openai_model
        return (
            OpenAICompatibleSummarizer(
                base_url=settings.openai_base_url,
                model=settings.openai_model,
                api_key=settings.openai_api_key,
                timeout=settings.openai_timeout_secs,
            ),
            f"openai:{settings.openai_model}",
        )
    return ExtractiveSummarizer(), "extractive"


# ---- API -------------------------------------------------------------------------------------


def request_summary(
    db: DB, app_id: str, session_id: str, *, now: datetime, max_attempts: int
) -> tuple[str, bool]:
    """POST summary: (status, whether a job was queued).

    raises SessionNotFound, TranscriptNotFound."""
    session = session_of_app(db, app_id, session_id)
    if not has_transcript(db, session.id):
        raise TranscriptNotFound(session.id)
    if is_current(db, db.get(SummaryRow, session.id)):
        return COMPLETED, False
    _, created = jobs.enqueue(
        db, KIND, session.id, now=now, max_attempts=max_attempts, app_id=app_id
    )
    return IN_PROGRESS, created


def final_segment_count(db: DB, session_id: str) -> int:
    return int(
        db.scalar(
            select(func.count()).where(
                TranscriptSegmentRow.session_id == session_id,
                TranscriptSegmentRow.is_final.is_(True),
            )
        )
        or 0
    )


def is_current(db: DB, row: SummaryRow | None) -> bool:
    """Whether summary ``row`` was made from the session's transcript as it is now: segments are
    only ever added, so it is current while the number of final segments is the one it was made
    from (``SummaryRow.segments``). None (no summary) is not current."""
    return row is not None and row.segments == final_segment_count(db, row.session_id)


def summarize_late_transcript(
    db: DB, session: Session, *, now: datetime, max_attempts: int = DEFAULT_MAX_ATTEMPTS
) -> bool:
    """A final transcript segment arrived for ``session``: when it has ended and its meeting has
    ``summarize_on_end``, queue a summary (unless one is queued or running already); True when a
    job was queued. Ingestion calls it in the batch's transaction."""
    if session.status != "ENDED":
        return False
    meeting = db.get(Meeting, session.meeting_id)
    if meeting is None or not meeting.summarize_on_end:
        return False
    _, created = jobs.enqueue(
        db, KIND, session.id, now=now, max_attempts=max_attempts, app_id=session.app_id
    )
    return created


def summary_of(db: DB, app_id: str, session_id: str) -> SummaryRow:
    """GET summary. raises SessionNotFound, SummaryNotFound (with the reason)."""
    session = session_of_app(db, app_id, session_id)
    row = db.get(SummaryRow, session.id)
    if row is not None:
        return row
    raise SummaryNotFound(session.id, _reason(jobs.latest(db, KIND, session.id)))


def _reason(job: JobRow | None) -> str:
    if job is None:
        return "none has been requested (POST .../summary generates one)"
    error = f"; last error: {job.last_error}" if job.last_error else ""
    if job.status == jobs.FAILED:
        return f"generation failed after {job.attempts} attempt(s){error}"
    if job.status == jobs.RUNNING:
        return f"generation in progress (attempt {job.attempts} of {job.max_attempts}){error}"
    if job.status == jobs.QUEUED:
        if job.attempts:
            return (
                f"generation queued for a retry (attempt {job.attempts} of {job.max_attempts} "
                f"failed){error}"
            )
        return "generation queued"
    return "generation finished without a summary"  # done, but the summary row is gone


def summarize_ended(db: DB, session_ids: Iterable[str], *, now: datetime, max_attempts: int) -> int:
    """Queue summaries of ended sessions whose meeting asks for one; returns how many."""
    queued = 0
    for session_id in session_ids:
        session = db.get(Session, session_id)
        if session is None:
            continue
        meeting = db.get(Meeting, session.meeting_id)
        if meeting is None or not meeting.summarize_on_end:
            continue
        if is_current(db, db.get(SummaryRow, session.id)) or not has_transcript(db, session.id):
            continue
        _, created = jobs.enqueue(
            db, KIND, session.id, now=now, max_attempts=max_attempts, app_id=session.app_id
        )
        queued += created
    return queued


# ---- the job ---------------------------------------------------------------------------------


class SummaryJob:
    """Handler of ``summary`` jobs (``jobs.Handler``)."""

    def __init__(self, db: Database, summarizer: Summarizer, label: str) -> None:
        self.db, self.summarizer, self.label = db, summarizer, label

    def __call__(self, job: JobRow) -> jobs.Commit:
        with self.db.unit_of_work(write=False) as s:
            session = s.get(Session, job.key)
            if session is None:
                raise jobs.PermanentJobError(f"session {job.key} no longer exists")
            segments = final_segments(s, session.id)
            if not segments:
                raise jobs.PermanentJobError(f"session {job.key} has no transcript")
            options = options_for(s.get(Meeting, session.meeting_id))
            app_id = session.app_id
        content = self.summarizer.summarize(
            segments,
            word_limit=options.word_limit,
            text_format=options.text_format,  # type: ignore[arg-type]
            summary_type=options.summary_type,
        )

        def commit(s: DB) -> None:
            session = s.get(Session, job.key)
            if session is None:
                return
            now = utc_now()
            row = s.get(SummaryRow, job.key)
            values = {
                "app_id": app_id,
                "content": content,
                "text_format": options.text_format,
                "summary_type": options.summary_type,
                "word_limit": options.word_limit,
                "summarizer": self.label,
                "segments": len(segments),
                "job_id": job.id,
                "created_at": now,
            }
            if row is None:
                s.add(SummaryRow(session_id=job.key, **values))
            else:
                for name, value in values.items():
                    setattr(row, name, value)
            webhooks.summary_written(
                s,
                session,
                now=now,
                text_format=options.text_format,
                summary_type=options.summary_type,
                segments=len(segments),
            )

        return commit


def summary_file(row: SummaryRow) -> tuple[bytes, str]:
    """The downloadable file of a summary: (bytes, extension)."""
    return row.content.encode("utf-8"), ("md" if row.text_format == "markdown" else "txt")
