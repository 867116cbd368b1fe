"""The per-connection cursor: the smallest report the next interval's deltas need."""

from __future__ import annotations

from typing import Any

from .normalize import ReportIndex, normalize_report
from .pairs import selected_pair_ids, selected_pair_ids_indexed

__all__ = ["compact_indexed", "compact_report"]

_COMMON_FIELDS = (
    "id",
    "type",
    "timestamp",
    "ssrc",
    "kind",
    "mid",
    "trackIdentifier",
    "transportId",
)
_KEEP_FIELDS: dict[str, tuple[str, ...]] = {
    "outbound-rtp": (
        *_COMMON_FIELDS,
        "remoteId",
        "packetsSent",
        "bytesSent",
        "framesEncoded",
        "keyFramesEncoded",
        "pliCount",
        "firCount",
        "nackCount",
        "qualityLimitationDurations",
        "qualityLimitationResolutionChanges",
    ),
    "inbound-rtp": (
        *_COMMON_FIELDS,
        "remoteId",
        "packetsReceived",
        "packetsLost",
        "bytesReceived",
        "jitterBufferDelay",
        "jitterBufferEmittedCount",
        "concealmentEvents",
        "framesDecoded",
        "framesDropped",
        "framesReceived",
        "keyFramesDecoded",
        "firCount",
        "pliCount",
        "nackCount",
        "freezeCount",
        "totalFreezesDuration",
        "pauseCount",
        "totalPausesDuration",
    ),
    "remote-inbound-rtp": (*_COMMON_FIELDS, "localId", "packetsLost"),
    "transport": ("id", "type", "timestamp", "selectedCandidatePairId"),
}


def compact_report(report: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The part of a normalized report the NEXT interval needs (the per-connection cursor).

    Keeps, with only the fields listed in ``_KEEP_FIELDS``: outbound-rtp, inbound-rtp and
    remote-inbound-rtp (the cumulative counters the next deltas subtract from, plus the identity and
    link fields), transports (``selectedCandidatePairId``), and the selected candidate pairs with
    their local and remote candidates in full, so that ``candidate_pairs(compact_report(r))`` equals
    ``candidate_pairs(r)``. Everything else (codecs, certificates, tracks, media sources, unselected
    pairs) is dropped. Accepts what ``normalize_report`` accepts (so garbage gives ``{}``); the
    input is not mutated.
    """
    report = normalize_report(report)
    out: dict[str, dict[str, Any]] = {}
    for sid, stats in report.items():
        keep = _KEEP_FIELDS.get(stats["type"])
        if keep is not None:
            out[sid] = {name: stats[name] for name in keep if name in stats}
    for pair_id in selected_pair_ids(report):
        pair = report[pair_id]
        out[pair_id] = dict(pair)
        for ref in (pair.get("localCandidateId"), pair.get("remoteCandidateId")):
            if isinstance(ref, str) and isinstance(report.get(ref), dict):
                out[ref] = dict(report[ref])
    return out


def compact_indexed(index: ReportIndex) -> dict[str, dict[str, Any]]:
    """``compact_report(raw)`` for ``index = ReportIndex(raw)`` (new dicts; shares nested values
    with the input as ``compact_report`` does)."""
    out: dict[str, dict[str, Any]] = {}
    get = index.get
    types = index.types
    for sid in index.kept:
        stats = get(sid)
        out[sid] = {name: stats[name] for name in _KEEP_FIELDS[types[sid]] if name in stats}
    for pair_id in selected_pair_ids_indexed(index):
        pair = get(pair_id)
        out[pair_id] = dict(pair)
        for ref in (pair.get("localCandidateId"), pair.get("remoteCandidateId")):
            if isinstance(ref, str):
                target = get(ref)
                if target is not None:
                    out[ref] = dict(target)
    return out
