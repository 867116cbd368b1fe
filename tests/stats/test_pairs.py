"""candidate_pairs: selection (transport, Firefox selected, nominated fallback), roles, shape."""

from typing import Any

import pytest

from rtk_sessions.stats import candidate_pairs
from rtk_sessions.stats.pairs import selected_pair_ids, selected_pair_rtt

from .helpers import T0, inbound, outbound, report, transport_with_pair


def _pair(pid: str, **fields: Any) -> dict[str, Any]:
    return {"id": pid, "type": "candidate-pair", "transportId": "T", **fields}


def test_selected_by_transport_and_entry_shape() -> None:
    r = report(*transport_with_pair(T0), _pair("other", nominated=True, state="succeeded"))
    r["CP1"].update(
        bytesSent=10,
        bytesReceived=20,
        totalRoundTripTime=1.5,
        availableOutgoingBitrate=300000,
        lastPacketSentTimestamp=T0,
        packetsDiscardedOnSend=0,
        availableIncomingBitrate=None,
    )
    [(role, pid, entry)] = candidate_pairs(r)
    assert (role, pid) == ("producing_transport", "CP1")
    assert entry == {
        "available_outgoing_bitrate": 300000,
        "bytes_received": 20,
        "bytes_sent": 10,
        "current_round_trip_time": 0.04,
        "last_packet_sent_timestamp": T0,
        "packets_discarded_on_send": 0,
        "total_round_trip_time": 1.5,
        "nominated": True,
        "local_candidate_id": "L1",
        "local_candidate_address": "10.0.0.1",
        "local_candidate_port": 5000,
        "local_candidate_protocol": "udp",
        "local_candidate_type": "host",
        "remote_candidate_id": "R1",
        "remote_candidate_address": "203.0.113.9",
        "remote_candidate_port": 443,
        "remote_candidate_protocol": "udp",
        "remote_candidate_type": "host",
    }


def test_firefox_selected_flag() -> None:
    r = report(
        _pair("a", selected=False, nominated=True, state="succeeded"),
        _pair("b", selected=True, nominated=True, state="succeeded"),
    )
    assert selected_pair_ids(r) == ["b"]


def test_nominated_succeeded_fallback_picks_busiest_per_transport() -> None:
    r = report(
        _pair("b", nominated=True, state="succeeded", bytesSent=99, bytesReceived=1),
        _pair("a", nominated=True, state="succeeded", bytesSent=10),
        _pair("c", nominated=True, state="in-progress", bytesSent=1000),
        _pair("d", nominated=False, state="succeeded", bytesSent=1000),
        {**_pair("e", nominated=True, state="succeeded"), "transportId": "T2"},
        {**_pair("f", nominated=True, state="succeeded"), "transportId": None},
    )
    assert selected_pair_ids(r) == ["b", "e", "f"]


def test_no_pairs() -> None:
    assert candidate_pairs({}) == []
    assert candidate_pairs(report(_pair("a", state="failed"))) == []


@pytest.mark.parametrize(
    ("transport", "rtp", "roles"),
    [
        ("producing", [], ["producing_transport"]),
        ("consuming", [], ["consuming_transport"]),
        ("consuming_transport", [], ["consuming_transport"]),
        (None, [], ["producing_transport"]),
        ("bogus", [], ["producing_transport"]),
        (None, ["out"], ["producing_transport"]),
        (None, ["in"], ["consuming_transport"]),
        # sends and receives (P2P): listed once, as producing (issue 11)
        (None, ["out", "in"], ["producing_transport"]),
        ("producing", ["out", "in"], ["producing_transport"]),
    ],
)
def test_roles(transport: str | None, rtp: list[Any], roles: list[Any]) -> None:
    objs = [*transport_with_pair(T0)]
    if "out" in rtp:
        objs.append(outbound(1, T0))
    if "in" in rtp:
        objs.append(inbound(2, T0))
    got = candidate_pairs(report(*objs), transport=transport)
    assert [role for role, _, _ in got] == roles


def test_missing_or_wrong_candidates_keep_ids_only() -> None:
    r = report(
        {"id": "T", "type": "transport", "selectedCandidatePairId": "P"},
        {
            "id": "P",
            "type": "candidate-pair",
            "localCandidateId": "X",
            "remoteCandidateId": 5,
            "nominated": "yes",
            "currentRoundTripTime": "0.1",
        },
        {"id": "X", "type": "remote-candidate", "address": "wrong side"},
    )
    [(_, _, entry)] = candidate_pairs(r)
    assert entry == {"local_candidate_id": "X"}


def test_selected_pair_rtt_prefers_stream_transport() -> None:
    r = report(
        {"id": "TA", "type": "transport", "selectedCandidatePairId": "PA"},
        {"id": "TB", "type": "transport", "selectedCandidatePairId": "PB"},
        {"id": "PA", "type": "candidate-pair", "currentRoundTripTime": 0.1},
        {"id": "PB", "type": "candidate-pair", "currentRoundTripTime": 0.2},
    )
    assert selected_pair_rtt(r, "TB") == 0.2
    assert selected_pair_rtt(r, "TA") == 0.1
    assert selected_pair_rtt(r) == 0.1
    assert selected_pair_rtt(r, "nope") == 0.1
    r["PA"]["currentRoundTripTime"] = -1
    assert selected_pair_rtt(r) == 0.2
    assert selected_pair_rtt({}) is None
