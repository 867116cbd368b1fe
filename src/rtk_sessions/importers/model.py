"""Data model shared by the recording importers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class RecordingFormatError(ValueError):
    """The file is not a recording we understand, or it is corrupt/truncated."""


@dataclass
class StatsSnapshot:
    """One full (decompressed) getStats() report of one peer connection."""

    connection_id: str
    timestamp_ms: float
    report: dict[str, dict[str, Any]]  # stats id -> RTCStats dict (each has id, type, timestamp)


@dataclass
class RecordedClient:
    name: str
    user_agent: str | None
    join_ms: float
    leave_ms: float
    stats: list[StatsSnapshot] = field(default_factory=list)
    labels: list[dict[str, Any]] = field(default_factory=list)
    events: list[tuple[str, float, dict[str, Any]]] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)
    # (timestamp_ms, label) in recording order: what `labels` was built from. Lets the ingest
    # conversion attach the label that was in force when a snapshot was taken (a Jitsi sender can
    # switch from camera to desktop on the same ssrc).
    label_history: list[tuple[float, dict[str, Any]]] = field(default_factory=list)


@dataclass
class Recording:
    source: str
    sha256: str
    clients: list[RecordedClient]
    format: str = ""  # "jitsi-rtcstats" | "rtcstats-v3" | "webrtc-internals" | "peermetrics"
