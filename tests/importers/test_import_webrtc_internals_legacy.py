"""The old chrome://webrtc-internals dump format (Chrome before M87, e.g. Chrome 86) imports with
its streams, and an import that cannot use a recording's RTP streams fails loudly (issue 10).

No real old-format dump is in the repository, so ``legacy_dump`` builds one from the format's
description (docs/quality-metrics.md, "Old-format webrtc-internals dumps"): no ``statsType``,
ids that name their type (``RTCInboundRTPAudioStream_…``), RTP stats carrying an ``isRemote``
series (false), jitter-buffer counters only on the legacy ``track`` object (decision Q14), no
``timestamp`` series (points are 1 s apart, right-aligned on ``endTime``) and an ``updateLog``
whose ``time`` is a locale string.
"""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from rtk_sessions import stats
from rtk_sessions.importers import RecordingFormatError, load_recording, to_ingest_events
from rtk_sessions.importers.streams import unusable_streams

T_END = 1_600_000_030_000.0  # the last poll (2020-09-13, Chrome 86's time)
POLLS = 30


def _iso(ms: float) -> str:
    moment = datetime.fromtimestamp(ms / 1000, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _series(values: list[Any]) -> dict[str, str]:
    return {
        "startTime": _iso(T_END - 1000 * (len(values) - 1)),
        "endTime": _iso(T_END),
        "values": json.dumps(values),
    }


def _obj(stats_out: dict[str, Any], sid: str, **fields: list[Any] | Any) -> None:
    for name, value in fields.items():
        values = value if isinstance(value, list) else [value] * POLLS
        stats_out[f"{sid}-{name}"] = _series(values)


def legacy_dump(inbound_id: str = "RTCInboundRTPAudioStream_3001") -> dict[str, Any]:
    n = range(POLLS)
    s: dict[str, Any] = {}
    _obj(
        s,
        inbound_id,
        isRemote=False,
        ssrc=3001,
        mediaType="audio",
        kind="audio",
        trackId="RTCMediaStreamTrack_receiver_1",
        transportId="RTCTransport_0_1",
        codecId="RTCCodec_0_Inbound_111",
        packetsReceived=[50 * i for i in n],
        bytesReceived=[4000 * i for i in n],
        packetsLost=[i // 10 for i in n],
        jitter=0.004,
    )
    _obj(
        s,
        "RTCMediaStreamTrack_receiver_1",
        trackIdentifier="a1b2",
        remoteSource=True,
        kind="audio",
        jitterBufferDelay=[2880.0 * i for i in n],  # 60 ms a sample
        jitterBufferEmittedCount=[48000 * i for i in n],
        concealmentEvents=0,
    )
    _obj(
        s,
        "RTCOutboundRTPVideoStream_2002",
        isRemote=False,
        ssrc=2002,
        mediaType="video",
        kind="video",
        transportId="RTCTransport_0_1",
        remoteId="RTCRemoteInboundRtpVideoStream_2002",
        packetsSent=[90 * i for i in n],
        bytesSent=[60000 * i for i in n],
        framesEncoded=[30 * i for i in n],
        frameWidth=640,
        frameHeight=480,
        qualityLimitationReason="none",
    )
    _obj(
        s,
        "RTCRemoteInboundRtpVideoStream_2002",
        ssrc=2002,
        kind="video",
        transportId="RTCTransport_0_1",
        localId="RTCOutboundRTPVideoStream_2002",
        packetsLost=0,
        jitter=0.002,
        roundTripTime=0.041,
    )
    _obj(
        s,
        "RTCCodec_0_Inbound_111",
        payloadType=111,
        mimeType="audio/opus",
        clockRate=48000,
        sdpFmtpLine="minptime=10;useinbandfec=1",
    )
    _obj(
        s,
        "RTCTransport_0_1",
        selectedCandidatePairId="RTCIceCandidatePair_Ab_Cd",
        bytesSent=[60000 * i for i in n],
        dtlsState="connected",
    )
    _obj(
        s,
        "RTCIceCandidatePair_Ab_Cd",
        transportId="RTCTransport_0_1",
        localCandidateId="RTCIceCandidate_Ab",
        remoteCandidateId="RTCIceCandidate_Cd",
        state="succeeded",
        nominated=True,
        currentRoundTripTime=0.04,
        bytesSent=[60000 * i for i in n],
        bytesReceived=[4000 * i for i in n],
    )
    _obj(
        s,
        "RTCIceCandidate_Ab",
        isRemote=False,
        ip="192.0.2.10",
        port=50000,
        protocol="udp",
        candidateType="host",
        networkType="ethernet",
    )
    _obj(
        s,
        "RTCIceCandidate_Cd",
        isRemote=True,
        ip="198.51.100.7",
        port=3478,
        protocol="udp",
        candidateType="srflx",
    )
    return {
        "getUserMedia": [],
        "PeerConnections": {
            "4242-1": {
                "pid": 4242,
                "rtcConfiguration": "{ iceServers: [] }",
                "constraints": "",
                "url": "https://meet.example/room",
                "updateLog": [
                    {
                        "type": "iceConnectionStateChange",
                        "value": "connected",
                        "time": "9/13/2020, 12:26:41 PM",
                    }
                ],
                "stats": s,
            }
        },
        "UserAgent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/86.0.4240.75 Safari/537.36",
    }


def _write(tmp_path: Path, doc: dict[str, Any]) -> Path:
    path = tmp_path / "chrome86-webrtc-internals.json"
    path.write_text(json.dumps(doc))
    return path


def _quality(path: Path) -> dict[str, Any]:
    (client,) = load_recording(path).clients
    events = to_ingest_events(
        client, peer_id="p", meeting_id="m", session_id="s", meeting_title="t", id_prefix="x"
    )
    rows: dict[str, list[stats.SampleRow]] = {}
    cursor = None
    for event in sorted(
        (e for e in events if e["type"] == "peer.stats"), key=lambda e: e["timestamp"]
    ):
        for row in stats.sample_rows(cursor, event["stats"], namespace="p:c"):
            rows.setdefault(row.kind, []).append(row)
        cursor = stats.compact_report(event["stats"])
    return stats.build_quality(rows)


def test_old_format_dump_imports_with_its_streams(tmp_path: Path) -> None:
    (client,) = load_recording(_write(tmp_path, legacy_dump())).clients
    last = client.stats[-1].report
    types = {sid: obj["type"] for sid, obj in last.items()}
    assert types["RTCInboundRTPAudioStream_3001"] == "inbound-rtp"  # not an ICE candidate
    assert types["RTCOutboundRTPVideoStream_2002"] == "outbound-rtp"
    assert types["RTCIceCandidate_Ab"] == "local-candidate"
    assert types["RTCIceCandidate_Cd"] == "remote-candidate"
    quality = _quality(_write(tmp_path, legacy_dump()))
    # Q13: rows from the first packet (poll 1) on
    assert len(quality["audio_consumer"]) == len(quality["video_producer"]) == POLLS - 1
    consumer = quality["audio_consumer_cumulative"]
    # Q14: the jitter-buffer delay of the legacy track object: 60 ms on every row
    assert consumer["jitter_buffer_delay"]["measured_avg"] == 60.0
    assert consumer["packet_loss"]["measured_rows"] == POLLS - 1
    producer = quality["video_producer_cumulative"]
    assert producer["rtt"]["avg"] == 41.0 and producer["frame_per_second"]["p50"] == 30.0


def _renamed(doc: dict[str, Any], keep_is_remote: bool) -> dict[str, Any]:
    """The dump with its RTP ids replaced by ids no rule knows."""
    stats_ = doc["PeerConnections"]["4242-1"]["stats"]
    for key in [k for k in stats_ if k.startswith(("RTCInboundRTP", "RTCOutboundRTP"))]:
        value = stats_.pop(key)
        if keep_is_remote or not key.endswith("-isRemote"):
            key = key.replace("RTCInboundRTPAudioStream", "XStream")
            stats_[key.replace("RTCOutboundRTPVideoStream", "YStream")] = value
    return doc


def test_streams_the_import_cannot_use_fail_loudly(tmp_path: Path) -> None:
    """What used to happen to the old format: RTP objects with an isRemote series typed as ICE
    candidates, and a "successful" import without a single sample row."""
    with pytest.raises(RecordingFormatError) as caught:
        load_recording(_write(tmp_path, _renamed(legacy_dump(), keep_is_remote=True)))
    message = str(caught.value)
    assert "none of them gives a sample row" in message
    assert "XStream_3001 (type local-candidate), YStream_2002 (type local-candidate)" in message


def test_an_unknown_id_with_an_ssrc_is_named(tmp_path: Path) -> None:
    with pytest.raises(RecordingFormatError, match=r"XStream_3001 \(type unknown\), YStream_2002"):
        load_recording(_write(tmp_path, _renamed(legacy_dump(), keep_is_remote=False)))


def test_two_tabs_that_called_each_other_are_two_participants(tmp_path: Path) -> None:
    """Decision Q16: one participant per renderer (the peer-connection key before its "-")."""
    real = Path(__file__).parent.parent / "fixtures" / "webrtc-internals"
    doc = json.loads((real / "chromium156-loopback.json").read_text())
    one_tab = load_recording(real / "chromium156-loopback.json").clients
    assert len(one_tab) == 1 and {s.connection_id for s in one_tab[0].stats} == {"8-1", "8-2"}
    # the same two connections as if each lived in its own tab (renderers 8 and 9)
    pcs = doc["PeerConnections"]
    pcs["9-1"] = pcs.pop("8-2")
    doc["getUserMedia"] = [{**g, "rid": 9} for g in doc["getUserMedia"]] + doc["getUserMedia"]
    two = load_recording(_write(tmp_path, doc)).clients
    assert [c.name for c in two] == ["chrome86-webrtc-internals#8", "chrome86-webrtc-internals#9"]
    assert [{s.connection_id for s in c.stats} for c in two] == [{"8-1"}, {"9-1"}]
    for client, pc in zip(two, ("8-1", "9-1"), strict=True):
        assert {e[2]["connection_id"] for e in client.events if "connection_id" in e[2]} == {pc}
        assert not unusable_streams(client)


def test_rtcstats_dump_of_two_tabs_is_two_participants(tmp_path: Path) -> None:
    """Q16 for Chrome's fileFormat 3 export: connection ids "8-1" and "9-2" are two tabs."""
    real = Path(__file__).parent.parent / "fixtures" / "webrtc-internals"
    lines = gzip.decompress((real / "chromium156-loopback.rtcstats.gz").read_bytes()).decode()
    assert len(load_recording(real / "chromium156-loopback.rtcstats.gz").clients) == 1
    path = tmp_path / "two-tabs.rtcstats"
    path.write_text(lines.replace('"8-2"', '"9-2"'))
    clients = load_recording(path).clients
    assert [c.name for c in clients] == ["two-tabs#8", "two-tabs#9"]
    assert {s.connection_id for s in clients[1].stats} == {"9-2"}
    assert "9-2" not in {s.connection_id for s in clients[0].stats}
