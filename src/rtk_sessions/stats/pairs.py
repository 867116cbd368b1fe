"""Selected ICE candidate pairs -> ``metadata.candidate_pairs`` entries (docs/quality-metrics.md
§5)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .normalize import ReportIndex, normalize_report
from .types import num

__all__ = [
    "candidate_pairs",
    "candidate_pairs_indexed",
    "selected_pair_ids",
    "selected_pair_ids_indexed",
    "selected_pair_rtt",
    "selected_pair_rtt_indexed",
    "selected_pairs_indexed",
]

PRODUCING = "producing_transport"
CONSUMING = "consuming_transport"
_ROLE_ALIASES = {
    "producing": PRODUCING,
    PRODUCING: PRODUCING,
    "consuming": CONSUMING,
    CONSUMING: CONSUMING,
}

# CandidatePair key (docs/decisions.md#peer-report) -> W3C RTCIceCandidatePairStats member.
_PAIR_NUMBERS = (
    ("available_incoming_bitrate", "availableIncomingBitrate"),  # bits/s, gauge
    ("available_outgoing_bitrate", "availableOutgoingBitrate"),  # bits/s, gauge
    ("bytes_discarded_on_send", "bytesDiscardedOnSend"),  # cumulative
    ("bytes_received", "bytesReceived"),  # cumulative
    ("bytes_sent", "bytesSent"),  # cumulative
    ("current_round_trip_time", "currentRoundTripTime"),  # seconds, latest STUN RTT
    ("last_packet_received_timestamp", "lastPacketReceivedTimestamp"),  # epoch ms
    ("last_packet_sent_timestamp", "lastPacketSentTimestamp"),  # epoch ms
    ("packets_discarded_on_send", "packetsDiscardedOnSend"),  # cumulative
    ("packets_received", "packetsReceived"),  # cumulative
    ("packets_sent", "packetsSent"),  # cumulative
    ("total_round_trip_time", "totalRoundTripTime"),  # seconds, cumulative
)
# CandidatePair key suffix -> W3C RTCIceCandidateStats member (after normalize_report).
_CANDIDATE_STRINGS = (
    ("address", "address"),
    ("network_type", "networkType"),  # Chrome only; removed from the spec
    ("protocol", "protocol"),
    ("related_address", "relatedAddress"),
    ("type", "candidateType"),
    ("url", "url"),  # local srflx/relay only; never on remote candidates per spec
)
_CANDIDATE_NUMBERS = (("port", "port"), ("related_port", "relatedPort"))


def _pairs(report: Mapping[str, Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    return {sid: s for sid, s in report.items() if s.get("type") == "candidate-pair"}


def selected_pair_ids(report: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """Ids of the selected candidate pairs of a normalized report, in report order.

    Selection (quality-metrics.md §5): the pairs named by ``transport.selectedCandidatePairId``
    (W3C RTCTransportStats); else the pairs with ``selected: true`` (Firefox); else, per
    ``transportId``, the ``nominated`` pair in state ``succeeded`` with the most bytes sent+received
    (this project's fallback).
    """
    pairs = _pairs(report)
    chosen = {
        s["selectedCandidatePairId"]
        for s in report.values()
        if s.get("type") == "transport" and isinstance(s.get("selectedCandidatePairId"), str)
    }
    ids = [sid for sid in pairs if sid in chosen]
    if ids:
        return ids
    ids = [sid for sid, p in pairs.items() if p.get("selected") is True]
    if ids:
        return ids
    best: dict[Any, tuple[float, str]] = {}
    for sid, p in pairs.items():
        if p.get("nominated") is True and p.get("state") == "succeeded":
            volume = (num(p.get("bytesSent")) or 0) + (num(p.get("bytesReceived")) or 0)
            key = p.get("transportId") if isinstance(p.get("transportId"), str) else None
            if key not in best or volume > best[key][0]:
                best[key] = (volume, sid)
    winners = {sid for _, sid in best.values()}
    return [sid for sid in pairs if sid in winners]


def selected_pair_rtt(
    report: Mapping[str, Mapping[str, Any]], transport_id: Any = None
) -> float | None:
    """``currentRoundTripTime`` (seconds, W3C candidate-pair) of the selected pair.

    Prefers the pair of the transport ``transport_id`` (an RTP stream's ``transportId``), else the
    first selected pair that has the field; ``None`` when no selected pair reports it (Firefox).
    """
    ids = selected_pair_ids(report)
    if isinstance(transport_id, str):
        transport = report.get(transport_id, {})
        preferred = transport.get("selectedCandidatePairId")
        ids.sort(key=lambda sid: sid != preferred)
    for sid in ids:
        rtt = num(report[sid].get("currentRoundTripTime"))
        if rtt is not None and 0 <= rtt <= 3600:
            return float(rtt)
    return None


def _pair_entry(report: Mapping[str, Mapping[str, Any]], pair: Mapping[str, Any]) -> dict[str, Any]:
    entry: dict[str, Any] = {}
    for key, name in _PAIR_NUMBERS:
        value = num(pair.get(name))
        if value is not None:
            entry[key] = value
    if isinstance(pair.get("nominated"), bool):
        entry["nominated"] = pair["nominated"]
    for side, ctype in (("local", "local-candidate"), ("remote", "remote-candidate")):
        ref = pair.get(f"{side}CandidateId")
        if not isinstance(ref, str):
            continue
        entry[f"{side}_candidate_id"] = ref
        cand = report.get(ref)
        if not isinstance(cand, Mapping) or cand.get("type") != ctype:
            continue
        for suffix, name in _CANDIDATE_STRINGS:
            if isinstance(cand.get(name), str):
                entry[f"{side}_candidate_{suffix}"] = cand[name]
        for suffix, name in _CANDIDATE_NUMBERS:
            value = num(cand.get(name))
            if value is not None:
                entry[f"{side}_candidate_{suffix}"] = value
    return entry


def candidate_pairs(
    report: dict[str, dict[str, Any]], *, transport: str | None = None
) -> list[tuple[str, str, dict[str, Any]]]:
    """The selected candidate pairs of one connection's report as CandidatePair entries.

    report: a getStats() report (normalized here; any shape ``normalize_report`` accepts).
    transport: the ingest ``transport`` (``"producing"``/``"consuming"``, or the role names
    ``"producing_transport"``/``"consuming_transport"``); ``None`` or anything else means: the role
    is consuming if the connection only receives (inbound-rtp and no outbound-rtp), else producing
    (it sends, or sends and receives as in P2P, or has no RTP yet). A connection's pairs are listed
    under one role only.

    Returns ``[(role, pair_id, entry)]``, role ``"producing_transport"``|``"consuming_transport"``,
    entry in the ``CandidatePair`` shape of docs/decisions.md#peer-report, ``None`` values omitted:
    counters are the pair's lifetime totals (cumulative, as in the reference report), RTTs in
    seconds, bitrates in bits/s, ``last_packet_*_timestamp`` epoch ms, candidate fields from the
    linked local/remote candidate.
    """
    report = normalize_report(report)
    ids = selected_pair_ids(report)
    if not ids:
        return []
    role = _ROLE_ALIASES.get(transport) if isinstance(transport, str) else None
    if role is not None:
        roles = [role]
    else:
        types = {s.get("type") for s in report.values()}
        only_receives = "inbound-rtp" in types and "outbound-rtp" not in types
        roles = [CONSUMING if only_receives else PRODUCING]
    return [(r, sid, _pair_entry(report, report[sid])) for r in roles for sid in ids]


# ---------------------------------------------------------------------------------------------
# The ingest fast path: the same answers from a ReportIndex, each computed once per report.


def selected_pair_ids_indexed(index: ReportIndex) -> list[str]:
    """``selected_pair_ids(normalize_report(raw))`` for ``index = ReportIndex(raw)``.

    The list is memoized on the index: callers must not modify it.
    """
    ids: list[str] | None = index.memo.get("selected")
    if ids is not None:
        return ids
    # Normalization changes no member read here but a pair's ``state`` ("inprogress" becomes
    # "in-progress"), and neither equals "succeeded": the objects as sent will do.
    source = index.source
    pairs = index.listed["candidate-pair"]
    chosen = set()
    for tid in index.listed["transport"]:
        ref = source(tid).get("selectedCandidatePairId")
        if isinstance(ref, str):
            chosen.add(ref)
    ids = [sid for sid in pairs if sid in chosen]
    if not ids:
        ids = [sid for sid in pairs if source(sid).get("selected") is True]
    if not ids:
        best: dict[Any, tuple[float, str]] = {}
        for sid in pairs:
            p = source(sid)
            if p.get("nominated") is True and p.get("state") == "succeeded":
                volume = (num(p.get("bytesSent")) or 0) + (num(p.get("bytesReceived")) or 0)
                key = p.get("transportId") if isinstance(p.get("transportId"), str) else None
                if key not in best or volume > best[key][0]:
                    best[key] = (volume, sid)
        winners = {sid for _, sid in best.values()}
        ids = [sid for sid in pairs if sid in winners]
    index.memo["selected"] = ids
    return ids


def selected_pair_rtt_indexed(index: ReportIndex, transport_id: Any = None) -> float | None:
    """``selected_pair_rtt(normalize_report(raw), transport_id)`` for ``index = ReportIndex(raw)``,
    memoized per ``transport_id``."""
    key = transport_id if isinstance(transport_id, str) else None
    cache: dict[str | None, float | None] = index.memo.setdefault("rtt", {})
    if key in cache:
        return cache[key]
    ids = selected_pair_ids_indexed(index)
    if key is not None:
        preferred = index.get(key, {}).get("selectedCandidatePairId")
        if preferred in ids:  # the stable sort on ``sid != preferred`` of selected_pair_rtt
            ids = [preferred, *(sid for sid in ids if sid != preferred)]
    result = None
    for sid in ids:
        rtt = num(index.source(sid).get("currentRoundTripTime"))
        if rtt is not None and 0 <= rtt <= 3600:
            result = float(rtt)
            break
    cache[key] = result
    return result


_SIDES = tuple(
    (
        f"{side}CandidateId",
        ctype,
        f"{side}_candidate_id",
        tuple((f"{side}_candidate_{suffix}", name) for suffix, name in _CANDIDATE_STRINGS),
        tuple((f"{side}_candidate_{suffix}", name) for suffix, name in _CANDIDATE_NUMBERS),
    )
    for side, ctype in (("local", "local-candidate"), ("remote", "remote-candidate"))
)


def _numbers_into(
    entry: dict[str, Any], stats: Mapping[str, Any], names: tuple[tuple[str, str], ...]
) -> None:
    """``entry[key] = stats[name]`` for each member that ``num`` accepts, in order."""
    get = stats.get
    for key, name in names:
        value = get(name)
        if value is None:
            continue
        cls = value.__class__
        if cls is int or (value - value == 0 if cls is float else num(value) is not None):
            entry[key] = value


def _pair_entry_indexed(index: ReportIndex, pair: Mapping[str, Any]) -> dict[str, Any]:
    """``_pair_entry(normalize_report(raw), pair)`` for ``index = ReportIndex(raw)``."""
    entry: dict[str, Any] = {}
    _numbers_into(entry, pair, _PAIR_NUMBERS)
    nominated = pair.get("nominated")
    if nominated.__class__ is bool:
        entry["nominated"] = nominated
    types = index.types
    for ref_name, ctype, id_key, strings, numbers in _SIDES:
        ref = pair.get(ref_name)
        if not isinstance(ref, str):
            continue
        entry[id_key] = ref
        if types.get(ref) != ctype:
            continue
        cand = index.get(ref)
        for key, name in strings:
            value = cand.get(name)
            if isinstance(value, str):
                entry[key] = value
        _numbers_into(entry, cand, numbers)
    return entry


def candidate_pairs_indexed(
    index: ReportIndex, *, transport: str | None = None
) -> list[tuple[str, str, dict[str, Any]]]:
    """``candidate_pairs(raw, transport=transport)`` for ``index = ReportIndex(raw)``."""
    return [
        (role, sid, _pair_entry_indexed(index, index.get(sid)))
        for role, sid in selected_pairs_indexed(index, transport)
    ]


def selected_pairs_indexed(index: ReportIndex, transport: str | None) -> list[tuple[str, str]]:
    """``(role, pair_id)`` of ``candidate_pairs_indexed(index, transport=transport)``, without
    making the entries."""
    ids = selected_pair_ids_indexed(index)
    if not ids:
        return []
    role = _ROLE_ALIASES.get(transport) if isinstance(transport, str) else None
    if role is None:
        only_receives = bool(index.listed["inbound-rtp"]) and not index.listed["outbound-rtp"]
        role = CONSUMING if only_receives else PRODUCING
    return [(role, sid) for sid in ids]
