"""The nesting check of getStats reports in an ingestion body (docs/ingest.md, "Limits"): a
report is refused when ``orjson`` cannot serialize it (deeper than 254 levels) and the walk of
``json_problem`` then finds it deeper than 32 levels; anything shallower passes. The check skips
serializing reports it can clear by looking at their containers only (``_shallow``), and must
answer as serializing them would, at every depth and shape."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from rtk_sessions.api.ingest import parse_batch
from rtk_sessions.config import Settings
from rtk_sessions.contract.ingest import MAX_DEPTH, batch_problem, json_problem
from rtk_sessions.errors import BadRequest

_OUTBOUND = b'{"id":"OT1","type":"outbound-rtp","kind":"audio","ssrc":1,"timestamp":1.7e12'


def _nested(levels: int, *, leaf: bytes = b"1", arrays: bool = False) -> bytes:
    """A JSON value of ``levels`` nested objects (``{"a": ...}``), or arrays, around ``leaf``."""
    opening, closing = (b"[", b"]") if arrays else (b'{"a":', b"}")
    return opening * levels + leaf + closing * levels


def _body(report: bytes) -> bytes:
    event = (
        b'{"id":"e1","type":"peer.stats","timestamp":1700000000000,"peer_id":"p1",'
        b'"connection_id":"pc0","stats":' + report + b"}"
    )
    return b'{"events":[' + event + b"]}"


def _serialized_or_walked(data: dict[str, Any]) -> str | None:
    """What the check answered before ``_shallow``: None when ``orjson`` serializes the reports
    (no escaped NUL in these bodies), else the walk's answer."""
    reports = [event["stats"] for event in data["events"]]
    try:
        orjson.dumps(reports)
        return None
    except orjson.JSONEncodeError:
        pass
    for index, report in enumerate(reports):
        problem = json_problem(report, numbers=False, at=f"events[{index}].stats", depth=3)
        if problem is not None:
            return problem
    return None


def _reports() -> list[bytes]:
    out = []
    for levels in [*range(40), *range(245, 265), 1000]:
        member = _nested(levels)
        out.append(b"[" + _OUTBOUND + b',"x":' + member + b"}]")  # nested in a stats object
        out.append(b'{"OT1":' + _OUTBOUND + b',"x":' + member + b"}}")  # a report by id
        out.append(b"[" + _nested(levels, arrays=True) + b"]")  # arrays all the way down
        out.append(b"[" + _nested(levels, leaf=b"{}") + b"]")  # an empty object at the bottom
        out.append(b"[" + _nested(levels, leaf=b"[]", arrays=True) + b"]")
    out += [b"[]", b"{}", b"5", b'"x"', b"[1, {}, []]", b"[" + _OUTBOUND + b"}, 7]"]
    return out


@pytest.mark.parametrize("report", _reports(), ids=lambda r: f"{len(r)}:{r[:12]!r}")
def test_reports_are_refused_as_serializing_them_refused_them(report: bytes) -> None:
    raw = _body(report)
    data = orjson.loads(raw)
    assert batch_problem(data, raw) == _serialized_or_walked(data)


def test_a_report_too_deep_to_serialize_is_400_and_one_of_33_levels_passes() -> None:
    """Both sides of the bound, through ``parse_batch``: inside a report, levels beyond
    ``MAX_DEPTH`` pass as long as ``orjson`` serializes them."""
    settings = Settings()
    deep = _body(b"[" + _OUTBOUND + b',"x":' + _nested(300) + b"}]")
    with pytest.raises(BadRequest, match=r"events\[0\]\.stats.*nested deeper than 32 levels"):
        parse_batch(deep, settings)
    past_the_limit = _body(b"[" + _OUTBOUND + b',"x":' + _nested(MAX_DEPTH) + b"}]")
    assert len(parse_batch(past_the_limit, settings).events) == 1
