"""chrome://webrtc-internals "Create dump" JSON.

``PeerConnections[<pid>-<lid>].stats`` holds one series per (stats object, field) under the key
``"<statsId>-<field>"`` with ``startTime``/``endTime`` (ISO), optional ``statsType`` and ``values``
(a JSON-encoded array, i.e. a string to ``json.loads`` a second time). There is no per-point time.

How we rebuild getStats() reports from the series:

* keys are split at ``-[`` (webrtc-internals' computed series such as ``[bytesReceived_in_bits/s]``,
  which are dropped) or else at the **last** ``-``;
* series of one connection are **right-aligned**: the last point of every series belongs to the
  poll at its ``endTime``, and earlier points go back one poll (about 1 s) each. A series whose
  ``endTime`` is earlier than the connection's latest ``endTime`` (an object that went away) is
  shifted by ``round(Δ endTime / 1 s)`` polls. So fields that appeared later (shorter series)
  land on the right polls;
* an object's ``timestamp`` comes from its own ``<statsId>-timestamp`` series; without one, the poll
  time ``endTime - 1000·k`` is used. The snapshot time is the latest object timestamp of the poll;
* the object type is ``statsType``, else a ``type`` series, else inferred from the id prefix of old
  Chrome ids (``RTCInboundRTPVideoStream_…``; ``RTCIceCandidate_`` uses the ``isRemote`` series).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from ._rtcstats_common import unwrap_state
from .model import RecordedClient, RecordingFormatError, StatsSnapshot

_OLD_ID_PREFIXES = [
    ("RTCInboundRTP", "inbound-rtp"), ("RTCOutboundRTP", "outbound-rtp"),
    ("RTCRemoteInboundRtp", "remote-inbound-rtp"), ("RTCRemoteOutboundRTP", "remote-outbound-rtp"),
    ("RTCIceCandidatePair_", "candidate-pair"), ("RTCTransport_", "transport"),
    ("RTCCodec_", "codec"), ("RTCMediaStreamTrack_", "track"), ("RTCMediaStream_", "stream"),
    ("RTCAudioSource_", "media-source"), ("RTCVideoSource_", "media-source"),
    ("RTCAudioPlayout_", "media-playout"), ("RTCCertificate_", "certificate"),
    ("RTCDataChannel_", "data-channel"), ("RTCPeerConnection", "peer-connection"),
]
_UPDATE_EVENTS = {
    "iceconnectionstatechange": "ice_connection_state",
    "connectionstatechange": "connection_state",
    "icegatheringstatechange": "ice_gathering_state",
    "signalingstatechange": "signaling_state",
}
POLL_MS = 1000.0


def looks_like(doc: Any) -> bool:
    return isinstance(doc, dict) and isinstance(doc.get("PeerConnections"), dict)


def _iso_ms(s: Any) -> float | None:
    if not isinstance(s, str):
        return None
    try:
        return datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp() * 1000.0
    except ValueError:
        return None


def split_key(key: str) -> tuple[str, str] | None:
    """'<statsId>-<field>' -> (statsId, field); None for computed '-[...]' series."""
    if "-[" in key:
        return None
    sid, sep, fld = key.rpartition("-")
    if not sep or not sid or not fld:
        return None
    return sid, fld


def _old_type(sid: str, fields: dict[str, list]) -> str | None:
    if sid.startswith("RTCIceCandidate_"):
        remote = fields.get("isRemote")
        if remote:
            return "remote-candidate" if remote[-1] else "local-candidate"
        return "local-candidate"
    for prefix, t in _OLD_ID_PREFIXES:
        if sid.startswith(prefix):
            return t
    return None


def _pc_snapshots(pc_key: str, stats: dict, where: str) -> list[StatsSnapshot]:
    # sid -> field -> (values, end_ms); sid -> statsType
    series: dict[str, dict[str, tuple[list, float | None]]] = {}
    types: dict[str, str] = {}
    for key, s in stats.items():
        parts = split_key(key)
        if parts is None or not isinstance(s, dict):
            continue
        sid, fld = parts
        values = s.get("values")
        if isinstance(values, str):
            try:
                values = json.loads(values)
            except ValueError:
                raise RecordingFormatError(
                    f"{where}: webrtc-internals series {pc_key}/{key} has unreadable values"
                ) from None
        if not isinstance(values, list):
            continue
        series.setdefault(sid, {})[fld] = (values, _iso_ms(s.get("endTime")))
        if isinstance(s.get("statsType"), str):
            types[sid] = s["statsType"]
    ends = [e for f in series.values() for _, e in f.values() if e is not None]
    global_end = max(ends) if ends else None
    # poll index counted back from the connection's last poll -> sid -> object
    polls: dict[int, dict[str, dict]] = {}
    for sid, fields in series.items():
        stype = types.get(sid)
        if stype is None and "type" in fields and fields["type"][0]:
            stype = fields["type"][0][-1]
        if stype is None:
            stype = _old_type(sid, {f: v for f, (v, _) in fields.items()})
        if stype is None:
            continue
        for fld, (values, end) in fields.items():
            shift = 0
            if global_end is not None and end is not None:
                shift = max(0, round((global_end - end) / POLL_MS))
            m = len(values)
            for i, v in enumerate(values):
                k = shift + (m - 1 - i)
                obj = polls.setdefault(k, {}).setdefault(sid, {"id": sid, "type": stype})
                if fld not in ("id", "type"):
                    obj[fld] = v
    snaps = []
    for k, report in polls.items():
        stamps = [o["timestamp"] for o in report.values()
                  if isinstance(o.get("timestamp"), int | float)]
        if stamps:
            t = float(max(stamps))
        elif global_end is not None:
            t = global_end - POLL_MS * k
        else:
            continue
        for o in report.values():
            if not isinstance(o.get("timestamp"), int | float):
                o["timestamp"] = t
        snaps.append(StatsSnapshot(pc_key, t, report))
    return snaps


def parse(doc: dict, name: str, where: str | None = None) -> RecordedClient:
    where = where or name
    pcs = doc["PeerConnections"]
    snapshots: list[StatsSnapshot] = []
    raw_events: list[tuple[str, float, dict]] = []
    pc_times: list[float] = []
    for pc_key, pc in pcs.items():
        if not isinstance(pc, dict):
            raise RecordingFormatError(f"{where}: PeerConnections[{pc_key!r}] is not an object")
        stats = pc.get("stats") or {}
        if not isinstance(stats, dict):
            raise RecordingFormatError(
                f"{where}: PeerConnections[{pc_key!r}].stats is not an object")
        pc_snaps = _pc_snapshots(str(pc_key), stats, where)
        snapshots.extend(pc_snaps)
        pc_times.extend(s.timestamp_ms for s in pc_snaps)
        for entry in pc.get("updateLog") or []:
            if not isinstance(entry, dict):
                continue
            ts = entry.get("timestamp")
            if not isinstance(ts, int | float):
                ts = _iso_ms(entry.get("time"))  # old dumps: locale strings mostly fail here
            if ts is None:
                continue
            pc_times.append(float(ts))
            typ = str(entry.get("type", "")).lower()
            if typ in _UPDATE_EVENTS:
                state = unwrap_state(entry.get("value"))
                raw_events.append((_UPDATE_EVENTS[typ], float(ts),
                                   {"connection_id": str(pc_key),
                                    "state": state if isinstance(state, str) else str(state)}))
            elif typ == "create" or typ == "close":
                raw_events.append(("peer_connection_created" if typ == "create"
                                   else "peer_connection_closed", float(ts),
                                   {"connection_id": str(pc_key)}))
    if not pc_times:
        raise RecordingFormatError(
            f"{where}: the webrtc-internals dump has no peer connection with stats or events")
    join_ms, leave_ms = min(pc_times), max(pc_times)
    for req in doc.get("getUserMedia") or []:
        if isinstance(req, dict) and isinstance(req.get("timestamp"), int | float):
            md = {k: (req[k] if isinstance(req[k], str | bool) else bool(req[k]))
                  for k in ("audio", "video") if k in req}
            if req.get("request_type"):
                md["request_type"] = str(req["request_type"])
            raw_events.append(("get_user_media", float(req["timestamp"]), md))
    events = sorted((e for e in raw_events if join_ms <= e[1] <= leave_ms), key=lambda e: e[1])
    snapshots.sort(key=lambda s: s.timestamp_ms)
    ua = doc.get("UserAgent") if isinstance(doc.get("UserAgent"), str) else None
    metadata: dict[str, Any] = {"sdk_name": "webrtc-internals"}
    if ua:
        metadata["user_agent"] = ua
    if isinstance(doc.get("hardwareConcurrency"), int):
        metadata["device_info"] = {"cpus": doc["hardwareConcurrency"]}
    return RecordedClient(name=name, user_agent=ua, join_ms=join_ms, leave_ms=leave_ms,
                          stats=snapshots, labels=[], events=events, metadata=metadata)
