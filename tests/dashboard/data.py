"""Data for the dashboard tests: real recordings imported through ``import_recordings`` (the code
behind ``rtk-sessions import``) and a 2-hour peer built from real getStats reports
(``bench/payloads.long_peer``), ingested over HTTP like a live client."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson

ROOT = Path(__file__).resolve().parents[2]
REAL = ROOT / "tests" / "fixtures" / "real-stats"
INTERNALS = ROOT / "tests" / "fixtures" / "webrtc-internals"

#: One session each; the titles are what the dashboard shows.
RECORDINGS: dict[str, list[Path]] = {
    "Jitsi P2P, Chrome": [REAL / "jitsi-rtcstats_chrome-standard-multiple-p2p.rtcstats.jsonl"],
    "Jitsi SFU call, Chrome and Firefox": [
        REAL / "jitsi-rtcstats_google-standard-stats-sfu.rtcstats.jsonl",
        REAL / "jitsi-rtcstats_firefox-standard-stats-sfu.rtcstats.jsonl",
    ],
    "Jitsi, Chrome over TURN relay": [REAL / "jitsi-rtcstats_chrome-relay.rtcstats.jsonl"],
    "Chromium 156 loopback (webrtc-internals)": [INTERNALS / "chromium156-loopback.json"],
}


@dataclass
class Imported:
    """What a tenant holds: session id per title, and the peer ids of each session."""

    sessions: dict[str, str] = field(default_factory=dict)
    peers: dict[str, list[str]] = field(default_factory=dict)
    long_peer: str | None = None
    standup: Standup | None = None


@dataclass
class Standup:
    """A session made of lifecycle, chat and transcript events: Ada joins, leaves and rejoins,
    Ben stays, Cy and Ada meet in a breakout room; the transcript is the first lines of the AMI
    meeting ES2002a (tests/fixtures/transcripts/PROVENANCE.md)."""

    session_id: str
    room_id: str
    ada: tuple[str, str]  # her two peers (first join, rejoin)
    ben: str
    cy: str
    chat: list[str]


def import_real(database: Any, settings: Any, account_id: str, app_id: str) -> Imported:
    from rtk_sessions.importers.service import import_recordings

    out = Imported()
    for title, paths in RECORDINGS.items():
        result = import_recordings(
            database, settings, paths, account_id=account_id, app_id=app_id, meeting_title=title
        )
        out.sessions[title] = result.session_id
        out.peers[title] = [p for p, _ in result.peers]
    return out


def ingest_long_peer(
    base_url: str, account_id: str, app_id: str, token: str, reports: int = 3600
) -> str:
    """A peer of ``reports`` two-second reports (3600: 2 hours) that ended an hour ago; returns
    its peer id ("p-two-hours"). Posted in 200-event batches to the ingest route."""
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        from payloads import Payloads, long_peer
    finally:
        sys.path.remove(str(ROOT / "bench"))
    payloads = Payloads.load()
    start = (datetime.now(UTC) - timedelta(hours=3)).timestamp() * 1000
    events = long_peer(payloads, "two-hours", start, reports=reports)
    url = f"{base_url}/client/v4/accounts/{account_id}/realtime/kit/{app_id}/ingest"
    with httpx.Client(
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"}, timeout=60
    ) as client:
        for i in range(0, len(events), 200):
            r = client.post(url, content=orjson.dumps({"events": events[i : i + 200]}))
            r.raise_for_status()
    return "p-two-hours"


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def post_standup(base_url: str, account_id: str, app_id: str, token: str) -> Standup:
    """Post the ``Standup`` session (ended 20 minutes ago) to the ingest route."""
    import uuid

    t0 = datetime.now(UTC) - timedelta(minutes=50)

    def at(minutes: float) -> str:
        return _iso(t0 + timedelta(minutes=minutes))

    meeting, session, room = (str(uuid.uuid4()) for _ in range(3))
    ada1, ada2, ben, cy = (str(uuid.uuid4()) for _ in range(4))
    who = {
        "ada": {"user_id": "u-ada", "display_name": "Ada", "custom_participant_id": "ada"},
        "ben": {"user_id": "u-ben", "display_name": "Ben", "custom_participant_id": "ben"},
        "cy": {"user_id": "u-cy", "display_name": "Cy", "custom_participant_id": "cy"},
    }
    n = iter(range(10_000))

    def join(
        peer: str, person: str, minute: float, sess: str = session, **extra: Any
    ) -> dict[str, Any]:
        return {
            "id": f"standup-{next(n)}",
            "type": "peer.joined",
            "timestamp": at(minute),
            "peer_id": peer,
            "meeting_id": meeting,
            "session_id": sess,
            "meeting_title": "Standup",
            "participant": who[person],
            **extra,
        }

    def left(peer: str, minute: float) -> dict[str, Any]:
        return {
            "id": f"standup-{next(n)}",
            "type": "peer.left",
            "timestamp": at(minute),
            "peer_id": peer,
        }

    events = [
        join(ada1, "ada", 0),
        join(ben, "ben", 1),
        left(ada1, 8),
        join(ada2, "ada", 10),
        join(cy, "cy", 12, sess=room, parent_session_id=session),
    ]
    chat = [
        "Morning! Starting in a minute.",
        "My network dropped, back now.",
        "Cy and I take the breakout.",
    ]
    for i, (peer, text) in enumerate(zip((ada1, ada2, ada2), chat, strict=True)):
        events.append(
            {
                "id": f"standup-{next(n)}",
                "type": "chat.message",
                "timestamp": at(2 + i * 9),
                "session_id": session,
                "peer_id": peer,
                "payload_type": "TEXT_MESSAGE",
                "payload": text,
            }
        )
    lines = (
        (ROOT / "tests" / "fixtures" / "transcripts" / "ES2002a.tsv").read_text().splitlines()[:12]
    )
    for i, line in enumerate(lines):
        speaker, _, text = line.partition("\t")
        peer = ben if speaker in ("PM", "ID") else ada1  # both in the call from minute 1 to 8
        events.append(
            {
                "id": f"standup-{next(n)}",
                "type": "transcript.segment",
                "timestamp": at(2 + i * 0.5),
                "session_id": session,
                "peer_id": peer,
                "start": at(1.6 + i * 0.5),
                "end": at(2 + i * 0.5),
                "text": text,
            }
        )
    events += [left(cy, 25), left(ada2, 28), left(ben, 30)]
    events.sort(key=lambda e: e["timestamp"])
    url = f"{base_url}/client/v4/accounts/{account_id}/realtime/kit/{app_id}"
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(headers=headers, timeout=60) as client:
        r = client.post(f"{url}/ingest", json={"events": events})
        assert r.status_code == 200, r.text
    return Standup(session, room, (ada1, ada2), ben, cy, chat)
