"""Numbers straight from the raw peer.stats events a call produced (no server involved): the
ground-truth check for what the service later computes."""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from typing import Any


def _stats_list(ev: dict[str, Any]) -> list[dict[str, Any]]:
    s = ev.get("stats") or []
    return list(s.values()) if isinstance(s, dict) else list(s)


def summarize(events: list[dict[str, Any]], *, warmup_s: float = 4.0) -> dict[str, dict[str, Any]]:
    """Per peer_id: RTTs (ms, medians over samples after ``warmup_s`` from the first stats),
    inbound loss % per kind from the last cumulative inbound-rtp counters, quality limitation
    reasons seen on outbound video, resolutions, event type counts."""
    by_peer: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for e in events:
        if e.get("peer_id"):
            by_peer[e["peer_id"]].append(e)
    out: dict[str, dict[str, Any]] = {}
    for pid, evs in by_peer.items():
        evs.sort(key=lambda e: e["timestamp"])
        types = Counter(e["type"] for e in evs)
        stats_evs = [e for e in evs if e["type"] == "peer.stats"]
        t_first = stats_evs[0]["timestamp"] if stats_evs else 0
        rtt_ri: dict[str, list[float]] = defaultdict(list)
        rtt_cp: list[float] = []
        last_in: dict[str, dict[str, Any]] = {}
        qlr: Counter[str] = Counter()
        res: Counter[str] = Counter()
        stat_types: Counter[str] = Counter()
        for e in stats_evs:
            late = e["timestamp"] - t_first >= warmup_s * 1000
            sl = _stats_list(e)
            by_id = {s["id"]: s for s in sl}
            sel = {t.get("selectedCandidatePairId") for t in sl if t["type"] == "transport"}
            for s in sl:
                stat_types[s["type"]] += 1
                rtt = s.get("roundTripTime")
                if s["type"] == "remote-inbound-rtp" and late and rtt is not None:
                    rtt_ri[s.get("kind", "?")].append(rtt * 1000)
                elif (
                    s["type"] == "candidate-pair"
                    and s["id"] in sel
                    and late
                    and s.get("currentRoundTripTime") is not None
                ):
                    rtt_cp.append(s["currentRoundTripTime"] * 1000)
                elif s["type"] == "inbound-rtp":
                    last_in[s.get("kind", "?")] = s
                elif s["type"] == "outbound-rtp" and s.get("kind") == "video":
                    if late and s.get("qualityLimitationReason"):
                        qlr[s["qualityLimitationReason"]] += 1
                    if s.get("frameWidth"):
                        res[f"{s['frameWidth']}x{s.get('frameHeight')}"] += 1
            del by_id
        loss = {}
        for kind, s in last_in.items():
            lost, recv = s.get("packetsLost", 0), s.get("packetsReceived", 0)
            loss[kind] = {
                "packets_lost": lost,
                "packets_received": recv,
                "loss_pct": round(100.0 * lost / (lost + recv), 2) if lost + recv else None,
            }

        def med(xs: list[float]) -> float | None:
            return round(statistics.median(xs), 1) if xs else None

        out[pid] = {
            "event_types": dict(types),
            "stat_types": dict(stat_types),
            "rtt_remote_inbound_ms": {k: med(v) for k, v in rtt_ri.items()},
            "rtt_remote_inbound_range_ms": {
                k: [round(min(v), 1), round(max(v), 1)] for k, v in rtt_ri.items() if v
            },
            "rtt_candidate_pair_ms": med(rtt_cp),
            "inbound_loss": loss,
            "quality_limitation_reasons": dict(qlr),
            "outbound_video_resolutions": dict(res),
        }
    return out
