"""Ingest batches built from real recordings (``bench/data/ingest-payloads.json.gz``).

The file (see ``bench/data/SOURCES.md``) holds:

* ``templates``: ``[{name, events, samples}]``, one recorded client each, as ingestion events whose
  ids and peer/meeting/session ids contain ``placeholder`` (``"@T@"``); ``samples[i]`` is how many
  sample rows (``stats_samples``) event ``i`` yields, so samples/s needs no question to the server.
* ``report_source``: ``{name, reports: [{timestamp, stats}]}``, the steady two-second getStats
  reports of one P2P connection with audio and video both ways (4 RTP streams).
"""

from __future__ import annotations

import copy
import gzip
import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parent / "data" / "ingest-payloads.json.gz"

# Numeric getStats fields that are not cumulative counters even where a short recording makes them
# look monotonic (W3C webrtc-stats: gauges, identifiers and configuration).
GAUGES = frozenset(
    {
        "audioLevel", "jitter", "roundTripTime", "currentRoundTripTime", "availableOutgoingBitrate",
        "availableIncomingBitrate", "framesPerSecond", "frameWidth", "frameHeight", "fractionLost",
        "targetBitrate", "ssrc", "payloadType", "clockRate", "channels", "port", "priority",
        "width", "height", "frames", "roundTripTimeMeasurements",
    }
)  # fmt: skip


@dataclass(frozen=True)
class Template:
    """One recorded client: its events as JSON text (with the placeholder) and samples per event."""

    name: str
    events: tuple[str, ...]
    samples: tuple[int, ...]


@dataclass(frozen=True)
class Batch:
    """One ingest request body and what it carries."""

    body: bytes
    events: int
    samples: int


@dataclass(frozen=True)
class Payloads:
    """The loaded file."""

    placeholder: str
    templates: tuple[Template, ...]
    reports: tuple[dict[str, Any], ...]

    @classmethod
    def load(cls, path: Path = DATA) -> Payloads:
        with gzip.open(path, "rt") as f:
            raw = json.load(f)
        templates = tuple(
            Template(t["name"], tuple(json.dumps(e) for e in t["events"]), tuple(t["samples"]))
            for t in raw["templates"]
        )
        for t in templates:
            if len(t.events) != len(t.samples):
                raise ValueError(f"template {t.name}: {len(t.events)} events, {len(t.samples)}")
        return cls(raw["placeholder"], templates, tuple(raw["report_source"]["reports"]))

    def instance(self, template: Template, tag: str) -> list[tuple[str, int]]:
        """The template's events with ``tag`` for the placeholder: ``[(event JSON, samples)]``."""
        return [
            (e.replace(self.placeholder, tag), n)
            for e, n in zip(template.events, template.samples, strict=True)
        ]

    def batches(self, client: str, size: int) -> Iterator[Batch]:
        """Endless batches of ``size`` events: template instances ``{client}-0``, ``{client}-1``, …

        Templates are taken in turn; every instance is a new peer, meeting and session with its own
        event ids, and its events stay in order (an instance may span two batches).
        """
        pending: list[tuple[str, int]] = []
        k = 0
        while True:
            while len(pending) < size:
                template = self.templates[k % len(self.templates)]
                pending += self.instance(template, f"{client}-{k}")
                k += 1
            head, pending = pending[:size], pending[size:]
            body = ('{"events":[' + ",".join(e for e, _ in head) + "]}").encode()
            yield Batch(body, len(head), sum(n for _, n in head))


def _counter_fields(reports: tuple[dict[str, Any], ...]) -> dict[tuple[str, str], float]:
    """``{(stats id, field): largest value}`` of cumulative counters in ``reports``.

    A counter is a numeric field that never decreases over the recording and grows at least once,
    excluding ``GAUGES`` and time fields.
    """
    series: dict[tuple[str, str], list[float]] = {}
    for report in reports:
        for obj in report["stats"]:
            for name, value in obj.items():
                if isinstance(value, bool) or not isinstance(value, int | float):
                    continue
                if name in GAUGES or "imestamp" in name:
                    continue
                series.setdefault((obj["id"], name), []).append(float(value))
    return {
        key: values[-1]
        for key, values in series.items()
        if all(b >= a for a, b in itertools.pairwise(values)) and values[-1] > values[0]
    }


def long_peer(
    payloads: Payloads, tag: str, start_ms: float, reports: int = 3600, interval_ms: float = 2000.0
) -> list[dict[str, Any]]:
    """Events of one peer that stays ``reports × interval`` (default 2 hours), all in time order.

    ``peer.joined`` (peer ``p-{tag}``, meeting ``m-{tag}``, session ``s-{tag}``), then ``reports``
    ``peer.stats`` events: the ``report_source`` reports cycled, timestamps shifted forward (each
    cycle starts one interval after the previous one ended, from ``start_ms``), counters made
    monotonic by adding, per cycle, the recording's last value (so deltas stay realistic), then
    ``peer.left`` one interval after the last report.
    """
    source = payloads.reports
    counters = _counter_fields(source)
    first = source[0]["timestamp"]
    span = source[-1]["timestamp"] - first + interval_ms
    peer = f"p-{tag}"
    events: list[dict[str, Any]] = [
        {
            "id": f"{tag}:join",
            "type": "peer.joined",
            "timestamp": start_ms,
            "peer_id": peer,
            "meeting_id": f"m-{tag}",
            "session_id": f"s-{tag}",
            "meeting_title": "two-hour call",
            "participant": {"display_name": "Two Hours", "custom_participant_id": "two-hours"},
        }
    ]
    last = start_ms
    for i in range(reports):
        cycle, pos = divmod(i, len(source))
        report = source[pos]
        shift = start_ms - first + cycle * span
        stats = copy.deepcopy(report["stats"])
        for obj in stats:
            for name, value in obj.items():
                if isinstance(value, bool) or not isinstance(value, int | float):
                    continue
                if name == "timestamp" or "Timestamp" in name:
                    obj[name] = value + shift
                elif cycle and (obj["id"], name) in counters:
                    obj[name] = value + cycle * counters[(obj["id"], name)]
        last = report["timestamp"] + shift
        events.append(
            {
                "id": f"{tag}:stats:{i}",
                "type": "peer.stats",
                "timestamp": last,
                "peer_id": peer,
                "connection_id": "PC_0",
                "transport": None,
                "stats": stats,
            }
        )
    events.append(
        {
            "id": f"{tag}:left",
            "type": "peer.left",
            "timestamp": last + interval_ms,
            "peer_id": peer,
            "reason": "hung up",
        }
    )
    return events
