"""Nothing in rtk_sessions.stats raises on garbage, and importing it loads no web/DB stack."""

import json
import math
import random
import subprocess
import sys
from typing import Any

import pytest

from rtk_sessions.stats import (
    KINDS,
    StreamLabel,
    build_quality,
    candidate_pairs,
    compact_report,
    cumulative,
    normalize_report,
    sample_rows,
)

from .helpers import T0, inbound, outbound, remote_inbound, report, transport_with_pair

_FIELDS = [
    "id",
    "type",
    "timestamp",
    "ssrc",
    "kind",
    "mediaType",
    "mid",
    "trackIdentifier",
    "trackId",
    "remoteId",
    "localId",
    "codecId",
    "mediaSourceId",
    "transportId",
    "packetsSent",
    "bytesSent",
    "packetsReceived",
    "bytesReceived",
    "packetsLost",
    "fractionLost",
    "jitter",
    "roundTripTime",
    "jitterBufferDelay",
    "jitterBufferEmittedCount",
    "framesEncoded",
    "framesDecoded",
    "framesPerSecond",
    "frameWidth",
    "frameHeight",
    "keyFramesEncoded",
    "keyFramesDecoded",
    "pliCount",
    "firCount",
    "nackCount",
    "qualityLimitationReason",
    "qualityLimitationDurations",
    "qualityLimitationResolutionChanges",
    "freezeCount",
    "totalFreezesDuration",
    "selected",
    "nominated",
    "state",
    "selectedCandidatePairId",
    "localCandidateId",
    "remoteCandidateId",
    "currentRoundTripTime",
    "address",
    "ip",
    "port",
    "candidateType",
    "url",
    "sdpFmtpLine",
    "mimeType",
    "isRemote",
    "active",
    "concealmentEvents",
    "framesDropped",
    "framesReceived",
]
_TYPES = [
    "inbound-rtp",
    "outbound-rtp",
    "remote-inbound-rtp",
    "remote-outbound-rtp",
    "candidate-pair",
    "transport",
    "local-candidate",
    "remote-candidate",
    "codec",
    "track",
    "media-source",
    "inboundrtp",
    "bogus",
]


def _junk(rng: random.Random, depth: int = 0) -> Any:
    choices: list[Any] = [
        None,
        True,
        False,
        0,
        -1,
        1,
        2**40,
        -(2**63),
        1e308,
        -1e308,
        math.nan,
        math.inf,
        -math.inf,
        0.5,
        -0.0,
        "",
        "x",
        "12",
        "audio",
        "video",
        "screenshare",
        "OT1",
        "IT7",
        "T1",
        "CP1",
        "useinbandfec=1;usedtx=1",
        "video/VP9",
        "none",
        "bandwidth",
        "2023-12-14T13:35:36.000Z",
        rng.randint(-(10**6), 10**12),
        rng.uniform(-1e6, 1e13),
    ]
    if depth < 2:
        choices += [[_junk(rng, depth + 1)], {"none": _junk(rng, depth + 1), "cpu": 1}]
    return rng.choice(choices)


def _random_stats(rng: random.Random) -> dict[str, Any]:
    stats = {name: _junk(rng) for name in rng.sample(_FIELDS, rng.randint(0, 20))}
    if rng.random() < 0.9:
        stats["type"] = rng.choice(_TYPES)
    if rng.random() < 0.7:
        stats["ssrc"] = rng.choice([1, 7, "7", None])
    if rng.random() < 0.7:
        stats["timestamp"] = rng.choice([T0, T0 + 1000, T0 - 5, 0, -1, 1e30, math.nan, "t"])
    return stats


def _random_report(rng: random.Random) -> Any:
    shape = rng.random()
    objects = [_random_stats(rng) for _ in range(rng.randint(0, 8))]
    if shape < 0.4:
        return {
            str(rng.choice(["OT1", "IT7", "RI1", "T1", "CP1", "L1", rng.random()])): o
            for o in objects
        }
    if shape < 0.8:
        return [*objects, _junk(rng)]
    return _junk(rng)


def _random_labels(rng: random.Random) -> list[Any]:
    return [
        rng.choice(
            [
                StreamLabel.from_mapping(
                    {
                        k: _junk(rng)
                        for k in ("ssrc", "mid", "track_id", "kind", "source", "producer_id")
                    }
                ),
                {"ssrc": _junk(rng)},
                _junk(rng),
                StreamLabel(ssrc=7, source="screenshare"),
            ]
        )
        for _ in range(rng.randint(0, 3))
    ]


@pytest.mark.parametrize("seed", range(300))
def test_random_garbage_never_raises(seed: Any) -> None:
    rng = random.Random(seed)
    prev, cur = _random_report(rng), _random_report(rng)
    normalize_report(cur)
    compact_report(cur)
    candidate_pairs(cur, transport=rng.choice([None, "producing", "consuming", 5]))  # type: ignore[arg-type]
    rows = sample_rows(
        prev,
        cur,
        namespace="n",
        labels=_random_labels(rng),
        transport=rng.choice([None, "producing"]),
    )
    sample_rows(compact_report(prev), cur, namespace="n")
    by_kind: dict[str, list[Any]] = {}
    for row in rows:
        assert row.kind in KINDS
        assert 1 <= row.values["mos_quality"] <= 5
        by_kind.setdefault(row.kind, []).append(row)
    junk_rows = [
        {
            k: _junk(rng)
            for k in (
                "mos_quality",
                "packets_lost",
                "packets_sent",
                "rtt",
                "frames_per_second",
                "frame_width",
                "timestamp",
                "quality_limitation_durations",
                "_interval_s",
            )
        }
        for _ in range(3)
    ]
    for kind in KINDS:
        cumulative(kind, junk_rows)
        cumulative(kind, by_kind.get(kind, []))
    quality = build_quality({**by_kind, "video_producer": junk_rows})
    # Computed output must be valid JSON (the service stores and serves it); the junk rows
    # themselves are passed through as given, so only the cumulative blocks are checked here.
    json.dumps({k: v for k, v in quality.items() if k.endswith("_cumulative")}, allow_nan=False)
    json.dumps([row.values for row in rows], allow_nan=False)
    json.dumps(candidate_pairs(cur), allow_nan=False)


def _valid_pair() -> tuple[dict[str, Any], dict[str, Any]]:
    prev = report(
        outbound(1, T0, packetsSent=10, bytesSent=100, kind="video"),
        remote_inbound(1, T0, packetsLost=0),
        inbound(7, T0, packetsReceived=1),
        *transport_with_pair(T0),
    )
    cur = report(
        outbound(1, T0 + 1000, packetsSent=20, bytesSent=2000, kind="video"),
        remote_inbound(1, T0 + 900, packetsLost=1),
        inbound(7, T0 + 1000, packetsReceived=5),
        *transport_with_pair(T0 + 1000),
    )
    return prev, cur


@pytest.mark.parametrize("seed", range(300))
def test_mutated_valid_reports_never_raise(seed: Any) -> None:
    """Start from a valid pair of reports and corrupt single members (deeper code paths)."""
    rng = random.Random(seed)
    prev, cur = _valid_pair()
    for target in (prev, cur):
        for _ in range(rng.randint(1, 4)):
            stats = target[rng.choice(list(target))]
            stats[rng.choice(_FIELDS)] = _junk(rng)
    rows = sample_rows(prev, cur, namespace="n", labels=_random_labels(rng))
    json.dumps([row.values for row in rows], allow_nan=False)
    json.dumps(build_quality({row.kind: [row.values] for row in rows}), allow_nan=False)
    json.dumps(candidate_pairs(cur), allow_nan=False)
    compact_report(cur)


def test_label_from_mapping_leniency() -> None:
    assert StreamLabel.from_mapping(None) == StreamLabel()  # type: ignore[arg-type]
    got = StreamLabel.from_mapping(
        {
            "ssrc": " 123 ",
            "mid": 0,
            "kind": "VIDEO",
            "source": "ScreenShare",
            "producer_id": 5,
            "extra": 1,
        }
    )
    assert got == StreamLabel(ssrc=123, mid="0", kind="video", source="screenshare")
    assert (
        StreamLabel.from_mapping({"ssrc": True, "kind": "data", "source": "tv", "mid": 1.5})
        == StreamLabel()
    )
    assert StreamLabel.from_mapping({"ssrc": 2**33}).ssrc is None
    assert StreamLabel.from_mapping({"ssrc": "-5"}).ssrc is None


def test_import_loads_no_web_or_db_stack() -> None:
    code = (
        "import sys, rtk_sessions.stats as s; "
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'sqlalchemy','fastapi','pydantic','starlette','pydantic_core','alembic','psycopg'}); "
        "print(','.join(bad)); "
        "assert sorted(s.__all__) == sorted(['ISSUE_TYPES','IssueThresholds','detect_issues','KINDS','KindAccumulator','QualityThresholds',"
        "'ReportIndex','SampleRow','StreamLabel','build_quality','candidate_pairs','candidate_pairs_indexed',"
        "'compact_indexed','compact_report','cumulative','ingest_indexed','ingest_report',"
        "'normalize_report','sample_rows'])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
