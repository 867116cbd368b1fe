"""Jitsi (and fippo) legacy rtcstats dumps: JSON lines ``[method, pcId|null, value, timestamp_ms]``.

``getstats`` values are delta-compressed the way Jitsi's rtcstats-server
``src/utils/getstats-deltacompression.js`` ``decompress(baseStats, newStats)`` undoes it:

* the report's real timestamp sits at the top level (``value.timestamp``); an object whose own
  ``timestamp`` is ``0`` takes it, an object that omits ``timestamp`` keeps its previous one;
* fields absent from an object are unchanged since the previous report of that PC;
* an object id absent from a report (or null) means the object was removed;
* changed fields replace the old value wholesale (nested objects are not merged).

Two additions of ours, which do not change any value Jitsi would produce: every object gets its
``id`` (the client strips it), and a *new* object that carries no timestamp at all gets the
report's timestamp (the ingestion API requires one).
"""

from __future__ import annotations

import json
from typing import Any

from ._rtcstats_common import build_client
from .model import RecordedClient, RecordingFormatError


def decompress(base: dict[str, dict[str, Any]], delta: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Apply one delta-compressed report to ``base`` (mutated and returned), Jitsi semantics."""
    delta = dict(delta)
    ts = delta.pop("timestamp", None)
    for sid in list(base):
        if delta.get(sid) is None:
            del base[sid]
    for sid, obj in delta.items():
        if not isinstance(obj, dict):
            continue  # null = removed (already dropped above)
        obj = dict(obj)
        old = base.get(sid)
        if old is not None:
            if obj.get("timestamp") == 0 and "timestamp" in obj:
                obj["timestamp"] = ts
            elif not obj.get("timestamp"):
                obj["timestamp"] = old.get("timestamp")
            merged = dict(old)
            merged.update(obj)
            base[sid] = merged
        else:
            if obj.get("timestamp") == 0 and "timestamp" in obj:
                obj["timestamp"] = ts
            elif "timestamp" not in obj and ts is not None:
                obj["timestamp"] = ts  # our addition, see module docstring
            base[sid] = obj
    return base


def _full_report(base: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {sid: {**obj, "id": sid} for sid, obj in base.items()}


def is_legacy_first_line(first: Any) -> bool:
    return (
        isinstance(first, list)
        and len(first) >= 4
        and isinstance(first[0], str)
        and (first[1] is None or isinstance(first[1], str))
        and isinstance(first[-1], int | float)
    )


def parse(lines: list[str], name: str, where: str | None = None) -> RecordedClient:
    where = where or name
    records: list[tuple[str, str | None, Any, float]] = []
    base_by_pc: dict[str, dict[str, dict[str, Any]]] = {}
    user_agent: str | None = None
    conn_info: dict[str, Any] = {}
    n_lines = len(lines)
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except ValueError as e:
            hint = " (the file looks truncated)" if lineno == n_lines else ""
            raise RecordingFormatError(
                f"{where}: line {lineno} is not valid JSON{hint}: {e}"
            ) from None
        if not (isinstance(rec, list) and len(rec) >= 4 and isinstance(rec[0], str)):
            raise RecordingFormatError(
                f"{where}: line {lineno} is not a legacy rtcstats record "
                f"[method, pcId, value, timestamp]"
            )
        method, pc_id, value, ts = rec[0], rec[1], rec[2], rec[-1]
        if not isinstance(ts, int | float) or isinstance(ts, bool):
            raise RecordingFormatError(f"{where}: line {lineno} has no numeric timestamp")
        if pc_id is not None and not isinstance(pc_id, str):
            pc_id = str(pc_id)
        if method == "connectionInfo" and isinstance(value, dict):
            conn_info = value
            user_agent = value.get("userAgent") or user_agent
            continue
        if method == "userAgent" and isinstance(value, str):  # older fippo rtcstats
            user_agent = value
            continue
        if method in ("getstats", "getStats"):
            if pc_id is None or not isinstance(value, dict):
                continue
            base = base_by_pc.setdefault(pc_id, {})
            decompress(base, value)
            value = _full_report(base)
            method = "getstats"
        records.append((method, pc_id, value, float(ts)))
    metadata: dict[str, Any] = {"sdk_name": "jitsi-rtcstats" if conn_info else "rtcstats"}
    if user_agent:
        metadata["user_agent"] = user_agent
    if conn_info.get("clientProtocol"):
        metadata["sdk_version"] = str(conn_info["clientProtocol"])
    return build_client(name, records, user_agent=user_agent, metadata=metadata, where=where)
