"""Per-interval sample rows from two consecutive getStats() reports of one connection (Q1).

Row fields (the names of docs/decisions.md#peer-report; sources in docs/quality-metrics.md §2):

- producers (W3C ``outbound-rtp`` + its ``remote-inbound-rtp``, the receiver's RTCP RR):
  ``timestamp``, ``producer_id``, ``ssrc``, ``mid``, ``bytes_sent`` Δ, ``packets_sent`` Δ,
  ``packets_lost`` Δ remote-inbound ``packetsLost`` (clamped ≥ 0), ``jitter`` remote-inbound
  ``jitter`` (s), ``rtt`` remote-inbound ``roundTripTime`` (s); the last three are 0 until the first
  RR arrives, as in the reference report. Video adds ``frame_width``, ``frame_height``,
  ``frames_per_second`` (``framesPerSecond``, else Δ``framesEncoded``/Δt), ``frames_encoded`` Δ,
  ``key_frames_encoded`` Δ, ``pli_count`` Δ, ``fir_count`` Δ, ``quality_limitation_reason``,
  ``quality_limitation_durations`` Δ per state (s), ``quality_limitation_resolution_changes`` Δ.
- consumers (W3C ``inbound-rtp``): ``timestamp``, ``consumer_id``, ``producer_id``, ``peer_id``,
  ``ssrc``, ``mid``, ``bytes_received`` Δ, ``packets_received`` Δ, ``packets_lost`` Δ (clamped ≥ 0),
  ``jitter`` (s), ``jitter_buffer_delay`` Δ (s), ``jitter_buffer_emitted_count`` Δ; audio adds
  ``concealment_events`` Δ; video adds ``frame_width``, ``frame_height``, ``frames_per_second``
  (``framesPerSecond``, else Δ``framesDecoded``/Δt), ``frames_decoded`` Δ, ``frames_dropped`` Δ,
  ``key_frames_decoded`` Δ, ``fir_count`` Δ.
- every row: ``mos_quality`` (``rtk_sessions.stats.scoring``).

Internal fields (stripped by ``build_quality``): ``_interval_s`` (Δt, s), ``_loss_pct`` (Q7),
``_bitrate_bps``, ``_rtt_ms`` (the RTT used for MOS), ``_buffer_delay_ms`` (the buffer delay used
for MOS), ``_nack_count`` Δ, ``_loss_measured`` (Q11: the loss was measured, not defaulted to 0),
producers ``_rtt_measured`` (Q11) and ``_active`` (outbound-rtp ``active``), consumers
``_freeze_count`` Δ, ``_freezes_duration_s`` Δ, ``_pause_count`` Δ, ``_frames_received`` Δ.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from .normalize import ReportIndex, normalize_report
from .pairs import selected_pair_rtt, selected_pair_rtt_indexed
from .scoring import (
    audio_mos,
    audio_mos_positional,
    screenshare_video_mos,
    video_mos,
    video_mos_positional,
)
from .types import QualityThresholds, SampleRow, StreamLabel, num

__all__ = ["iso_timestamp", "sample_rows", "sample_rows_indexed"]

_QL_STATES = ("bandwidth", "cpu", "none", "other")
_QL_REASONS = frozenset(_QL_STATES)
# Plausibility bounds of gauges; values outside are treated as absent (garbage from a client).
_MAX_SECONDS = 3600.0  # jitter, roundTripTime
_MAX_FPS = 1000.0
_MAX_DIMENSION = 65535  # frame width/height (16-bit in every codec's headers)
_PACKETS = {"outbound-rtp": "packetsSent", "inbound-rtp": "packetsReceived"}  # Q13
_ID_NAMESPACE = uuid.UUID("6f1b3c1e-5d0e-5b6a-9c57-2f7a3c1d2e40")  # this project's uuid5 namespace


class _Reset(Exception):
    """A cumulative counter went backwards: the stream was reset; the interval yields no row."""


def iso_timestamp(epoch_ms: Any) -> str | None:
    """``YYYY-MM-DDTHH:MM:SS.sssZ`` (UTC) of a DOMHighResTimeStamp in epoch ms, else ``None``."""
    value = num(epoch_ms)
    if value is None or value < 0:
        return None
    try:
        moment = datetime.fromtimestamp(value / 1000, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _rounded(value: float | int) -> float | int:
    return value if isinstance(value, int) else round(value, 6)


class _Delta:
    """Δ of cumulative counters between the previous and current stats object of one stream."""

    def __init__(self, prev: Mapping[str, Any], cur: Mapping[str, Any]) -> None:
        self.prev = prev
        self.cur = cur

    def __call__(self, name: str, *, clamp: bool = False) -> float | int | None:
        """Δ``name``; ``None`` when either side lacks it. Negative: 0 when ``clamp`` (packetsLost
        may decrease, RFC 3550), else ``_Reset``."""
        a, b = num(self.prev.get(name)), num(self.cur.get(name))
        if a is None or b is None:
            return None
        diff = num(b - a)
        if diff is None:
            return None
        if diff < 0:
            if clamp:
                return 0
            raise _Reset(name)
        return _rounded(diff)


def _label_for(stats: Mapping[str, Any], labels: Sequence[StreamLabel]) -> StreamLabel | None:
    """The client label of a stream: first by ``ssrc``, then ``mid``, then ``trackIdentifier``
    (docs/ingest.md). Labels whose ``kind`` contradicts the stream's are skipped."""
    kind = stats.get("kind")
    usable = [lb for lb in labels if lb.kind is None or lb.kind == kind]
    for attr, value in (
        ("ssrc", stats.get("ssrc")),
        ("mid", stats.get("mid")),
        ("track_id", stats.get("trackIdentifier")),
    ):
        if value is None:
            continue
        for label in usable:
            if getattr(label, attr) == value:
                return label
    return None


def _as_labels(labels: Any) -> list[StreamLabel]:
    if not isinstance(labels, Sequence) or isinstance(labels, str | bytes):
        return []
    out = []
    for item in labels:
        if isinstance(item, StreamLabel):
            out.append(item)
        elif isinstance(item, Mapping):
            out.append(StreamLabel.from_mapping(item))
    return out


def _derived_id(namespace: str, direction: str, ssrc: int) -> str:
    """Stable id when the client gave none (decision Q10): uuid5 of namespace, direction, ssrc."""
    return str(uuid.uuid5(_ID_NAMESPACE, f"{namespace}:{direction}:{ssrc}"))


def _index(report: Mapping[str, Mapping[str, Any]], stype: str) -> dict[int, Mapping[str, Any]]:
    out: dict[int, Mapping[str, Any]] = {}
    for stats in report.values():
        ssrc = stats.get("ssrc")
        if stats.get("type") == stype and isinstance(ssrc, int) and ssrc not in out:
            out[ssrc] = stats
    return out


def _remote_inbound(
    report: Mapping[str, Mapping[str, Any]], outbound: Mapping[str, Any], by_ssrc: Mapping[int, Any]
) -> Mapping[str, Any]:
    """The remote-inbound-rtp of an outbound-rtp (Q15): via ``remoteId``, else ``localId``, else
    ssrc, else the only remote-inbound-rtp of the same kind that no outbound-rtp claims."""
    ref = outbound.get("remoteId")
    if isinstance(ref, str):
        target = report.get(ref)
        if target is not None and target.get("type") == "remote-inbound-rtp":
            return target
    for stats in report.values():
        if stats.get("type") == "remote-inbound-rtp" and stats.get("localId") == outbound["id"]:
            return stats
    found = by_ssrc.get(outbound["ssrc"])
    if found is not None:
        return found  # type: ignore[no-any-return]
    outs = {sid: o for sid, o in report.items() if o.get("type") == "outbound-rtp"}
    claimed = {o.get("remoteId") for o in outs.values()}
    ssrcs = {o.get("ssrc") for o in outs.values()}
    unclaimed = [
        sid
        for sid, stats in report.items()
        if stats.get("type") == "remote-inbound-rtp"
        and stats.get("kind") == outbound.get("kind")
        and sid not in claimed
        and stats.get("localId") not in outs
        and stats.get("ssrc") not in ssrcs
    ]
    return report[unclaimed[0]] if len(unclaimed) == 1 else {}


def _rtx_ssrcs(objects: Iterable[Mapping[str, Any]]) -> set[Any]:
    """Q15: the ssrcs that inbound-rtp objects name as their RTX repair flow (``rtxSsrc``)."""
    return {o.get("rtxSsrc") for o in objects if o.get("type") == "inbound-rtp"} - {None}


def _is_rtx(stats: Mapping[str, Any], codec: Mapping[str, Any], rtx_ssrcs: set[Any]) -> bool:
    """Q15: an inbound-rtp that describes an RTX repair flow, not a stream: it has
    ``rtxOfSsrc``, another stream names its ssrc as its RTX, or its codec is ``*/rtx``."""
    mime = codec.get("mimeType")
    return (
        stats.get("rtxOfSsrc") is not None
        or stats.get("ssrc") in rtx_ssrcs
        or (isinstance(mime, str) and mime.lower().endswith("/rtx"))
    )


def _codec(report: Mapping[str, Mapping[str, Any]], stats: Mapping[str, Any]) -> Mapping[str, Any]:
    ref = stats.get("codecId")
    target = report.get(ref) if isinstance(ref, str) else None
    return target if target is not None and target.get("type") == "codec" else {}


def _fmtp_flag(codec: Mapping[str, Any], name: str) -> bool | None:
    """Whether the codec's ``sdpFmtpLine`` sets ``name=1``; ``None`` without an fmtp line."""
    line = codec.get("sdpFmtpLine")
    if not isinstance(line, str):
        return None
    params = {}
    for part in line.split(";"):
        key, _, value = part.strip().partition("=")
        params[key.strip().lower()] = value.strip()
    return params.get(name) == "1"


def _frame_rate(
    stats: Mapping[str, Any], frames: float | int | None, elapsed: float
) -> float | None:
    fps = _gauge(stats, "framesPerSecond", _MAX_FPS)
    if fps is not None:
        return fps
    if frames is not None:
        return round(frames / elapsed, 2)
    return None


def _dimension(stats: Mapping[str, Any], name: str) -> int | None:
    value = _gauge(stats, name, _MAX_DIMENSION)
    return int(value) if value is not None else None


def _bitrate(bytes_delta: float | int | None, elapsed: float) -> float | None:
    return bytes_delta * 8 / elapsed if bytes_delta is not None else None


def _ms(seconds: float | int | None) -> float | None:
    return seconds * 1000 if seconds is not None and seconds >= 0 else None


def _score(
    *,
    kind: str,
    screenshare: bool,
    packets: float | int | None,
    bitrate: float | None,
    loss_pct: float,
    rtt_ms: float,
    buffer_delay_ms: float,
    stats: Mapping[str, Any],
    codec: Mapping[str, Any],
    fps: float | None,
    expected_fps: float,
    limited: bool,
    thresholds: QualityThresholds,
) -> float:
    """mos_quality of a row (decisions Q3/Q4): 1 without packets (or bytes) in the interval; audio:
    1 below ``audio_min_bitrate_bps`` with DTX off, else ``audio_mos``; screenshare video:
    ``screenshare_video_mos``; camera video: ``video_mos``, or the loss-only score when the frame
    size or frame rate is unknown (Firefox)."""
    if packets == 0 or bitrate == 0 or (packets is None and bitrate is None):
        return 1.0
    if kind == "audio":
        dtx = _fmtp_flag(codec, "usedtx") is True
        fec = _fmtp_flag(codec, "useinbandfec") is not False
        if not dtx and bitrate is not None and bitrate < thresholds.audio_min_bitrate_bps:
            return 1.0
        return audio_mos(
            loss_pct=loss_pct,
            bitrate_bps=bitrate,
            rtt_ms=rtt_ms,
            buffer_delay_ms=buffer_delay_ms,
            fec=fec,
            dtx=dtx,
        )
    width, height = _dimension(stats, "frameWidth"), _dimension(stats, "frameHeight")
    if screenshare or width is None or height is None or fps is None or bitrate is None:
        return screenshare_video_mos(loss_pct=loss_pct, limited=limited)
    mime = codec.get("mimeType")
    vp9 = isinstance(mime, str) and mime.lower() == "video/vp9"
    return video_mos(
        bitrate_bps=bitrate,
        width=width,
        height=height,
        frame_rate=fps,
        expected_frame_rate=expected_fps,
        rtt_ms=rtt_ms,
        buffer_delay_ms=buffer_delay_ms,
        codec_factor=1.2 if vp9 else 1.0,
    )


def _compact(values: Mapping[str, Any]) -> dict[str, Any]:
    """Drop ``None`` and non-finite numbers (rows must serialize as JSON)."""
    return {
        k: v
        for k, v in values.items()
        if v is not None and not (isinstance(v, float) and not math.isfinite(v))
    }


def _gauge(stats: Mapping[str, Any], name: str, upper: float) -> float | int | None:
    """A W3C gauge member if it is a number in ``[0, upper]``; anything else counts as absent."""
    value = num(stats.get(name))
    return value if value is not None and 0 <= value <= upper else None


def _producer_row(
    prev_report: Mapping[str, Mapping[str, Any]],
    report: Mapping[str, Mapping[str, Any]],
    prev: Mapping[str, Any],
    cur: Mapping[str, Any],
    elapsed: float,
    label: StreamLabel | None,
    namespace: str,
    thresholds: QualityThresholds,
) -> dict[str, Any]:
    delta = _Delta(prev, cur)
    ssrc = cur["ssrc"]
    video = cur["kind"] == "video"
    screenshare = label is not None and label.source == "screenshare"
    packets, sent_bytes = delta("packetsSent"), delta("bytesSent")
    ri_cur = _remote_inbound(report, cur, _index(report, "remote-inbound-rtp"))
    ri_prev = _remote_inbound(prev_report, prev, _index(prev_report, "remote-inbound-rtp"))
    lost = None
    if num(ri_cur.get("packetsLost")) is not None:
        lost = _Delta(ri_prev if ri_prev else {"packetsLost": 0}, ri_cur)("packetsLost", clamp=True)
    # Q7: producer loss % = 100·Δremote-inbound.packetsLost / Δsent, fallback 100·fractionLost.
    fraction = _gauge(ri_cur, "fractionLost", 1.0)
    if lost is not None and packets:
        loss_pct = min(100.0, 100 * lost / packets)
    elif fraction is not None:
        loss_pct = 100.0 * fraction
    else:
        loss_pct = 0.0
    jitter = _gauge(ri_cur, "jitter", _MAX_SECONDS)
    rtt = _gauge(ri_cur, "roundTripTime", _MAX_SECONDS)
    bitrate = _bitrate(sent_bytes, elapsed)
    rtt_ms = _ms(rtt) if rtt is not None else None  # rtt ≥ 0 here, so _ms gives a number
    rtt_ms = rtt_ms if rtt_ms is not None else thresholds.default_rtt_ms
    # rtcscore has no sender-side buffer delay; 2·jitter is this project's proxy (§3.4).
    buffer_ms = 2 * jitter * 1000 if jitter is not None else thresholds.default_buffer_delay_ms
    values: dict[str, Any] = {
        "mos_quality": None,
        "timestamp": iso_timestamp(cur.get("timestamp")),
        "packets_lost": lost if lost is not None else 0,
        "jitter": jitter if jitter is not None else 0,
        "rtt": rtt if rtt is not None else 0,
        "packets_sent": packets,
        "bytes_sent": sent_bytes,
        "producer_id": (label.producer_id if label else None)
        or _derived_id(namespace, "outbound-rtp", ssrc),
        "ssrc": ssrc,
        "mid": cur.get("mid") if isinstance(cur.get("mid"), str) else None,
    }
    fps = None
    reason = cur.get("qualityLimitationReason")
    reason = reason if isinstance(reason, str) and reason in _QL_REASONS else None
    source_id = cur.get("mediaSourceId")
    source = report.get(source_id) if isinstance(source_id, str) else None
    expected_fps = num((source or {}).get("framesPerSecond")) or thresholds.expected_frame_rate
    if video:
        frames = delta("framesEncoded")
        fps = _frame_rate(cur, frames, elapsed)
        values.update(
            frame_width=_dimension(cur, "frameWidth"),
            frame_height=_dimension(cur, "frameHeight"),
            frames_per_second=fps,
            frames_encoded=frames,
            key_frames_encoded=delta("keyFramesEncoded"),
            pli_count=delta("pliCount"),
            fir_count=delta("firCount"),
            quality_limitation_reason=reason,
            quality_limitation_durations=_ql_durations(prev, cur),
            quality_limitation_resolution_changes=delta("qualityLimitationResolutionChanges"),
        )
    values["mos_quality"] = _score(
        kind=cur["kind"],
        screenshare=screenshare,
        packets=packets,
        bitrate=bitrate,
        loss_pct=loss_pct,
        rtt_ms=rtt_ms,
        buffer_delay_ms=buffer_ms,
        stats=cur,
        codec=_codec(report, cur),
        fps=fps,
        expected_fps=expected_fps,
        limited=reason not in (None, "none"),
        thresholds=thresholds,
    )
    active = cur.get("active")
    values.update(
        _interval_s=round(elapsed, 6),
        _loss_pct=round(loss_pct, 6),
        _bitrate_bps=round(bitrate, 3) if bitrate is not None else None,
        _rtt_ms=rtt_ms,
        _buffer_delay_ms=buffer_ms,
        _nack_count=delta("nackCount"),
        _active=active if isinstance(active, bool) else None,
        _rtt_measured=rtt is not None,
        _loss_measured=bool(packets) and (lost is not None or fraction is not None),
    )
    return _compact(values)


def _ql_durations(prev: Mapping[str, Any], cur: Mapping[str, Any]) -> dict[str, Any] | None:
    """Δ W3C ``qualityLimitationDurations`` per state (s); ``None`` unless both are records."""
    a, b = prev.get("qualityLimitationDurations"), cur.get("qualityLimitationDurations")
    if not isinstance(a, Mapping) or not isinstance(b, Mapping):
        return None
    out = _compact({state: _Delta(a, b)(state) for state in _QL_STATES})
    return out or None


def _consumer_row(
    report: Mapping[str, Mapping[str, Any]],
    prev: Mapping[str, Any],
    cur: Mapping[str, Any],
    elapsed: float,
    label: StreamLabel | None,
    namespace: str,
    thresholds: QualityThresholds,
) -> dict[str, Any]:
    delta = _Delta(prev, cur)
    ssrc = cur["ssrc"]
    video = cur["kind"] == "video"
    screenshare = label is not None and label.source == "screenshare"
    packets, received_bytes = delta("packetsReceived"), delta("bytesReceived")
    lost = delta("packetsLost", clamp=True)
    # Q7: consumer loss % = 100·Δlost / (Δlost + Δreceived).
    expected = (lost or 0) + (packets or 0)
    loss_pct = 100 * (lost or 0) / expected if expected > 0 else 0.0
    jitter = _gauge(cur, "jitter", _MAX_SECONDS)
    jbd, emitted = delta("jitterBufferDelay"), delta("jitterBufferEmittedCount")
    buffer_ms = (
        jbd / emitted * 1000 if jbd is not None and emitted else thresholds.default_buffer_delay_ms
    )
    # Consumer rows carry no rtt; MOS uses the selected candidate pair's STUN RTT (§2.6), else
    # remote-outbound-rtp.roundTripTime (RFC 3611 DLRR), else rtcscore's default.
    rtt = selected_pair_rtt(report, cur.get("transportId"))
    if rtt is None:
        remote_id = cur.get("remoteId")
        remote = report.get(remote_id) if isinstance(remote_id, str) else None
        rtt = _gauge(remote or {}, "roundTripTime", _MAX_SECONDS)
    rtt_ms = _ms(rtt)
    rtt_ms = rtt_ms if rtt_ms is not None else thresholds.default_rtt_ms
    bitrate = _bitrate(received_bytes, elapsed)
    values: dict[str, Any] = {
        "mos_quality": None,
        "timestamp": iso_timestamp(cur.get("timestamp")),
        "packets_lost": lost,
        "jitter": jitter,
        "packets_received": packets,
        "bytes_received": received_bytes,
        "jitter_buffer_delay": jbd,
        "jitter_buffer_emitted_count": emitted,
        "consumer_id": (label.consumer_id if label else None)
        or _derived_id(namespace, "inbound-rtp", ssrc),
        "producer_id": label.producer_id if label else None,
        "peer_id": label.remote_peer_id if label else None,
        "ssrc": ssrc,
        "mid": cur.get("mid") if isinstance(cur.get("mid"), str) else None,
    }
    fps = None
    if video:
        frames = delta("framesDecoded")
        fps = _frame_rate(cur, frames, elapsed)
        values.update(
            frame_width=_dimension(cur, "frameWidth"),
            frame_height=_dimension(cur, "frameHeight"),
            frames_per_second=fps,
            frames_decoded=frames,
            frames_dropped=delta("framesDropped"),
            key_frames_decoded=delta("keyFramesDecoded"),
            fir_count=delta("firCount"),
        )
    else:
        values["concealment_events"] = delta("concealmentEvents")
    values["mos_quality"] = _score(
        kind=cur["kind"],
        screenshare=screenshare,
        packets=packets,
        bitrate=bitrate,
        loss_pct=loss_pct,
        rtt_ms=rtt_ms,
        buffer_delay_ms=buffer_ms,
        stats=cur,
        codec=_codec(report, cur),
        fps=fps,
        expected_fps=thresholds.expected_frame_rate,
        limited=False,
        thresholds=thresholds,
    )
    values.update(
        _interval_s=round(elapsed, 6),
        _loss_pct=round(loss_pct, 6),
        _bitrate_bps=round(bitrate, 3) if bitrate is not None else None,
        _rtt_ms=rtt_ms,
        _buffer_delay_ms=round(buffer_ms, 6),
        _nack_count=delta("nackCount"),
        _loss_measured=lost is not None and expected > 0,
    )
    if video:
        values.update(
            _freeze_count=delta("freezeCount"),
            _freezes_duration_s=delta("totalFreezesDuration"),
            _pause_count=delta("pauseCount"),
            _frames_received=delta("framesReceived"),
        )
    return _compact(values)


def sample_rows(
    previous: dict[str, dict[str, Any]] | None,
    current: dict[str, dict[str, Any]],
    *,
    namespace: str,
    transport: str | None = None,
    labels: Sequence[StreamLabel] = (),
    thresholds: QualityThresholds = QualityThresholds(),  # noqa: B008 - frozen, immutable
) -> list[SampleRow]:
    """Sample rows for the interval between two consecutive reports of ONE peer connection.

    previous / current: reports of the connection (normalized, compacted, or raw: they are
    normalized here); ``previous`` None (the first report) gives ``[]``: deltas need two reports.
    namespace: stable id of the connection (e.g. ``f"{peer_id}:{connection_id}"``), used for
    ``stream_key`` and derived producer/consumer ids (Q10).
    transport: the ingest ``transport``. Rows are classified by the RTP stats type alone (an
    outbound-rtp is a producer, an inbound-rtp a consumer, whatever the transport; a P2P connection
    has both), so this argument does not change the rows; it is accepted so that callers pass the
    same connection facts to ``sample_rows`` and ``candidate_pairs``.
    labels: client labels (``StreamLabel`` or their JSON mappings); ``source == "screenshare"``
    files a stream under ``screenshare_*``; ids come from the matching label.
    thresholds: ``QualityThresholds`` for MOS defaults.

    One row per RTP stream (ssrc, per stats type) present in both reports, in ``current`` order.
    No row when Δt ≤ 0, the stream has no valid timestamp/ssrc/kind, has not carried a single packet
    yet (cumulative ``packetsSent``/``packetsReceived`` 0: decision Q13), or a cumulative counter
    went backwards (counter reset); a negative Δ``packetsLost`` is clamped to 0. Never raises.
    """
    del transport  # documented above: rows do not depend on it
    prev_report = normalize_report(previous) if previous is not None else {}
    report = normalize_report(current)
    if not prev_report or not report:
        return []
    if not isinstance(namespace, str):
        namespace = str(namespace)
    if not isinstance(thresholds, QualityThresholds):
        thresholds = QualityThresholds()
    label_list = _as_labels(labels)
    rows: list[SampleRow] = []
    rtx = _rtx_ssrcs(report.values())
    for stype in ("outbound-rtp", "inbound-rtp"):
        before = _index(prev_report, stype)
        for ssrc, cur in _index(report, stype).items():
            prev = before.get(ssrc)
            kind = cur.get("kind")
            ts, ts_prev = num(cur.get("timestamp")), num((prev or {}).get("timestamp"))
            if prev is None or kind not in ("audio", "video") or ts is None or ts_prev is None:
                continue
            elapsed = (ts - ts_prev) / 1000
            if elapsed <= 0 or iso_timestamp(ts) is None:
                continue
            # Q13: a stream has rows from its first packet on, in both directions (producer: first
            # packet sent; consumer: first packet received). Rows while a connection is being set
            # up, an idle layer or a stream that never arrives are not samples of it. One that has
            # carried packets and is quiet now (muted, stalled) does get rows (MOS 1, Q3).
            if num(cur.get(_PACKETS[stype])) == 0:
                continue
            if stype == "inbound-rtp" and _is_rtx(cur, _codec(report, cur), rtx):
                continue
            label = _label_for(cur, label_list)
            try:
                if stype == "outbound-rtp":
                    values = _producer_row(
                        prev_report, report, prev, cur, elapsed, label, namespace, thresholds
                    )
                else:
                    values = _consumer_row(report, prev, cur, elapsed, label, namespace, thresholds)
            except _Reset:
                continue
            screenshare = label is not None and label.source == "screenshare"
            role = "producer" if stype == "outbound-rtp" else "consumer"
            row_kind = f"{'screenshare_' if screenshare else ''}{kind}_{role}"
            rows.append(
                SampleRow(
                    kind=row_kind,
                    stream_key=f"{namespace}:{stype}:{ssrc}",
                    timestamp_ms=float(ts),
                    values=values,
                )
            )
    return rows


# ---------------------------------------------------------------------------------------------
# The ingest fast path. ``sample_rows_indexed`` gives exactly what ``sample_rows`` gives (the same
# rows, values in the same key order); tests/stats/test_fast_path.py holds it to that on every real
# recording and on random reports. It differs only in how it gets there: linked objects come from
# per-report indexes instead of scans, the helpers above are inlined for plain ``int``/``float``
# members (anything else goes through them), a report's ISO timestamp is formatted once, derived
# ids and codec fmtp flags are memoized, and row values are inserted in their final order instead
# of being filtered afterwards. Fallible steps (``_Reset``, arithmetic on absurd numbers) run in
# the same order as in ``_producer_row``/``_consumer_row``, so both paths fail alike.

_isfinite = math.isfinite
_NO_LOSS: Mapping[str, Any] = {"packetsLost": 0}


def _fd(prev: Mapping[str, Any], cur: Mapping[str, Any], name: str) -> float | int | None:
    """``_Delta(prev, cur)(name)``."""
    a = prev.get(name)
    if a is None:
        return None
    b = cur.get(name)
    if b is None:
        return None
    ca = a.__class__
    cb = b.__class__
    if (ca is int or ca is float) and (cb is int or cb is float):
        diff: float | int = b - a
        if diff.__class__ is int:
            if diff < 0:
                raise _Reset(name)
            return diff
        if diff - diff != 0:  # a or b not finite, or the difference overflowed
            return None
        if diff < 0:
            raise _Reset(name)
        return round(diff, 6)
    return _Delta(prev, cur)(name)


def _fd_clamped(prev: Mapping[str, Any], cur: Mapping[str, Any], name: str) -> float | int | None:
    """``_Delta(prev, cur)(name, clamp=True)``."""
    a = prev.get(name)
    if a is None:
        return None
    b = cur.get(name)
    if b is None:
        return None
    ca = a.__class__
    cb = b.__class__
    if (ca is int or ca is float) and (cb is int or cb is float):
        diff: float | int = b - a
        if diff.__class__ is int:
            return diff if diff >= 0 else 0
        if diff - diff != 0:
            return None
        return round(diff, 6) if diff >= 0 else 0
    return _Delta(prev, cur)(name, clamp=True)


def _ql_durations_fast(prev: Mapping[str, Any], cur: Mapping[str, Any]) -> dict[str, Any] | None:
    """``_ql_durations(prev, cur)``."""
    a, b = prev.get("qualityLimitationDurations"), cur.get("qualityLimitationDurations")
    if (a.__class__ is not dict and not isinstance(a, Mapping)) or (
        b.__class__ is not dict and not isinstance(b, Mapping)
    ):
        return None
    out = {}
    for state in _QL_STATES:
        value = _fd(a, b, state)  # finite or None: what _compact keeps
        if value is not None:
            out[state] = value
    return out or None


def _fgauge(stats: Mapping[str, Any], name: str, upper: float) -> float | int | None:
    """``_gauge(stats, name, upper)``."""
    value: Any = stats.get(name)
    cls = value.__class__
    if cls is float or cls is int:
        return value if 0 <= value <= upper else None  # NaN and ±inf fail the comparison
    number = num(value)
    return number if number is not None and 0 <= number <= upper else None


def _fdimension(stats: Mapping[str, Any], name: str) -> int | None:
    """``_dimension(stats, name)``."""
    value: Any = stats.get(name)
    cls = value.__class__
    if cls is int:
        return value if 0 <= value <= _MAX_DIMENSION else None
    if cls is float:
        return int(value) if 0 <= value <= _MAX_DIMENSION else None  # NaN, ±inf fail
    return _dimension(stats, name)


def _ok(value: Any) -> bool:
    """What ``_compact`` keeps: not ``None`` and not a non-finite float."""
    return value is not None and not (isinstance(value, float) and not _isfinite(value))


_SECOND_PREFIXES: dict[float, str] = {}


def _iso_fast(epoch_ms: float | int) -> str | None:
    """``iso_timestamp(epoch_ms)`` for a finite number, formatting each UTC second only once.

    ``datetime.fromtimestamp(t)`` splits ``t`` with C ``modf`` and rounds the fraction to
    microseconds half-to-even (CPython ``_PyTime_DoubleToDenominator``); this does the same split,
    so the date and time down to the second come from ``datetime`` for the whole second (memoized)
    and only the milliseconds are formatted per call.
    """
    if epoch_ms < 0:
        return None
    fraction, whole = math.modf(epoch_ms / 1000)
    micro = round(fraction * 1e6)
    if micro >= 1_000_000:
        micro -= 1_000_000
        whole += 1.0
    prefix = _SECOND_PREFIXES.get(whole)
    if prefix is None:
        try:
            prefix = datetime.fromtimestamp(whole, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.")
        except (OverflowError, OSError, ValueError):
            prefix = ""
        if len(_SECOND_PREFIXES) >= 4096:
            _SECOND_PREFIXES.clear()
        _SECOND_PREFIXES[whole] = prefix
    return f"{prefix}{micro // 1000:03d}Z" if prefix else None


@lru_cache(maxsize=16384)
def _derived_id_cached(namespace: str, direction: str, ssrc: int) -> str:
    return _derived_id(namespace, direction, ssrc)


@lru_cache(maxsize=256)
def _audio_flags(fmtp_line: str) -> tuple[bool, bool]:
    """(dtx, fec) of ``_score`` for a codec with this ``sdpFmtpLine``."""
    codec = {"sdpFmtpLine": fmtp_line}
    return _fmtp_flag(codec, "usedtx") is True, _fmtp_flag(codec, "useinbandfec") is not False


def _mos(
    kind: str,
    screenshare: bool,
    packets: float | int | None,
    bitrate: float | None,
    loss_pct: float,
    rtt_ms: float,
    buffer_delay_ms: float,
    width: int | None,
    height: int | None,
    codec: Mapping[str, Any],
    fps: float | None,
    expected_fps: float,
    limited: bool,
    thresholds: QualityThresholds,
) -> float:
    """``_score(...)``, with the frame size already read (``_dimension``)."""
    if packets == 0 or bitrate == 0 or (packets is None and bitrate is None):
        return 1.0
    if kind == "audio":
        line = codec.get("sdpFmtpLine")
        dtx, fec = _audio_flags(line) if isinstance(line, str) else (False, True)
        if not dtx and bitrate is not None and bitrate < thresholds.audio_min_bitrate_bps:
            return 1.0
        return audio_mos_positional(loss_pct, bitrate, rtt_ms, buffer_delay_ms, fec, dtx)
    if screenshare or width is None or height is None or fps is None or bitrate is None:
        return screenshare_video_mos(loss_pct=loss_pct, limited=limited)
    mime = codec.get("mimeType")
    vp9 = isinstance(mime, str) and mime.lower() == "video/vp9"
    return video_mos_positional(
        bitrate, width, height, fps, expected_fps, rtt_ms, buffer_delay_ms, 1.2 if vp9 else 1.0
    )


def _remote_inbound_indexed(
    index: ReportIndex, outbound: Mapping[str, Any], out_id: str
) -> Mapping[str, Any]:
    """``_remote_inbound(report, outbound, _index(report, "remote-inbound-rtp"))``."""
    ref = outbound.get("remoteId")
    if isinstance(ref, str) and index.types.get(ref) == "remote-inbound-rtp":
        return index.get(ref)  # type: ignore[no-any-return]
    by_local: dict[str, str] | None = index.memo.get("ri-local")
    if by_local is None:
        by_local = {}
        for rid in index.listed["remote-inbound-rtp"]:
            local = index.get(rid).get("localId")
            if isinstance(local, str) and local not in by_local:
                by_local[local] = rid
        index.memo["ri-local"] = by_local
    sid = by_local.get(out_id)
    if sid is None:
        sid = index.by_ssrc("remote-inbound-rtp").get(outbound["ssrc"])
    if sid is None:
        sid = _unclaimed_indexed(index).get(outbound.get("kind"))
    return index.get(sid) if sid is not None else {}


def _unclaimed_indexed(index: ReportIndex) -> dict[Any, str]:
    """Q15 fallback of ``_remote_inbound``: kind -> the only unclaimed remote-inbound-rtp."""
    found: dict[Any, str] | None = index.memo.get("ri-unclaimed")
    if found is None:
        outs = {sid: index.get(sid) for sid in index.listed["outbound-rtp"]}
        claimed = {o.get("remoteId") for o in outs.values()}
        ssrcs = {o.get("ssrc") for o in outs.values()}
        by_kind: dict[Any, list[str]] = {}
        for rid in index.listed["remote-inbound-rtp"]:
            stats = index.get(rid)
            if rid in claimed or stats.get("localId") in outs or stats.get("ssrc") in ssrcs:
                continue
            by_kind.setdefault(stats.get("kind"), []).append(rid)
        found = {kind: rids[0] for kind, rids in by_kind.items() if len(rids) == 1}
        index.memo["ri-unclaimed"] = found
    return found


def _producer_indexed(
    prev_index: ReportIndex,
    index: ReportIndex,
    prev: Mapping[str, Any],
    cur: Mapping[str, Any],
    prev_id: str,
    cur_id: str,
    elapsed: float,
    label: StreamLabel | None,
    namespace: str,
    thresholds: QualityThresholds,
    stamp: str,
) -> dict[str, Any]:
    """``_producer_row(...)``; ``stamp`` is ``iso_timestamp(cur["timestamp"])``."""
    ssrc = cur["ssrc"]
    kind = cur["kind"]
    packets = _fd(prev, cur, "packetsSent")
    sent_bytes = _fd(prev, cur, "bytesSent")
    ri_cur = _remote_inbound_indexed(index, cur, cur_id)
    lost = None
    if num(ri_cur.get("packetsLost")) is not None:
        ri_prev = _remote_inbound_indexed(prev_index, prev, prev_id)
        lost = _fd_clamped(ri_prev if ri_prev else _NO_LOSS, ri_cur, "packetsLost")
    fraction = _fgauge(ri_cur, "fractionLost", 1.0)
    if lost is not None and packets:
        loss_pct = min(100.0, 100 * lost / packets)
    elif fraction is not None:
        loss_pct = 100.0 * fraction
    else:
        loss_pct = 0.0
    jitter = _fgauge(ri_cur, "jitter", _MAX_SECONDS)
    rtt = _fgauge(ri_cur, "roundTripTime", _MAX_SECONDS)
    bitrate = sent_bytes * 8 / elapsed if sent_bytes is not None else None
    rtt_ms = rtt * 1000 if rtt is not None else thresholds.default_rtt_ms
    buffer_ms = 2 * jitter * 1000 if jitter is not None else thresholds.default_buffer_delay_ms
    producer_id = (label.producer_id if label else None) or _derived_id_cached(
        namespace, "outbound-rtp", ssrc
    )
    reason = cur.get("qualityLimitationReason")
    reason = reason if isinstance(reason, str) and reason in _QL_REASONS else None
    fps = width = height = None
    expected_fps = thresholds.expected_frame_rate  # audio rows do not use it
    if kind == "video":
        source_id = cur.get("mediaSourceId")
        source = index.get(source_id) if isinstance(source_id, str) else None
        expected_fps = num((source or {}).get("framesPerSecond")) or expected_fps
        frames = _fd(prev, cur, "framesEncoded")
        fps = _fgauge(cur, "framesPerSecond", _MAX_FPS)
        if fps is None and frames is not None:
            fps = round(frames / elapsed, 2)
        width = _fdimension(cur, "frameWidth")
        height = _fdimension(cur, "frameHeight")
        key_frames = _fd(prev, cur, "keyFramesEncoded")
        pli = _fd(prev, cur, "pliCount")
        fir = _fd(prev, cur, "firCount")
        durations = _ql_durations_fast(prev, cur)
        resolution_changes = _fd(prev, cur, "qualityLimitationResolutionChanges")
    mos = _mos(
        kind,
        label is not None and label.source == "screenshare",
        packets,
        bitrate,
        loss_pct,
        rtt_ms,
        buffer_ms,
        width,
        height,
        index.linked(cur.get("codecId"), "codec"),
        fps,
        expected_fps,
        reason not in (None, "none"),
        thresholds,
    )
    interval = round(elapsed, 6)
    loss = round(loss_pct, 6)
    bitrate_bps = round(bitrate, 3) if bitrate is not None else None
    nack = _fd(prev, cur, "nackCount")
    values: dict[str, Any] = {"mos_quality": mos} if mos - mos == 0 else {}
    values["timestamp"] = stamp
    values["packets_lost"] = lost if lost is not None else 0
    values["jitter"] = jitter if jitter is not None else 0
    values["rtt"] = rtt if rtt is not None else 0
    if packets is not None:
        values["packets_sent"] = packets
    if sent_bytes is not None:
        values["bytes_sent"] = sent_bytes
    if producer_id.__class__ is str or _ok(producer_id):
        values["producer_id"] = producer_id
    values["ssrc"] = ssrc
    mid = cur.get("mid")
    if isinstance(mid, str):
        values["mid"] = mid
    if kind == "video":
        if width is not None:
            values["frame_width"] = width
        if height is not None:
            values["frame_height"] = height
        if fps is not None and fps - fps == 0:
            values["frames_per_second"] = fps
        if frames is not None:
            values["frames_encoded"] = frames
        if key_frames is not None:
            values["key_frames_encoded"] = key_frames
        if pli is not None:
            values["pli_count"] = pli
        if fir is not None:
            values["fir_count"] = fir
        if reason is not None:
            values["quality_limitation_reason"] = reason
        if durations is not None:
            values["quality_limitation_durations"] = durations
        if resolution_changes is not None:
            values["quality_limitation_resolution_changes"] = resolution_changes
    values["_interval_s"] = interval  # finite: so are both timestamps, and ts ≤ year 9999
    values["_loss_pct"] = loss  # in [0, 100]: min(100, …) of finite values, or 100·fraction
    if bitrate_bps is not None and bitrate_bps - bitrate_bps == 0:
        values["_bitrate_bps"] = bitrate_bps
    if (rtt_ms - rtt_ms == 0) if rtt_ms.__class__ is float else _ok(rtt_ms):
        values["_rtt_ms"] = rtt_ms
    if (buffer_ms - buffer_ms == 0) if buffer_ms.__class__ is float else _ok(buffer_ms):
        values["_buffer_delay_ms"] = buffer_ms
    if nack is not None:
        values["_nack_count"] = nack
    active = cur.get("active")
    if isinstance(active, bool):
        values["_active"] = active
    values["_rtt_measured"] = rtt is not None
    values["_loss_measured"] = bool(packets) and (lost is not None or fraction is not None)
    return values


def _consumer_indexed(
    index: ReportIndex,
    prev: Mapping[str, Any],
    cur: Mapping[str, Any],
    elapsed: float,
    label: StreamLabel | None,
    namespace: str,
    thresholds: QualityThresholds,
    stamp: str,
) -> dict[str, Any]:
    """``_consumer_row(...)``; ``stamp`` is ``iso_timestamp(cur["timestamp"])``."""
    ssrc = cur["ssrc"]
    kind = cur["kind"]
    packets = _fd(prev, cur, "packetsReceived")
    received_bytes = _fd(prev, cur, "bytesReceived")
    lost = _fd_clamped(prev, cur, "packetsLost")
    expected = (lost or 0) + (packets or 0)
    loss_pct = 100 * (lost or 0) / expected if expected > 0 else 0.0
    jitter = _fgauge(cur, "jitter", _MAX_SECONDS)
    jbd = _fd(prev, cur, "jitterBufferDelay")
    emitted = _fd(prev, cur, "jitterBufferEmittedCount")
    buffer_ms = (
        jbd / emitted * 1000 if jbd is not None and emitted else thresholds.default_buffer_delay_ms
    )
    rtt = selected_pair_rtt_indexed(index, cur.get("transportId"))
    if rtt is None:
        remote_id = cur.get("remoteId")
        remote = index.get(remote_id) if isinstance(remote_id, str) else None
        rtt = _fgauge(remote or {}, "roundTripTime", _MAX_SECONDS)
    rtt_ms = rtt * 1000 if rtt is not None else thresholds.default_rtt_ms
    bitrate = received_bytes * 8 / elapsed if received_bytes is not None else None
    if label:
        consumer_id = label.consumer_id or _derived_id_cached(namespace, "inbound-rtp", ssrc)
        producer_id, peer_id = label.producer_id, label.remote_peer_id
    else:
        consumer_id = _derived_id_cached(namespace, "inbound-rtp", ssrc)
        producer_id = peer_id = None
    fps = width = height = None
    video = kind == "video"
    if video:
        frames = _fd(prev, cur, "framesDecoded")
        fps = _fgauge(cur, "framesPerSecond", _MAX_FPS)
        if fps is None and frames is not None:
            fps = round(frames / elapsed, 2)
        width = _fdimension(cur, "frameWidth")
        height = _fdimension(cur, "frameHeight")
        dropped = _fd(prev, cur, "framesDropped")
        key_frames = _fd(prev, cur, "keyFramesDecoded")
        fir = _fd(prev, cur, "firCount")
    else:
        concealment = _fd(prev, cur, "concealmentEvents")
    mos = _mos(
        kind,
        label is not None and label.source == "screenshare",
        packets,
        bitrate,
        loss_pct,
        rtt_ms,
        buffer_ms,
        width,
        height,
        index.linked(cur.get("codecId"), "codec"),
        fps,
        thresholds.expected_frame_rate,
        False,
        thresholds,
    )
    interval = round(elapsed, 6)
    loss = round(loss_pct, 6)
    bitrate_bps = round(bitrate, 3) if bitrate is not None else None
    buffer_ms = round(buffer_ms, 6)
    nack = _fd(prev, cur, "nackCount")
    if video:
        freezes = _fd(prev, cur, "freezeCount")
        freezes_s = _fd(prev, cur, "totalFreezesDuration")
        pauses = _fd(prev, cur, "pauseCount")
        received_frames = _fd(prev, cur, "framesReceived")
    values: dict[str, Any] = {"mos_quality": mos} if mos - mos == 0 else {}
    values["timestamp"] = stamp
    if lost is not None:
        values["packets_lost"] = lost
    if jitter is not None:
        values["jitter"] = jitter
    if packets is not None:
        values["packets_received"] = packets
    if received_bytes is not None:
        values["bytes_received"] = received_bytes
    if jbd is not None:
        values["jitter_buffer_delay"] = jbd
    if emitted is not None:
        values["jitter_buffer_emitted_count"] = emitted
    if consumer_id.__class__ is str or _ok(consumer_id):
        values["consumer_id"] = consumer_id
    if producer_id is not None and _ok(producer_id):
        values["producer_id"] = producer_id
    if peer_id is not None and _ok(peer_id):
        values["peer_id"] = peer_id
    values["ssrc"] = ssrc
    mid = cur.get("mid")
    if isinstance(mid, str):
        values["mid"] = mid
    if video:
        if width is not None:
            values["frame_width"] = width
        if height is not None:
            values["frame_height"] = height
        if fps is not None and fps - fps == 0:
            values["frames_per_second"] = fps
        if frames is not None:
            values["frames_decoded"] = frames
        if dropped is not None:
            values["frames_dropped"] = dropped
        if key_frames is not None:
            values["key_frames_decoded"] = key_frames
        if fir is not None:
            values["fir_count"] = fir
    elif concealment is not None:
        values["concealment_events"] = concealment
    values["_interval_s"] = interval
    if loss - loss == 0:  # NaN when Δlost + Δreceived overflows
        values["_loss_pct"] = loss
    if bitrate_bps is not None and bitrate_bps - bitrate_bps == 0:
        values["_bitrate_bps"] = bitrate_bps
    if (rtt_ms - rtt_ms == 0) if rtt_ms.__class__ is float else _ok(rtt_ms):
        values["_rtt_ms"] = rtt_ms
    if (buffer_ms - buffer_ms == 0) if buffer_ms.__class__ is float else _ok(buffer_ms):
        values["_buffer_delay_ms"] = buffer_ms
    if nack is not None:
        values["_nack_count"] = nack
    values["_loss_measured"] = lost is not None and expected > 0
    if video:
        if freezes is not None:
            values["_freeze_count"] = freezes
        if freezes_s is not None:
            values["_freezes_duration_s"] = freezes_s
        if pauses is not None:
            values["_pause_count"] = pauses
        if received_frames is not None:
            values["_frames_received"] = received_frames
    return values


_ROLES = (("outbound-rtp", "producer"), ("inbound-rtp", "consumer"))


def _rtx_indexed(index: ReportIndex) -> set[Any]:
    """``_rtx_ssrcs`` of a report's inbound-rtp objects, memoized on the index."""
    found: set[Any] | None = index.memo.get("rtx")
    if found is None:
        found = _rtx_ssrcs(index.get(sid) for sid in index.listed["inbound-rtp"])
        index.memo["rtx"] = found
    return found


def sample_rows_indexed(
    previous: ReportIndex | None,
    current: ReportIndex,
    *,
    namespace: str,
    labels: Sequence[StreamLabel] = (),
    thresholds: QualityThresholds = QualityThresholds(),  # noqa: B008 - frozen, immutable
) -> list[SampleRow]:
    """``sample_rows(previous_raw, current_raw, namespace=…, labels=…, thresholds=…)`` for
    ``previous = ReportIndex(previous_raw)`` (or ``None``) and
    ``current = ReportIndex(current_raw)``: the same rows, values in the same key order.
    """
    if previous is None or not previous or not current:
        return []
    if not isinstance(namespace, str):
        namespace = str(namespace)
    if not isinstance(thresholds, QualityThresholds):
        thresholds = QualityThresholds()
    label_list = _as_labels(labels)
    stamps: dict[Any, str | None] = {}
    rows: list[SampleRow] = []
    cur_objects, prev_objects = current.normalized, previous.normalized  # all RTP stats
    for stype, role in _ROLES:
        before = previous.by_ssrc(stype)
        if not before:
            continue
        for ssrc, cur_id in current.by_ssrc(stype).items():
            prev_id = before.get(ssrc)
            if prev_id is None:
                continue
            cur = cur_objects[cur_id]
            kind = cur.get("kind")
            if kind != "audio" and kind != "video":
                continue
            prev = prev_objects[prev_id]
            # ``num`` inlined for finite floats and ints (anything else goes through it)
            ts = cur.get("timestamp")
            if not ((ts.__class__ is float and ts - ts == 0) or ts.__class__ is int):
                ts = num(ts)
                if ts is None:
                    continue
            ts_prev = prev.get("timestamp")
            if not (
                (ts_prev.__class__ is float and ts_prev - ts_prev == 0) or ts_prev.__class__ is int
            ):
                ts_prev = num(ts_prev)
                if ts_prev is None:
                    continue
            elapsed = (ts - ts_prev) / 1000
            if elapsed <= 0:
                continue
            if ts in stamps:
                stamp = stamps[ts]
            else:
                stamp = stamps[ts] = _iso_fast(ts)
            if stamp is None:
                continue
            packets = cur.get(_PACKETS[stype])
            if (packets == 0) if packets.__class__ is int else (num(packets) == 0):  # Q13
                continue
            if stype == "inbound-rtp" and _is_rtx(
                cur, current.linked(cur.get("codecId"), "codec"), _rtx_indexed(current)
            ):
                continue
            label = _label_for(cur, label_list) if label_list else None
            try:
                if stype == "outbound-rtp":
                    values = _producer_indexed(
                        previous,
                        current,
                        prev,
                        cur,
                        prev_id,
                        cur_id,
                        elapsed,
                        label,
                        namespace,
                        thresholds,
                        stamp,
                    )
                else:
                    values = _consumer_indexed(
                        current, prev, cur, elapsed, label, namespace, thresholds, stamp
                    )
            except _Reset:
                continue
            screenshare = label is not None and label.source == "screenshare"
            rows.append(
                SampleRow(
                    f"screenshare_{kind}_{role}" if screenshare else f"{kind}_{role}",
                    f"{namespace}:{stype}:{ssrc}",
                    float(ts),
                    values,
                )
            )
    return rows
