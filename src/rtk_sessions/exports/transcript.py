"""Transcript export in the four formats of ``GET .../sessions/{id}/transcript?format=``.

Input is the session's **final** transcript segments (filtering out interim ``is_final=false``
segments is the caller's job). All formats share these rules:

* Segments are ordered by ``(start, end)``; the sort is stable, so segments with equal times keep
  the caller's order. Overlapping segments (two people talking at once) are kept as they are:
  SRT and WebVTT both allow overlapping cues.
* A segment whose ``end`` is before its ``start`` is given ``end = start``.
* Segments whose text is empty or only whitespace are left out.
* The speaker label is ``name``, else ``custom_participant_id``, else ``user_id``, else ``peer_id``,
  else ``Unknown``.

Formats:

``CSV``
    Columns ``Timestamp, Participant ID, User ID, Custom Participant ID, Participant Name,
    Transcript``; ``Timestamp`` is the segment start (ISO 8601 UTC with ms), ``Participant ID`` the
    peer id. UTF-8 without BOM, CRLF, RFC 4180 quoting. No segments: header only.
``JSON``
    ``{"version": 1, "sessionId"?: str, "sessionStart": iso, "transcript": [{"startTime": iso,
    "endTime": iso, "startOffsetMs": int, "endOffsetMs": int, "participantId": str|null, "userId":
    str|null, "customParticipantId": str|null, "name": str|null, "speaker": str, "text": str,
    "language": str|null}]}``. ``*OffsetMs`` are relative to ``sessionStart``; ``speaker`` is the
    label above; ``sessionId`` is present when the caller passes it.
``SRT``
    Numbered cues, times ``HH:MM:SS,mmm`` relative to ``session_start``, text ``Speaker: text``.
``VTT``
    ``WEBVTT`` file, numbered cues, times ``HH:MM:SS.mmm`` relative to ``session_start``, payload
    ``<v Speaker>text</v>`` (the voice span), with ``&``, ``<``, ``>`` escaped as entities.

Times before ``session_start`` are clamped to 0 in SRT/VTT.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal

from rtk_sessions.clock import iso
from rtk_sessions.exports.timefmt import clock, offset_ms

TranscriptFormat = Literal["CSV", "JSON", "SRT", "VTT"]

TRANSCRIPT_CSV_COLUMNS: tuple[str, ...] = (
    "Timestamp",
    "Participant ID",
    "User ID",
    "Custom Participant ID",
    "Participant Name",
    "Transcript",
)

TRANSCRIPT_MEDIA_TYPES: dict[str, str] = {
    "CSV": "text/csv; charset=utf-8",
    "JSON": "application/json",
    "SRT": "application/x-subrip; charset=utf-8",
    "VTT": "text/vtt; charset=utf-8",
}

#: File name extension per format, for download URLs.
TRANSCRIPT_EXTENSIONS: dict[str, str] = {"CSV": "csv", "JSON": "json", "SRT": "srt", "VTT": "vtt"}


@dataclass(frozen=True)
class Segment:
    start: datetime
    end: datetime
    text: str
    peer_id: str | None
    user_id: str | None
    custom_participant_id: str | None
    name: str | None
    language: str | None = None


def speaker_label(seg: Segment) -> str:
    for value in (seg.name, seg.custom_participant_id, seg.user_id, seg.peer_id):
        if value and value.strip():
            return value.strip()
    return "Unknown"


def ordered_segments(segments: Sequence[Segment]) -> list[Segment]:
    """Non-empty segments, ``end >= start`` enforced, sorted stably by ``(start, end)``."""
    out = []
    for seg in segments:
        if not seg.text or not seg.text.strip():
            continue
        if seg.end < seg.start:
            seg = replace(seg, end=seg.start)
        out.append(seg)
    out.sort(key=lambda s: (s.start, s.end))
    return out


_BLANK_LINES = re.compile(r"\n\s*\n+")


def _cue_text(text: str) -> str:
    """Text that cannot end a cue early: normalized newlines, no blank lines, trimmed."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").strip()
    return _BLANK_LINES.sub("\n", text)


def _vtt_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _csv(segs: list[Segment]) -> bytes:
    buf = io.StringIO(newline="")
    w = csv.writer(buf, dialect="excel", lineterminator="\r\n")
    w.writerow(TRANSCRIPT_CSV_COLUMNS)
    for s in segs:
        w.writerow(
            (
                iso(s.start, require_aware=True),
                s.peer_id or "",
                s.user_id or "",
                s.custom_participant_id or "",
                s.name or "",
                s.text.strip(),
            )
        )
    return buf.getvalue().encode("utf-8")


def _json(segs: list[Segment], session_start: datetime, session_id: str | None) -> bytes:
    doc: dict[str, object] = {"version": 1}
    if session_id is not None:
        doc["sessionId"] = session_id
    doc["sessionStart"] = iso(session_start, require_aware=True)
    doc["transcript"] = [
        {
            "startTime": iso(s.start, require_aware=True),
            "endTime": iso(s.end, require_aware=True),
            "startOffsetMs": offset_ms(s.start, session_start),
            "endOffsetMs": offset_ms(s.end, session_start),
            "participantId": s.peer_id,
            "userId": s.user_id,
            "customParticipantId": s.custom_participant_id,
            "name": s.name,
            "speaker": speaker_label(s),
            "text": s.text.strip(),
            "language": s.language,
        }
        for s in segs
    ]
    return json.dumps(doc, ensure_ascii=False, indent=2).encode("utf-8") + b"\n"


def _srt(segs: list[Segment], session_start: datetime) -> bytes:
    blocks = []
    for i, s in enumerate(segs, 1):
        a = clock(offset_ms(s.start, session_start), ",")
        b = clock(offset_ms(s.end, session_start), ",")
        blocks.append(f"{i}\n{a} --> {b}\n{speaker_label(s)}: {_cue_text(s.text)}\n")
    return "\n".join(blocks).encode("utf-8")


def _vtt(segs: list[Segment], session_start: datetime) -> bytes:
    parts = ["WEBVTT\n"]
    for i, s in enumerate(segs, 1):
        a = clock(offset_ms(s.start, session_start), ".")
        b = clock(offset_ms(s.end, session_start), ".")
        # A voice annotation ends at '>' and may not hold a line break.
        name = _vtt_escape(" ".join(speaker_label(s).split()))
        text = _vtt_escape(_cue_text(s.text)).replace("-->", "--&gt;")
        parts.append(f"{i}\n{a} --> {b}\n<v {name}>{text}</v>\n")
    return "\n".join(parts).encode("utf-8")


def transcript_file(
    segments: Sequence[Segment],
    fmt: TranscriptFormat | str,
    *,
    session_start: datetime,
    session_id: str | None = None,
) -> tuple[bytes, str]:
    """Render ``segments`` as ``fmt`` (case-insensitive). Returns ``(content, media type)``."""
    key = str(fmt).upper()
    if key not in TRANSCRIPT_MEDIA_TYPES:
        raise ValueError(f"unknown transcript format {fmt!r}; expected one of CSV, JSON, SRT, VTT")
    segs = ordered_segments(segments)
    if key == "CSV":
        body = _csv(segs)
    elif key == "JSON":
        body = _json(segs, session_start, session_id)
    elif key == "SRT":
        body = _srt(segs, session_start)
    else:
        body = _vtt(segs, session_start)
    return body, TRANSCRIPT_MEDIA_TYPES[key]
