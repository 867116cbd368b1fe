"""Value types of the stats package: stream kinds, client labels, thresholds and sample rows.

Everything here is plain stdlib data. Nothing performs I/O or reads a clock.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "KINDS",
    "QualityThresholds",
    "SampleRow",
    "StreamLabel",
]

#: The eight RealtimeKit peer-report stream kinds (docs/decisions.md#peer-report, ``quality.*``),
#: in the order the ``quality`` object lists them.
KINDS: tuple[str, ...] = (
    "audio_producer",
    "video_producer",
    "screenshare_audio_producer",
    "screenshare_video_producer",
    "audio_consumer",
    "video_consumer",
    "screenshare_audio_consumer",
    "screenshare_video_consumer",
)

_MEDIA_KINDS = frozenset({"audio", "video"})
_SOURCES = frozenset({"camera", "microphone", "screenshare"})


def num(value: Any) -> float | int | None:
    """``value`` if it is a finite real number (``bool`` excluded), else ``None``."""
    if type(value) is float:  # fast paths for what the ingest path meets most: float, int, None
        return value if math.isfinite(value) else None
    if type(value) is int or value is None:
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _opt_str(value: Any, *, allow_int: bool = False) -> str | None:
    if isinstance(value, str):
        return value
    if allow_int and num(value) is not None and isinstance(value, int):
        return str(value)
    return None


def coerce_ssrc(value: Any) -> int | None:
    """An RTP SSRC (RFC 3550, unsigned 32 bit) from an int or a decimal string, else ``None``."""
    if value.__class__ is int:  # the usual case
        return value if 0 <= value <= 0xFFFFFFFF else None
    if isinstance(value, str):
        text = value.strip()
        if not text.isdigit():
            return None
        value = int(text)
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value if 0 <= value <= 0xFFFFFFFF else None


@dataclass(frozen=True)
class StreamLabel:
    """What the client tells the service about one RTP stream (docs/ingest.md ``labels``).

    getStats() cannot know these facts; all are optional. A label matches a stream by ``ssrc``, then
    ``mid``, then ``track_id`` (W3C ``trackIdentifier``).

    - ssrc: RTP SSRC (RFC 3550) of the stream.
    - mid: SDP media id (RFC 8843) of the transceiver.
    - track_id: ``MediaStreamTrack.id`` (W3C ``trackIdentifier``).
    - kind: ``"audio"`` | ``"video"``.
    - source: ``"camera"`` | ``"microphone"`` | ``"screenshare"``; ``"screenshare"`` files the
      stream under the ``screenshare_*`` kinds.
    - producer_id / consumer_id: the SFU's producer and consumer ids (mediasoup model).
    - remote_peer_id: for a consumed stream, the peer that produces it (the row's ``peer_id``).
    """

    ssrc: int | None = None
    mid: str | None = None
    track_id: str | None = None
    kind: str | None = None
    source: str | None = None
    producer_id: str | None = None
    consumer_id: str | None = None
    remote_peer_id: str | None = None

    @classmethod
    def from_mapping(cls, m: Mapping[str, Any]) -> StreamLabel:
        """Build a label from a JSON object, leniently.

        Unknown keys are ignored; ``ssrc`` may be an int or a decimal string; ``mid`` may be an int;
        a ``kind`` other than audio/video or a ``source`` other than camera/microphone/screenshare
        (compared case-insensitively) becomes ``None``; any other wrongly typed value becomes
        ``None``.
        A non-mapping gives an empty label.
        """
        if not isinstance(m, Mapping):
            return cls()
        kind = _opt_str(m.get("kind"))
        kind = kind.lower() if kind is not None and kind.lower() in _MEDIA_KINDS else None
        source = _opt_str(m.get("source"))
        source = source.lower() if source is not None and source.lower() in _SOURCES else None
        return cls(
            ssrc=coerce_ssrc(m.get("ssrc")),
            mid=_opt_str(m.get("mid"), allow_int=True),
            track_id=_opt_str(m.get("track_id")),
            kind=kind,
            source=source,
            producer_id=_opt_str(m.get("producer_id")),
            consumer_id=_opt_str(m.get("consumer_id")),
            remote_peer_id=_opt_str(m.get("remote_peer_id")),
        )


@dataclass(frozen=True)
class QualityThresholds:
    """This project's tunable definitions (decisions Q3, Q4 and Q8 of quality-metrics.md).

    - poor_resolution_height: camera video rows with ``frame_height`` below this (pixels) count as
      poor resolution (Q8; 360 = "360p").
    - poor_resolution_screenshare_width: screenshare video rows with ``frame_width`` below this
      (pixels) count as poor resolution (Q8; 1280 = 720p-wide text).
    - lag_fps: without W3C freeze stats, a video consumer row with
      ``0 < frames_per_second < lag_fps`` counts as lag (Q8).
    - high_negative_feedback_per_s: a video producer row whose (PLI + FIR) received per second
      (W3C outbound-rtp ``pliCount``/``firCount``) is at least this counts as high negative feedback
      (Q8; 0.2/s = one keyframe request per 5 s).
    - audio_min_bitrate_bps: an audio row below this bitrate (bits/s, from Δbytes) with DTX off is
      treated as muted/near-silent and scored MOS 1 (Q3; matches the reference report).
    - expected_frame_rate: frames/s a video stream is expected to have, for the rtcscore frame-rate
      term when the sender's media-source rate is unknown (Q4).
    - default_rtt_ms / default_buffer_delay_ms: rtcscore's defaults (ms) when the round-trip time or
      jitter-buffer delay is unknown (ggarber/rtcscore ``src/rtc_mos.js``).
    """

    poor_resolution_height: int = 360
    poor_resolution_screenshare_width: int = 1280
    lag_fps: float = 10.0
    high_negative_feedback_per_s: float = 0.2
    audio_min_bitrate_bps: float = 10_000.0
    expected_frame_rate: float = 30.0
    default_rtt_ms: float = 50.0
    default_buffer_delay_ms: float = 50.0


@dataclass(frozen=True)
class SampleRow:
    """One sample row of one RTP stream over one stats interval (decision Q1).

    - kind: one of ``KINDS``.
    - stream_key: stable per RTP stream: ``f"{namespace}:{rtp type}:{ssrc}"``.
    - timestamp_ms: epoch milliseconds of the current report's RTP stats object (W3C ``timestamp``).
    - values: the API sample row with the peer report's key names (timestamp ISO-8601
      ``YYYY-MM-DDTHH:MM:SS.sssZ``; rtt and jitter in seconds; counters as deltas over the interval;
      ``mos_quality`` a float with 2 dp), ``None`` values omitted, plus internal fields whose keys
      start with ``"_"`` (see ``rtk_sessions.stats.rows``) used by the cumulative blocks. The report
      builder strips the ``"_"`` keys.
    """

    kind: str
    stream_key: str
    timestamp_ms: float
    values: dict[str, Any] = field(default_factory=dict)
