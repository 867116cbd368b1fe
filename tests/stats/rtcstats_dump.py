"""Tiny reader of the legacy Jitsi rtcstats dumps in tests/fixtures/real-stats (test helper only).

Lines are JSON arrays ``[method, pc_id, value, timestamp_ms]``. ``getstats`` values are
delta-compressed (jitsi/rtcstats-server ``src/utils/getstats-deltacompression.js``): each report
holds only the members that changed, stats ids are the keys (the ``id`` member is removed), a
member ``timestamp: 0`` means "the report's timestamp", which sits in the top-level ``timestamp``.
``decompress`` merges them onto the previous full report, as upstream's ``decompress`` does.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "real-stats"
CHROME_99_P2P = FIXTURES / "jitsi-rtcstats_google-standard-stats-p2p.rtcstats.jsonl"
CHROME_99_SFU = FIXTURES / "jitsi-rtcstats_google-standard-stats-sfu.rtcstats.jsonl"
CHROME_117_RELAY = FIXTURES / "jitsi-rtcstats_chrome-relay.rtcstats.jsonl"
FIREFOX_118_SFU = FIXTURES / "jitsi-rtcstats_firefox-standard-stats-sfu.rtcstats.jsonl"


def decompress(base: dict[str, dict[str, Any]], delta: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """A new full report: ``base`` with the members of the compressed ``delta`` applied."""
    report = copy.deepcopy(base)
    stamp = delta.get("timestamp")
    for sid, members in delta.items():
        if sid == "timestamp" or not isinstance(members, dict):
            continue
        stats = report.setdefault(sid, {"id": sid})
        stats.update(members)
        if members.get("timestamp") == 0:
            stats["timestamp"] = stamp
    return report


def getstats_reports(path: Path) -> dict[str, list[dict[str, dict[str, Any]]]]:
    """``{pc_id: [full getStats() report as {id: RTCStats}, ...]}`` in file order."""
    out: dict[str, list[dict[str, dict[str, Any]]]] = {}
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            record = json.loads(line)
            if record[0] != "getstats":
                continue
            reports = out.setdefault(record[1], [])
            reports.append(decompress(reports[-1] if reports else {}, record[2]))
    return out
