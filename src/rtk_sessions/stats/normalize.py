"""Turn whatever a client sent as a getStats() report into one stable shape.

``normalize_report`` returns ``{stats id: RTCStats dict}`` in the W3C ``webrtc-stats`` vocabulary
(the current Recommendation's type and member names). It never raises and never mutates its input.
Rules, in order (each one documented in docs/quality-metrics.md §1):

1. Input shapes: a list of RTCStats objects (``[...report.values()]``), a list of ``[id, stats]``
   pairs (``[...report]``), or an object ``{id: stats}`` (``Object.fromEntries(report)``).
   Entries that are not dicts or have no string ``type`` are dropped. A missing ``id`` is taken
   from the mapping key, or ``"#<index>"`` for list entries; non-string ids become ``str``.
2. Pre-standard type names (Firefox < 55 and early drafts: ``inboundrtp``, ``outboundrtp``,
   ``candidatepair``, ``localcandidate``, ``remotecandidate``) become the W3C names; an
   ``inbound-rtp``/``outbound-rtp`` with ``isRemote: true`` (Firefox < 66, Chrome < 76) becomes
   ``remote-inbound-rtp``/``remote-outbound-rtp``.
3. RTP streams: ``kind`` from the legacy ``mediaType`` (Chrome < 90) when absent, else from the
   ``codec`` mimeType or the linked ``track``; ``ssrc`` decimal strings become ints. Fields that old
   Chrome reported only on the ``track`` object linked by ``trackId`` (``trackIdentifier``,
   ``frameWidth``, ``frameHeight``, ``framesPerSecond``, ``jitterBufferDelay``,
   ``jitterBufferEmittedCount``, ``freezeCount``, ``totalFreezesDuration``, ``pauseCount``,
   ``totalPausesDuration``, ``concealmentEvents``, ``framesReceived``, ``framesDropped``) are copied
   onto inbound-rtp when missing. An outbound-rtp without ``trackIdentifier`` gets the one of its
   ``media-source`` (``mediaSourceId``) or ``track`` (``trackId``).
4. ICE candidates: ``address`` from ``ip`` (Chrome < 97) or ``ipAddress`` (pre-standard), ``port``
   from ``portNumber``, ``protocol`` from ``transport``, and pre-standard ``candidateType`` values
   ``serverreflexive``/``peerreflexive``/``relayed`` become ``srflx``/``prflx``/``relay``.
5. Candidate pairs: Firefox's ``state: "inprogress"`` becomes ``"in-progress"``.

Normalization is idempotent: normalizing a normalized (or compacted) report gives the same report.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .types import coerce_ssrc

__all__ = ["NormalizedReport", "normalize_report"]

_TYPE_ALIASES = {
    "inboundrtp": "inbound-rtp",
    "outboundrtp": "outbound-rtp",
    "candidatepair": "candidate-pair",
    "localcandidate": "local-candidate",
    "remotecandidate": "remote-candidate",
    "remoteinboundrtp": "remote-inbound-rtp",
    "remoteoutboundrtp": "remote-outbound-rtp",
    "mediasource": "media-source",
}
_REMOTE_TYPES = {"inbound-rtp": "remote-inbound-rtp", "outbound-rtp": "remote-outbound-rtp"}
_RTP_TYPES = frozenset({"inbound-rtp", "outbound-rtp", "remote-inbound-rtp", "remote-outbound-rtp"})
_CANDIDATE_TYPES = frozenset({"local-candidate", "remote-candidate"})
_CANDIDATE_TYPE_ALIASES = {"serverreflexive": "srflx", "peerreflexive": "prflx", "relayed": "relay"}
_TRACK_FIELDS = (
    "trackIdentifier",
    "frameWidth",
    "frameHeight",
    "framesPerSecond",
    "jitterBufferDelay",
    "jitterBufferEmittedCount",
    "freezeCount",
    "totalFreezesDuration",
    "pauseCount",
    "totalPausesDuration",
    "concealmentEvents",
    "framesReceived",
    "framesDropped",
)


def _entries(raw: Any) -> list[tuple[str | None, Any]]:
    """(key, value) pairs of the accepted input shapes; ``key`` None for bare list entries."""
    if isinstance(raw, Mapping):
        return [(str(k), v) for k, v in raw.items()]
    if isinstance(raw, list | tuple):
        out: list[tuple[str | None, Any]] = []
        for index, item in enumerate(raw):
            if (
                isinstance(item, list | tuple)
                and len(item) == 2
                and isinstance(item[0], str)
                and isinstance(item[1], Mapping)
            ):
                out.append((item[0], item[1]))
            else:
                out.append((f"#{index}", item))
        return out
    return []


def _kind_from_mime(mime: Any) -> str | None:
    if isinstance(mime, str):
        major = mime.split("/", 1)[0].lower()
        if major in ("audio", "video"):
            return major
    return None


class NormalizedReport(dict[str, dict[str, Any]]):
    """A report ``normalize_report`` produced. Passing one to it again returns it as it is, so the
    public functions that accept any report shape do not normalize the same report twice."""


def normalize_report(raw: Any) -> NormalizedReport:
    """Normalize one getStats() report to ``{stats id: RTCStats dict}`` (see the module docstring).

    raw: ``list[RTCStats]``, ``list[[id, RTCStats]]`` or ``{id: RTCStats}`` as JSON-decoded Python
    values; anything else gives ``{}``. The returned dicts are new objects (shallow copies), except
    that a ``NormalizedReport`` is returned unchanged (callers treat reports as read-only).
    """
    if isinstance(raw, NormalizedReport):
        return raw
    report = NormalizedReport()
    for key, value in _entries(raw):
        if not isinstance(value, Mapping):
            continue
        stats = dict(value)
        stype = stats.get("type")
        if not isinstance(stype, str):
            continue
        stype = _TYPE_ALIASES.get(stype, stype)
        if stats.get("isRemote") is True and stype in _REMOTE_TYPES:
            stype = _REMOTE_TYPES[stype]
        stats["type"] = stype
        sid = stats.get("id")
        if sid is None:
            sid = key
        sid = str(sid)
        stats["id"] = sid
        if sid not in report:
            report[sid] = stats
    for stats in report.values():
        stype = stats["type"]
        if stype in _RTP_TYPES:
            _normalize_rtp(stats, report)
        elif stype in _CANDIDATE_TYPES:
            _normalize_candidate(stats)
        elif stype == "candidate-pair" and stats.get("state") == "inprogress":
            stats["state"] = "in-progress"
    return report


def _linked(report: Mapping[str, Mapping[str, Any]], ref: Any, stype: str) -> Mapping[str, Any]:
    """The stats object ``ref`` points to when it has type ``stype``, else ``{}``."""
    if isinstance(ref, str):
        target = report.get(ref)
        if isinstance(target, Mapping) and target.get("type") == stype:
            return target
    return {}


def _normalize_rtp(stats: dict[str, Any], report: Mapping[str, Mapping[str, Any]]) -> None:
    if "ssrc" in stats:
        stats["ssrc"] = coerce_ssrc(stats["ssrc"])
    track = _linked(report, stats.get("trackId"), "track")
    if stats.get("kind") not in ("audio", "video"):
        kind = stats.get("mediaType")
        if kind not in ("audio", "video"):
            kind = _kind_from_mime(_linked(report, stats.get("codecId"), "codec").get("mimeType"))
        if kind is None and track.get("kind") in ("audio", "video"):
            kind = track["kind"]
        if kind is not None:
            stats["kind"] = kind
    if stats["type"] == "inbound-rtp":
        for name in _TRACK_FIELDS:
            if name not in stats and name in track:
                stats[name] = track[name]
    elif stats["type"] == "outbound-rtp" and not isinstance(stats.get("trackIdentifier"), str):
        source = _linked(report, stats.get("mediaSourceId"), "media-source")
        for origin in (source, track):
            if isinstance(origin.get("trackIdentifier"), str):
                stats["trackIdentifier"] = origin["trackIdentifier"]
                break


def _normalize_candidate(stats: dict[str, Any]) -> None:
    for legacy, name in (("ip", "address"), ("ipAddress", "address"), ("portNumber", "port")):
        if name not in stats and legacy in stats:
            stats[name] = stats[legacy]
    if "protocol" not in stats and isinstance(stats.get("transport"), str):
        stats["protocol"] = stats["transport"]
    ctype = stats.get("candidateType")
    if isinstance(ctype, str) and ctype in _CANDIDATE_TYPE_ALIASES:
        stats["candidateType"] = _CANDIDATE_TYPE_ALIASES[ctype]
