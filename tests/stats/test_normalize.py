"""normalize_report and compact_report: input shapes, legacy names, idempotence, cursor size."""

import copy
from typing import Any

import pytest

from rtk_sessions.stats import candidate_pairs, compact_report, normalize_report

from .helpers import T0, inbound, outbound, remote_inbound, report, transport_with_pair


@pytest.mark.parametrize(
    "raw",
    [
        [{"id": "a", "type": "inbound-rtp", "ssrc": 1}],
        {"a": {"id": "a", "type": "inbound-rtp", "ssrc": 1}},
        {"a": {"type": "inbound-rtp", "ssrc": 1}},  # id from the key
        [["a", {"type": "inbound-rtp", "ssrc": 1}]],  # [...report] pairs
    ],
)
def test_accepted_shapes(raw: dict[str, Any] | list[Any]) -> None:
    assert normalize_report(raw) == {"a": {"id": "a", "type": "inbound-rtp", "ssrc": 1}}


@pytest.mark.parametrize("raw", [None, "x", 5, b"x", [1, "a", None], {"a": 1}, [{"no": "type"}]])
def test_garbage_gives_empty(raw: Any) -> None:
    assert normalize_report(raw) == {}


def test_list_entries_without_id_get_index_ids_and_int_ids_become_strings() -> None:
    got = normalize_report([{"type": "codec"}, {"id": 7, "type": "codec"}])
    assert set(got) == {"#0", "7"}
    assert got["7"]["id"] == "7"


def test_duplicate_ids_keep_first() -> None:
    got = normalize_report(
        [{"id": "a", "type": "codec", "n": 1}, {"id": "a", "type": "codec", "n": 2}]
    )
    assert got["a"]["n"] == 1


def test_input_not_mutated() -> None:
    raw = {"a": {"type": "inboundrtp", "mediaType": "audio", "ssrc": "12"}}
    before = copy.deepcopy(raw)
    normalize_report(raw)
    assert raw == before


@pytest.mark.parametrize(
    ("legacy", "expected"),
    [
        ({"type": "inboundrtp"}, "inbound-rtp"),
        ({"type": "outboundrtp"}, "outbound-rtp"),
        ({"type": "candidatepair"}, "candidate-pair"),
        ({"type": "localcandidate"}, "local-candidate"),
        ({"type": "remotecandidate"}, "remote-candidate"),
        ({"type": "inbound-rtp", "isRemote": True}, "remote-inbound-rtp"),
        ({"type": "outbound-rtp", "isRemote": True}, "remote-outbound-rtp"),
        ({"type": "inbound-rtp", "isRemote": False}, "inbound-rtp"),
    ],
)
def test_legacy_type_names(legacy: dict[str, Any], expected: str) -> None:
    assert normalize_report({"x": legacy})["x"]["type"] == expected


def test_rtp_kind_ssrc_and_track_folding() -> None:
    raw = {
        "in": {"type": "inbound-rtp", "mediaType": "video", "ssrc": "42", "trackId": "tr"},
        "tr": {
            "type": "track",
            "kind": "video",
            "trackIdentifier": "t-1",
            "frameWidth": 640,
            "freezeCount": 3,
            "jitterBufferDelay": 9.0,
        },
        "in2": {"type": "inbound-rtp", "ssrc": 43, "codecId": "c"},
        "c": {"type": "codec", "mimeType": "audio/opus"},
        "in3": {"type": "inbound-rtp", "ssrc": "nope", "trackId": "tr"},
        "in4": {"type": "inbound-rtp", "ssrc": 44, "frameWidth": 320, "trackId": "tr"},
        "out": {"type": "outbound-rtp", "ssrc": 1, "kind": "audio", "mediaSourceId": "ms"},
        "ms": {"type": "media-source", "trackIdentifier": "mic-1"},
        "out2": {"type": "outbound-rtp", "ssrc": 2, "kind": "video", "trackId": "tr"},
        "out3": {"type": "outbound-rtp", "ssrc": 3, "kind": "video", "mediaSourceId": "zz"},
    }
    got = normalize_report(raw)
    assert got["in"]["kind"] == "video" and got["in"]["ssrc"] == 42
    assert got["in"]["trackIdentifier"] == "t-1" and got["in"]["frameWidth"] == 640
    assert got["in"]["freezeCount"] == 3 and got["in"]["jitterBufferDelay"] == 9.0
    assert got["in2"]["kind"] == "audio"
    assert got["in3"]["ssrc"] is None and got["in3"]["kind"] == "video"  # kind from the track
    assert got["in4"]["frameWidth"] == 320  # the RTP object's own value wins
    assert got["out"]["trackIdentifier"] == "mic-1"
    assert got["out2"]["trackIdentifier"] == "t-1"
    assert "trackIdentifier" not in got["out3"]
    assert "kind" not in normalize_report({"x": {"type": "inbound-rtp", "codecId": 5}})["x"]


def test_candidate_and_pair_legacy_fields() -> None:
    raw = {
        "l": {
            "type": "localcandidate",
            "ipAddress": "1.2.3.4",
            "portNumber": 9,
            "transport": "udp",
            "candidateType": "serverreflexive",
        },
        "r": {"type": "remote-candidate", "ip": "5.6.7.8", "candidateType": "relayed"},
        "r2": {
            "type": "remote-candidate",
            "candidateType": "peerreflexive",
            "address": "a",
            "ip": "b",
        },
        "p": {"type": "candidate-pair", "state": "inprogress"},
    }
    got = normalize_report(raw)
    assert (got["l"]["address"], got["l"]["port"], got["l"]["protocol"]) == ("1.2.3.4", 9, "udp")
    assert got["l"]["candidateType"] == "srflx"
    assert got["r"]["address"] == "5.6.7.8" and got["r"]["candidateType"] == "relay"
    assert got["r2"]["address"] == "a" and got["r2"]["candidateType"] == "prflx"
    assert got["p"]["state"] == "in-progress"


def _full_report() -> dict[str, Any]:
    return report(
        outbound(
            1,
            T0,
            packetsSent=10,
            bytesSent=100,
            codecId="C",
            mediaSourceId="M",
            totalEncodeTime=1.2,
            qpSum=99,
        ),
        remote_inbound(1, T0, packetsLost=1, roundTripTime=0.1),
        inbound(2, T0, packetsReceived=5, bytesReceived=50, audioLevel=0.3),
        {"id": "C", "type": "codec", "mimeType": "audio/opus"},
        {"id": "M", "type": "media-source", "trackIdentifier": "mic"},
        {"id": "cert", "type": "certificate", "base64Certificate": "x" * 500},
        {"id": "CP2", "type": "candidate-pair", "transportId": "T1", "state": "failed"},
        *transport_with_pair(T0),
    )


def test_normalize_is_idempotent() -> None:
    once = normalize_report(_full_report())
    assert normalize_report(once) == once
    compact = compact_report(once)
    assert normalize_report(compact) == compact


def test_compact_keeps_only_cursor_fields() -> None:
    compact = compact_report(_full_report())
    assert set(compact) == {"OT1", "RI1", "IT2", "T1", "CP1", "L1", "R1"}
    assert "qpSum" not in compact["OT1"] and "totalEncodeTime" not in compact["OT1"]
    assert compact["OT1"]["trackIdentifier"] == "mic"
    assert compact["IT2"]["packetsReceived"] == 5 and "audioLevel" not in compact["IT2"]
    assert compact["RI1"] == {
        "id": "RI1",
        "type": "remote-inbound-rtp",
        "timestamp": T0,
        "ssrc": 1,
        "kind": "audio",
        "localId": "OT1",
        "packetsLost": 1,
    }


def test_compact_preserves_candidate_pairs() -> None:
    full = _full_report()
    assert candidate_pairs(compact_report(full)) == candidate_pairs(full)
    assert candidate_pairs(compact_report(full))


def test_compact_of_garbage() -> None:
    assert compact_report(None) == {}  # type: ignore[arg-type]
    weird: dict[str, Any] = {
        "p": {"type": "candidate-pair", "selected": True, "localCandidateId": "x"},
        "x": {"type": "codec"},
    }
    assert set(compact_report(weird)) == {"p", "x"}


def test_kind_not_derived_from_non_media_mime() -> None:
    raw = {
        "r": {"type": "inbound-rtp", "ssrc": 1, "codecId": "c"},
        "c": {"type": "codec", "mimeType": "application/rtx"},
    }
    assert "kind" not in normalize_report(raw)["r"]


def test_a_normalized_report_is_not_normalized_again() -> None:
    """sample_rows, candidate_pairs and compact_report all accept raw reports; the domain passes
    them the one it normalized, which must come back as is (no second pass on the ingest path)."""
    from rtk_sessions.stats import normalize_report
    from rtk_sessions.stats.normalize import NormalizedReport

    raw = [{"id": "R1", "type": "inbound-rtp", "mediaType": "audio", "ssrc": 1, "timestamp": 1.0}]
    once = normalize_report(raw)
    assert isinstance(once, NormalizedReport) and once["R1"]["kind"] == "audio"
    assert normalize_report(once) is once
    # The same data read back from JSON (a stored cursor) is a plain dict: normalized anew.
    again = normalize_report(dict(once))
    assert again is not once and again == once
