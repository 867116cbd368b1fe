"""Loader of the AMI meeting fixtures (see tests/fixtures/transcripts/PROVENANCE.md).

The fixtures have no times: turns are laid end to end at 2.5 words per second (at least 0.6 s per
turn) with a 0.3 s pause, from 2024-05-01T10:00:00Z.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from rtk_sessions.exports import Segment

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "transcripts"
MEETING_START = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
WORDS_PER_SECOND = 2.5


@dataclass(frozen=True)
class Meeting:
    id: str
    title: str
    segments: list[Segment]
    references: dict[str, str]
    key_content: list[str]


def meeting_ids() -> list[str]:
    return sorted(json.loads((FIXTURES / "meetings.json").read_text("utf-8")))


def load_meeting(meeting_id: str) -> Meeting:
    meta = json.loads((FIXTURES / "meetings.json").read_text("utf-8"))[meeting_id]
    t = MEETING_START
    segs: list[Segment] = []
    for line in (FIXTURES / meta["transcript"]).read_text("utf-8").splitlines():
        if not line.strip():
            continue
        code, text = line.split("\t", 1)
        speaker = meta["speakers"][code]
        dur = max(0.6, len(text.split()) / WORDS_PER_SECOND)
        end = t + timedelta(seconds=dur)
        segs.append(
            Segment(
                start=t,
                end=end,
                text=text,
                peer_id=f"{meeting_id}-{code}-peer",
                user_id=speaker["user_id"],
                custom_participant_id=None,
                name=speaker["name"],
                language="en-GB",
            )
        )
        t = end + timedelta(seconds=0.3)
    return Meeting(meeting_id, meta["title"], segs, meta["references"], meta["key_content"])
