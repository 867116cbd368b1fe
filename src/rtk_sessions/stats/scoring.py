"""Mean Opinion Score (MOS) estimates per sample row (decisions Q3 and Q4 of quality-metrics.md).

All functions are pure and total: they accept any real numbers and return a MOS rounded to 2 dp.
"""

from __future__ import annotations

import math

__all__ = [
    "audio_delay_impairment",
    "audio_mos",
    "audio_r_factor",
    "r_to_mos",
    "screenshare_video_mos",
    "video_mos",
]


def r_to_mos(r: float) -> float:
    """MOS (1..4.5) from the transmission rating factor R (0..100).

    Source: ITU-T G.107 (E-model) Annex B, eq. B-4: ``MOS = 1 + 0.035R + 7e-6·R(R−60)(100−R)``;
    ``MOS = 1`` for ``R ≤ 0`` and ``4.5`` for ``R ≥ 100``. Not rounded.
    """
    if r <= 0:
        return 1.0
    if r >= 100:
        return 4.5
    return 1 + 0.035 * r + 7e-6 * r * (r - 60) * (100 - r)


def audio_delay_impairment(delay_ms: float) -> float:
    """Delay impairment Id of the E-model from the one-way mouth-to-ear delay (ms).

    Source: the widely used simplification of ITU-T G.107's Idd term by Cole & Rosenbluth,
    "Voice over IP performance monitoring", ACM SIGCOMM CCR 31(2), 2001:
    ``Id = 0.024·d + 0.11·(d − 177.3)·H(d − 177.3)`` (H the unit step). It replaces rtcscore's
    quadratic term (decision Q3).
    """
    delay_ms = max(0.0, delay_ms)
    return 0.024 * delay_ms + (0.11 * (delay_ms - 177.3) if delay_ms > 177.3 else 0.0)


def audio_r_factor(
    *,
    loss_pct: float,
    bitrate_bps: float | None,
    rtt_ms: float,
    buffer_delay_ms: float,
    fec: bool = True,
    dtx: bool = False,
) -> float:
    """E-model R (0..100) of an Opus audio stream, rtcscore structure with the G.107 delay term.

    Source: ggarber/rtcscore ``src/rtc_mos.js`` (audio), with decision Q3's change of Id:
    - one-way delay ``d = 20 + buffer_delay_ms + rtt_ms/2`` (20 ms packetization);
    - equipment impairment ``Ie = 8`` with DTX, else ``clamp(55 − 4.6·ln(bitrate_bps), 0, 30)``,
      or 6 when the bitrate is unknown or not positive;
    - packet-loss robustness ``Bpl = 20`` with Opus in-band FEC, else 10;
    - ``Ie,eff = Ie + (100 − Ie)·Ppl/(Ppl + Bpl)`` with ``Ppl = loss_pct`` (0..100);
    - ``R = clamp(100 − Ie,eff − Id(d), 0, 100)`` with Id from ``audio_delay_impairment``.
    """
    return _audio_r(loss_pct, bitrate_bps, rtt_ms, buffer_delay_ms, fec, dtx)


def _audio_r(
    loss_pct: float,
    bitrate_bps: float | None,
    rtt_ms: float,
    buffer_delay_ms: float,
    fec: bool,
    dtx: bool,
) -> float:
    """``audio_r_factor`` with positional arguments (the per-row hot path)."""
    delay = 20 + max(0.0, buffer_delay_ms) + max(0.0, rtt_ms) / 2
    if dtx:
        ie = 8.0
    elif bitrate_bps is not None and bitrate_bps > 0:
        ie = max(0, min(30, 55 - 4.6 * math.log(bitrate_bps)))  # clamped to [0, 30]
    else:
        ie = 6.0
    bpl = 20.0 if fec else 10.0
    loss = max(0, min(100, loss_pct))
    ie_eff = ie + (100 - ie) * loss / (loss + bpl)
    return max(0, min(100, 100 - ie_eff - audio_delay_impairment(delay)))


def audio_mos_positional(
    loss_pct: float,
    bitrate_bps: float | None,
    rtt_ms: float,
    buffer_delay_ms: float,
    fec: bool,
    dtx: bool,
) -> float:
    """``audio_mos`` with positional arguments, for the per-row hot path (same code)."""
    return round(r_to_mos(_audio_r(loss_pct, bitrate_bps, rtt_ms, buffer_delay_ms, fec, dtx)), 2)


def audio_mos(
    *,
    loss_pct: float,
    bitrate_bps: float | None,
    rtt_ms: float,
    buffer_delay_ms: float,
    fec: bool = True,
    dtx: bool = False,
) -> float:
    """Audio MOS (1..4.5, 2 dp) = G.107 B-4 of ``audio_r_factor`` (decision Q3).

    loss_pct: packet loss of the interval, percent; bitrate_bps: Δbytes·8/Δt; rtt_ms and
    buffer_delay_ms: milliseconds; fec/dtx: Opus ``useinbandfec``/``usedtx`` from the codec's
    ``sdpFmtpLine`` (rtcscore defaults: FEC on, DTX off).
    """
    return audio_mos_positional(loss_pct, bitrate_bps, rtt_ms, buffer_delay_ms, fec, dtx)


def video_mos(
    *,
    bitrate_bps: float,
    width: float,
    height: float,
    frame_rate: float,
    expected_frame_rate: float,
    rtt_ms: float,
    buffer_delay_ms: float,
    codec_factor: float = 1.0,
) -> float:
    """Camera video MOS (1..5, 2 dp), rtcscore's video model (decision Q4).

    Source: ggarber/rtcscore ``src/rtc_mos.js`` (video; "logarithmic regression on very limited
    data"):
    - bits per pixel per frame ``b = codec_factor·bitrate_bps / (width·height) / frame_rate``
      (``codec_factor`` 1.2 for VP9, else 1);
    - ``base = clamp(0.56·ln(b) + 5.36, 1, 5)``;
    - ``MOS = clamp(base − 1.9·ln(expected_frame_rate/frame_rate) − 0.002·(buffer_delay_ms +
      rtt_ms/2), 1, 5)``.
    This project's deviations: frame rates above ``expected_frame_rate`` earn no bonus (the ratio is
    at least 1), and ``frame_rate < 1``, no pixels or no bits give 1 (as rtcscore-go does for fps).
    """
    return video_mos_positional(
        bitrate_bps,
        width,
        height,
        frame_rate,
        expected_frame_rate,
        rtt_ms,
        buffer_delay_ms,
        codec_factor,
    )


def video_mos_positional(
    bitrate_bps: float,
    width: float,
    height: float,
    frame_rate: float,
    expected_frame_rate: float,
    rtt_ms: float,
    buffer_delay_ms: float,
    codec_factor: float,
) -> float:
    """``video_mos`` with positional arguments, for the per-row hot path (same code)."""
    pixels = width * height
    if frame_rate < 1 or pixels <= 0 or bitrate_bps <= 0:
        return 1.0
    bpppf = codec_factor * bitrate_bps / pixels / frame_rate
    if not bpppf > 0:  # underflow or NaN from absurd inputs
        return 1.0
    base = max(1, min(5, 0.56 * math.log(bpppf) + 5.36))  # clamped to [1, 5]
    ratio = max(1.0, expected_frame_rate / frame_rate)
    delay = max(0.0, buffer_delay_ms) + max(0.0, rtt_ms) / 2
    return round(max(1, min(5, base - 1.9 * math.log(ratio) - 0.002 * delay)), 2)


def screenshare_video_mos(*, loss_pct: float, limited: bool) -> float:
    """Loss-only MOS of screenshare video (decision Q4), after LiveKit's old ``mos.go`` (@e22de045).

    LiveKit used it because rtcscore "gives lower score when screen share content is static":
    loss 0 and not quality-limited → 5; loss ≤ 2 % and not limited → 4.5; loss ≥ 4 % → 2;
    otherwise 3.5. ``limited``: the sender's ``qualityLimitationReason`` is not ``none``.
    """
    if loss_pct >= 4:
        return 2.0
    if not limited and loss_pct <= 0:
        return 5.0
    if not limited and loss_pct <= 2:
        return 4.5
    return 3.5
