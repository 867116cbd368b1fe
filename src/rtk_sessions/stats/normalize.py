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

``ReportIndex`` applies the same rules lazily, one object at a time, for the ingest fast path
(``rtk_sessions.stats.ingest``): ``ReportIndex(raw).get(sid) == normalize_report(raw).get(sid)``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
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

    def linked(ref: Any, stype: str) -> Mapping[str, Any]:
        return _linked(report, ref, stype)

    for stats in report.values():
        stype = stats["type"]
        if stype in _RTP_TYPES:
            _normalize_rtp(stats, linked)
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


def _normalize_rtp(stats: dict[str, Any], linked: Callable[[Any, str], Mapping[str, Any]]) -> None:
    """Rule 3 on ``stats`` (a copy, type and id already normalized); ``linked(ref, type)`` is the
    normalized object ``ref`` points to when it has that type, else ``{}``."""
    if "ssrc" in stats:
        stats["ssrc"] = coerce_ssrc(stats["ssrc"])
    track = linked(stats.get("trackId"), "track")
    if stats.get("kind") not in ("audio", "video"):
        kind = stats.get("mediaType")
        if kind not in ("audio", "video"):
            kind = _kind_from_mime(linked(stats.get("codecId"), "codec").get("mimeType"))
        if kind is None and track.get("kind") in ("audio", "video"):
            kind = track["kind"]
        if kind is not None:
            stats["kind"] = kind
    if stats["type"] == "inbound-rtp":
        for name in _TRACK_FIELDS:
            if name not in stats and name in track:
                stats[name] = track[name]
    elif stats["type"] == "outbound-rtp" and not isinstance(stats.get("trackIdentifier"), str):
        source = linked(stats.get("mediaSourceId"), "media-source")
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


# ---------------------------------------------------------------------------------------------
# The ingest fast path: the same normalization, done only for the objects that are looked at.

_MAX_SSRC = 0xFFFFFFFF
#: Types the fast path lists in report order (the rest is only reached by id), by raw type name.
_LISTED = {
    name: _TYPE_ALIASES.get(name, name)
    for name in (
        "outbound-rtp",
        "outboundrtp",
        "inbound-rtp",
        "inboundrtp",
        "remote-inbound-rtp",
        "remoteinboundrtp",
        "transport",
        "candidate-pair",
        "candidatepair",
    )
}
#: Types whose objects the per-connection cursor keeps (``compact_report``), in report order.
_KEPT_TYPES = frozenset({"outbound-rtp", "inbound-rtp", "remote-inbound-rtp", "transport"})


class ReportIndex:
    """A lazily normalized view of one getStats() report, for the ingest fast path.

    ``ReportIndex(raw).get(sid)`` equals ``normalize_report(raw).get(sid)`` for every id, but the
    constructor makes one pass over the entries that only records, per id (first occurrence wins,
    rule 1), the caller's stats object and its normalized type, and lists the ids of RTP streams,
    transports and candidate pairs in report order. Then it normalizes (rules 3-5) the objects the
    cursor keeps (``kept``: outbound-rtp, inbound-rtp, remote-inbound-rtp, transport), which rows
    and cursor read anyway; any other object is normalized the first time ``get`` asks for it. An
    object is copied only when a rule changes it; otherwise ``get`` returns the caller's object
    itself, so callers must treat what ``get`` returns as read-only (the input is never mutated).
    ``memo`` is a scratch dict for per-report derived lookups (see ``rows``, ``pairs``).

    raw: what ``normalize_report`` accepts (a ``NormalizedReport`` too); anything else is empty.
    """

    __slots__ = ("_norm", "_raw", "kept", "listed", "memo", "normalized", "types")

    def __init__(self, raw: Any) -> None:
        raws: dict[str, Mapping[str, Any]] = {}
        types: dict[str, str] = {}
        listed: dict[str, list[str]] = {
            "outbound-rtp": [],
            "inbound-rtp": [],
            "remote-inbound-rtp": [],
            "transport": [],
            "candidate-pair": [],
        }
        kept: list[str] = []
        if isinstance(raw, Mapping):
            entries: Any = raw.items()
            from_list = False
        elif isinstance(raw, list | tuple):
            entries = enumerate(raw)
            from_list = True
        else:
            entries = ()
            from_list = False
        aliases = _TYPE_ALIASES
        for key, value in entries:
            if value.__class__ is not dict:
                if (
                    from_list
                    and isinstance(value, list | tuple)
                    and len(value) == 2
                    and isinstance(value[0], str)
                    and isinstance(value[1], Mapping)
                ):
                    key, value = value
                elif not isinstance(value, Mapping):
                    continue
            stype = value.get("type")
            if not isinstance(stype, str):
                continue
            canon = _LISTED.get(stype)
            if canon is None:
                stype = aliases.get(stype, stype)
            else:
                if canon in _REMOTE_TYPES and value.get("isRemote") is True:
                    canon = _REMOTE_TYPES[canon]
                stype = canon
            sid = value.get("id")
            if sid is None:
                sid = f"#{key}" if from_list and key.__class__ is int else str(key)
            elif sid.__class__ is not str:
                sid = str(sid)
            if sid in raws:
                continue
            raws[sid] = value
            types[sid] = stype
            if canon is not None:
                bucket = listed.get(stype)
                if bucket is not None:
                    bucket.append(sid)
                    if stype in _KEPT_TYPES:
                        kept.append(sid)
        self._raw = raws
        #: the normalized ``type`` of every object, by id (read-only).
        self.types = types
        self._norm: dict[str, Mapping[str, Any]] = {}
        #: ids of outbound-rtp, inbound-rtp, remote-inbound-rtp, transport and candidate-pair
        #: objects (normalized types), each in report order.
        self.listed = listed
        #: ids of the objects of the types the cursor keeps, in report order.
        self.kept = kept
        self.memo: dict[str, Any] = {}
        get = self.get
        for sid in kept:  # every use (rows, cursor) reads all of them: normalize them now
            get(sid)
        #: ``{id: normalized object}`` of what has been normalized so far, including every id
        #: of ``kept`` (read-only; ``get`` fills it).
        self.normalized = self._norm

    def __len__(self) -> int:
        return len(self._raw)

    def type_of(self, sid: Any) -> str | None:
        """The normalized ``type`` of the object ``sid``; ``None`` when there is none."""
        return self.types.get(sid) if isinstance(sid, str) else None

    def linked(self, ref: Any, stype: str) -> Mapping[str, Any]:
        """The object ``ref`` points to when its normalized type is ``stype``, else ``{}``.

        Only for targets that normalization changes in ``type``/``id`` at most (track, codec,
        media-source): their other members are returned as the caller sent them.
        """
        if isinstance(ref, str) and self.types.get(ref) == stype:
            return self._raw[ref]
        return {}

    def source(self, sid: str) -> Mapping[str, Any]:
        """The caller's stats object ``sid`` as sent (``KeyError`` if there is none): for reading
        members that normalization never changes (all but ``type``, ``id`` and the members that
        rules 3-5 name)."""
        return self._raw[sid]

    def get(self, sid: str, default: Any = None) -> Any:
        """The normalized stats object ``sid`` (read-only), else ``default``."""
        stats = self._norm.get(sid)
        if stats is not None:
            return stats
        value = self._raw.get(sid)
        if value is None:
            return default
        stype = self.types[sid]
        if value.get("type") == stype and value.get("id") == sid and self._as_is(stype, value):
            stats = value
        else:
            copy = dict(value)
            copy["type"] = stype
            copy["id"] = sid
            if stype in _RTP_TYPES:
                _normalize_rtp(copy, self.linked)
            elif stype in _CANDIDATE_TYPES:
                _normalize_candidate(copy)
            elif stype == "candidate-pair" and copy.get("state") == "inprogress":
                copy["state"] = "in-progress"
            stats = copy
        self._norm[sid] = stats
        return stats

    def _as_is(self, stype: str, value: Mapping[str, Any]) -> bool:
        """Whether rules 3-5 leave ``value`` (type and id already normal) as it is."""
        if stype in _RTP_TYPES:
            if "ssrc" in value:
                ssrc = value["ssrc"]
                if ssrc.__class__ is not int or not 0 <= ssrc <= _MAX_SSRC:
                    return False
            if value.get("kind") not in ("audio", "video"):
                return False
            if stype == "inbound-rtp":  # old Chrome: members to copy from the track (or not)
                return "trackId" not in value or not self.linked(value["trackId"], "track")
            if stype == "outbound-rtp" and not isinstance(value.get("trackIdentifier"), str):
                source = self.linked(value.get("mediaSourceId"), "media-source")
                track = self.linked(value.get("trackId"), "track")
                return not isinstance(source.get("trackIdentifier"), str) and not isinstance(
                    track.get("trackIdentifier"), str
                )
            return True
        if stype in _CANDIDATE_TYPES:
            ctype = value.get("candidateType")
            return not (
                ("address" not in value and ("ip" in value or "ipAddress" in value))
                or ("port" not in value and "portNumber" in value)
                or ("protocol" not in value and isinstance(value.get("transport"), str))
                or (isinstance(ctype, str) and ctype in _CANDIDATE_TYPE_ALIASES)
            )
        return stype != "candidate-pair" or value.get("state") != "inprogress"

    def by_ssrc(self, stype: str) -> dict[int, str]:
        """``{ssrc: id}`` of the ``stype`` objects (a listed RTP type) with an SSRC, first wins."""
        key = "ssrc:" + stype
        out = self.memo.get(key)
        if out is None:
            out = {}
            raws = self._raw
            for sid in self.listed[stype]:
                value = raws[sid]
                if "ssrc" not in value:
                    continue
                ssrc = value["ssrc"]
                if ssrc.__class__ is not int or not 0 <= ssrc <= _MAX_SSRC:
                    ssrc = coerce_ssrc(ssrc)
                    if ssrc is None:
                        continue
                if ssrc not in out:
                    out[ssrc] = sid
            self.memo[key] = out
        return out
