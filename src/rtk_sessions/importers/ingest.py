"""RecordedClient -> ingestion events (docs/ingest.md)."""

from __future__ import annotations

from typing import Any

from ._rtcstats_common import labels_at
from .model import RecordedClient

_METADATA_KEYS = (
    "user_agent",
    "device_info",
    "browser_metadata",
    "sdk_name",
    "sdk_type",
    "sdk_version",
    "room_view_type",
    "ip_information",
    "native_metadata",
    "pc_metadata",
)


def _scalar_md(md: dict[str, Any]) -> dict[str, Any]:
    ok = (str, int, float, bool)
    return {str(k): v for k, v in md.items() if v is None or isinstance(v, ok)}


def to_ingest_events(
    client: RecordedClient,
    *,
    peer_id: str,
    meeting_id: str,
    session_id: str,
    meeting_title: str | None,
    id_prefix: str,
    display_name: str | None = None,
) -> list[dict[str, Any]]:
    """The events that replay ``client`` through the ingestion API, in timestamp order.

    ``peer.joined`` (join_ms), ``peer.metadata`` (join_ms), then ``peer.stats`` per snapshot and
    ``peer.event`` per client event merged by time (stats first on ties), then ``peer.left``
    (leave_ms). Ids are ``f"{id_prefix}:{n}"`` with n = 0, 1, ... in that order, so importing the
    same file with the same prefix twice yields the same ids (the API skips duplicates).
    Timestamps are epoch-ms numbers.
    """
    participant: dict[str, Any] = {
        "display_name": display_name if display_name is not None else client.name,
        "custom_participant_id": client.name,
    }
    joined: dict[str, Any] = {
        "type": "peer.joined",
        "timestamp": client.join_ms,
        "peer_id": peer_id,
        "meeting_id": meeting_id,
        "session_id": session_id,
        "participant": participant,
    }
    if meeting_title is not None:
        joined["meeting_title"] = meeting_title
    out: list[dict[str, Any]] = [joined]
    md = {k: client.metadata[k] for k in _METADATA_KEYS if k in client.metadata}
    if client.user_agent and "user_agent" not in md:
        md["user_agent"] = client.user_agent
    out.append({"type": "peer.metadata", "timestamp": client.join_ms, "peer_id": peer_id, **md})

    body: list[tuple[float, int, int, dict[str, Any]]] = []
    for i, snap in enumerate(client.stats):
        ev: dict[str, Any] = {
            "type": "peer.stats",
            "timestamp": snap.timestamp_ms,
            "peer_id": peer_id,
            "connection_id": snap.connection_id,
            "transport": None,
            "stats": [{**obj, "id": obj.get("id", sid)} for sid, obj in snap.report.items()],
        }
        labels = labels_at(client, snap)
        if labels:
            ev["labels"] = labels
        body.append((snap.timestamp_ms, 0, i, ev))
    for i, (name, ts, meta) in enumerate(client.events):
        ev = {"type": "peer.event", "timestamp": ts, "peer_id": peer_id, "name": name}
        if meta:
            ev["metadata"] = _scalar_md(meta)
        body.append((ts, 1, i, ev))
    body.sort(key=lambda t: t[:3])
    out.extend(ev for *_, ev in body)
    out.append(
        {
            "type": "peer.left",
            "timestamp": client.leave_ms,
            "peer_id": peer_id,
            "reason": "recording ended",
        }
    )
    return [{"id": f"{id_prefix}:{n}", **ev} for n, ev in enumerate(out)]
