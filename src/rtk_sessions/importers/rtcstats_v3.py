"""rtcstats ``fileFormat 3`` dumps (rtcstats/rtcstats, and Chrome's own rtcstats writer).

Layout: line 1 ``RTCStatsDump``, line 2 a JSON object with at least ``{"fileFormat": 3}``, then
JSON arrays ``[method, connectionId|null, value, ...extra, t]``. ``t`` is absolute epoch ms on the
first record and milliseconds since the previous record afterwards
(``packages/rtcstats-shared/dump.js``).

Methods may be compressed to numbers (``'g'`` is getStats). ``getStats`` values may be full reports
or compressed by ``packages/rtcstats-shared/compression.js``: delta against the previous report of
the same connection, property names and ``type`` values replaced by short codes from static tables,
the collapsed report timestamp at the top-level key ``t``, and removed objects sent as ``null``.
Stats ids are remapped to short numeric ids by the sender and never mapped back; we keep them as
they are (references such as ``transportId`` use the same short ids, so the report stays
consistent). A full (uncompressed) report replaces the connection's state, see
:func:`is_full_report`.
"""

from __future__ import annotations

import json
from typing import Any

from ._rtcstats_common import build_client
from .model import RecordedClient, RecordingFormatError
from .webrtc_internals import renderer_of

MAGIC = "RTCStatsDump"

# compression.js methodTable (code -> method). 'g' and 1 are getStats.
_METHODS: dict[str, str] = {
    "g": "getStats",
    "1": "getStats",
    "2": "createOffer",
    "3": "createOfferOnSuccess",
    "12": "createOfferOnFailure",
    "4": "createAnswer",
    "5": "createAnswerOnSuccess",
    "13": "createAnswerOnFailure",
    "6": "setLocalDescription",
    "7": "setLocalDescriptionOnSuccess",
    "14": "setLocalDescriptionOnFailure",
    "8": "setRemoteDescription",
    "9": "setRemoteDescriptionOnSuccess",
    "15": "setRemoteDescriptionOnFailure",
    "10": "addIceCandidate",
    "11": "addIceCandidateOnSuccess",
    "16": "addIceCandidateOnFailure",
    "20": "onicecandidate",
    "21": "onicecandidateerror",
    "22": "ontrack",
    "23": "onsignalingstatechange",
    "24": "oniceconnectionstatechange",
    "25": "onconnectionstatechange",
    "26": "onicegatheringstatechange",
    "27": "onnegotiationneeded",
    "28": "ondatachannel",
    "30": "addTrack",
    "31": "addTrackOnSuccess",
    "32": "addTransceiver",
    "33": "addTransceiverOnSuccess",
    "34": "removeTrack",
    "35": "createDataChannel",
    "36": "close",
    "37": "restartIce",
    "38": "setConfiguration",
    "39": "create",
    "40": "constraints",
    "41": "setCodecPreferences",
    "42": "setHeaderExtensionsToNegotiate",
    "50": "setParameters",
    "51": "replaceTrack",
    "60": "navigator.mediaDevices.getUserMedia",
    "61": "navigator.mediaDevices.getUserMediaOnSuccess",
    "65": "navigator.mediaDevices.getUserMediaOnFailure",
    "63": "navigator.mediaDevices.getDisplayMedia",
    "64": "navigator.mediaDevices.getDisplayMediaOnSuccess",
    "68": "navigator.mediaDevices.getDisplayMediaOnFailure",
    "66": "navigator.mediaDevices.enumerateDevices",
    "67": "navigator.mediaDevices.ondevicechange",
    "70": "MediaStreamTrack.stop",
    "71": "MediaStreamTrack.applyConstraints",
    "72": "MediaStreamTrack.onended",
    "73": "MediaStreamTrack.onmute",
    "74": "MediaStreamTrack.onunmute",
    "80": "HTMLMediaElement.resize",
}

# compression.js statsTypeTable (code -> type)
_TYPES: dict[str, str] = {
    "1": "inbound-rtp",
    "2": "outbound-rtp",
    "3": "remote-inbound-rtp",
    "4": "remote-outbound-rtp",
    "5": "transport",
    "6": "candidate-pair",
    "7": "local-candidate",
    "8": "remote-candidate",
    "9": "data-channel",
    "10": "peer-connection",
    "11": "certificate",
    "12": "media-source",
    "13": "media-playout",
    "14": "codec",
}

# compression.js statsPropertyTable, in code order starting at 4 ('t' is timestamp; 13, 146, 147
# and 162 are retired codes). Codes 167-176 are decompression-only.
_PROPERTY_NAMES = """
payloadType transportId mimeType clockRate channels sdpFmtpLine ssrc kind codecId - packetsReceived
packetsLost jitter trackIdentifier mid remoteId framesDecoded keyFramesDecoded framesDropped
frameWidth frameHeight framesPerSecond qpSum totalDecodeTime totalInterFrameDelay
totalSquaredInterFrameDelay pauseCount totalPausesDuration freezeCount totalFreezesDuration
lastPacketReceivedTimestamp headerBytesReceived packetsDiscarded fecPacketsReceived
fecPacketsDiscarded fecBytesReceived fecSsrc bytesReceived nackCount firCount pliCount
totalProcessingDelay estimatedPlayoutTimestamp jitterBufferDelay jitterBufferTargetDelay
jitterBufferEmittedCount jitterBufferMinimumDelay totalSamplesReceived concealedSamples
silentConcealedSamples concealmentEvents insertedSamplesForDeceleration
removedSamplesForAcceleration audioLevel totalAudioEnergy totalSamplesDuration framesReceived
decoderImplementation playoutId powerEfficientDecoder framesAssembledFromMultiplePackets
totalAssemblyTime contentType googTimingFrameInfo retransmittedPacketsReceived
retransmittedBytesReceived rtxSsrc totalCorruptionProbability totalSquaredCorruptionProbability
corruptionMeasurements localId roundTripTime totalRoundTripTime fractionLost
roundTripTimeMeasurements packetsSent bytesSent mediaSourceId rid encodingIndex headerBytesSent
retransmittedPacketsSent retransmittedBytesSent targetBitrate totalEncodedBytesTarget framesSent
hugeFramesSent framesEncoded keyFramesEncoded totalEncodeTime totalPacketSendDelay
qualityLimitationReason qualityLimitationDurations qualityLimitationResolutionChanges
encoderImplementation powerEfficientEncoder active scalabilityMode remoteTimestamp reportsSent
echoReturnLoss echoReturnLossEnhancement width height frames synthesizedSamplesDuration
synthesizedSamplesEvents totalPlayoutDelay totalSamplesCount dataChannelsOpened dataChannelsClosed
label protocol dataChannelIdentifier state messagesSent messagesReceived iceRole
iceLocalUsernameFragment dtlsState iceState selectedCandidatePairId localCertificateId
remoteCertificateId tlsVersion dtlsCipher dtlsRole srtpCipher selectedCandidatePairChanges
rtcpTransportStatsId address port candidateType priority url relayProtocol foundation
relatedAddress relatedPort usernameFragment tcpType networkType - - localCandidateId
remoteCandidateId nominated lastPacketSentTimestamp currentRoundTripTime availableOutgoingBitrate
availableIncomingBitrate requestsReceived requestsSent responsesReceived responsesSent
consentRequestsSent packetsDiscardedOnSend bytesDiscardedOnSend - fingerprint fingerprintAlgorithm
base64Certificate issuerCertificateId psnrMeasurements psnrSum packetsReceivedWithEct1
packetsReceivedWithCe packetsReportedAsLost packetsReportedAsLostButRecovered
packetsWithBleachedEct1Marking packetsSentWithEct1 ccfbMessagesSent ccfbMessagesReceived
""".split()  # noqa: SIM905
PROPERTIES: dict[str, str] = {"t": "timestamp"}
PROPERTIES.update({str(code): n for code, n in enumerate(_PROPERTY_NAMES, 4) if n != "-"})
PROPERTY_CODES: dict[str, str] = {v: k for k, v in PROPERTIES.items()}
TYPE_CODES: dict[str, int] = {v: int(k) for k, v in _TYPES.items()}
METHOD_CODES: dict[str, str | int] = {
    v: (k if k == "g" else int(k)) for k, v in _METHODS.items() if k != "1"
}


def decompress(base: dict[str, dict[str, Any]], delta: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """``statsDecompression(baseStats, delta)`` of compression.js; returns a new full report.

    Objects sent as ``null`` are removed; objects not sent are unchanged copies of the base;
    properties not sent keep their base value; record-valued properties are merged key by key;
    the top-level ``t`` is the timestamp of every object that does not carry its own.
    """
    new: dict[str, Any] = {}
    ts = None
    for sid, report in delta.items():
        if sid == "t":
            ts = report
            continue
        if not isinstance(report, dict):
            new[sid] = None
            continue
        out = {}
        for name, v in report.items():
            full = PROPERTIES.get(name, name)
            if full == "type":
                v = _TYPES.get(str(v), v)
            out[full] = v
        new[sid] = out
    for sid, old in base.items():
        if sid in new and new[sid] is None:
            continue
        cur = new.get(sid)
        has_own_ts = cur is not None and "timestamp" in cur
        if cur is None:
            cur = dict(old)
            new[sid] = cur
        else:
            for name, v in old.items():
                if name not in cur:
                    cur[name] = v
                elif isinstance(v, dict) and isinstance(cur[name], dict):
                    cur[name] = {**v, **cur[name]}
        if ts is not None and not has_own_ts:
            cur["timestamp"] = ts
    out_report: dict[str, dict[str, Any]] = {}
    for sid, obj in new.items():
        if obj is None:
            continue
        if ts is not None and "timestamp" not in obj:
            obj["timestamp"] = ts
        out_report[sid] = obj
    return out_report


def is_full_report(value: dict[str, Any]) -> bool:
    """An uncompressed getStats() report rather than a compression.js delta.

    A delta carries its collapsed timestamp as the top-level key ``t`` and per-object timestamps
    under the short name ``t`` too; a full report has no top-level ``t`` and every object has a
    ``timestamp``. (The reference reader runs every report through the decompression, which for
    full reports keeps objects that went away; we replace the state instead.)
    """
    if "t" in value or not value:
        return False
    objs = list(value.values())
    return all(isinstance(o, dict) and "timestamp" in o for o in objs)


def compress(
    base: dict[str, dict[str, Any]], report: dict[str, dict[str, Any]], id_map: dict[str, str]
) -> dict[str, Any]:
    """Inverse of :func:`decompress`, following ``statsCompression`` (used to build test dumps).

    ``base`` and ``report`` are keyed by *original* ids; ``id_map`` (original -> short id) is
    updated. Unlike the JS, certificate stats and obsolete properties are kept.
    """
    delta: dict[str, Any] = {}
    removed = [sid for sid in base if sid in id_map and sid not in report]
    for sid, obj in report.items():
        obj = {k: v for k, v in obj.items() if k != "id"}
        old = base.get(sid)
        if old is not None:
            for name in list(obj):
                v = obj[name]
                if v == old.get(name, object()):
                    del obj[name]
                elif isinstance(v, dict) and isinstance(old.get(name), dict):
                    obj[name] = {k: x for k, x in v.items() if old[name].get(k, object()) != x}
                    if not obj[name]:
                        del obj[name]
        delta[sid] = obj
    stamps = [o["timestamp"] for o in delta.values() if "timestamp" in o]
    top = max(stamps) if stamps else None
    for sid in list(delta):
        if top is not None and delta[sid].get("timestamp") == top:
            del delta[sid]["timestamp"]
        if not delta[sid]:
            del delta[sid]
    out: dict[str, Any] = {}
    for sid in delta:
        id_map.setdefault(sid, str(len(id_map)))
    for sid, obj in delta.items():
        short = {}
        for name, v in obj.items():
            if name.endswith("Id") and isinstance(v, str):
                v = id_map.setdefault(v, str(len(id_map)))
            if name == "type":
                v = TYPE_CODES.get(v, v)
            short[PROPERTY_CODES.get(name, name)] = v
        out[id_map[sid]] = short
    if top is not None:
        out["t"] = top
    for sid in removed:
        out[id_map[sid]] = None
    return out


def parse(lines: list[str], name: str, where: str | None = None) -> list[RecordedClient]:
    """The clients of an RTCStatsDump: one per renderer (decision Q16 in docs/quality-metrics.md;
    the connection id before its first ``-``, as in Chrome's export: ``"8-0"``, ``"8-1"`` are tab
    8). Ids without a ``-`` (the rtcstats library's ``PC_0``…) are one client. Several renderers
    are named ``"{name}#{renderer}"``; records without a connection (``create``) go to each.
    raises RecordingFormatError."""
    where = where or name
    if not lines or lines[0].strip() != MAGIC:
        raise RecordingFormatError(f"{where}: not an RTCStatsDump (line 1 must be '{MAGIC}')")
    if len(lines) < 2:
        raise RecordingFormatError(f"{where}: RTCStatsDump has no header line (file truncated?)")
    try:
        header = json.loads(lines[1])
    except ValueError:
        raise RecordingFormatError(
            f'{where}: line 2 of an RTCStatsDump must be a JSON object like {{"fileFormat": 3}}'
        ) from None
    if not isinstance(header, dict):
        raise RecordingFormatError(f"{where}: line 2 of an RTCStatsDump must be a JSON object")
    if header.get("fileFormat") != 3:
        raise RecordingFormatError(
            f"{where}: unsupported RTCStatsDump fileFormat {header.get('fileFormat')!r} "
            "(only 3 is supported)"
        )
    user_agent = header.get("userAgent") or header.get("user_agent")
    records: list[tuple[str, str | None, Any, float]] = []
    base_by_pc: dict[str, dict[str, dict[str, Any]]] = {}
    last_time = 0.0
    n_lines = len(lines)
    for lineno, line in enumerate(lines[2:], 3):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except ValueError as e:
            hint = " (the file looks truncated)" if lineno == n_lines else ""
            raise RecordingFormatError(
                f"{where}: line {lineno} is not valid JSON{hint}: {e}"
            ) from None
        if not isinstance(rec, list):
            continue  # the reference reader ignores non-array lines
        if len(rec) < 4 or not isinstance(rec[-1], int | float) or isinstance(rec[-1], bool):
            raise RecordingFormatError(
                f"{where}: line {lineno} is not an rtcstats record [method, connectionId, value, "
                "..., t] with a numeric time"
            )
        method = _METHODS.get(str(rec[0]), str(rec[0]))
        pc_id = rec[1] if rec[1] is None else str(rec[1])
        value = rec[2]
        last_time += float(rec[-1])
        if method == "getStats":
            if pc_id is None or not isinstance(value, dict):
                continue
            if is_full_report(value):
                full = {sid: dict(obj) for sid, obj in value.items() if isinstance(obj, dict)}
            else:
                full = decompress(base_by_pc.get(pc_id, {}), value)
            base_by_pc[pc_id] = full
            value = {sid: {**obj, "id": sid} for sid, obj in full.items()}
        elif pc_id is None and isinstance(value, dict) and not user_agent:
            user_agent = value.get("userAgent") or None
        records.append((method, pc_id, value, last_time))
    metadata: dict[str, Any] = {"sdk_name": "rtcstats"}
    if user_agent:
        metadata["user_agent"] = user_agent
    renderers = list(dict.fromkeys(renderer_of(r[1]) for r in records if r[1] is not None))
    if len(renderers) <= 1:
        return [build_client(name, records, user_agent=user_agent, metadata=metadata, where=where)]
    return [
        build_client(
            f"{name}#{renderer}",
            [r for r in records if r[1] is None or renderer_of(r[1]) == renderer],
            user_agent=user_agent,
            metadata=dict(metadata),
            where=where,
        )
        for renderer in renderers
    ]
