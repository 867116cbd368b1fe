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
import re
from bisect import bisect_left
from datetime import datetime
from typing import Any

from ._rtcstats_common import unwrap_state
from .model import RecordedClient, RecordingFormatError, StatsSnapshot

_OLD_ID_PREFIXES = [
    ("RTCInboundRTP", "inbound-rtp"),
    ("RTCOutboundRTP", "outbound-rtp"),
    ("RTCRemoteInboundRtp", "remote-inbound-rtp"),
    ("RTCRemoteOutboundRTP", "remote-outbound-rtp"),
    ("RTCIceCandidatePair_", "candidate-pair"),
    ("RTCTransport_", "transport"),
    ("RTCCodec_", "codec"),
    ("RTCMediaStreamTrack_", "track"),
    ("RTCMediaStream_", "stream"),
    ("RTCAudioSource_", "media-source"),
    ("RTCVideoSource_", "media-source"),
    ("RTCAudioPlayout_", "media-playout"),
    ("RTCCertificate_", "certificate"),
    ("RTCDataChannel_", "data-channel"),
    ("RTCPeerConnection", "peer-connection"),
]
# Remote stats carry the time of the RTCP report they come from, not the time of the poll.
_REMOTE_TYPES = {"remote-inbound-rtp", "remote-outbound-rtp"}
_SAME_POLL_MS = 50.0
# updateLog types, lower-cased and without the "on" of Chromium >= ~M90 ("onconnectionstatechange")
_UPDATE_EVENTS = {
    "iceconnectionstatechange": "ice_connection_state",
    "connectionstatechange": "connection_state",
    "icegatheringstatechange": "ice_gathering_state",
    "signalingstatechange": "signaling_state",
    "dtlsstatechange": "dtls_state",
}
POLL_MS = 1000.0
# webrtc-internals stores a value that parses as a number as that number (stats_graph_helper.js
# getNumberFromValue: mid "0" -> 0, foundation "3799881442" -> 3799881442). These W3C fields are
# DOMStrings, so they are turned back into strings.
_STRING_FIELDS = frozenset(
    {
        "mid",
        "rid",
        "foundation",
        "label",
        "protocol",
        "usernameFragment",
        "trackIdentifier",
        "encoderImplementation",
        "decoderImplementation",
        "remoteId",
        "localId",
        "transportId",
        "codecId",
        "mediaSourceId",
        "playoutId",
        "localCandidateId",
        "remoteCandidateId",
        "selectedCandidatePairId",
        "localCertificateId",
        "remoteCertificateId",
        "sdpFmtpLine",
    }
)


def looks_like(doc: Any) -> bool:
    return isinstance(doc, dict) and isinstance(doc.get("PeerConnections"), dict)


def _iso_ms(s: Any) -> float | None:
    if not isinstance(s, str):
        return None
    try:
        return datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp() * 1000.0
    except ValueError:
        return None


def _number(v: Any) -> float | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, int | float):
        return float(v)
    if isinstance(v, str):
        try:
            return float(v)
        except ValueError:
            return None
    return None


def _media_event(req: dict[str, Any]) -> tuple[str, float, dict[str, Any]]:
    """One ``getUserMedia`` list entry. Chromium logs the request (with ``audio``/``video``
    constraint strings), then, as a separate entry with the same ``request_id``, the result:
    ``stream_id`` + ``audio_track_info``/``video_track_info`` on success, ``error`` +
    ``error_message`` on failure. ``request_type`` is getUserMedia or getDisplayMedia."""
    kind = "get_display_media" if req.get("request_type") == "getDisplayMedia" else "get_user_media"
    md: dict[str, Any] = {}
    if "error" in req:
        kind += "_failure"
        md["error"] = str(req.get("error"))
        if req.get("error_message"):
            md["error_message"] = str(req["error_message"])
    elif "stream_id" in req or "audio_track_info" in req or "video_track_info" in req:
        kind += "_success"
        md = {"audio": "audio_track_info" in req, "video": "video_track_info" in req}
    else:
        md = {
            k: (req[k] if isinstance(req[k], str | bool) else bool(req[k]))
            for k in ("audio", "video")
            if k in req
        }
    if req.get("request_type"):
        md["request_type"] = str(req["request_type"])
    return kind, float(req["timestamp"]), md


def split_key(key: str) -> tuple[str, str] | None:
    """'<statsId>-<field>' -> (statsId, field); None for computed '-[...]' series."""
    if "-[" in key:
        return None
    sid, sep, fld = key.rpartition("-")
    if not sep or not sid or not fld:
        return None
    return sid, fld


# Chromium >= M108 short ids (pc/rtc_stats_collector.cc), for dumps without statsType and
# without a type series. Order matters: "CF"/"CP" before codec "C[IO]T…", "IT…[AV]<ssrc>" before
# candidates "I<8 chars>" (which are told apart by their isRemote series anyway).
_SHORT_IDS = [
    (re.compile(r"^CF"), "certificate"),
    (re.compile(r"^CP"), "candidate-pair"),
    (re.compile(r"^C[IO]T"), "codec"),
    (re.compile(r"^IT.*[AV]\d+$"), "inbound-rtp"),
    (re.compile(r"^OT.*[AV]\d+$"), "outbound-rtp"),
    (re.compile(r"^RI[AV]\d+$"), "remote-inbound-rtp"),
    (re.compile(r"^RO[AV]\d+$"), "remote-outbound-rtp"),
    (re.compile(r"^S[AV]\d+$"), "media-source"),
    (re.compile(r"^AP$"), "media-playout"),
    (re.compile(r"^P$"), "peer-connection"),
    (re.compile(r"^T\w*\d$"), "transport"),
    (re.compile(r"^D\d+$"), "data-channel"),
]


def _old_type(sid: str, fields: dict[str, list[Any]]) -> str | None:
    """The type of an object of a dump without ``statsType`` (old Chrome), from its id.

    Old Chrome ids name the type (``RTCInboundRTPAudioStream_…``). Chrome before M87 also gave
    its RTP stats an ``isRemote`` series (false for the local stream): that makes a remote
    ``…-rtp`` object of an RTP id, never a candidate. Only ICE candidates (``RTCIceCandidate_``
    or an id no prefix names) are told local/remote apart by ``isRemote``.
    """
    remote = fields.get("isRemote")
    for prefix, t in _OLD_ID_PREFIXES:
        if sid.startswith(prefix):
            if t in ("inbound-rtp", "outbound-rtp") and remote and remote[-1] is True:
                return f"remote-{t}"
            return t
    if remote or sid.startswith("RTCIceCandidate_"):
        if remote:
            return "remote-candidate" if remote[-1] else "local-candidate"
        return "local-candidate"
    for rx, t in _SHORT_IDS:
        if rx.match(sid):
            return t
    return None


def _poll_times(objs: dict[str, dict[str, Any]], stypes: dict[str, str]) -> list[float]:
    """The connection's poll times: the distinct timestamps of its local (non-remote) objects.

    Chrome gives every local object of one getStats() report the same timestamp, and
    webrtc-internals stamps each point with its object's timestamp, so these are exactly the
    polls. Values closer than ``_SAME_POLL_MS`` are one poll (its latest time).
    """
    stamps = sorted(
        float(v)
        for sid, fields in objs.items()
        if stypes.get(sid) not in _REMOTE_TYPES and "timestamp" in fields
        for v in fields["timestamp"][0]
        if isinstance(v, int | float)
    )
    polls: list[float] = []
    for t in stamps:
        if polls and t - polls[-1] < _SAME_POLL_MS:
            polls[-1] = t
        else:
            polls.append(t)
    return polls


def _nearest(polls: list[float], t: float) -> tuple[int, float]:
    i = bisect_left(polls, t)
    best = min((j for j in (i - 1, i) if 0 <= j < len(polls)), key=lambda j: abs(polls[j] - t))
    return best, abs(polls[best] - t)


def _pc_snapshots(pc_key: str, stats: dict[str, Any], where: str) -> list[StatsSnapshot]:
    # sid -> field -> (values, end_ms); sid -> statsType
    objs: dict[str, dict[str, tuple[list[Any], float | None]]] = {}
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
        if not isinstance(values, list) or not values:
            continue
        objs.setdefault(sid, {})[fld] = (values, _iso_ms(s.get("endTime")))
        if isinstance(s.get("statsType"), str):
            types[sid] = s["statsType"]
    stypes: dict[str, str] = {}
    for sid, fields in objs.items():
        stype = types.get(sid)
        if stype is None and "type" in fields and isinstance(fields["type"][0][-1], str):
            stype = fields["type"][0][-1]
        if stype is None:
            stype = _old_type(sid, {f: v for f, (v, _) in fields.items()})
        if stype is None and "ssrc" in fields:
            stype = "unknown"  # kept, so that an RTP stream no rule types is reported, not lost
        if stype is not None:
            stypes[sid] = stype
    objs = {sid: f for sid, f in objs.items() if sid in stypes}
    if not objs:
        return []

    polls = _poll_times(objs, stypes)
    ends = [e for f in objs.values() for _, e in f.values() if e is not None]
    if not polls:
        # No timestamp series at all: assume 1 s polls back from the latest endTime.
        if not ends:
            return []
        last = max(ends)
        depth = max(
            len(v) + round((last - e) / POLL_MS) if e is not None else len(v)
            for f in objs.values()
            for v, e in f.values()
        )
        polls = [last - POLL_MS * k for k in range(depth - 1, -1, -1)]

    def end_poll(t: float | None) -> int:
        """The poll a local point stamped ``t`` belongs to (the last poll if unknown)."""
        if t is None:
            return len(polls) - 1
        i, _ = _nearest(polls, t)
        return i

    # sid -> poll index of the object's last point (local objects first: remote ones follow
    # the local object they describe).
    obj_end: dict[str, int] = {}
    for sid, fields in objs.items():
        if stypes[sid] in _REMOTE_TYPES:
            continue
        ts = fields.get("timestamp")
        if ts and isinstance(ts[0][-1], int | float):
            obj_end[sid] = end_poll(float(ts[0][-1]))
        else:
            obj_end[sid] = end_poll(
                max((e for _, e in fields.values() if e is not None), default=None)
            )
    for sid, fields in objs.items():
        if stypes[sid] in _REMOTE_TYPES:
            # Stamped with the RTCP report's time, not the poll's: its points end where its
            # local object's end (that object is what makes Chrome report it), else at the
            # connection's last poll.
            local = fields.get("localId")
            local_id = local[0][-1] if local else None
            obj_end[sid] = (
                obj_end.get(local_id, len(polls) - 1)
                if isinstance(local_id, str)
                else len(polls) - 1
            )

    # poll index -> sid -> object
    reports: dict[int, dict[str, dict[str, Any]]] = {}
    for sid, fields in objs.items():
        stype = stypes[sid]
        last = obj_end[sid]
        ts = fields.get("timestamp")
        own = [float(v) if isinstance(v, int | float) else None for v in ts[0]] if ts else None
        for fld, (values, end) in fields.items():
            if own is not None and end is not None:
                # the field's last point is the object's last point stamped at its endTime
                # (endTime is that timestamp truncated to ms)
                hits = [j for j, t in enumerate(own) if t is not None and abs(t - end) < 1.5]
                j = hits[-1] if hits else len(own) - 1
                fld_end = last - (len(own) - 1 - j)
            elif stype in _REMOTE_TYPES or end is None:
                fld_end = last
            else:
                fld_end = end_poll(end)
            m = len(values)
            for i, v in enumerate(values):
                k = fld_end - (m - 1 - i)
                if k < 0:
                    continue
                obj = reports.setdefault(k, {}).setdefault(sid, {"id": sid, "type": stype})
                if fld not in ("id", "type"):
                    if (
                        fld in _STRING_FIELDS
                        and isinstance(v, int | float)
                        and not isinstance(v, bool)
                    ):
                        v = str(int(v)) if float(v).is_integer() else str(v)
                    obj[fld] = v
    snaps = []
    for k in sorted(reports):
        report = reports[k]
        t = polls[k]
        for o in report.values():
            if not isinstance(o.get("timestamp"), int | float):
                o["timestamp"] = t
        snaps.append(StatsSnapshot(pc_key, t, report))
    return snaps


def renderer_of(pc_key: str) -> str:
    """The renderer (browser tab) of a peer connection id ``"<pid>-<lid>"``: the part before the
    first ``-`` (decision Q16 in docs/quality-metrics.md); ``""`` for an id without one (the whole
    file is one client)."""
    pid, sep, _ = pc_key.partition("-")
    return pid if sep else ""


def parse(doc: dict[str, Any], name: str, where: str | None = None) -> list[RecordedClient]:
    """One ``RecordedClient`` per renderer (decision Q16: a dump of two tabs that called each
    other is two participants), in the order their peer connections appear. A single renderer
    keeps ``name``; several are named ``"{name}#{pid}"``. raises RecordingFormatError."""
    where = where or name
    pcs = doc["PeerConnections"]
    groups: dict[str, dict[str, Any]] = {}
    for pc_key, pc in pcs.items():
        groups.setdefault(renderer_of(str(pc_key)), {})[pc_key] = pc
    if not groups:
        groups[""] = {}
    clients = []
    empty: RecordingFormatError | None = None
    for pid, group in groups.items():
        client_name = name if len(groups) == 1 else f"{name}#{pid}"
        try:
            own = pid if len(groups) > 1 else ""  # one tab: every getUserMedia entry is its
            clients.append(_parse_renderer(doc, group, own, client_name, where))
        except RecordingFormatError as exc:
            if "has no peer connection with stats or events" not in str(exc):
                raise
            empty = exc  # a tab with nothing recorded: the other tabs still import
    if not clients:
        assert empty is not None
        raise empty
    return clients


def _parse_renderer(
    doc: dict[str, Any], pcs: dict[str, Any], pid: str, name: str, where: str
) -> RecordedClient:
    snapshots: list[StatsSnapshot] = []
    raw_events: list[tuple[str, float, dict[str, Any]]] = []
    pc_times: list[float] = []
    for pc_key, pc in pcs.items():
        if not isinstance(pc, dict):
            raise RecordingFormatError(f"{where}: PeerConnections[{pc_key!r}] is not an object")
        stats = pc.get("stats") or {}
        if not isinstance(stats, dict):
            raise RecordingFormatError(
                f"{where}: PeerConnections[{pc_key!r}].stats is not an object"
            )
        pc_snaps = _pc_snapshots(str(pc_key), stats, where)
        snapshots.extend(pc_snaps)
        pc_times.extend(s.timestamp_ms for s in pc_snaps)
        for entry in pc.get("updateLog") or []:
            if not isinstance(entry, dict):
                continue
            ts = _number(entry.get("timestamp"))
            if ts is None:
                ts = _iso_ms(entry.get("time"))  # old dumps: locale strings mostly fail here
            if ts is None:
                continue
            pc_times.append(float(ts))
            typ = str(entry.get("type", "")).lower()
            if typ.startswith("on") and typ[2:] in _UPDATE_EVENTS:
                typ = typ[2:]
            if typ in _UPDATE_EVENTS:
                state = unwrap_state(entry.get("value"))
                raw_events.append(
                    (
                        _UPDATE_EVENTS[typ],
                        float(ts),
                        {
                            "connection_id": str(pc_key),
                            "state": state if isinstance(state, str) else str(state),
                        },
                    )
                )
            elif typ == "create" or typ == "close":
                raw_events.append(
                    (
                        "peer_connection_created" if typ == "create" else "peer_connection_closed",
                        float(ts),
                        {"connection_id": str(pc_key)},
                    )
                )
    if not pc_times:
        raise RecordingFormatError(
            f"{where}: the webrtc-internals dump has no peer connection with stats or events"
        )
    join_ms, leave_ms = min(pc_times), max(pc_times)
    for req in doc.get("getUserMedia") or []:
        if isinstance(req, dict) and isinstance(req.get("timestamp"), int | float):
            if pid and pid not in (str(req.get("rid")), str(req.get("pid"))):
                continue  # another renderer's request (its "rid" is the key's prefix)
            raw_events.append(_media_event(req))
    events = sorted((e for e in raw_events if join_ms <= e[1] <= leave_ms), key=lambda e: e[1])
    snapshots.sort(key=lambda s: s.timestamp_ms)
    ua = doc.get("UserAgent") if isinstance(doc.get("UserAgent"), str) else None
    metadata: dict[str, Any] = {"sdk_name": "webrtc-internals"}
    if ua:
        metadata["user_agent"] = ua
    if isinstance(doc.get("hardwareConcurrency"), int):
        metadata["device_info"] = {"cpus": doc["hardwareConcurrency"]}
    return RecordedClient(
        name=name,
        user_agent=ua,
        join_ms=join_ms,
        leave_ms=leave_ms,
        stats=snapshots,
        labels=[],
        events=events,
        metadata=metadata,
    )
