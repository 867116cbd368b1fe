"""The shapes a ``peer.stats`` event's ``stats`` may take (contract.ingest ``StatsReport``): a
list of RTCStats objects or an object of them by id, empty included; anything else is 400."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from rtk_sessions.api.ingest import parse_batch
from rtk_sessions.config import Settings
from rtk_sessions.contract.ingest import PeerStats
from rtk_sessions.errors import BadRequest

_STATS = {"id": "o1", "type": "outbound-rtp", "ssrc": 1, "kind": "audio"}


def _body(stats: Any) -> bytes:
    event = {
        "id": "e1",
        "type": "peer.stats",
        "timestamp": 1_700_000_000_000,
        "peer_id": "p1",
        "connection_id": "PC_0",
        "stats": stats,
    }
    return orjson.dumps({"events": [event]})


@pytest.mark.parametrize(
    "stats", [[], {}, [_STATS], [_STATS, {"type": "codec"}], {"o1": _STATS}, {"a": {}, "b": {}}]
)
def test_lists_and_objects_of_stats_objects_pass_as_sent(stats: Any) -> None:
    (event,) = parse_batch(_body(stats), Settings()).events
    assert isinstance(event, PeerStats)
    assert event.stats == stats


@pytest.mark.parametrize(
    ("stats", "message"),
    [
        ([_STATS, 1], "must be a list of stats objects"),
        ([None], "must be a list of stats objects"),
        ([[_STATS]], "must be a list of stats objects"),
        ({"o1": _STATS, "x": []}, "must be an object of stats objects by id"),
        ({"x": "y"}, "must be an object of stats objects by id"),
        ("report", "must be a list of stats objects or an object of them by id"),
        (None, "must be a list of stats objects or an object of them by id"),
    ],
)
def test_anything_else_is_400(stats: Any, message: str) -> None:
    with pytest.raises(BadRequest, match=message):
        parse_batch(_body(stats), Settings())
