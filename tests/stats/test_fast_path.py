"""``ingest_report`` (the ingest fast path) gives exactly what the four public steps give.

Oracle: the public step functions of this package, ``normalize_report`` -> ``sample_rows``,
``candidate_pairs`` and ``compact_report``, run on the same inputs. They are the plain
implementation (normalize and copy every object, scan the report for every link) that the rest of
tests/stats pins against independent expectations (hand-computed rows, the reference report, the
real recordings), and the fast path is a separate implementation of the same contract
(``ReportIndex`` normalizes only what is looked at; rows, pairs and cursor come from per-report
indexes, with their own inlined delta, gauge, row-building and pair-entry code). Comparing them
needs no git history and fails on any difference: outputs are compared by ``repr``, so values,
their types (``1`` vs ``1.0``), NaNs and the key order of every dict must match, and the inputs
must come back unchanged. Both paths share only the per-object normalization rules
(``_normalize_rtp``/``_normalize_candidate``), the MOS formulas of ``scoring``, the fmtp parser,
label matching, the uuid5 ids and ``_Delta`` for members that are not plain ``int``/``float``; the
other tests cover those. The fast path's timestamp formatter is compared with
``iso_timestamp`` separately (``test_iso_fast_formats_like_iso_timestamp``).

Inputs: every report of every real recording in tests/fixtures/real-stats (the five Jitsi
rtcstats dumps, each peer connection in order, and the peermetrics demo conference), every
``peer.stats`` report of bench/data/ingest-payloads.json.gz with its labels, in all three input
shapes, with compacted and raw previous reports; then random and corrupted reports.
"""

from __future__ import annotations

import ast
import copy
import gzip
import json
import random
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest

from rtk_sessions.stats import (
    QualityThresholds,
    StreamLabel,
    candidate_pairs,
    compact_indexed,
    compact_report,
    ingest_indexed,
    ingest_report,
    normalize_report,
    sample_rows,
)
from rtk_sessions.stats.normalize import ReportIndex
from rtk_sessions.stats.rows import _iso_fast, iso_timestamp

from .helpers import T0, inbound, outbound, remote_inbound, report, transport_with_pair
from .rtcstats_dump import FIXTURES, getstats_reports
from .test_robustness import _FIELDS, _junk, _random_labels, _random_report, _valid_pair

ROOT = Path(__file__).resolve().parents[2]
PAYLOADS = ROOT / "bench" / "data" / "ingest-payloads.json.gz"
JITSI = sorted(FIXTURES.glob("jitsi-rtcstats_*.rtcstats.jsonl"))
PEERMETRICS = FIXTURES / "peermetrics-api_demo_conference.py.txt"
TRANSPORTS = (None, "producing", "consuming", "producing_transport")


def _reference(previous: Any, current: Any, **kw: Any) -> tuple[Any, Any, Any]:
    report_ = normalize_report(current)
    return (
        sample_rows(previous, report_, **kw),
        candidate_pairs(report_, transport=kw.get("transport")),
        compact_report(report_),
    )


def _show(result: tuple[Any, Any, Any]) -> tuple[str, str, str]:
    rows, pairs, cursor = result
    return (
        repr([(r.kind, r.stream_key, r.timestamp_ms, list(r.values.items())) for r in rows]),
        repr(pairs),
        repr(cursor),
    )


def _check(previous: Any, current: Any, **kw: Any) -> tuple[Any, Any, Any]:
    """Both paths on the same input; asserts equal outputs and untouched inputs."""
    before = repr((previous, current))
    got = ingest_report(previous, current, **kw)
    assert repr((previous, current)) == before  # the fast path never mutates its inputs
    expected = _reference(previous, current, **kw)
    assert _show(got) == _show(expected)
    return got


def _shape(stats: dict[str, dict[str, Any]], n: int) -> Any:
    """The three input shapes of normalize_report rule 1, in turn."""
    if n % 3 == 0:
        return list(stats.values())  # [...report.values()], what the SDK sends
    if n % 3 == 1:
        return dict(stats)  # Object.fromEntries(report)
    return [[sid, s] for sid, s in stats.items()]  # [...report]


def _labels_for(stats: dict[str, dict[str, Any]], n: int) -> list[dict[str, Any]]:
    """Client labels for some of the report's streams, to run the label paths on real data."""
    labels: list[dict[str, Any]] = []
    for s in stats.values():
        ssrc = s.get("ssrc")
        if s.get("type") in ("inbound-rtp", "outbound-rtp") and isinstance(ssrc, int):
            if (ssrc + n) % 3 == 0:
                labels.append(
                    {
                        "ssrc": ssrc,
                        "source": "screenshare" if ssrc % 2 else "camera",
                        "producer_id": f"prod-{ssrc}",
                        "consumer_id": f"cons-{ssrc}",
                        "remote_peer_id": "peer-b",
                    }
                )
            elif (ssrc + n) % 3 == 1 and isinstance(s.get("mid"), str):
                labels.append({"mid": s["mid"], "kind": s.get("kind"), "producer_id": "by-mid"})
    return labels


def _replay(series: list[dict[str, dict[str, Any]]], name: str) -> tuple[int, int]:
    """One connection's reports in order, cursor as ingest keeps it; returns (rows, pairs)."""
    cursor = None
    n_rows = n_pairs = 0
    for n, stats in enumerate(series):
        previous = cursor
        if n % 5 == 4:
            previous = series[n - 1]  # any previous report shape is accepted, not only cursors
        rows, pairs, cursor = _check(
            previous,
            _shape(stats, n),
            namespace=f"{name}:{n % 2}",
            transport=TRANSPORTS[n % len(TRANSPORTS)],
            labels=_labels_for(stats, n),
        )
        cursor = json.loads(json.dumps(cursor))  # as the database returns it
        n_rows += len(rows)
        n_pairs += len(pairs)
    return n_rows, n_pairs


@pytest.mark.parametrize("path", JITSI, ids=[p.name.split("_", 1)[1] for p in JITSI])
def test_real_recordings(path: Path) -> None:
    total_rows = total_pairs = 0
    for pc, series in getstats_reports(path).items():
        n_rows, n_pairs = _replay(series, f"{path.stem}:{pc}")
        total_rows += n_rows
        total_pairs += n_pairs
    assert total_rows > 40 and total_pairs > 10  # the comparisons above were not vacuous


def _peermetrics_series() -> dict[tuple[int, str], list[dict[str, dict[str, Any]]]]:
    """The demo conference's ``stats`` events as flat getStats() reports per connection."""
    tree = ast.parse(PEERMETRICS.read_text(encoding="utf-8"))
    events = next(
        ast.literal_eval(node.value)
        for node in tree.body
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "EVENTS"
    )
    out: dict[tuple[int, str], list[dict[str, dict[str, Any]]]] = {}
    for event in events:
        if event.get("eventName") != "stats":
            continue
        data = event["data"]
        objects = [
            s
            for group in (data.get("audio", {}), data.get("video", {}), *data["remote"].values())
            for direction in group.values()
            for s in direction
        ]
        pair = {k: v for k, v in data["connection"].items() if k not in ("local", "remote")}
        objects += [pair, data["connection"]["local"], data["connection"]["remote"]]
        objects.append(
            {
                "id": pair["transportId"],
                "type": "transport",
                "timestamp": 0,
                "selectedCandidatePairId": pair["id"],
            }
        )
        key = (event["participant"], event["connectionId"])
        out.setdefault(key, []).append({s["id"]: s for s in objects})
    return out


def test_peermetrics_recording() -> None:
    series = _peermetrics_series()
    assert len(series) == 2 and sum(len(v) for v in series.values()) == 14
    total_rows = total_pairs = 0
    for (participant, conn), reports in series.items():
        n_rows, n_pairs = _replay(reports, f"{participant}:{conn}")
        total_rows += n_rows
        total_pairs += n_pairs
    assert total_rows >= 20 and total_pairs >= 14


def _payload_series() -> list[tuple[str, list[dict[str, Any]]]]:
    doc = json.loads(gzip.decompress(PAYLOADS.read_bytes()))
    out = []
    for template in doc["templates"]:
        by_conn: dict[str, list[dict[str, Any]]] = {}
        for event in template["events"]:
            if event["type"] == "peer.stats":
                by_conn.setdefault(event["connection_id"], []).append(event)
        out += [(f"{template['name']}:{c}", evs) for c, evs in by_conn.items()]
    steady = [{"stats": r["stats"], "transport": None} for r in doc["report_source"]["reports"]]
    out.append(("steady", steady))
    return out


def test_ingest_payloads() -> None:
    """Every peer.stats report of the bench payloads, as ingest feeds it."""
    total_rows = 0
    for name, events in _payload_series():
        cursor: Any = None
        labels: list[Any] = []
        for event in events:
            labels = event.get("labels") or labels
            rows, _pairs, cursor = _check(
                cursor,
                event["stats"],
                namespace=name,
                transport=event["transport"],
                labels=[StreamLabel.from_mapping(x) for x in labels],
                thresholds=QualityThresholds(),
            )
            cursor = json.loads(json.dumps(cursor))
            total_rows += len(rows)
    assert total_rows > 1800


def _chains_agree(series: list[Any], name: str, transports: list[Any] | None = None) -> int:
    """Chain ``ingest_indexed`` (each report's index is the next one's previous, as a batch
    applies them) and ``ingest_report`` (the stored cursor, JSON round-tripped, is the previous)
    over ``series``; asserts the same rows and pairs, and that the index compacts to the cursor."""
    index: Any = None
    cursor: Any = None
    n_rows = 0
    for n, stats in enumerate(series):
        transport = transports[n] if transports else TRANSPORTS[n % len(TRANSPORTS)]
        kw: dict[str, Any] = {"namespace": name, "transport": transport}
        rows, pairs, index = ingest_indexed(index, stats, **kw)
        expected = ingest_report(cursor, stats, **kw)
        assert _show((rows, pairs, compact_indexed(index))) == _show(expected)
        cursor = json.loads(json.dumps(expected[2]))
        n_rows += len(rows)
    return n_rows


def test_index_chain_equals_cursor_chain() -> None:
    """What ``domain.samples`` relies on to compact a connection's cursor once per batch: the
    next rows read only what the cursor keeps, so the previous report's full index and its
    stored cursor give the same rows, on every real recording and the bench payloads."""
    total = 0
    for path in JITSI:
        for pc, series in getstats_reports(path).items():
            total += _chains_agree(series, f"{path.stem}:{pc}")
    for (participant, conn), reports in _peermetrics_series().items():
        total += _chains_agree(reports, f"{participant}:{conn}")
    for name, events in _payload_series():
        total += _chains_agree([e["stats"] for e in events], name, [e["transport"] for e in events])
    assert total > 3000


@pytest.mark.parametrize("seed", range(200))
def test_index_previous_equals_cursor_previous_on_random_reports(seed: int) -> None:
    """The same on random and corrupted reports: a previous report's index and its cursor."""
    rng = random.Random(seed)
    if seed % 2:
        prev, cur = _random_report(rng), _random_report(rng)
    else:
        prev, cur = _valid_pair()
        for target in (prev, cur):
            for _ in range(rng.randint(1, 6)):
                stats = target[rng.choice(list(target))]
                stats[rng.choice([*_FIELDS, "codecId", "trackId", "remoteId"])] = _junk(rng)
    kw: dict[str, Any] = {"namespace": "n", "labels": _random_labels(rng)}
    rows, pairs, index = ingest_indexed(ReportIndex(prev), cur, **kw)
    expected = ingest_report(compact_report(prev), cur, **kw)
    assert _show((rows, pairs, compact_indexed(index))) == _show(expected)


@pytest.mark.parametrize("seed", range(400))
def test_random_reports(seed: int) -> None:
    rng = random.Random(seed)
    prev, cur = _random_report(rng), _random_report(rng)
    kw: dict[str, Any] = {
        "namespace": rng.choice(["n", 5]),
        "transport": rng.choice([*TRANSPORTS, 5]),
        "labels": _random_labels(rng),
    }
    if rng.random() < 0.3:
        kw["thresholds"] = rng.choice([None, QualityThresholds(audio_min_bitrate_bps=0)])
    _check(prev, cur, **kw)
    _check(compact_report(prev), cur, **kw)
    _check(None, cur, **kw)


@pytest.mark.parametrize("seed", range(400))
def test_corrupted_valid_reports(seed: int) -> None:
    """Valid reports with single members corrupted reach the deeper branches."""
    rng = random.Random(seed)
    prev, cur = _valid_pair()
    extra: list[dict[str, Any]] = [
        {"id": "CO1", "type": "codec", "mimeType": "audio/opus", "sdpFmtpLine": "usedtx=1"},
        {
            "id": "TR1",
            "type": "track",
            "kind": "video",
            "trackIdentifier": "t1",
            "framesPerSecond": 30,
            "frameWidth": 640,
            "frameHeight": 480,
            "jitterBufferDelay": 1.0,
        },
        {"id": "MS1", "type": "media-source", "trackIdentifier": "m1", "framesPerSecond": 15},
        {"id": "RO7", "type": "remote-outbound-rtp", "ssrc": 7, "roundTripTime": 0.2},
    ]
    for target in (prev, cur):
        for stats in extra:
            target.setdefault(stats["id"], copy.deepcopy(stats))
        for _ in range(rng.randint(1, 6)):
            stats = target[rng.choice(list(target))]
            stats[rng.choice([*_FIELDS, "codecId", "trackId", "remoteId"])] = rng.choice(
                [_junk(rng), "CO1", "TR1", "MS1", "RO7", "RI1", "OT1", "IT7", "CP1", "L1", "R1"]
            )
    labels = _random_labels(rng)
    transport = rng.choice(TRANSPORTS)
    _check(prev, cur, namespace="n", labels=labels, transport=transport)
    _check(compact_report(prev), list(cur.values()), namespace="n", labels=labels)


def test_index_is_the_normalized_report() -> None:
    """``ReportIndex.get`` answers what ``normalize_report`` holds, for every id and shape."""
    objects = [
        {**outbound(1, T0, packetsSent=1), "ssrc": "1", "kind": None, "mediaType": "video"},
        remote_inbound(1, T0, type="inbound-rtp", isRemote=True),
        inbound(7, T0, type="inboundrtp", trackId="TR1", kind="audio"),
        {"id": "TR1", "type": "track", "frameWidth": 320, "trackIdentifier": "x"},
        {"type": "mediasource", "trackIdentifier": "y"},
        {
            "id": 5,
            "type": "localcandidate",
            "ip": "10.0.0.1",
            "portNumber": 9,
            "transport": "udp",
            "candidateType": "serverreflexive",
        },
        {"id": "CPx", "type": "candidatepair", "state": "inprogress"},
        *transport_with_pair(T0),
        {"id": "OT1", "type": "codec"},  # duplicate id: the first object wins
        {"type": 3},
        "junk",
    ]
    shapes = [
        objects,
        report(*[o for o in objects if isinstance(o, dict) and "id" in o]),
        [[str(o.get("id")), o] for o in objects if isinstance(o, dict)],
        ("x", {}),
    ]
    for raw in shapes:
        index, expected = ReportIndex(raw), normalize_report(raw)
        assert len(index) == len(expected)
        for sid, stats in expected.items():
            assert repr(index.get(sid)) == repr(stats)
            assert index.type_of(sid) == stats["type"]
        assert index.get("nope") is None and index.get("nope", {}) == {}
        assert index.type_of(5) is None
    assert len(ReportIndex(7)) == 0 and len(ReportIndex(None)) == 0


def _edge_cases() -> dict[str, tuple[Any, Any, dict[str, Any]]]:
    """Hand-made report pairs for the branches real and random reports rarely reach."""
    t1 = T0 + 2000
    pair = transport_with_pair
    video_in = {"kind": "video", "framesDecoded": 10, "frameWidth": 640, "frameHeight": 360}
    cases: dict[str, tuple[Any, Any, dict[str, Any]]] = {
        "counter reset (int, producer)": (
            report(outbound(1, T0, packetsSent=10, bytesSent=500)),
            report(outbound(1, t1, packetsSent=5, bytesSent=900)),
            {},
        ),
        "counter reset (float, consumer)": (
            report(inbound(7, T0, packetsReceived=1, jitterBufferDelay=2.5)),
            report(inbound(7, t1, packetsReceived=9, jitterBufferDelay=1.25)),
            {},
        ),
        "non-finite float deltas and overflowing sums": (
            report(
                inbound(
                    7,
                    T0,
                    packetsReceived=1.0,
                    packetsLost=0.0,
                    bytesReceived=1e308,
                    jitterBufferDelay=0.0,
                    jitterBufferEmittedCount=0.0,
                    **{**video_in, "framesDecoded": 0.0},
                ),
                inbound(8, T0, packetsLost=-1e308),
            ),
            report(
                inbound(
                    7,
                    t1,
                    packetsReceived=1.7e308,
                    packetsLost=1e308,
                    bytesReceived=-1e308,
                    jitterBufferDelay=1e308,
                    jitterBufferEmittedCount=1e-300,
                    **{**video_in, "framesDecoded": 1e308},
                ),
                inbound(8, t1, packetsLost=1e308),
                *pair(t1),
            ),
            {},
        ),
        "negative float loss delta is clamped, inf member ignored": (
            report(
                outbound(1, T0, packetsSent=10.0, bytesSent=float("inf")),
                remote_inbound(1, T0, packetsLost=5.5),
            ),
            report(
                outbound(1, t1, packetsSent=20.0, bytesSent=7.0),
                remote_inbound(1, t1, packetsLost=2.25),
            ),
            {},
        ),
        "odd labels and thresholds": (
            report(outbound(1, T0, packetsSent=1), inbound(7, T0, packetsReceived=1)),
            report(
                outbound(1, t1, packetsSent=9, bytesSent=9),
                inbound(7, t1, packetsReceived=9, bytesReceived=9),
            ),
            {
                "labels": [
                    StreamLabel(ssrc=1, producer_id=float("nan")),  # type: ignore[arg-type]
                    StreamLabel(
                        ssrc=7,
                        consumer_id=float("nan"),  # type: ignore[arg-type]
                        producer_id=float("inf"),  # type: ignore[arg-type]
                        remote_peer_id=float("nan"),  # type: ignore[arg-type]
                    ),
                ],
                "thresholds": QualityThresholds(
                    default_rtt_ms=float("inf"), default_buffer_delay_ms=float("nan")
                ),
            },
        ),
        "integer thresholds": (
            report(outbound(1, T0, packetsSent=1), inbound(7, T0, packetsReceived=1)),
            report(outbound(1, t1, packetsSent=9), inbound(7, t1, packetsReceived=9)),
            {"thresholds": QualityThresholds(default_rtt_ms=40, default_buffer_delay_ms=20)},
        ),
        "timestamp beyond year 9999": (
            report(inbound(7, T0, packetsReceived=1)),
            report(inbound(7, 1e30, packetsReceived=2)),
            {},
        ),
        "remote-inbound found by localId, then by ssrc": (
            report(
                outbound(1, T0, packetsSent=1, remoteId=None),
                remote_inbound(1, T0, localId=3, packetsLost=0),
                remote_inbound(2, T0, id="RIx", localId="OT1", packetsLost=1),
                remote_inbound(3, T0, id="RIy", localId="OT1", packetsLost=1),
            ),
            report(
                outbound(1, t1, packetsSent=9, remoteId=None),
                remote_inbound(1, t1, localId=None, packetsLost=4),
            ),
            {},
        ),
        "frame rate overflowing, video without frame counters": (
            report(inbound(7, T0, framesDecoded=0.0, kind="video"), inbound(8, T0, kind="video")),
            report(
                inbound(7, T0 + 0.001, framesDecoded=1e308, kind="video", packetsReceived=1),
                inbound(8, T0 + 0.001, kind="video"),
            ),
            {},
        ),
        "video producer with partial quality-limitation durations": (
            report(
                outbound(
                    1,
                    T0,
                    packetsSent=1,
                    kind="video",
                    frameWidth=640,
                    frameHeight=360,
                    qualityLimitationDurations={"none": 1.0, "cpu": 0.5, "other": 1},
                ),
            ),
            report(
                outbound(
                    1,
                    t1,
                    packetsSent=9,
                    bytesSent=9000,
                    kind="video",
                    framesEncoded=60,
                    qualityLimitationDurations={"none": 3.0, "cpu": None, "other": 1},
                ),
            ),
            {},
        ),
        "frame sizes of odd types": (
            report(inbound(7, T0, kind="video"), inbound(8, T0, kind="video")),
            report(
                inbound(7, t1, kind="video", packetsReceived=3, frameWidth="640", frameHeight=True),
                inbound(8, t1, kind="video", packetsReceived=3, frameWidth=640.7, frameHeight=1e9),
            ),
            {},
        ),
        "video consumer without some counters": (
            report(inbound(7, T0, packetsReceived=1, **video_in)),
            report(inbound(7, t1, packetsReceived=5, **{**video_in, "framesDecoded": 70})),
            {},
        ),
        "fallback pair selection with two pairs on one transport": (
            report(inbound(7, T0, packetsReceived=1)),
            report(
                inbound(7, t1, packetsReceived=5),
                {
                    "id": "P1",
                    "type": "candidate-pair",
                    "transportId": "T1",
                    "nominated": True,
                    "state": "succeeded",
                    "bytesSent": 900,
                    "currentRoundTripTime": 0.1,
                    "localCandidateId": 5,
                    "remoteCandidateId": "R9",
                },
                {
                    "id": "P2",
                    "type": "candidate-pair",
                    "transportId": "T1",
                    "nominated": True,
                    "state": "succeeded",
                    "bytesSent": 100,
                    "currentRoundTripTime": 0.2,
                },
            ),
            {},
        ),
        "remote-outbound-rtp from isRemote, a mapping that is not a dict": (
            None,
            [outbound(9, t1, isRemote=True), MappingProxyType(inbound(7, t1))],
            {},
        ),
    }
    return cases


@pytest.mark.parametrize("name", list(_edge_cases()))
def test_edge_cases(name: str) -> None:
    previous, current, kw = _edge_cases()[name]
    _check(previous, current, namespace="edge", **kw)
    _check(
        previous,
        list(current.values()) if isinstance(current, dict) else current,
        namespace=7,
        transport="consuming",
        **kw,
    )


def test_iso_fast_formats_like_iso_timestamp() -> None:
    """The memoized formatter of the fast path against ``iso_timestamp`` (datetime per call),
    including half-microsecond ties, millisecond and second carries, and out-of-range years."""
    rng = random.Random(7)
    values: list[float | int] = [
        0,
        -0.0,
        0.0005,
        0.0015,
        999.9995,
        999.9994999,
        1e3,
        T0,
        2**53,
        253402300799999.9,
        253402300799999.9996,
        253402300800000,
        1e30,
        -1,
        -1e-9,
    ]
    for _ in range(20000):
        second = rng.choice(
            [rng.randrange(253402300800), rng.randrange(1_600_000_000, 1_800_000_000)]
        )
        values.append(
            second * 1000
            + rng.choice(
                [
                    rng.random() * 1000,
                    rng.randrange(1000),
                    rng.randrange(2000) / 2 + 0.0005,
                    999.9999,
                ]
            )
        )
    for value in values:
        assert _iso_fast(value) == iso_timestamp(value), value
