"""Chat messages and transcript segments of sessions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session as DB

from rtk_sessions.contract.ingest import ChatMessage, TranscriptSegment
from rtk_sessions.errors import BadRequest
from rtk_sessions.storage.tables import App, Peer


def record(
    db: DB, app: App, event: ChatMessage | TranscriptSegment, *, peer: Peer | None, now: datetime
) -> None:
    raise BadRequest(f"{event.type} events are not accepted yet")
