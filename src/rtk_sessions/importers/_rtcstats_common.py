"""Turning a stream of decoded rtcstats records into a RecordedClient.

Both rtcstats flavours (Jitsi legacy and fileFormat 3) decode to the same records:
``(method, pc_id | None, value, timestamp_ms)`` where ``getstats`` values are already full
(decompressed) ``{id: RTCStats}`` reports. This module derives the client's span, snapshots,
labels, events and metadata from them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from .model import RecordedClient, RecordingFormatError, StatsSnapshot

# rtcstats method -> peer.event name. Only methods that are useful as client events.
_STATE_EVENTS = {
    "oniceconnectionstatechange": "ice_connection_state",
    "onconnectionstatechange": "connection_state",
    "onicegatheringstatechange": "ice_gathering_state",
    "onsignalingstatechange": "signaling_state",
    "ondtlsstatechange": "dtls_state",
}
_MEDIA_EVENTS = {
    "navigator.mediaDevices.getUserMedia": "get_user_media",
    "navigator.mediaDevices.getUserMediaOnSuccess": "get_user_media_success",
    "navigator.mediaDevices.getUserMediaOnFailure": "get_user_media_failure",
    "navigator.mediaDevices.getDisplayMedia": "get_display_media",
    "navigator.mediaDevices.getDisplayMediaOnSuccess": "get_display_media_success",
    "navigator.mediaDevices.getDisplayMediaOnFailure": "get_display_media_failure",
    "getUserMedia": "get_user_media",
    "getUserMediaOnSuccess": "get_user_media_success",
    "getUserMediaOnFailure": "get_user_media_failure",
}
_STATS_METHODS = {"getstats", "getStats"}

_KNOWN_STATES = {
    "new",
    "checking",
    "connected",
    "completed",
    "failed",
    "disconnected",
    "closed",
    "connecting",
    "gathering",
    "complete",
    "stable",
    "have-local-offer",
    "have-remote-offer",
    "have-local-pranswer",
    "have-remote-pranswer",
}


def unwrap_state(value: Any) -> Any:
    """Chrome's own rtcstats writer JSON-encodes state strings ('"connected"')."""
    if isinstance(value, str) and len(value) >= 2 and value[0] == '"' and value[-1] == '"':
        try:
            inner = json.loads(value)
        except ValueError:
            return value
        if isinstance(inner, str) and inner in _KNOWN_STATES:
            return inner
    return value


def _scalar(v: Any) -> str | int | float | bool | None:
    if v is None or isinstance(v, str | int | float | bool):
        return v
    return json.dumps(v, sort_keys=True, separators=(",", ":"))


def _media_event_metadata(method: str, value: Any) -> dict[str, Any]:
    md: dict[str, Any] = {}
    if isinstance(value, dict):
        if method.endswith(("getUserMedia", "getDisplayMedia")):
            for kind in ("audio", "video"):
                if kind in value:
                    md[kind] = bool(value[kind])
        else:
            for k in ("name", "message"):
                if k in value:
                    md["error" if k == "name" else k] = _scalar(value[k])
    elif isinstance(value, list):  # OnSuccess: list of tracks in some clients
        md["tracks"] = len(value)
    elif isinstance(value, str):
        md["error" if method.endswith("Failure") else "value"] = value
    return md


def video_type_label(value: Any) -> dict[str, Any] | None:
    """Jitsi ``setVideoType`` {ssrc, videoType} -> ingest label dict."""
    if not isinstance(value, dict):
        return None
    ssrc, vt = value.get("ssrc"), value.get("videoType")
    if ssrc is None or vt not in ("camera", "desktop"):
        return None
    try:
        ssrc = int(ssrc)
    except (TypeError, ValueError):
        return None
    return {"ssrc": ssrc, "kind": "video", "source": "screenshare" if vt == "desktop" else "camera"}


def _rtp_ssrcs(report: dict[str, dict[str, Any]]) -> set[int]:
    return {
        o["ssrc"]
        for o in report.values()
        if "ssrc" in o and o.get("type") in ("inbound-rtp", "outbound-rtp")
    }


def snapshot_time(report: dict[str, dict[str, Any]], fallback: float) -> float:
    """A report's time: the latest RTCStats.timestamp in it (the getStats() call time)."""
    times = [
        o["timestamp"]
        for o in report.values()
        if isinstance(o.get("timestamp"), int | float) and o["timestamp"] > 0
    ]
    return float(max(times)) if times else float(fallback)


def build_client(
    name: str,
    records: Iterable[tuple[str, str | None, Any, float]],
    *,
    user_agent: str | None,
    metadata: dict[str, Any],
    where: str | None = None,
) -> RecordedClient:
    """Build a RecordedClient from decoded records (stats already full reports).

    Span rule (see importers/__init__ docstring): join = earliest timestamp of a record bound to a
    peer connection (pc_id not null, getstats included, also the snapshot's own stats timestamp);
    leave = latest such timestamp. Client-level records (pc_id null: connectionInfo, identity,
    getUserMedia, ...) do not count, because Jitsi's test dumps are stitched from several sessions
    and those records may be stamped years away from the call.
    """
    where = where or name
    snapshots: list[StatsSnapshot] = []
    raw_events: list[tuple[str, float, dict[str, Any]]] = []
    label_history: list[tuple[float, dict[str, Any]]] = []
    pc_times: list[float] = []
    for method, pc_id, value, ts in records:
        if pc_id is not None:
            pc_times.append(ts)
        if method in _STATS_METHODS:
            if pc_id is None or not isinstance(value, dict):
                continue
            snap_ts = snapshot_time(value, ts)
            snapshots.append(StatsSnapshot(str(pc_id), snap_ts, value))
            pc_times.append(float(snap_ts))
        elif method in _STATE_EVENTS:
            md = {"state": _scalar(unwrap_state(value))}
            if pc_id is not None:
                md["connection_id"] = str(pc_id)
            raw_events.append((_STATE_EVENTS[method], float(ts), md))
        elif method in _MEDIA_EVENTS:
            md = _media_event_metadata(method, value)
            raw_events.append((_MEDIA_EVENTS[method], float(ts), md))
        elif method == "create" and pc_id is not None:
            raw_events.append(("peer_connection_created", float(ts), {"connection_id": str(pc_id)}))
        elif method == "close" and pc_id is not None:
            raw_events.append(("peer_connection_closed", float(ts), {"connection_id": str(pc_id)}))
        elif method == "setVideoType":
            label = video_type_label(value)
            if label is not None:
                label_history.append((float(ts), label))
    if not pc_times:
        raise RecordingFormatError(
            f"{where}: the recording has no peer-connection records (no 'create'/'getstats' lines)"
        )
    join_ms, leave_ms = min(pc_times), max(pc_times)
    snapshots.sort(key=lambda s: s.timestamp_ms)  # stable: equal times keep file order
    events = sorted((e for e in raw_events if join_ms <= e[1] <= leave_ms), key=lambda e: e[1])
    latest: dict[int, dict[str, Any]] = {}
    for _, label in label_history:
        latest[label["ssrc"]] = label
    return RecordedClient(
        name=name,
        user_agent=user_agent,
        join_ms=join_ms,
        leave_ms=leave_ms,
        stats=snapshots,
        labels=list(latest.values()),
        events=events,
        metadata=metadata,
        label_history=label_history,
    )


def labels_at(client: RecordedClient, snapshot: StatsSnapshot) -> list[dict[str, Any]]:
    """Labels in force when ``snapshot`` was taken, for the RTP streams it contains.

    The latest label at or before the snapshot wins; a stream labelled only later takes its first
    label (Jitsi may log setVideoType after the first getStats).
    """
    ssrcs = _rtp_ssrcs(snapshot.report)
    if not client.label_history:
        return [dict(lb) for lb in client.labels if lb.get("ssrc") is None or lb["ssrc"] in ssrcs]
    chosen: dict[int, dict[str, Any]] = {}
    for ts, label in client.label_history:
        ssrc = label["ssrc"]
        if ssrc not in ssrcs:
            continue
        if ts <= snapshot.timestamp_ms or ssrc not in chosen:
            chosen[ssrc] = label
    return [dict(v) for v in chosen.values()]
