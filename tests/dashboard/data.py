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
    "Jitsi SFU, Firefox": [REAL / "jitsi-rtcstats_firefox-standard-stats-sfu.rtcstats.jsonl"],
    "Jitsi SFU, Chrome": [REAL / "jitsi-rtcstats_google-standard-stats-sfu.rtcstats.jsonl"],
    "Jitsi, Chrome over TURN relay": [REAL / "jitsi-rtcstats_chrome-relay.rtcstats.jsonl"],
    "Chromium 156 loopback (webrtc-internals)": [INTERNALS / "chromium156-loopback.json"],
}


@dataclass
class Imported:
    """What a tenant holds: session id per title, and the peer ids of each session."""

    sessions: dict[str, str] = field(default_factory=dict)
    peers: dict[str, list[str]] = field(default_factory=dict)
    long_peer: str | None = None
    long_session: str | None = None


def import_real(database: Any, settings: Any, account_id: str, app_id: str) -> Imported:
    from rtk_sessions.importing import import_recordings

    out = Imported()
    for title, paths in RECORDINGS.items():
        result = import_recordings(
            database, settings, paths, account_id=account_id, app_id=app_id, meeting_title=title
        )
        out.sessions[title] = result.session_id
        out.peers[title] = [p for p, _ in result.peers]
    return out


def ingest_long_peer(base_url: str, account_id: str, app_id: str, token: str, reports: int = 3600) -> str:
    """A peer of ``reports`` two-second reports (3600: 2 hours) that ended an hour ago; returns
    its peer id ("p-two-hours"). Posted in 200-event batches to the ingest route."""
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        from payloads import Payloads, long_peer  # type: ignore[import-not-found]
    finally:
        sys.path.remove(str(ROOT / "bench"))
    payloads = Payloads.load()
    start = (datetime.now(UTC) - timedelta(hours=3)).timestamp() * 1000
    events = long_peer(payloads, "two-hours", start, reports=reports)
    url = f"{base_url}/client/v4/accounts/{account_id}/realtime/kit/{app_id}/ingest"
    with httpx.Client(headers={"Authorization": f"Bearer {token}",
                               "Content-Type": "application/json"}, timeout=60) as client:
        for i in range(0, len(events), 200):
            r = client.post(url, content=orjson.dumps({"events": events[i : i + 200]}))
            r.raise_for_status()
    return "p-two-hours"
