"""Detected issues of one participant: what a person debugging a call looks for, with time ranges.

``detect_issues`` turns a peer's public sample rows (the ``quality.<kind>`` arrays of the peer
report), its selected candidate pairs, its client events (``metadata.events``) and its device
updates into the ``peer_report.detected_issues`` list: objects

``{"type", "kind", "start", "end", "severity", "detail", "stream_id"}``

- ``type``: one of ``ISSUE_TYPES``;
- ``kind``: the stream kind (one of ``KINDS``) for stream issues, ``None`` for peer issues;
- ``start`` / ``end``: ISO-8601 ``YYYY-MM-DDTHH:MM:SS.sssZ`` (UTC); ``end`` is ``None`` for a
  state that was still on at the last thing the service heard (an ICE disconnection or a hidden tab
  without a later event), and equals ``start`` for an instant (a device change);
- ``severity``: ``"info"`` | ``"warning"`` | ``"critical"``;
- ``detail``: one human-readable sentence with the worst value and the threshold;
- ``stream_id``: the stream's ``producer_id`` / ``consumer_id`` (else its ssrc as a string),
  ``None`` for peer issues.

Sorted by ``start``, then type. The rules and thresholds (``IssueThresholds``) are this project's,
documented in docs/quality-metrics.md "Detected issues". Pure: no I/O, no clock reads.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, get_args

from .types import KINDS, num

__all__ = ["ISSUE_TYPES", "IssueThresholds", "IssueType", "detect_issues"]

#: Every ``type`` a detected issue can have.
IssueType = Literal[
    "high_rtt",
    "packet_loss",
    "jitter",
    "jitter_buffer_delay",
    "audio_concealment",
    "video_freeze",
    "low_frame_rate",
    "low_resolution",
    "bandwidth_limited",
    "cpu_limited",
    "no_media_received",
    "turn_relay",
    "ice_restart",
    "device_change",
    "tab_hidden",
]
ISSUE_TYPES: tuple[str, ...] = get_args(IssueType)


@dataclass(frozen=True)
class IssueThresholds:
    """The thresholds of the detection rules (settings ``RTK_ISSUE_*``; units in the names).

    - high_rtt_ms: producer rows whose ``rtt`` (remote-inbound-rtp, s) is ≥ this many ms.
    - packet_loss_pct: rows whose interval loss (Q7) is ≥ this percentage.
    - jitter_ms: rows whose ``jitter`` is ≥ this many ms.
    - jitter_buffer_ms: consumer rows whose Δjitter_buffer_delay/Δemitted is ≥ this many ms.
    - concealment_events_per_s: audio consumer rows with ≥ this many concealment events per s.
    - low_frame_rate_fps: active camera video rows with 0 < fps < this.
    - low_resolution_height: camera video consumer rows with 0 < frame_height < this (pixels).
    - limited_share: video producer rows limited (bandwidth or cpu) for ≥ this share of the
      interval (Δ``qualityLimitationDurations``; without them, the current reason).
    - warmup_s: rows in a stream's first ``warmup_s`` seconds are not judged (bandwidth estimation
      and the jitter buffer settle then).
    - min_duration_s: a range shorter than this is dropped (one noisy sample is not an issue).
    - merge_gap_s: flagged rows at most this far apart belong to one range.
    - critical_factor: a range is ``critical`` when its worst value is ≥ factor·threshold (for the
      "low" rules: ≤ threshold/factor), or, for the yes/no rules, when it lasts
      ≥ ``critical_duration_s``; else ``warning``.
    """

    high_rtt_ms: float = 300.0
    packet_loss_pct: float = 2.0
    jitter_ms: float = 30.0
    jitter_buffer_ms: float = 200.0
    concealment_events_per_s: float = 1.0
    low_frame_rate_fps: float = 10.0
    low_resolution_height: int = 240
    limited_share: float = 0.5
    warmup_s: float = 5.0
    min_duration_s: float = 2.0
    merge_gap_s: float = 5.0
    critical_factor: float = 2.0
    critical_duration_s: float = 10.0


def _ms_of(stamp: Any) -> float | None:
    if not isinstance(stamp, str):
        return None
    try:
        moment = datetime.fromisoformat(stamp)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp() * 1000


def _iso(ms: float) -> str:
    moment = datetime.fromtimestamp(ms / 1000, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _n(row: Mapping[str, Any], key: str) -> float | None:
    """A row member as ``num`` gives it (plain ints and finite floats without a call)."""
    value: Any = row.get(key)
    kind = type(value)
    if kind is int:
        return int(value)
    if kind is float:
        return float(value) if value - value == 0 else None
    return None if value is None else num(value)


# A rule judges one row of a stream: ``None`` (not judged: nothing measured), or the row's value
# (flagged when it crosses the threshold). ``interval_s`` is the time since the stream's previous
# row (``None`` for its first row).
_Rule = Callable[[Mapping[str, Any], float | None], float | None]


def _rtt(row: Mapping[str, Any], _: float | None) -> float | None:
    rtt = _n(row, "rtt")
    return rtt * 1000 if rtt else None


def _loss(row: Mapping[str, Any], _: float | None) -> float | None:
    lost = _n(row, "packets_lost") or 0
    sent = _n(row, "packets_sent")
    if sent is not None:
        return min(100.0, 100 * lost / sent) if sent > 0 else None
    expected = lost + (_n(row, "packets_received") or 0)
    return 100 * lost / expected if expected > 0 else None


def _jitter(row: Mapping[str, Any], _: float | None) -> float | None:
    jitter = _n(row, "jitter")
    return jitter * 1000 if jitter else None


def _buffer(row: Mapping[str, Any], _: float | None) -> float | None:
    delay, emitted = _n(row, "jitter_buffer_delay"), _n(row, "jitter_buffer_emitted_count")
    return 1000 * delay / emitted if delay is not None and emitted else None


def _concealment(row: Mapping[str, Any], interval_s: float | None) -> float | None:
    events = _n(row, "concealment_events")
    return events / interval_s if events is not None and interval_s else None


def _active(row: Mapping[str, Any]) -> bool:
    packets = _n(row, "packets_sent")
    if packets is None:
        packets = _n(row, "packets_received")
    return bool(packets)


def _frozen(row: Mapping[str, Any], _: float | None) -> float | None:
    if not _active(row):
        return None
    frames = _n(row, "frames_decoded")
    if frames is None:
        frames = _n(row, "frames_per_second")
    return None if frames is None else float(frames == 0)


def _fps(row: Mapping[str, Any], _: float | None) -> float | None:
    fps = _n(row, "frames_per_second")
    return fps if fps and _active(row) else None


def _height(row: Mapping[str, Any], _: float | None) -> float | None:
    height = _n(row, "frame_height")
    return height if height and _active(row) else None


def _limited(reason: str) -> _Rule:
    def share(row: Mapping[str, Any], _: float | None) -> float | None:
        durations = row.get("quality_limitation_durations")
        if isinstance(durations, Mapping):
            parts = [num(v) or 0 for v in durations.values()]
            total = sum(parts)
            if total > 0:
                return (num(durations.get(reason)) or 0) / total
        current = row.get("quality_limitation_reason")
        return None if current is None else float(current == reason)

    return share


def _silent(row: Mapping[str, Any], _: float | None) -> float | None:
    packets = _n(row, "packets_received")
    return None if packets is None else float(packets == 0)


@dataclass(frozen=True)
class _Spec:
    type: str
    rule: _Rule
    threshold: Callable[[IssueThresholds], float]
    low: bool  # flagged when the value is below the threshold (else at or above it)
    boolean: bool  # a yes/no rule: severity from the range's duration
    unit: str
    what: str


_HIGH, _LOW = False, True
_SPECS: dict[str, _Spec] = {
    s.type: s
    for s in (
        _Spec("high_rtt", _rtt, lambda t: t.high_rtt_ms, _HIGH, False, "ms", "round-trip time"),
        _Spec("packet_loss", _loss, lambda t: t.packet_loss_pct, _HIGH, False, "%", "packet loss"),
        _Spec("jitter", _jitter, lambda t: t.jitter_ms, _HIGH, False, "ms", "jitter"),
        _Spec(
            "jitter_buffer_delay",
            _buffer,
            lambda t: t.jitter_buffer_ms,
            _HIGH,
            False,
            "ms",
            "jitter-buffer delay",
        ),
        _Spec(
            "audio_concealment",
            _concealment,
            lambda t: t.concealment_events_per_s,
            _HIGH,
            False,
            "/s",
            "concealment events",
        ),
        _Spec("video_freeze", _frozen, lambda t: 1.0, _HIGH, True, "", "no frame decoded"),
        _Spec(
            "low_frame_rate",
            _fps,
            lambda t: t.low_frame_rate_fps,
            _LOW,
            False,
            " fps",
            "frame rate",
        ),
        _Spec(
            "low_resolution",
            _height,
            lambda t: t.low_resolution_height,
            _LOW,
            False,
            " px",
            "frame height",
        ),
        _Spec(
            "bandwidth_limited",
            _limited("bandwidth"),
            lambda t: t.limited_share,
            _HIGH,
            True,
            "",
            "limited by bandwidth",
        ),
        _Spec(
            "cpu_limited",
            _limited("cpu"),
            lambda t: t.limited_share,
            _HIGH,
            True,
            "",
            "limited by CPU",
        ),
        _Spec("no_media_received", _silent, lambda t: 1.0, _HIGH, True, "", "no packet received"),
    )
}

# Which rules judge which stream kinds (docs/quality-metrics.md "Detected issues").
_PRODUCER = ("high_rtt", "packet_loss", "jitter")
_CONSUMER = ("packet_loss", "jitter", "jitter_buffer_delay", "no_media_received")
_RULES_BY_KIND: dict[str, tuple[str, ...]] = {
    "audio_producer": _PRODUCER,
    "screenshare_audio_producer": _PRODUCER,
    "video_producer": (*_PRODUCER, "low_frame_rate", "bandwidth_limited", "cpu_limited"),
    "screenshare_video_producer": (*_PRODUCER, "bandwidth_limited", "cpu_limited"),
    "audio_consumer": (*_CONSUMER, "audio_concealment"),
    "screenshare_audio_consumer": (*_CONSUMER, "audio_concealment"),
    "video_consumer": (*_CONSUMER, "video_freeze", "low_frame_rate", "low_resolution"),
    "screenshare_video_consumer": _CONSUMER,
}


def _format(value: float, unit: str) -> str:
    return f"{round(value, 1):g}{unit}"


class _Range:
    __slots__ = ("end", "last_flag", "start", "worst")

    def __init__(self, start: float, end: float, value: float) -> None:
        self.start, self.end, self.last_flag, self.worst = start, end, end, value


def _judged(
    rows: Sequence[tuple[float, Mapping[str, Any]]], t: IssueThresholds
) -> list[tuple[float, float, float | None, Mapping[str, Any]]]:
    """``(ms, interval start ms, interval s or None, row)`` of a stream's time-ordered rows past
    its warm-up: the rows the rules judge."""
    out = []
    first = rows[0][0]
    previous: float | None = None
    for ms, row in rows:
        interval = (ms - previous) / 1000 if previous is not None else None
        start = previous if previous is not None else ms
        previous = ms
        if (ms - first) / 1000 >= t.warmup_s:
            out.append((ms, start, interval, row))
    return out


def _stream_ranges(
    spec: _Spec,
    rows: Sequence[tuple[float, float, float | None, Mapping[str, Any]]],
    t: IssueThresholds,
) -> list[_Range]:
    """The ranges of one rule over one stream's judged rows (``_judged``)."""
    threshold = spec.threshold(t)
    ranges: list[_Range] = []
    current: _Range | None = None
    rule = spec.rule
    for ms, start, interval, row in rows:
        value = rule(row, interval)
        if value is None:
            continue
        flagged = value < threshold if spec.low else value >= threshold
        if not flagged:
            continue
        if current is not None and (start - current.last_flag) / 1000 <= t.merge_gap_s:
            current.end = current.last_flag = ms
            worse = value < current.worst if spec.low else value > current.worst
            current.worst = value if worse else current.worst
        else:
            current = _Range(start, ms, value)
            ranges.append(current)
    return [r for r in ranges if (r.end - r.start) / 1000 >= t.min_duration_s]


def _severity(spec: _Spec, r: _Range, t: IssueThresholds) -> str:
    if spec.boolean:
        critical = (r.end - r.start) / 1000 >= t.critical_duration_s
    elif spec.low:
        critical = r.worst <= spec.threshold(t) / t.critical_factor
    else:
        critical = r.worst >= spec.threshold(t) * t.critical_factor
    return "critical" if critical else "warning"


def _detail(spec: _Spec, r: _Range, t: IssueThresholds) -> str:
    seconds = round((r.end - r.start) / 1000, 1)
    if spec.boolean:
        if spec.type in ("bandwidth_limited", "cpu_limited"):
            return f"video {spec.what} for {seconds:g} s"
        return f"{spec.what} for {seconds:g} s"
    word = "down to" if spec.low else "up to"
    bound = "below" if spec.low else "threshold"
    return (
        f"{spec.what} {word} {_format(r.worst, spec.unit)} "
        f"({bound} {_format(spec.threshold(t), spec.unit)}) for {seconds:g} s"
    )


def _stream_id(row: Mapping[str, Any]) -> str | None:
    for key in ("producer_id", "consumer_id"):
        value = row.get(key)
        if isinstance(value, str):
            return value
    ssrc = row.get("ssrc")
    return str(ssrc) if isinstance(ssrc, int) else None


def _issue(
    type_: str,
    kind: str | None,
    start: float,
    end: float | None,
    severity: str,
    detail: str,
    stream_id: str | None = None,
) -> dict[str, Any]:
    return {
        "type": type_,
        "kind": kind,
        "start": _iso(start),
        "end": _iso(end) if end is not None else None,
        "severity": severity,
        "detail": detail,
        "stream_id": stream_id,
    }


def _row_issues(
    rows_by_kind: Mapping[str, Iterable[Any]], t: IssueThresholds
) -> list[tuple[float, dict[str, Any]]]:
    out: list[tuple[float, dict[str, Any]]] = []
    for kind in KINDS:
        streams: dict[str | None, list[tuple[float, Mapping[str, Any]]]] = {}
        for row in rows_by_kind.get(kind, ()):
            if not isinstance(row, Mapping):
                continue
            ms = _ms_of(row.get("timestamp"))
            if ms is not None:
                streams.setdefault(_stream_id(row), []).append((ms, row))
        for stream_id, rows in streams.items():
            rows.sort(key=lambda item: item[0])
            judged = _judged(rows, t)
            for name in _RULES_BY_KIND[kind]:
                spec = _SPECS[name]
                for r in _stream_ranges(spec, judged, t):
                    issue = _issue(
                        name, kind, r.start, r.end, _severity(spec, r, t), _detail(spec, r, t)
                    )
                    issue["stream_id"] = stream_id
                    out.append((r.start, issue))
    return out


def _pair_issues(
    pairs: Iterable[tuple[float, Mapping[str, Any]]],
) -> list[tuple[float, dict[str, Any]]]:
    """One ``turn_relay`` issue per selected pair that runs over a TURN relay."""
    out = []
    for first_seen, pair in pairs:
        local, remote = pair.get("local_candidate_type"), pair.get("remote_candidate_type")
        if local != "relay" and remote != "relay":
            continue
        side = "local" if local == "relay" else "remote"
        protocol = pair.get("local_candidate_relay_protocol") or pair.get(
            "local_candidate_protocol"
        )
        last = [
            v
            for v in (
                num(pair.get("last_packet_sent_timestamp")),
                num(pair.get("last_packet_received_timestamp")),
            )
            if v is not None and v >= first_seen
        ]
        detail = f"media flows through a TURN relay ({side} relay candidate"
        detail += f", {protocol})" if isinstance(protocol, str) else ")"
        out.append(
            (
                first_seen,
                _issue(
                    "turn_relay", None, first_seen, max(last, default=first_seen), "info", detail
                ),
            )
        )
    return out


def _state_ranges(
    events: Sequence[tuple[float, str, Mapping[str, Any]]],
    name: str,
    key: str,
    opening: frozenset[str],
    closing: frozenset[str],
) -> list[tuple[float, float | None, str, str]]:
    """(start, end or None, opening state, group) ranges between an opening and a closing state
    of event ``name`` (state in ``metadata[key]``), per ``metadata.connection_id``."""
    open_at: dict[str, tuple[float, str]] = {}
    out: list[tuple[float, float | None, str, str]] = []
    for ms, event_name, meta in events:
        if event_name != name:
            continue
        state = meta.get(key) if isinstance(meta, Mapping) else None
        if not isinstance(state, str):
            continue
        group = str(meta.get("connection_id", ""))
        if state in opening and group not in open_at:
            open_at[group] = (ms, str(state))
        elif state in closing and group in open_at:
            start, what = open_at.pop(group)
            out.append((start, ms, what, group))
    out.extend((start, None, what, group) for group, (start, what) in open_at.items())
    return out


_ICE_DOWN = frozenset({"disconnected", "failed"})
_ICE_UP = frozenset({"connected", "completed"})


def _event_issues(
    events: Sequence[tuple[float, str, Mapping[str, Any]]],
) -> list[tuple[float, dict[str, Any]]]:
    out = []
    for start, end, state, group in _state_ranges(
        events, "ice_connection_state", "state", _ICE_DOWN, _ICE_UP
    ):
        where = f" of connection {group}" if group else ""
        if end is None:
            detail, severity = f"ICE {state}{where} and not reconnected", "critical"
        else:
            seconds = round((end - start) / 1000, 1)
            detail, severity = f"ICE {state}{where}, reconnected after {seconds:g} s", "warning"
        out.append((start, _issue("ice_restart", None, start, end, severity, detail)))
    for ms, name, _ in events:
        if name in ("ice_restart", "ice-restart", "iceRestart"):
            out.append((ms, _issue("ice_restart", None, ms, ms, "warning", "ICE restart")))
    for start, end, _, _ in _state_ranges(
        events, "visibility_change", "state", frozenset({"hidden"}), frozenset({"visible"})
    ):
        if end is None:
            detail = "the tab was hidden (no later visible event)"
        else:
            detail = f"the tab was hidden for {round((end - start) / 1000, 1):g} s"
        out.append((start, _issue("tab_hidden", None, start, end, "info", detail)))
    return out


def _device_issues(
    device_updates: Mapping[str, Sequence[Any]],
) -> list[tuple[float, dict[str, Any]]]:
    """``device_change``: a device removed (``*_devices_updates``) or a selection after the first
    one of its device kind (``selected_device_updates``)."""
    out = []
    for key, updates in device_updates.items():
        if key == "selected_device_updates":
            continue
        for update in updates:
            if not isinstance(update, Mapping):
                continue
            ms = _ms_of(update.get("timestamp"))
            removed = update.get("removed")
            if ms is None or not removed or not isinstance(removed, list):
                continue
            labels = [
                str(d.get("label") or d.get("device_id") or "?")
                for d in removed
                if isinstance(d, Mapping)
            ]
            detail = f"{key.removesuffix('_devices_updates')} device removed: {', '.join(labels)}"
            out.append((ms, _issue("device_change", None, ms, ms, "info", detail)))
    seen: set[str] = set()
    for update in device_updates.get("selected_device_updates", ()):
        if not isinstance(update, Mapping) or not isinstance(update.get("device"), Mapping):
            continue
        ms = _ms_of(update.get("timestamp"))
        device = update["device"]
        device_kind = str(device.get("kind") or "")
        if ms is None:
            continue
        if device_kind in seen:
            label = device.get("label") or device.get("device_id") or "?"
            detail = f"{device_kind or 'device'} switched to {label}"
            out.append((ms, _issue("device_change", None, ms, ms, "info", detail)))
        seen.add(device_kind)
    return out


def detect_issues(
    rows_by_kind: Mapping[str, Iterable[Any]],
    *,
    pairs: Iterable[tuple[float, Mapping[str, Any]]] = (),
    events: Iterable[tuple[float, str, Mapping[str, Any]]] = (),
    device_updates: Mapping[str, Sequence[Any]] | None = None,
    thresholds: IssueThresholds | None = None,
) -> list[dict[str, Any]]:
    """The detected issues of one participant (module docstring for the shape).

    rows_by_kind: ``{kind: [public sample row]}`` (the peer report's ``quality.<kind>`` arrays;
    rows that are not objects or have no parsable ``timestamp`` are ignored).
    pairs: ``(first seen epoch ms, CandidatePair)`` of the selected pairs.
    events: ``(epoch ms, name, metadata)`` of the client events, in time order.
    device_updates: the peer's ``{audio,video,speaker}_devices_updates`` and
    ``selected_device_updates`` lists (``timestamp`` ISO-8601).
    thresholds: ``IssueThresholds`` (defaults when ``None``). Never raises on odd input.
    """
    t = thresholds or IssueThresholds()
    found = _row_issues(rows_by_kind, t)
    found += _pair_issues(pairs)
    found += _event_issues(sorted(events, key=lambda e: e[0]))
    found += _device_issues(device_updates or {})
    found.sort(key=lambda item: (item[0], item[1]["type"], item[1]["kind"] or ""))
    return [issue for _, issue in found]
