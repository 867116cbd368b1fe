"""Builders of hand-made getStats() reports for the stats tests."""

from __future__ import annotations

from typing import Any

T0 = 1_700_000_000_000.0  # epoch ms: 2023-11-14T22:13:20.000Z


def report(*objects: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {o["id"]: o for o in objects}


def outbound(ssrc: int, ts: float, **fields: Any) -> dict[str, Any]:
    return {
        "id": f"OT{ssrc}",
        "type": "outbound-rtp",
        "timestamp": ts,
        "ssrc": ssrc,
        "kind": "audio",
        "remoteId": f"RI{ssrc}",
        **fields,
    }


def remote_inbound(ssrc: int, ts: float, **fields: Any) -> dict[str, Any]:
    return {
        "id": f"RI{ssrc}",
        "type": "remote-inbound-rtp",
        "timestamp": ts,
        "ssrc": ssrc,
        "kind": "audio",
        "localId": f"OT{ssrc}",
        **fields,
    }


def inbound(ssrc: int, ts: float, **fields: Any) -> dict[str, Any]:
    return {
        "id": f"IT{ssrc}",
        "type": "inbound-rtp",
        "timestamp": ts,
        "ssrc": ssrc,
        "kind": "audio",
        "transportId": "T1",
        **fields,
    }


def transport_with_pair(ts: float, rtt: float | None = 0.04) -> list[dict[str, Any]]:
    pair: dict[str, Any] = {
        "id": "CP1",
        "type": "candidate-pair",
        "timestamp": ts,
        "transportId": "T1",
        "localCandidateId": "L1",
        "remoteCandidateId": "R1",
        "nominated": True,
        "state": "succeeded",
    }
    if rtt is not None:
        pair["currentRoundTripTime"] = rtt
    return [
        {"id": "T1", "type": "transport", "timestamp": ts, "selectedCandidatePairId": "CP1"},
        pair,
        {
            "id": "L1",
            "type": "local-candidate",
            "timestamp": ts,
            "address": "10.0.0.1",
            "port": 5000,
            "protocol": "udp",
            "candidateType": "host",
        },
        {
            "id": "R1",
            "type": "remote-candidate",
            "timestamp": ts,
            "address": "203.0.113.9",
            "port": 443,
            "protocol": "udp",
            "candidateType": "host",
        },
    ]


#: The extension fields of decision Q11 beside the RealtimeKit fields of a cumulative block.
MEASURED = ("measured_rows", "measured_avg")


def realtimekit(value: Any) -> Any:
    """``value`` (a cumulative block or a whole ``quality`` object) without the Q11 extension
    fields, to compare with the reference report, which has only the RealtimeKit fields."""
    if isinstance(value, dict):
        return {k: realtimekit(v) for k, v in value.items() if k not in MEASURED}
    if isinstance(value, list):
        return [realtimekit(v) for v in value]
    return value
