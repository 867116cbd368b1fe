"""Chat export: RealtimeKit's chat CSV."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from rtk_sessions.clock import iso

CHAT_CSV_COLUMNS: tuple[str, ...] = (
    "id",
    "participantId",
    "sessionId",
    "meetingId",
    "displayName",
    "pinned",
    "isEdited",
    "payloadType",
    "payload",
    "createdAt",
)


@dataclass(frozen=True)
class ChatRow:
    id: str
    participant_id: str | None
    session_id: str
    meeting_id: str
    display_name: str | None
    pinned: bool
    is_edited: bool
    payload_type: str  # TEXT_MESSAGE | IMAGE_MESSAGE | FILE_MESSAGE
    payload: str
    created_at: datetime


def _b(value: bool) -> str:
    return "true" if value else "false"


def chat_csv(rows: Iterable[ChatRow]) -> bytes:
    """The chat of a session as CSV (UTF-8, no BOM, CRLF line ends, RFC 4180 quoting).

    Rows are written in the order given (callers sort by ``created_at``). Booleans are ``true`` /
    ``false``, ``createdAt`` is ISO 8601 UTC with milliseconds, missing values are empty cells.
    No rows gives the header line only.
    """
    buf = io.StringIO(newline="")
    writer = csv.writer(buf, dialect="excel", quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
    writer.writerow(CHAT_CSV_COLUMNS)
    for r in rows:
        writer.writerow(
            (
                r.id,
                r.participant_id or "",
                r.session_id,
                r.meeting_id,
                r.display_name or "",
                _b(r.pinned),
                _b(r.is_edited),
                r.payload_type,
                r.payload,
                iso(r.created_at, require_aware=True),
            )
        )
    return buf.getvalue().encode("utf-8")
