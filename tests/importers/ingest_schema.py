"""A small validator for ingestion events, written from docs/ingest.md (the contract)."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

PEER_TYPES = {
    "peer.joined",
    "peer.left",
    "peer.stats",
    "peer.metadata",
    "peer.devices",
    "peer.device_selected",
    "peer.event",
}
COMMON = {"id", "type", "timestamp", "peer_id"}
ALLOWED = {
    "peer.joined": {
        "meeting_id",
        "meeting_title",
        "session_id",
        "participant",
        "socket_session_id",
    },
    "peer.left": {"reason"},
    "peer.stats": {"connection_id", "transport", "stats", "labels"},
    "peer.metadata": {
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
    },
    "peer.event": {"name", "metadata"},
}
PARTICIPANT_KEYS = {
    "user_id",
    "custom_participant_id",
    "display_name",
    "preset_name",
    "preset_view_type",
}
LABEL_KEYS = {
    "ssrc",
    "mid",
    "track_id",
    "kind",
    "source",
    "producer_id",
    "consumer_id",
    "remote_peer_id",
}


class Invalid(AssertionError):
    pass


def _check(cond: bool, msg: str) -> None:
    if not cond:
        raise Invalid(msg)


def _is_str(v: Any, lo: int = 0, hi: int | None = None) -> bool:
    return isinstance(v, str) and len(v) >= lo and (hi is None or len(v) <= hi)


def _is_ts(v: Any) -> bool:
    if isinstance(v, bool):
        return False
    if isinstance(v, int | float):
        return math.isfinite(v) and v > 0
    if isinstance(v, str):
        try:
            datetime.fromisoformat(v.replace("Z", "+00:00"))
            return True
        except ValueError:
            return False
    return False


def validate_event(ev: dict[str, Any], where: str = "event") -> None:
    _check(isinstance(ev, dict), f"{where}: not an object")
    _check(_is_str(ev.get("id"), 1, 128), f"{where}: id must be a 1-128 char string")
    t: str = ev.get("type", "")
    _check(t in ALLOWED, f"{where}: unsupported type {t!r}")
    _check(_is_ts(ev.get("timestamp")), f"{where}: bad timestamp {ev.get('timestamp')!r}")
    _check(_is_str(ev.get("peer_id"), 1, 64), f"{where}: peer_id must be a 1-64 char string")
    extra = set(ev) - COMMON - ALLOWED[t]
    _check(not extra, f"{where}: unknown fields {sorted(extra)} for {t}")
    if t == "peer.joined":
        _check(_is_str(ev.get("meeting_id"), 1), f"{where}: meeting_id required (API token)")
        for k in ("meeting_title", "session_id", "socket_session_id"):
            _check(ev.get(k) is None or _is_str(ev[k]), f"{where}: {k} must be a string")
        p = ev.get("participant")
        if p is not None:
            _check(
                isinstance(p, dict) and set(p) <= PARTICIPANT_KEYS,
                f"{where}: bad participant {p!r}",
            )
            for k, v in p.items():
                if k == "preset_view_type":
                    _check(
                        v in ("GROUP_CALL", "WEBINAR", "AUDIO_ROOM", "LIVESTREAM", "CHAT"),
                        f"{where}: bad preset_view_type",
                    )
                else:
                    _check(v is None or _is_str(v), f"{where}: participant.{k} must be a string")
    elif t == "peer.left":
        _check(ev.get("reason") is None or _is_str(ev["reason"]), f"{where}: reason")
    elif t == "peer.stats":
        _check(_is_str(ev.get("connection_id"), 1), f"{where}: connection_id")
        _check(ev.get("transport") in ("producing", "consuming", None), f"{where}: transport")
        stats = ev.get("stats")
        objs = (
            stats
            if isinstance(stats, list)
            else (list(stats.values()) if isinstance(stats, dict) else None)
        )
        _check(objs is not None, f"{where}: stats must be an array or object")
        for i, o in enumerate(objs or []):
            _check(isinstance(o, dict), f"{where}: stats[{i}] not an object")
            _check(_is_str(o.get("id"), 1), f"{where}: stats[{i}].id")
            _check(_is_str(o.get("type"), 1), f"{where}: stats[{i}].type")
            _check(
                isinstance(o.get("timestamp"), int | float)
                and not isinstance(o.get("timestamp"), bool),
                f"{where}: stats[{i}].timestamp must be epoch ms",
            )
        labels = ev.get("labels")
        if labels is not None:
            _check(isinstance(labels, list), f"{where}: labels must be an array")
            for lb in labels:
                _check(isinstance(lb, dict) and set(lb) <= LABEL_KEYS, f"{where}: label {lb!r}")
                _check(lb.get("kind") in (None, "audio", "video"), f"{where}: label kind")
                _check(
                    lb.get("source") in (None, "camera", "microphone", "screenshare"),
                    f"{where}: label source",
                )
                _check(
                    lb.get("ssrc") is None or isinstance(lb["ssrc"], int), f"{where}: label ssrc"
                )
    elif t == "peer.metadata":
        _check(ev.get("user_agent") is None or _is_str(ev["user_agent"]), f"{where}: user_agent")
        di = ev.get("device_info")
        _check(
            di is None
            or (isinstance(di, dict) and set(di) <= {"cpus", "is_mobile", "os", "os_version"}),
            f"{where}: device_info",
        )
    elif t == "peer.event":
        _check(_is_str(ev.get("name"), 1), f"{where}: name")
        md = ev.get("metadata")
        if md is not None:
            _check(isinstance(md, dict), f"{where}: metadata must be an object")
            for k, v in md.items():
                scalar = v is None or isinstance(v, str | int | float | bool)
                _check(isinstance(k, str) and scalar, f"{where}: metadata.{k} must be a scalar")


def validate_batch(events: list[dict[str, Any]]) -> None:
    ids = [e["id"] for e in events]
    _check(len(ids) == len(set(ids)), "duplicate event ids")
    for i, ev in enumerate(events):
        validate_event(ev, f"events[{i}]")
