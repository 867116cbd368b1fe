"""File exports of a session's chat and transcript (the files behind the download URLs).

Pure functions, no database: callers load the rows, these turn them into bytes.
"""

from rtk_sessions.exports.chat import CHAT_CSV_COLUMNS, ChatRow, chat_csv
from rtk_sessions.exports.transcript import (
    TRANSCRIPT_CSV_COLUMNS,
    TRANSCRIPT_MEDIA_TYPES,
    Segment,
    TranscriptFormat,
    transcript_file,
)

__all__ = [
    "CHAT_CSV_COLUMNS",
    "TRANSCRIPT_CSV_COLUMNS",
    "TRANSCRIPT_MEDIA_TYPES",
    "ChatRow",
    "Segment",
    "TranscriptFormat",
    "chat_csv",
    "transcript_file",
]
