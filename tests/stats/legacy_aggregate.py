"""Test oracle: ``cumulative`` as it was before ``KindAccumulator`` (commit 4d38a8d), verbatim.

It re-aggregates a list of rows with plain float sums and sorted-list percentiles, so it is an
independent computation of the same definitions; tests compare the accumulator's blocks with it
within 1e-4 (float sums in row order may differ from exact sums in the 4th decimal only at a
rounding knife-edge). bench/accumulate.py times it as "old cumulative()".

The ``*_cumulative`` blocks of the peer report (quality-metrics.md §4; decisions Q5, Q6, Q8).

An "event" is one sample row; all rows of a kind (all its streams) are pooled. Every number is
rounded to 4 dp. Rows may be this package's rows (with ``_`` internals) or public rows such as the
reference report's; every internal has a fallback computed from the public fields.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from rtk_sessions.stats.types import KINDS, QualityThresholds, SampleRow, num

__all__ = ["cumulative", "percentile"]

LOSS_THRESHOLDS_PCT = (50, 25, 10, 5)
LATENCY_THRESHOLDS_MS = (500, 250, 100)


def percentile(values: Sequence[float], p: float) -> float:
    """The ``p``-th percentile (0..100) by linear interpolation between closest ranks (Q6).

    Same as numpy's default (``method="linear"``): position ``(n − 1)·p/100`` in the sorted values.
    ``values`` must be non-empty.
    """
    ordered = sorted(values)
    pos = (len(ordered) - 1) * p / 100
    lo = math.floor(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def _r4(value: float) -> float:
    return round(value, 4)


def _dist(values: Sequence[float]) -> dict[str, float] | None:
    """``Dist = {avg, p50, p75, p90}`` (docs/decisions.md#peer-report); ``None`` without values."""
    if not values:
        return None
    return {
        "avg": _r4(sum(values) / len(values)),
        "p50": _r4(percentile(values, 50)),
        "p75": _r4(percentile(values, 75)),
        "p90": _r4(percentile(values, 90)),
    }


def _fraction(flags: Sequence[bool], total: int) -> float:
    return _r4(sum(flags) / total) if total else 0.0


def _loss_dist(values: Sequence[float]) -> dict[str, float]:
    """``LossDist``: avg loss % and the fraction of rows with loss ≥ 5/10/25/50 % (Q5)."""
    out = {"avg": _r4(sum(values) / len(values))}
    for threshold in LOSS_THRESHOLDS_PCT:
        out[f"{threshold}_or_greater_event_fraction"] = _fraction(
            [v >= threshold for v in values], len(values)
        )
    return out


def _latency_dist(values_ms: Sequence[float]) -> dict[str, float]:
    """``LatencyDist``: avg ms and the fraction of rows ≥ 100/250/500 ms (Q5)."""
    out = {"avg": _r4(sum(values_ms) / len(values_ms))}
    for threshold in LATENCY_THRESHOLDS_MS:
        out[f"{threshold}ms_or_greater_event_fraction"] = _fraction(
            [v >= threshold for v in values_ms], len(values_ms)
        )
    return out


_MAX_ABS = 1e15  # larger magnitudes are garbage; the bound keeps every sum finite


def _n(row: Mapping[str, Any], key: str) -> float | None:
    """A row member as a float, or ``None`` when absent, not a finite number, or |x| ≥ 1e15."""
    value = num(row.get(key))
    return float(value) if value is not None and abs(value) < _MAX_ABS else None


def _loss_pct(row: Mapping[str, Any], producer: bool) -> float:
    """Row loss % (Q7): ``_loss_pct``, else producer 100·packets_lost/packets_sent, consumer
    100·packets_lost/(packets_lost + packets_received); 0 when unknown."""
    internal = _n(row, "_loss_pct")
    if internal is not None:
        return min(100.0, max(0.0, internal))
    lost = max(0.0, _n(row, "packets_lost") or 0.0)
    if producer:
        denominator = _n(row, "packets_sent") or 0.0
    else:
        denominator = lost + max(0.0, _n(row, "packets_received") or 0.0)
    return min(100.0, 100 * lost / denominator) if denominator > 0 else 0.0


def _rtt_ms(row: Mapping[str, Any]) -> float:
    """Row rtt in ms: 1000·``rtt`` (W3C remote-inbound-rtp roundTripTime, s); 0 when absent (Q5)."""
    rtt = _n(row, "rtt")
    return rtt * 1000 if rtt is not None and rtt > 0 else 0.0


def _jbd_ms(row: Mapping[str, Any]) -> float:
    """Row jitter-buffer delay in ms: 1000·Δjitter_buffer_delay/Δjitter_buffer_emitted_count
    (W3C inbound-rtp jitterBufferDelay / jitterBufferEmittedCount); 0 when not computable."""
    delay, count = _n(row, "jitter_buffer_delay"), _n(row, "jitter_buffer_emitted_count")
    if delay is None or not count or count < 0 or delay < 0:
        return 0.0
    return delay / count * 1000


def _iso_ms(value: Any) -> float | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None:
        return None
    return moment.timestamp() * 1000


def _intervals(rows: Sequence[Mapping[str, Any]]) -> list[float | None]:
    """Each row's interval (s): ``_interval_s``, else the time since the previous row of the same
    ``ssrc`` (public ``timestamp``), else ``None``."""
    last: dict[Any, float] = {}
    out: list[float | None] = []
    for row in rows:
        internal = _n(row, "_interval_s")
        moment = _iso_ms(row.get("timestamp"))
        ssrc = row.get("ssrc") if isinstance(row.get("ssrc"), int | str) else None
        if internal is not None and internal > 0:
            out.append(internal)
        elif moment is not None and ssrc in last and moment > last[ssrc]:
            out.append((moment - last[ssrc]) / 1000)
        else:
            out.append(None)
        if moment is not None:
            last[ssrc] = moment
    return out


def _frames_fraction(rows: Sequence[Mapping[str, Any]], key_field: str, frames_field: str) -> float:
    """ΣΔkey frames / ΣΔframes over the rows (Q8: share of frames that are key frames)."""
    keys = sum(max(0.0, _n(r, key_field) or 0.0) for r in rows)
    frames = sum(max(0.0, _n(r, frames_field) or 0.0) for r in rows)
    return _r4(min(1.0, keys / frames)) if frames > 0 else 0.0


def _poor_resolution(row: Mapping[str, Any], screenshare: bool, t: QualityThresholds) -> bool:
    """Q8: camera ``frame_height`` < poor_resolution_height; screenshare ``frame_width`` <
    poor_resolution_screenshare_width; rows without a frame size are not counted."""
    if screenshare:
        width = _n(row, "frame_width")
        return width is not None and width < t.poor_resolution_screenshare_width
    height = _n(row, "frame_height")
    return height is not None and height < t.poor_resolution_height


def _no_video_consumer(row: Mapping[str, Any]) -> bool:
    """Q8: no frame decoded in the interval (Δframes_decoded == 0); without frames_decoded, no
    packet received (Δpackets_received == 0)."""
    frames = _n(row, "frames_decoded")
    if frames is not None:
        return frames == 0
    return _n(row, "packets_received") == 0


def _no_video_producer(row: Mapping[str, Any]) -> bool:
    """Q8: Δframes_encoded == 0 or Δbytes_sent == 0 while the encoding is not paused (W3C
    outbound-rtp ``active`` is not false)."""
    if row.get("_active") is False:
        return False
    return _n(row, "frames_encoded") == 0 or _n(row, "bytes_sent") == 0


def _lag(row: Mapping[str, Any], t: QualityThresholds) -> bool:
    """Q8: a W3C freeze in the interval (Δ``freezeCount`` > 0 or Δ``totalFreezesDuration`` > 0);
    without freeze stats, ``0 < frames_per_second < lag_fps``."""
    freezes, duration = _n(row, "_freeze_count"), _n(row, "_freezes_duration_s")
    if freezes is not None or duration is not None:
        return (freezes or 0) > 0 or (duration or 0) > 0
    fps = _n(row, "frames_per_second")
    return fps is not None and 0 < fps < t.lag_fps


def _quality_limitation(rows: Sequence[Mapping[str, Any]]) -> dict[str, float]:
    """Q8, time-weighted from Δ W3C ``qualityLimitationDurations``: limited = (bandwidth + cpu +
    other)/all, bandwidth/all, cpu/all (rtcstats-features ``bandwidthQualityLimitationPercentage``).
    Without durations: the fraction of rows whose ``quality_limitation_reason`` is not ``none`` /
    is ``bandwidth`` / is ``cpu``."""
    totals = dict.fromkeys(("bandwidth", "cpu", "none", "other"), 0.0)
    for row in rows:
        durations = row.get("quality_limitation_durations")
        if isinstance(durations, Mapping):
            for state in totals:
                value = _n(durations, state)
                if value is not None and value > 0:
                    totals[state] += value
    whole = sum(totals.values())
    if whole > 0:
        return {
            "quality_limitation_fraction": _r4(
                (totals["bandwidth"] + totals["cpu"] + totals["other"]) / whole
            ),
            "bandwidth_quality_limitation_fraction": _r4(totals["bandwidth"] / whole),
            "cpu_quality_limitation_fraction": _r4(totals["cpu"] / whole),
        }
    reasons = [row.get("quality_limitation_reason") for row in rows]
    limited = [r in ("bandwidth", "cpu", "other") for r in reasons]
    return {
        "quality_limitation_fraction": _fraction(limited, len(rows)),
        "bandwidth_quality_limitation_fraction": _fraction(
            [r == "bandwidth" for r in reasons], len(rows)
        ),
        "cpu_quality_limitation_fraction": _fraction([r == "cpu" for r in reasons], len(rows)),
    }


def _high_negative_feedback(rows: Sequence[Mapping[str, Any]], t: QualityThresholds) -> float:
    """Q8: fraction of rows with (Δpli_count + Δfir_count)/interval ≥ high_negative_feedback_per_s;
    rows without a known interval do not count as high."""
    flags = []
    for row, interval in zip(rows, _intervals(rows), strict=True):
        requests = max(0.0, _n(row, "pli_count") or 0.0) + max(0.0, _n(row, "fir_count") or 0.0)
        flags.append(interval is not None and requests / interval >= t.high_negative_feedback_per_s)
    return _fraction(flags, len(rows))


def _loss_measured(row: Mapping[str, Any], producer: bool) -> bool:
    flag = row.get("_loss_measured")
    if flag is not None:
        return flag is True
    if producer:
        return (_n(row, "packets_sent") or 0) > 0 and (_n(row, "rtt") or 0) > 0
    lost = _n(row, "packets_lost")
    return lost is not None and max(0.0, lost) + max(0.0, _n(row, "packets_received") or 0) > 0


def _rtt_measured(row: Mapping[str, Any]) -> bool:
    flag = row.get("_rtt_measured")
    return flag is True if flag is not None else _rtt_ms(row) > 0


def _jbd_measured(row: Mapping[str, Any]) -> bool:
    count = _n(row, "jitter_buffer_emitted_count")
    return _n(row, "jitter_buffer_delay") is not None and count is not None and count > 0


def _with_measured(values: Sequence[float]) -> dict[str, Any] | None:
    dist = _dist(values)
    if dist is None:
        return None
    return {**dist, "measured_rows": len(values), "measured_avg": dist["avg"]}


def _values(rows: Sequence[Mapping[str, Any]], key: str) -> list[float]:
    return [v for v in (_n(r, key) for r in rows) if v is not None]


def _put(block: dict[str, Any], key: str, value: Any) -> None:
    if value is not None:
        block[key] = value


def cumulative(
    kind: str,
    rows: Sequence[Mapping[str, Any]],
    thresholds: QualityThresholds = QualityThresholds(),  # noqa: B008 - frozen, immutable
) -> dict[str, Any]:
    """The ``{kind}_cumulative`` block (docs/decisions.md#peer-report) of a kind's sample rows.

    kind: one of ``KINDS`` (anything else gives ``{}``). rows: the kind's rows (mappings with the
    peer-report row keys, optionally ``_`` internals; ``SampleRow`` objects are accepted too; anything
    else is ignored). No rows gives ``{}`` (Q9).

    - ``quality_mos``: Dist of ``mos_quality`` (linear-interpolation percentiles, Q6);
    - ``packet_loss``: LossDist of the row loss % (Q5, Q7);
    - producers ``rtt``: LatencyDist of rtt ms (absent = 0, counted, as the reference report does);
    - consumers ``jitter_buffer_delay``: LatencyDist of Δjbd/Δemitted ms (uncomputable = 0);
    - video: ``frame_per_second`` and ``frame_width`` Dists over the rows that have the field,
      ``key_frames_{encoded,decoded}_fraction``, ``issues`` (Q8), and producers
      ``high_negative_feedback_fraction`` (Q8).
    A Dist with no values is omitted. Fractions are of all rows of the kind.
    """
    if kind not in KINDS:
        return {}
    if not isinstance(thresholds, QualityThresholds):
        thresholds = QualityThresholds()
    if not isinstance(rows, Sequence) or isinstance(rows, str | bytes):
        return {}
    rows = [r.values if isinstance(r, SampleRow) else r for r in rows]
    rows = [r for r in rows if isinstance(r, Mapping)]
    if not rows:
        return {}
    producer = kind.endswith("_producer")
    video = "video" in kind
    screenshare = kind.startswith("screenshare_")
    block: dict[str, Any] = {}
    _put(block, "quality_mos", _with_measured(_values(rows, "mos_quality")))
    # Q11: a block only when some row measured it; measured_rows / measured_avg beside.
    loss = [_loss_pct(r, producer) for r in rows]
    measured_loss = [v for v, r in zip(loss, rows, strict=True) if _loss_measured(r, producer)]
    if measured_loss:
        block["packet_loss"] = {
            **_loss_dist(loss),
            "measured_rows": len(measured_loss),
            "measured_avg": _r4(sum(measured_loss) / len(measured_loss)),
        }
    if producer:
        latency = [_rtt_ms(r) for r in rows]
        measured = [v for v, r in zip(latency, rows, strict=True) if _rtt_measured(r)]
    else:
        latency = [_jbd_ms(r) for r in rows]
        measured = [v for v, r in zip(latency, rows, strict=True) if _jbd_measured(r)]
    if measured:
        block["rtt" if producer else "jitter_buffer_delay"] = {
            **_latency_dist(latency),
            "measured_rows": len(measured),
            "measured_avg": _r4(sum(measured) / len(measured)),
        }
    if not video:
        return block
    # Q12: the frame blocks take active rows only (a packet in the interval; width > 0).
    packets = "packets_sent" if producer else "packets_received"
    active = [r for r in rows if _n(r, packets) != 0]
    _put(block, "frame_per_second", _with_measured(_values(active, "frames_per_second")))
    widths = [w for w in _values(active, "frame_width") if w > 0]
    _put(block, "frame_width", _with_measured(widths))
    total = len(rows)
    poor = _fraction([_poor_resolution(r, screenshare, thresholds) for r in rows], total)
    if producer:
        block["key_frames_encoded_fraction"] = _frames_fraction(
            rows, "key_frames_encoded", "frames_encoded"
        )
        block["high_negative_feedback_fraction"] = _high_negative_feedback(rows, thresholds)
        block["issues"] = {
            **_quality_limitation(rows),
            "no_video_fraction": _fraction([_no_video_producer(r) for r in rows], total),
            "poor_resolution_fraction": poor,
        }
    else:
        block["key_frames_decoded_fraction"] = _frames_fraction(
            rows, "key_frames_decoded", "frames_decoded"
        )
        block["issues"] = {
            "lag_fraction": _fraction([_lag(r, thresholds) for r in rows], total),
            "no_video_fraction": _fraction([_no_video_consumer(r) for r in rows], total),
            "poor_resolution_fraction": poor,
        }
    return block
