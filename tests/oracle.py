"""Independent oracle for end-to-end tests: expected peer-report numbers for a legacy rtcstats dump.

Deliberately self-contained (it must not import rtk_sessions) and written plainly, so that it is a
real cross-check of the importer + stats pipeline. Definitions (docs/quality-metrics.md §2
and §4; decisions Q1, Q5, Q7 in docs/decisions.md):

* Span: join = earliest, leave = latest timestamp of any record bound to a peer connection
  (pcId not null; for getstats both the record time and the report's top-level timestamp).
  duration_minutes = (leave - join) / 60000, rounded to 4 dp.
* Rows (Q1): for each PC, for each pair of consecutive getstats of that PC (file order), for each
  RTP stream (outbound-rtp for producers, inbound-rtp for consumers; keyed by ssrc) present in both
  reports: one row, unless elapsed = cur.timestamp - prev.timestamp <= 0 or a counter went
  backwards (producer: packetsSent or bytesSent; consumer: packetsReceived or bytesReceived),
  or a producer has sent no packet at all yet (packetsSent == 0: the connection is being set up).
  A negative ΔpacketsLost is clamped to 0 (§2.1 delta hygiene), it does not drop the row.
* Kind: ``kind`` (or old Chrome ``mediaType``) audio/video. A video ssrc whose latest Jitsi
  ``setVideoType`` says ``desktop`` is screenshare; everything else is camera/microphone.
* Producer rtt (ms) = remote-inbound-rtp (same ssrc, current report).roundTripTime * 1000, 0 when
  absent. Producer loss % = 100 * Δremote-inbound.packetsLost / ΔpacketsSent when the remote-inbound
  object is in both reports, else 100 * fractionLost if the current one has it, else 0; 0 when
  ΔpacketsSent is 0.
* Consumer loss % = 100 * Δlost / (Δlost + Δreceived); 0 when the denominator is 0.
* Blocks (Q5): avg over all rows (zeros included); ``N_or_greater_event_fraction`` =
  #(v >= N) / #rows; rtt thresholds 100/250/500 ms, loss thresholds 5/10/25/50 %. Rounded 4 dp.
  A kind with no rows gets rows 0 and empty blocks.
* Q13: consumers too have rows only once the stream received a packet (packetsReceived > 0).
* Q11: a block only when some row measured the value, with ``measured_rows`` and ``measured_avg``
  (mean over those rows). Measured: producer rtt when the current remote-inbound-rtp has
  roundTripTime; producer loss when it has packetsLost or fractionLost and ΔpacketsSent > 0;
  consumer loss when packetsLost is in both reports and Δlost + Δreceived > 0.
"""

from __future__ import annotations

import itertools
import json
import sys
from pathlib import Path
from typing import Any

KINDS = (
    "audio_producer",
    "video_producer",
    "screenshare_video_producer",
    "audio_consumer",
    "video_consumer",
    "screenshare_video_consumer",
)


def _undelta(prev_state: dict[str, Any], delta: dict[str, Any]) -> dict[str, Any]:
    """Tiny Jitsi legacy decompressor: returns the new full state (prev_state is not modified)."""
    top_ts = delta.get("timestamp")
    state: dict[str, Any] = {}
    for sid in delta:
        if sid == "timestamp":
            continue
        change = delta[sid]
        if change is None:
            continue
        if sid in prev_state:
            obj: dict[str, Any] = {}
            obj.update(prev_state[sid])
            for k in change:
                obj[k] = change[k]
            if change.get("timestamp", None) == 0:
                obj["timestamp"] = top_ts
            elif "timestamp" not in change or not change["timestamp"]:
                obj["timestamp"] = prev_state[sid].get("timestamp")
        else:
            obj = dict(change)
            if obj.get("timestamp") == 0:
                obj["timestamp"] = top_ts
        state[sid] = obj
    # ids missing from the delta are gone: `state` only has the delta's ids.
    return state


def _kind(obj: dict[str, Any]) -> Any:
    return obj.get("kind") or obj.get("mediaType")


def _by_ssrc(report: dict[str, Any], typ: str) -> dict[int, dict[str, Any]]:
    out: dict[int, dict[str, Any]] = {}
    for obj in report.values():
        if obj.get("type") == typ and obj.get("ssrc") is not None:
            out[int(obj["ssrc"])] = obj
    return out


def _block(
    values: list[tuple[float, bool]], thresholds: tuple[int, ...], suffix: str
) -> dict[str, Any]:
    """``values``: (value, measured) per row."""
    measured = [v for v, m in values if m]
    if not measured:
        return {}
    n = len(values)
    block: dict[str, Any] = {"avg": round(sum(v for v, _ in values) / n, 4)}
    for t in thresholds:
        block[f"{t}{suffix}_or_greater_event_fraction"] = round(
            sum(1 for v, _ in values if v >= t) / n, 4
        )
    block["measured_rows"] = len(measured)
    block["measured_avg"] = round(sum(measured) / len(measured), 4)
    return block


def expected_peer(path: str | Path) -> dict[str, Any]:
    records: list[Any] = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            line = line.strip()
            if line:
                records.append(json.loads(line))

    pc_times: list[float] = []
    video_type: dict[int, Any] = {}
    per_pc_reports: dict[str, list[dict[str, Any]]] = {}  # pc -> full reports (file order)
    state: dict[str, dict[str, Any]] = {}
    n_getstats = 0
    for method, pc, value, ts in ([*r[:3], r[-1]] for r in records):
        if method == "setVideoType" and isinstance(value, dict):
            video_type[int(value["ssrc"])] = value.get("videoType")
        if pc is None:
            continue
        pc_times.append(ts)
        if method != "getstats":
            continue
        n_getstats += 1
        if isinstance(value.get("timestamp"), (int, float)):
            pc_times.append(value["timestamp"])
        state[pc] = _undelta(state.get(pc, {}), value)
        per_pc_reports.setdefault(pc, []).append(state[pc])

    rows: dict[str, dict[str, list[tuple[float, bool]]]] = {
        k: {"rtt": [], "loss": []} for k in KINDS
    }
    for reports in per_pc_reports.values():
        for prev, cur in itertools.pairwise(reports):
            # producers
            p_out, c_out = _by_ssrc(prev, "outbound-rtp"), _by_ssrc(cur, "outbound-rtp")
            p_ri, c_ri = _by_ssrc(prev, "remote-inbound-rtp"), _by_ssrc(cur, "remote-inbound-rtp")
            for ssrc, now in c_out.items():
                before = p_out.get(ssrc)
                if before is None:
                    continue
                if now["timestamp"] - before["timestamp"] <= 0:
                    continue
                d_sent = now.get("packetsSent", 0) - before.get("packetsSent", 0)
                d_bytes = now.get("bytesSent", 0) - before.get("bytesSent", 0)
                if d_sent < 0 or d_bytes < 0:
                    continue
                if now.get("packetsSent") == 0:  # not producing yet (connection set-up)
                    continue
                kind = _kind(now)
                if kind not in ("audio", "video"):
                    continue
                name = f"{kind}_producer"
                if kind == "video" and video_type.get(ssrc) == "desktop":
                    name = "screenshare_video_producer"
                ri_now, ri_before = c_ri.get(ssrc), p_ri.get(ssrc)
                rtt = 0.0
                rtt_measured = ri_now is not None and ri_now.get("roundTripTime") is not None
                if ri_now is not None and rtt_measured:
                    rtt = ri_now["roundTripTime"] * 1000
                loss_measured = (
                    d_sent > 0
                    and ri_now is not None
                    and ("packetsLost" in ri_now or ri_now.get("fractionLost") is not None)
                )
                loss = 0.0
                if (
                    ri_now is not None
                    and ri_before is not None
                    and "packetsLost" in ri_now
                    and "packetsLost" in ri_before
                ):
                    d_lost = max(0, ri_now["packetsLost"] - ri_before["packetsLost"])
                    loss = 100 * d_lost / d_sent if d_sent > 0 else 0.0
                elif ri_now is not None and ri_now.get("fractionLost") is not None:
                    loss = 100 * ri_now["fractionLost"]
                rows[name]["rtt"].append((rtt, rtt_measured))
                rows[name]["loss"].append((loss, loss_measured))
            # consumers
            p_in, c_in = _by_ssrc(prev, "inbound-rtp"), _by_ssrc(cur, "inbound-rtp")
            for ssrc, now in c_in.items():
                before = p_in.get(ssrc)
                if before is None:
                    continue
                if now["timestamp"] - before["timestamp"] <= 0:
                    continue
                d_recv = now.get("packetsReceived", 0) - before.get("packetsReceived", 0)
                d_bytes = now.get("bytesReceived", 0) - before.get("bytesReceived", 0)
                if d_recv < 0 or d_bytes < 0:
                    continue
                if now.get("packetsReceived") == 0:  # Q13: nothing received yet
                    continue
                kind = _kind(now)
                if kind not in ("audio", "video"):
                    continue
                name = f"{kind}_consumer"
                if kind == "video" and video_type.get(ssrc) == "desktop":
                    name = "screenshare_video_consumer"
                d_lost = max(0, now.get("packetsLost", 0) - before.get("packetsLost", 0))
                total = d_lost + d_recv
                measured = "packetsLost" in now and "packetsLost" in before and total > 0
                rows[name]["loss"].append((100 * d_lost / total if total > 0 else 0.0, measured))

    join, leave = min(pc_times), max(pc_times)
    result = {
        "join_ms": join,
        "leave_ms": leave,
        "duration_minutes": round((leave - join) / 60000, 4),
        "getstats": n_getstats,
        "connections": sorted(per_pc_reports),
    }
    for name in KINDS:
        entry = {
            "rows": len(rows[name]["loss"]),
            "packet_loss": _block(rows[name]["loss"], (5, 10, 25, 50), ""),
        }
        if name.endswith("producer"):
            entry["rtt"] = _block(rows[name]["rtt"], (100, 250, 500), "ms")
        result[name] = entry
    return result


if __name__ == "__main__":  # python tests/oracle.py <dump>...
    for p in sys.argv[1:]:
        print(p)
        print(json.dumps(expected_peer(p), indent=1))
