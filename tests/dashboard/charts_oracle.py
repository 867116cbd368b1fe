"""The participant page's chart values, computed here from the peer report's JSON (the API's
numbers) with the formulas documented in ``dashboard/static/participant.js`` (``METRICS``), so a
test can compare them with what the page drew (``window.rtkDashboard.charts``)."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

KINDS = (
    "audio_producer",
    "video_producer",
    "screenshare_audio_producer",
    "screenshare_video_producer",
    "audio_consumer",
    "video_consumer",
    "screenshare_audio_consumer",
    "screenshare_video_consumer",
)


def _num(v: Any, scale: float = 1.0) -> float | None:
    return (
        float(v) * scale
        if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
        else None
    )


def _loss(r: dict[str, Any], producer: bool) -> float | None:
    lost = r.get("packets_lost")
    if not isinstance(lost, int | float):
        return None
    base = (r.get("packets_sent") or 0) if producer else lost + (r.get("packets_received") or 0)
    return min(100.0, lost / base * 100) if base > 0 else None


def _buffer(r: dict[str, Any]) -> float | None:
    n, d = r.get("jitter_buffer_emitted_count"), r.get("jitter_buffer_delay")
    return d / n * 1000 if isinstance(n, int | float) and n > 0 and d is not None else None


def _bitrate(r: dict[str, Any], producer: bool, dt: float) -> float | None:
    b = r.get("bytes_sent" if producer else "bytes_received")
    return b * 8 / dt / 1000 if dt > 0 and b is not None else None


def _mos(r: dict[str, Any]) -> float | None:
    v = r.get("mos_quality")
    return float(v) if isinstance(v, int | float) and v > 0 else None


def _ql(state: str):  # type: ignore[no-untyped-def]
    return lambda r, *_: _num((r.get("quality_limitation_durations") or {}).get(state))


# key: (producer only, consumer only, video only, value(row, producer, dt))
METRICS: dict[str, tuple[bool, bool, bool, Any]] = {
    "rtt": (True, False, False, lambda r, *_: _num(r.get("rtt"), 1000)),
    "loss": (False, False, False, lambda r, p, _: _loss(r, p)),
    "jitter": (False, False, False, lambda r, *_: _num(r.get("jitter"), 1000)),
    "jitter_buffer": (False, True, False, lambda r, *_: _buffer(r)),
    "mos": (False, False, False, lambda r, *_: _mos(r)),
    "bitrate": (False, False, False, lambda r, p, dt: _bitrate(r, p, dt)),
    "fps": (False, False, True, lambda r, *_: _num(r.get("frames_per_second"))),
    "height": (False, False, True, lambda r, *_: _num(r.get("frame_height"))),
    "ql_bandwidth": (True, False, True, _ql("bandwidth")),
    "ql_cpu": (True, False, True, _ql("cpu")),
}


def epoch(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def expected_charts(quality: dict[str, Any]) -> dict[str, dict[str, list[tuple[float, float]]]]:
    """``{"{kind}.{metric}": {stream id: [(epoch s, value)]}}`` of every non-empty series."""
    out: dict[str, dict[str, list[tuple[float, float]]]] = {}
    for kind in KINDS:
        rows = quality.get(kind) or []
        producer, video = kind.endswith("_producer"), "video" in kind
        streams: dict[str, list[dict[str, Any]]] = {}
        for r in rows:
            sid = (
                r.get("producer_id") if producer else r.get("consumer_id")
            ) or f"ssrc {r.get('ssrc')}"
            streams.setdefault(sid, []).append(r)
        for key, (p_only, c_only, v_only, fn) in METRICS.items():
            if (p_only and not producer) or (c_only and producer) or (v_only and not video):
                continue
            for sid, items in streams.items():
                points, prev = [], None
                for r in items:
                    t = epoch(r["timestamp"])
                    v = fn(r, producer, 0.0 if prev is None else t - prev)
                    prev = t
                    if v is not None:
                        points.append((t, v))
                if points:
                    out.setdefault(f"{kind}.{key}", {})[sid] = points
    return out


def drawn_points(chart: dict[str, Any]) -> list[list[tuple[float, float]]]:
    """The page's series of one chart as [(x, y)] lists (nulls dropped), in series order."""
    xs = chart["x"]
    return [
        [(x, y) for x, y in zip(xs, ys, strict=True) if y is not None]
        for ys in chart["series"].values()
    ]
