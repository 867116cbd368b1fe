"""Chat, transcript and summary routes (docs/chat-transcripts-summaries.md; D19–D21 in
docs/decisions.md), and the signed download route.

The four Sessions routes live under ``/client/v4/accounts/{account_id}/realtime/kit/{app_id}/
sessions/{session_id}/``; downloads are served at ``/downloads/{kind}/{name}?expires=&sig=``
without credentials: the signature is the credential (see ``rtk_sessions.downloads``).

``start`` creates what these routes need at application start: the download store.
"""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, FastAPI, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from rtk_sessions.api.deps import ApiScopeDep, DatabaseDep, SettingsDep
from rtk_sessions.api.envelope import ok
from rtk_sessions.api.openapi import ContractRoute
from rtk_sessions.clock import iso, utc_now
from rtk_sessions.config import Settings
from rtk_sessions.contract import sessions as shapes
from rtk_sessions.contract.query import TranscriptQuery
from rtk_sessions.domain import conversation, summaries
from rtk_sessions.downloads import Downloads, LocalFileStorage
from rtk_sessions.errors import TranscriptNotFound
from rtk_sessions.exports import transcript_file
from rtk_sessions.exports.transcript import TRANSCRIPT_EXTENSIONS
from rtk_sessions.jobs import JobRunner

log = logging.getLogger("rtk_sessions")

SESSIONS = "/client/v4/accounts/{account_id}/realtime/kit/{app_id}/sessions/{session_id}"

router = APIRouter(tags=["sessions"], route_class=ContractRoute)

FORMATS = ("CSV", "JSON", "SRT", "VTT")


def _downloads(request: Request) -> Downloads:
    downloads: Downloads = request.app.state.downloads
    return downloads


def _base_url(request: Request) -> str:
    return str(request.base_url)


@router.get(
    SESSIONS + "/chat",
    summary="Fetch all chat messages of a session",
    response_model=shapes.ChatResponse,
)
def get_session_chat(
    session_id: str, request: Request, scope: ApiScopeDep, db: DatabaseDep
) -> Response:
    """A signed URL to the session's chat as CSV (header only when the chat is empty)."""
    with db.unit_of_work(write=False) as s:
        data = conversation.chat_export(s, scope.app_id, session_id)
    url, expiry = _downloads(request).publish(
        "chat", session_id, "csv", data, base_url=_base_url(request), now=utc_now()
    )
    return ok({"chat_download_url": url, "chat_download_url_expiry": iso(expiry)})


@router.get(
    SESSIONS + "/transcript",
    summary="Fetch the complete transcript for a session",
    response_model=shapes.TranscriptResponse,
)
def get_session_transcripts(
    session_id: str,
    request: Request,
    scope: ApiScopeDep,
    db: DatabaseDep,
    q: Annotated[TranscriptQuery, Query()],
) -> Response:
    """A signed URL to the final transcript in ``format`` (default CSV); 404 without one."""
    fmt = q.format or "CSV"
    with db.unit_of_work(write=False) as s:
        session = conversation.session_of_app(s, scope.app_id, session_id)
        segments = conversation.final_segments(s, session.id)
        started_at = session.started_at
    if not segments:
        raise TranscriptNotFound(session_id)
    data, _ = transcript_file(segments, fmt, session_start=started_at, session_id=session_id)
    url, expiry = _downloads(request).publish(
        "transcript",
        session_id,
        TRANSCRIPT_EXTENSIONS[fmt],
        data,
        base_url=_base_url(request),
        now=utc_now(),
    )
    return ok(
        {
            "sessionId": session_id,
            "transcript_download_url": url,
            "transcript_download_url_expiry": iso(expiry),
        }
    )


@router.get(
    SESSIONS + "/summary",
    summary="Fetch summary of transcripts for a session",
    response_model=shapes.SummaryResponse,
)
def get_session_summary(
    session_id: str, request: Request, scope: ApiScopeDep, db: DatabaseDep
) -> Response:
    """A signed URL to the summary; 404 (with the reason) until one exists (D20)."""
    with db.unit_of_work(write=False) as s:
        row = summaries.summary_of(s, scope.app_id, session_id)
        data, ext = summaries.summary_file(row)
    url, expiry = _downloads(request).publish(
        "summary", session_id, ext, data, base_url=_base_url(request), now=utc_now()
    )
    return ok(
        {
            "sessionId": session_id,
            "summaryDownloadUrl": url,
            "summaryDownloadUrlExpiry": iso(expiry),
        }
    )


@router.post(
    SESSIONS + "/summary",
    summary="Generate summary of transcripts for the session",
    response_model=shapes.SummaryJobResponse,
)
def generate_summary_of_transcripts(
    session_id: str, request: Request, scope: ApiScopeDep, db: DatabaseDep, settings: SettingsDep
) -> Response:
    """Queue the summary job and answer at once: ``IN_PROGRESS``, or ``COMPLETED`` when the summary
    already exists (D21). 404 for an unknown session or one without a transcript."""
    with db.unit_of_work() as s:
        status, created = summaries.request_summary(
            s, scope.app_id, session_id, now=utc_now(), max_attempts=settings.job_max_attempts
        )
    runner: JobRunner | None = getattr(request.app.state, "jobs", None)
    if created and runner is not None:
        runner.notify()
    return ok({"session_id": session_id, "status": status})


@router.get(
    "/downloads/{kind}/{name}",
    summary="Download a file behind a signed URL",
    response_class=Response,
    responses={
        200: {
            "description": "The file (its media type by its extension).",
            "content": {"application/octet-stream": {"schema": {"type": "string"}}},
        }
    },
)
async def download(
    kind: str, name: str, request: Request, expires: str | None = None, sig: str | None = None
) -> Response:
    """The file, for a valid unexpired signature; 403 otherwise."""
    data, media_type = await run_in_threadpool(_downloads(request).open, kind, name, expires, sig)
    return Response(
        data,
        media_type=media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "private, no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


# ---- application start and stop --------------------------------------------------------------


def start(app: FastAPI, settings: Settings, secret: bytes) -> None:
    """The download store on ``app.state.downloads`` (the job runner that prunes it is a worker,
    ``rtk_sessions.workers``)."""
    app.state.downloads = Downloads(
        LocalFileStorage(settings.data_dir / "files"),
        secret,
        settings.download_expiry_secs,
        settings.public_url,
    )
