"""Running state of one kind's ``{kind}_cumulative`` block, maintained as sample rows arrive.

``KindAccumulator`` holds, per kind, everything the cumulative block needs (quality-metrics.md §4,
"Cumulative blocks are maintained as samples arrive"): the row count, exact histograms
(value → count) of the percentile fields, exact sums of the averaged values, and counts of the rows
past each threshold. ``aggregate.cumulative`` is this accumulator fed with all rows, so the math
lives here only.

Exactness: a sum is kept as a Python ``int`` in units of 2**-1074 (the smallest float step), so it
is the exact real sum of the row values whatever order they are added or merged in; a mean is that
sum correctly rounded to a float (``math.fsum`` of the values), divided by the row count, then
rounded to 4 dp. Percentiles are read from the histograms, so they are those of the sorted
list of row values. The one order-dependent rule is inherited from the public-row fallback of
``_intervals`` (a row without ``_interval_s`` takes the time since the previous row of its ssrc in
arrival order); ``merge`` treats ``self`` as the earlier rows and ``other`` as the later ones.

Pure and stdlib-only. Nothing here raises on garbage rows or states.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Callable, Mapping
from datetime import datetime
from itertools import accumulate
from typing import Any

from .types import KINDS, QualityThresholds, SampleRow, num

__all__ = ["KindAccumulator"]

LOSS_THRESHOLDS_PCT = (50, 25, 10, 5)
LATENCY_THRESHOLDS_MS = (500, 250, 100)
QL_STATES = ("bandwidth", "cpu", "none", "other")
STATE_VERSION = 2  # 2: Q11 measured counts ("lm", "tm"); 1 is still read (``_load``)

_MAX_ABS = 1e15  # larger magnitudes are garbage; the bound keeps every sum finite
_UNIT_BITS = 1074  # a sum is an int count of 2**-1074, the smallest float step
_LIMITED = ("bandwidth", "cpu", "other")  # quality_limitation_reason values that limit
_SSRC_TYPES = (int, str)


# -- exact arithmetic ---------------------------------------------------------------------------


def _exact(value: float) -> int:
    """``value`` (a finite float) as an exact integer count of 2**-1074."""
    numerator, denominator = value.as_integer_ratio()  # denominator is a power of two
    return numerator << (_UNIT_BITS + 1 - denominator.bit_length())


def _exact_positive(value: Any) -> int:
    """``_exact(_number(value))`` when that is > 0, else 0 (the hot path's sum terms)."""
    kind = type(value)
    if kind is float:
        if 0 < value < _MAX_ABS:
            numerator, denominator = value.as_integer_ratio()
            return numerator << (_UNIT_BITS + 1 - denominator.bit_length())  # type: ignore[no-any-return]
        return 0
    if kind is int:  # exact as a float below 1e15 < 2**53
        return value << _UNIT_BITS if 0 < value < _MAX_ABS else 0
    number = _number(value)
    return _exact(number) if number is not None and number > 0 else 0


def _ratio(numerator: int, denominator: int) -> float:
    """``numerator / denominator`` correctly rounded (CPython's int true division)."""
    return numerator / denominator


def _mean(total: int, count: int) -> float:
    """``round(fsum / count, 4)``: the exact sum ``total`` (units) correctly rounded, over count."""
    return _r4(_ratio(total, 1 << _UNIT_BITS) / count)


def _to_floats(total: int) -> list[float]:
    """An exact sum as a non-overlapping list of floats whose exact sum is ``total`` (units)."""
    out: list[float] = []
    while total:
        head = total / (1 << _UNIT_BITS)
        out.append(head)
        total -= _exact(head)
    return out


def _from_floats(value: Any, rows: int, per_row: float) -> int | None:
    """Inverse of ``_to_floats``: ``None`` unless a list of finite floats whose exact sum is
    between 0 and ``rows``·``per_row`` (the most ``rows`` rows can add)."""
    if not isinstance(value, list):
        return None
    total = 0
    for term in value:
        if type(term) is not float or not math.isfinite(term):
            return None
        total += _exact(term)
    return total if 0 <= total <= rows * _exact(per_row) else None


def _interpolate(at: Callable[[int], float], count: int, p: float) -> float:
    """The ``p``-th percentile (0..100) of ``count`` sorted values, ``at(i)`` being the i-th:
    linear interpolation between closest ranks (Q6), numpy's default ``method="linear"``."""
    pos = (count - 1) * p / 100
    lo = math.floor(pos)
    hi = min(lo + 1, count - 1)
    low = at(lo)
    return low + (at(hi) - low) * (pos - lo)


def _r4(value: float) -> float:
    return round(value, 4)


def _hist_dist(hist: Mapping[float, int]) -> dict[str, float] | None:
    """``Dist = {avg, p50, p75, p90}`` (docs/decisions.md#peer-report) of a histogram; ``None``
    when empty."""
    if not hist:
        return None
    values = sorted(hist)
    counts = [hist[v] for v in values]
    ends = list(accumulate(counts))  # ends[j]: rank one past the last copy of values[j]
    count = ends[-1]
    exact = sum(_exact(v) * c for v, c in zip(values, counts, strict=True))

    def at(rank: int) -> float:
        return values[bisect_right(ends, rank)]

    return {
        "avg": _mean(exact, count),
        "p50": _r4(_interpolate(at, count, 50)),
        "p75": _r4(_interpolate(at, count, 75)),
        "p90": _r4(_interpolate(at, count, 90)),
    }


# -- row values (the per-row definitions of quality-metrics.md §4) ---------------------------------


def _number(value: Any) -> float | None:
    """``value`` as a float, or ``None`` when not a finite real number (bools excluded) or
    |x| ≥ 1e15 (larger magnitudes are garbage; the bound keeps every sum finite)."""
    kind = type(value)
    if kind is float:  # fast paths; NaN fails both comparisons
        return value if -_MAX_ABS < value < _MAX_ABS else None
    if kind is int:
        return float(value) if -_MAX_ABS < value < _MAX_ABS else None
    if value is None:  # an absent member, the next most common value
        return None
    number = num(value)  # int and float subclasses
    return float(number) if number is not None and abs(number) < _MAX_ABS else None


def _n(row: Mapping[str, Any], key: str) -> float | None:
    """A row member as ``_number`` does."""
    return _number(row.get(key))


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
    (W3C inbound-rtp jitterBufferDelay / jitterBufferEmittedCount); 0 when not computable,
    including a result of 1e15 ms or more (only garbage counters give one)."""
    return _jbd_ms_of(_n(row, "jitter_buffer_delay"), _n(row, "jitter_buffer_emitted_count"))


def _jbd_ms_of(delay: float | None, count: float | None) -> float:
    """``_jbd_ms`` of the row's ``_n`` of jitter_buffer_delay and jitter_buffer_emitted_count."""
    if delay is None or not count or count < 0 or delay < 0:
        return 0.0
    value = delay / count * 1000
    return value if value < _MAX_ABS else 0.0


def _loss_measured(row: Mapping[str, Any], producer: bool) -> bool:
    """Q11: the row measured its loss. ``_loss_measured`` when the row has it; else (a public
    row) a producer row with packets sent and an RTT (the remote-inbound-rtp report that carries
    both), a consumer row with ``packets_lost`` and at least one packet expected."""
    flag = row.get("_loss_measured")
    if flag is not None:
        return flag is True
    if producer:
        return (_n(row, "packets_sent") or 0) > 0 and (_n(row, "rtt") or 0) > 0
    lost = _n(row, "packets_lost")
    return lost is not None and max(0.0, lost) + max(0.0, _n(row, "packets_received") or 0) > 0


def _jbd_measured(row: Mapping[str, Any]) -> bool:
    """Q11: both jitter-buffer counters present with Δjitter_buffer_emitted_count > 0."""
    count = _n(row, "jitter_buffer_emitted_count")
    return _n(row, "jitter_buffer_delay") is not None and count is not None and count > 0


def _measured(dist: dict[str, float], hist: Mapping[float, int]) -> dict[str, Any]:
    """Q11 extension fields of a histogram block: every row in it measured the value."""
    rows = sum(hist.values())
    return {**dist, "measured_rows": rows, "measured_avg": dist["avg"]}


def _iso_ms(value: Any) -> float | None:
    """Epoch ms of an ISO-8601 timestamp with a UTC offset; ``None`` otherwise."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None:
        return None
    return moment.timestamp() * 1000


def _requests(row: Mapping[str, Any]) -> float:
    """Δpli_count + Δfir_count (W3C outbound-rtp ``pliCount``/``firCount``), negatives as 0."""
    total = 0.0
    for key in ("pli_count", "fir_count"):
        value = row.get(key)
        if value:  # 0 and None, the usual values, add nothing
            number = _number(value)
            if number is not None and number > 0:
                total += number
    return total


def _lag(row: Mapping[str, Any], t: QualityThresholds, fps: float | None) -> bool:
    """Q8: a W3C freeze in the interval (Δ``freezeCount`` > 0 or Δ``totalFreezesDuration`` > 0);
    without freeze stats, ``0 < frames_per_second < lag_fps``."""
    freezes, duration = _n(row, "_freeze_count"), _n(row, "_freezes_duration_s")
    if freezes is not None or duration is not None:
        return (freezes or 0) > 0 or (duration or 0) > 0
    return fps is not None and 0 < fps < t.lag_fps


# -- state (de)serialization ---------------------------------------------------------------------


def _hist_state(hist: Mapping[float, int]) -> list[float | int]:
    flat: list[float | int] = []
    for value in sorted(hist):
        flat += (value, hist[value])
    return flat


def _count(value: Any, limit: int) -> int | None:
    return value if type(value) is int and 0 <= value <= limit else None


def _hist_from(value: Any, limit: int) -> dict[float, int] | None:
    if not isinstance(value, list) or len(value) % 2:
        return None
    hist: dict[float, int] = {}
    for key, count in zip(value[::2], value[1::2], strict=True):
        if type(key) is not float or not -_MAX_ABS < key < _MAX_ABS:
            return None
        if type(count) is not int or count <= 0:
            return None
        key += 0.0
        hist[key] = hist.get(key, 0) + count
    return hist if sum(hist.values()) <= limit else None


def _counts_from(value: Any, size: int, limit: int) -> list[int] | None:
    if not isinstance(value, list) or len(value) != size:
        return None
    counts = [_count(v, limit) for v in value]
    return None if None in counts else counts  # type: ignore[return-value]


def _sums_from(value: Any, size: int, rows: int, per_row: float) -> list[int] | None:
    if not isinstance(value, list) or len(value) != size:
        return None
    sums = [_from_floats(v, rows, per_row) for v in value]
    return None if None in sums else sums  # type: ignore[return-value]


def _ssrc_state(ssrc: Any) -> Any:
    """A ssrc key (int | str | None, bool being an int) in JSON: ints beyond 64 bits as
    ``[decimal string]`` (orjson writes no bigger int), everything else as is."""
    if isinstance(ssrc, int) and not isinstance(ssrc, bool) and not -(2**63) <= ssrc < 2**64:
        return [str(ssrc)]
    return ssrc


def _ssrc_from(value: Any) -> tuple[bool, Any]:
    if value is None or isinstance(value, int | str):
        return True, value
    if isinstance(value, list) and len(value) == 1 and isinstance(value[0], str):
        try:
            return True, int(value[0])
        except ValueError:
            return False, None
    return False, None


def _finite(value: Any) -> bool:
    return type(value) is float and math.isfinite(value)


def _track_from(value: Any) -> dict[Any, list[Any]] | None:
    if not isinstance(value, list):
        return None
    track: dict[Any, list[Any]] = {}
    for entry in value:
        if not isinstance(entry, list) or len(entry) not in (2, 5):
            return None
        ok, ssrc = _ssrc_from(entry[0])
        if not ok or ssrc in track or not all(_finite(x) for x in entry[1:]):
            return None
        pending = tuple(entry[2:]) if len(entry) == 5 else None
        track[ssrc] = [entry[1], pending]
    return track


class KindAccumulator:
    """Running state of one kind's ``{kind}_cumulative`` block.

    ``add`` one sample row at a time (mappings with the row keys of docs/decisions.md#peer-report
    and optionally the ``_`` internals of ``rtk_sessions.stats.rows``), ``merge`` the accumulator
    of a disjoint set of rows of the same kind, and read ``block()``: exactly
    ``cumulative(kind, rows)`` of all rows added.
    ``to_state``/``from_state`` persist it as a compact JSON object (quality-metrics.md §4).

    Thresholds (``QualityThresholds``) are applied when a row is added: the state keeps counts of
    the rows past each threshold, not the rows. The public attributes (``rows``: rows added;
    ``mos``/``fps``/``width``: value → count; exact sums in 2**-1074 units; counts) are the state:
    read them, change them only through these methods. Not thread-safe.
    """

    __slots__ = (
        "_producer",
        "_screenshare",
        "_video",
        "fps",
        "frames",
        "high_feedback",
        "key_frames",
        "kind",
        "lag",
        "latency",
        "latency_ge",
        "latency_measured",
        "loss",
        "loss_ge",
        "loss_measured",
        "loss_measured_sum",
        "mos",
        "no_video",
        "poor",
        "ql",
        "ql_reasons",
        "rows",
        "track",
        "width",
    )

    def __init__(self, kind: str) -> None:
        """An empty accumulator of ``kind`` (one of ``KINDS``; anything else: ``ValueError``)."""
        if not isinstance(kind, str) or kind not in KINDS:
            raise ValueError(f"not a stream kind: {kind!r}")
        self.kind = kind
        self._producer = kind.endswith("_producer")
        self._video = "video" in kind
        self._screenshare = kind.startswith("screenshare_")
        self.rows = 0
        self.mos: dict[float, int] = {}
        self.loss = 0  # exact Σ loss %, in 2**-1074 units
        self.loss_ge = [0, 0, 0, 0]  # rows with loss ≥ 50, 25, 10, 5 %
        self.latency = 0  # exact Σ rtt ms (producers) / jitter-buffer delay ms (consumers)
        self.latency_ge = [0, 0, 0]  # rows ≥ 500, 250, 100 ms
        # Q11: rows that measured the loss / the latency, and the exact Σ loss % of those rows
        # (an unmeasured latency adds 0 to ``latency``, so its measured Σ is ``latency`` itself).
        self.loss_measured = 0
        self.loss_measured_sum = 0
        self.latency_measured = 0
        self.fps: dict[float, int] = {}
        self.width: dict[float, int] = {}
        self.key_frames = 0  # exact Σ max(0, Δkey frames)
        self.frames = 0  # exact Σ max(0, Δframes)
        self.poor = 0
        self.no_video = 0
        self.lag = 0
        self.ql = [0, 0, 0, 0]  # exact Σ positive Δ qualityLimitationDurations, QL_STATES order
        self.ql_reasons = [0, 0, 0]  # rows whose reason is bandwidth|cpu|other, bandwidth, cpu
        self.high_feedback = 0
        # ssrc -> [last timestamp ms, pending first row (timestamp ms, requests, threshold) | None]
        self.track: dict[Any, list[Any]] = {}

    # -- ingest -------------------------------------------------------------------------------

    def add(self, row: Mapping[str, Any], thresholds: QualityThresholds) -> None:
        """Account one sample row of this kind.

        row: a mapping (a ``SampleRow`` is accepted for its ``values``; anything else is ignored).
        thresholds: the ``QualityThresholds`` in force (anything else: the defaults).
        Cost: about 1 µs (audio) to 5 µs (video producer) per row (bench/accumulate.py).
        """
        if type(row) is not dict:
            if isinstance(row, SampleRow):
                row = row.values
            if not isinstance(row, Mapping):
                return
        if type(thresholds) is not QualityThresholds and not isinstance(
            thresholds, QualityThresholds
        ):
            thresholds = QualityThresholds()
        get = row.get
        self.rows += 1
        producer = self._producer
        # Fast paths below inline ``_number`` for plain floats (NaN fails the range test).
        value = get("mos_quality")
        if type(value) is not float or not -_MAX_ABS < value < _MAX_ABS:
            value = _number(value)
        if value is not None:
            value += 0.0  # -0.0 -> 0.0: one histogram key whatever order zeros arrive in
            mos = self.mos
            mos[value] = mos.get(value, 0) + 1
        loss = get("_loss_pct")
        if type(loss) is float and -_MAX_ABS < loss < _MAX_ABS:
            loss = 0.0 if loss <= 0 else (100.0 if loss >= 100 else loss)
        else:
            loss = _loss_pct(row, producer)
        flag = get("_loss_measured")  # rows from rtk_sessions.stats.rows carry it
        if flag is True if flag is not None else _loss_measured(row, producer):
            self.loss_measured += 1
            if loss > 0:
                self.loss_measured_sum += _exact(loss)
        if loss > 0:
            self.loss += _exact(loss)
            if loss >= 5:
                ge = self.loss_ge
                ge[3] += 1
                if loss >= 10:
                    ge[2] += 1
                    if loss >= 25:
                        ge[1] += 1
                        if loss >= 50:
                            ge[0] += 1
        if producer:
            rtt = get("rtt")
            latency = rtt * 1000 if type(rtt) is float and 0 < rtt < _MAX_ABS else _rtt_ms(row)
            measured = get("_rtt_measured")
            if measured is True or (measured is None and latency > 0):
                self.latency_measured += 1
        else:
            # _jbd_ms and _jbd_measured, each counter read once
            delay = _n(row, "jitter_buffer_delay")
            count = _n(row, "jitter_buffer_emitted_count")
            latency = _jbd_ms_of(delay, count)
            if delay is not None and count is not None and count > 0:
                self.latency_measured += 1
        if latency > 0:
            self.latency += _exact(latency)
            if latency >= 100:
                ge = self.latency_ge
                ge[2] += 1
                if latency >= 250:
                    ge[1] += 1
                    if latency >= 500:
                        ge[0] += 1
        if self._video:
            self._add_video(row, thresholds)

    def _add_video(self, row: Mapping[str, Any], t: QualityThresholds) -> None:
        get = row.get
        fps = _number(get("frames_per_second"))
        width = _number(get("frame_width"))
        # Q12: the frame blocks take the rows of active streams only (a packet in the interval).
        active = _number(get("packets_sent" if self._producer else "packets_received")) != 0
        if fps is not None and active:
            fps += 0.0
            hist = self.fps
            hist[fps] = hist.get(fps, 0) + 1
        if width is not None and width > 0 and active:
            width += 0.0
            hist = self.width
            hist[width] = hist.get(width, 0) + 1
        # Q8 poor resolution: camera frame_height < poor_resolution_height, screenshare
        # frame_width < poor_resolution_screenshare_width; rows without a frame size don't count.
        if self._screenshare:
            if width is not None and width < t.poor_resolution_screenshare_width:
                self.poor += 1
        else:
            height = _number(get("frame_height"))
            if height is not None and height < t.poor_resolution_height:
                self.poor += 1
        if self._producer:
            frames = get("frames_encoded")
            keys = get("key_frames_encoded")
            # Q8: Δframes_encoded == 0 or Δbytes_sent == 0 unless the encoding is paused.
            if get("_active") is not False and (
                _number(frames) == 0 or _number(get("bytes_sent")) == 0
            ):
                self.no_video += 1
            durations = get("quality_limitation_durations")
            if durations is not None:
                self._add_durations(durations)
            reason = get("quality_limitation_reason")
            if reason in _LIMITED:
                reasons = self.ql_reasons
                reasons[0] += 1
                if reason == "bandwidth":
                    reasons[1] += 1
                elif reason == "cpu":
                    reasons[2] += 1
            self._add_feedback(row, t)
        else:
            frames = get("frames_decoded")
            keys = get("key_frames_decoded")
            decoded = _number(frames)
            # Q8: no frame decoded; without frames_decoded, no packet received.
            if decoded == 0 if decoded is not None else _number(get("packets_received")) == 0:
                self.no_video += 1
            if _lag(row, t, fps):
                self.lag += 1
        self.key_frames += _exact_positive(keys)
        self.frames += _exact_positive(frames)

    def _add_durations(self, durations: Any) -> None:
        """Q8: the positive Δ W3C ``qualityLimitationDurations`` (s) per state."""
        if not isinstance(durations, Mapping):
            return
        ql = self.ql
        get = durations.get
        ql[0] += _exact_positive(get("bandwidth"))
        ql[1] += _exact_positive(get("cpu"))
        ql[2] += _exact_positive(get("none"))
        ql[3] += _exact_positive(get("other"))

    def _add_feedback(self, row: Mapping[str, Any], t: QualityThresholds) -> None:
        """Q8 high negative feedback: (Δpli + Δfir)/interval ≥ high_negative_feedback_per_s. The
        interval is ``_interval_s``, else the time since the previous row of the same ``ssrc``
        (public ``timestamp``); rows without one do not count as high."""
        get = row.get
        interval = _number(get("_interval_s"))
        moment = _iso_ms(get("timestamp"))
        ssrc = get("ssrc")
        if not isinstance(ssrc, _SSRC_TYPES):
            ssrc = None
        seen = self.track.get(ssrc) if moment is not None else None
        if interval is None or interval <= 0:
            if moment is None:
                return
            if seen is None:  # an earlier accumulator merged before this one may resolve it
                threshold = float(t.high_negative_feedback_per_s)
                self.track[ssrc] = [moment, (moment, _requests(row), threshold)]
                return
            interval = (moment - seen[0]) / 1000 if moment > seen[0] else None
        if moment is not None:
            if seen is None:
                self.track[ssrc] = [moment, None]
            else:
                seen[0] = moment
        if interval is not None and _requests(row) / interval >= t.high_negative_feedback_per_s:
            self.high_feedback += 1

    # -- combine --------------------------------------------------------------------------------

    def merge(self, other: KindAccumulator) -> None:
        """Add the rows accounted in ``other`` (a disjoint set of rows of the same kind).

        Every field is a sum, so the result does not depend on how rows were split or in which
        order accumulators are merged, with one exception inherited from the public-row fallback:
        a row without ``_interval_s`` whose ssrc first appears in ``other`` takes its interval
        from the last row of that ssrc in ``self`` (``self``'s rows are taken as the earlier ones).
        ``TypeError`` if ``other`` is not a ``KindAccumulator``; ``ValueError`` for another kind.
        """
        if not isinstance(other, KindAccumulator):
            raise TypeError("merge() needs a KindAccumulator")
        if other.kind != self.kind:
            raise ValueError(f"cannot merge {other.kind} into {self.kind}")
        if other is self:
            other = KindAccumulator.from_state(self.kind, self.to_state())
        self.rows += other.rows
        for mine, theirs in zip(self._hists(), other._hists(), strict=True):
            for value, count in theirs.items():
                mine[value] = mine.get(value, 0) + count
        for mine_counts, their_counts in zip(self._lists(), other._lists(), strict=True):
            for i, value in enumerate(their_counts):
                mine_counts[i] += value
        self.loss += other.loss
        self.latency += other.latency
        self.loss_measured += other.loss_measured
        self.loss_measured_sum += other.loss_measured_sum
        self.latency_measured += other.latency_measured
        self.key_frames += other.key_frames
        self.frames += other.frames
        self.poor += other.poor
        self.no_video += other.no_video
        self.lag += other.lag
        self.high_feedback += other.high_feedback
        for ssrc, (last, pending) in other.track.items():
            seen = self.track.get(ssrc)
            if seen is None:
                self.track[ssrc] = [last, pending]
                continue
            if pending is not None:
                moment, requests, threshold = pending
                if moment > seen[0] and requests / ((moment - seen[0]) / 1000) >= threshold:
                    self.high_feedback += 1
            seen[0] = last

    def _hists(self) -> tuple[dict[float, int], ...]:
        return self.mos, self.fps, self.width

    def _lists(self) -> tuple[list[int], ...]:
        return self.loss_ge, self.latency_ge, self.ql, self.ql_reasons

    # -- output ---------------------------------------------------------------------------------

    def block(self) -> dict[str, Any]:
        """The ``{kind}_cumulative`` block (docs/decisions.md#peer-report) of the rows added.

        Identical to ``cumulative(kind, rows)`` of those rows; ``{}`` without rows (Q9). Every
        number is rounded to 4 dp; a Dist without values is omitted; fractions are of all rows.
        """
        total = self.rows
        if not total:
            return {}

        def fraction(count: int) -> float:
            return _r4(count / total)

        block: dict[str, Any] = {}
        mos = _hist_dist(self.mos)
        if mos is not None:
            block["quality_mos"] = _measured(mos, self.mos)
        # Q11: a metric no row measured has no block; a block carries measured_rows/measured_avg.
        if self.loss_measured:
            loss: dict[str, Any] = {"avg": _mean(self.loss, total)}
            for threshold, count in zip(LOSS_THRESHOLDS_PCT, self.loss_ge, strict=True):
                loss[f"{threshold}_or_greater_event_fraction"] = fraction(count)
            loss["measured_rows"] = self.loss_measured
            loss["measured_avg"] = _mean(self.loss_measured_sum, self.loss_measured)
            block["packet_loss"] = loss
        if self.latency_measured:
            latency: dict[str, Any] = {"avg": _mean(self.latency, total)}
            for threshold, count in zip(LATENCY_THRESHOLDS_MS, self.latency_ge, strict=True):
                latency[f"{threshold}ms_or_greater_event_fraction"] = fraction(count)
            latency["measured_rows"] = self.latency_measured
            latency["measured_avg"] = _mean(self.latency, self.latency_measured)
            block["rtt" if self._producer else "jitter_buffer_delay"] = latency
        if not self._video:
            return block
        for key, hist in (("frame_per_second", self.fps), ("frame_width", self.width)):
            dist = _hist_dist(hist)
            if dist is not None:
                block[key] = _measured(dist, hist)
        if self.frames <= 0:
            key_fraction = 0.0
        elif self.key_frames >= self.frames:  # min(1, keys/frames); the ratio may overflow
            key_fraction = 1.0
        else:
            key_fraction = _r4(_ratio(self.key_frames, self.frames))
        poor = fraction(self.poor)
        if self._producer:
            block["key_frames_encoded_fraction"] = key_fraction
            block["high_negative_feedback_fraction"] = fraction(self.high_feedback)
            block["issues"] = {
                **self._quality_limitation(fraction),
                "no_video_fraction": fraction(self.no_video),
                "poor_resolution_fraction": poor,
            }
        else:
            block["key_frames_decoded_fraction"] = key_fraction
            block["issues"] = {
                "lag_fraction": fraction(self.lag),
                "no_video_fraction": fraction(self.no_video),
                "poor_resolution_fraction": poor,
            }
        return block

    def _quality_limitation(self, fraction: Callable[[int], float]) -> dict[str, float]:
        """Q8, time-weighted from Δ ``qualityLimitationDurations`` (limited = bandwidth + cpu +
        other over all); without durations, the share of rows by ``quality_limitation_reason``."""
        bandwidth, cpu, none, other = self.ql
        whole = bandwidth + cpu + none + other
        if whole > 0:
            return {
                "quality_limitation_fraction": _r4(_ratio(bandwidth + cpu + other, whole)),
                "bandwidth_quality_limitation_fraction": _r4(_ratio(bandwidth, whole)),
                "cpu_quality_limitation_fraction": _r4(_ratio(cpu, whole)),
            }
        limited, by_bandwidth, by_cpu = self.ql_reasons
        return {
            "quality_limitation_fraction": fraction(limited),
            "bandwidth_quality_limitation_fraction": fraction(by_bandwidth),
            "cpu_quality_limitation_fraction": fraction(by_cpu),
        }

    # -- persistence ----------------------------------------------------------------------------

    def to_state(self) -> dict[str, Any]:
        """The accumulator as a JSON-able object (orjson or json); ``from_state`` restores it.

        Shape (quality-metrics.md §4): ``{"v": 1, "kind", "n": rows, "mos": hist, "loss": [Σ,
        ≥50, ≥25, ≥10, ≥5], "lat": [Σ, ≥500, ≥250, ≥100]}`` plus for video ``"fps"``, ``"fw"``
        (hists), ``"kf": [Σkey frames, Σframes]``, ``"poor"``, ``"nov"``; video consumers
        ``"lag"``; video producers ``"ql": [Σ per QL_STATES]``, ``"qlr": [limited, bandwidth,
        cpu]``, ``"hnf"`` and ``"ts"`` (per ssrc ``[ssrc, last ms]`` or ``[ssrc, last ms, first
        ms, requests, threshold]``). A hist is a flat ``[value, count, ...]`` list in value order;
        a Σ is a list of floats whose exact sum is the exact sum (usually one or two floats).
        """
        state: dict[str, Any] = {
            "v": STATE_VERSION,
            "kind": self.kind,
            "n": self.rows,
            "mos": _hist_state(self.mos),
            "loss": [_to_floats(self.loss), *self.loss_ge],
            "lat": [_to_floats(self.latency), *self.latency_ge],
            "lm": [self.loss_measured, _to_floats(self.loss_measured_sum)],
            "tm": self.latency_measured,
        }
        if not self._video:
            return state
        state.update(
            fps=_hist_state(self.fps),
            fw=_hist_state(self.width),
            kf=[_to_floats(self.key_frames), _to_floats(self.frames)],
            poor=self.poor,
            nov=self.no_video,
        )
        if not self._producer:
            state["lag"] = self.lag
            return state
        state.update(
            ql=[_to_floats(s) for s in self.ql],
            qlr=list(self.ql_reasons),
            hnf=self.high_feedback,
            ts=[
                [_ssrc_state(ssrc), last, *(pending or ())]
                for ssrc, (last, pending) in self.track.items()
            ],
        )
        return state

    @classmethod
    def from_state(cls, kind: str, state: Mapping[str, Any]) -> KindAccumulator:
        """The accumulator ``to_state`` saved for ``kind``.

        Tolerant: a state that is not exactly such an object (another kind or version, a missing
        or mistyped member, a count above the row count, a non-finite float) gives an empty
        accumulator. ``ValueError`` only for a ``kind`` not in ``KINDS``.
        """
        acc = cls(kind)
        return acc if acc._load(state) else cls(kind)

    def _load(self, state: Any) -> bool:
        if not isinstance(state, Mapping) or state.get("v") not in (1, STATE_VERSION):
            return False
        if state.get("kind") != self.kind:
            return False
        rows = state.get("n")
        if type(rows) is not int or not 0 <= rows < 2**63:
            return False
        mos = _hist_from(state.get("mos"), rows)
        loss, latency = state.get("loss"), state.get("lat")
        if mos is None or not isinstance(loss, list) or not isinstance(latency, list):
            return False
        loss_sum = _from_floats(loss[0], rows, 100.0) if loss else None
        loss_ge = _counts_from(loss[1:], 4, rows)
        latency_sum = _from_floats(latency[0], rows, _MAX_ABS * 1000) if latency else None
        latency_ge = _counts_from(latency[1:], 3, rows)
        if loss_sum is None or loss_ge is None or latency_sum is None or latency_ge is None:
            return False
        if state["v"] == 1:  # stored before Q11: every row counts as measured
            measured = (rows, loss_sum, rows)
        else:
            lm, tm = state.get("lm"), _count(state.get("tm"), rows)
            if not isinstance(lm, list) or len(lm) != 2:
                return False
            lm_rows = _count(lm[0], rows)
            lm_sum = _from_floats(lm[1], lm_rows, 100.0) if lm_rows is not None else None
            if lm_rows is None or lm_sum is None or tm is None:
                return False
            measured = (lm_rows, lm_sum, tm)
        self.rows, self.mos = rows, mos
        self.loss, self.loss_ge, self.latency, self.latency_ge = (
            loss_sum, loss_ge, latency_sum, latency_ge
        )  # fmt: skip
        self.loss_measured, self.loss_measured_sum, self.latency_measured = measured
        if not self._video:
            return True
        fps, width = _hist_from(state.get("fps"), rows), _hist_from(state.get("fw"), rows)
        frames = _sums_from(state.get("kf"), 2, rows, _MAX_ABS)
        poor, no_video = _count(state.get("poor"), rows), _count(state.get("nov"), rows)
        if fps is None or width is None or frames is None or poor is None or no_video is None:
            return False
        self.fps, self.width, (self.key_frames, self.frames) = fps, width, frames
        self.poor, self.no_video = poor, no_video
        if not self._producer:
            lag = _count(state.get("lag"), rows)
            self.lag = lag or 0
            return lag is not None
        ql = _sums_from(state.get("ql"), 4, rows, _MAX_ABS)
        reasons = _counts_from(state.get("qlr"), 3, rows)
        high = _count(state.get("hnf"), rows)
        track = _track_from(state.get("ts"))
        if ql is None or reasons is None or high is None or track is None:
            return False
        self.ql, self.ql_reasons, self.high_feedback, self.track = ql, reasons, high, track
        return True
