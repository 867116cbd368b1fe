"""No silent loss on import: a recording whose RTP streams give no sample row is an error.

A dump an importer misreads (objects typed wrongly, no usable counters, ids that no longer match
between polls) would otherwise import "successfully" with no ``quality`` at all.
``unusable_streams`` replays a client's snapshots through ``rtk_sessions.stats.sample_rows`` per
connection, the way ingestion will, and stops at the first row.
"""

from __future__ import annotations

from itertools import pairwise
from typing import Any

from rtk_sessions import stats

from .model import RecordedClient

__all__ = ["unusable_streams"]

_PACKETS = ("packetsSent", "packetsReceived")


def _carried_packets(obj: Any) -> bool:
    """An object that looks like an RTP stream that carried media: an ssrc and a packet count."""
    if not isinstance(obj, dict) or obj.get("ssrc") in (None, ""):
        return False
    for name in _PACKETS:
        value = obj.get(name)
        if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
            return True
    return False


def unusable_streams(client: RecordedClient) -> list[str]:
    """``[]`` when the client's recorded RTP streams give at least one sample row, or when it
    recorded no stream that carried packets; else ``"<stats id> (type <type>)"`` of every object
    that looks like an RTP stream with packets (an ``ssrc`` and ``packetsSent``/``packetsReceived``
    > 0), in id order: the objects the import could not use."""
    by_connection: dict[str, list[dict[str, Any]]] = {}
    for snapshot in client.stats:
        by_connection.setdefault(snapshot.connection_id, []).append(snapshot.report)
    for reports in by_connection.values():
        for previous, current in pairwise(reports):
            if stats.sample_rows(previous, current, namespace="import-check"):
                return []
    found: dict[str, str] = {}
    for reports in by_connection.values():
        for report in reports:
            for sid, obj in report.items():
                if sid not in found and _carried_packets(obj):
                    found[sid] = str(obj.get("type"))
    return [f"{sid} (type {stype})" for sid, stype in sorted(found.items())]
