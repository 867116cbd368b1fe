"""Byte formats of the sample store: compressed row blocks and per-connection state. Pure, no I/O.

A block holds the public JSON objects of a run of sample rows (``stats.SampleRow.values`` without
the ``_`` internals), joined by commas and compressed with zlib (RFC 1950): a peer report splices
the decompressed bytes of its blocks between ``[`` and ``]`` without parsing them. Sample rows of
real calls compress to about 17 bytes each in blocks of ~30 (the replays of ``bench/payloads.py``;
22 without the dictionary below), against about 300 bytes of JSON.

A state is one JSON object (orjson) compressed with zlib; its shape belongs to
``rtk_sessions.domain.samples``.

A client-event block (migration 0010c) is the JSON array of the ``peer.event`` events one batch
applied for one peer, each ``[event_id, name, timestamp (epoch microseconds), metadata]``,
compressed with zlib; its shape belongs to ``rtk_sessions.domain.client_events``.

Both are compressed with a preset dictionary (RFC 1950 ``FDICT``: ``_ROWS_DICT``, ``_STATE_DICT``,
the field names and punctuation of typical rows and states, no values), which saves the first
occurrence of every key in a small block: a quarter of a block of 30 rows, a third of a state.
The stream names its dictionary (``DICTID``, the dictionary's Adler-32), so decoding needs no
flag: streams without one (written before migration 0006b) decode as before. The dictionaries
must never change: add a new one (and keep the old in ``_DICTS``) instead.
"""

from __future__ import annotations

import json
import zlib
from typing import Any

import orjson

__all__ = [
    "decode_events",
    "decode_rows",
    "decode_state",
    "encode_events",
    "encode_rows",
    "encode_state",
    "join_rows",
    "plain",
]

#: Level 9, not 6 (before 0011a's revision): 8% fewer bytes a block of the benchmark's rows
#: (bench/bytes_per_sample.py), for 0.6% more instructions a sample (bench/ingest_cpu.py).
_ROWS_LEVEL = 9
_EVENTS_LEVEL = 6
_STATE_LEVEL = 6  # the state is rewritten by every batch; small, so level 6 costs ~20 µs

# fmt: off
_ROWS_DICT = (
    b'{"mos_quality":0,"timestamp":"T00:00:00.000Z","packets_lost":0,"jitter":0,"rtt":0,"packe'
    b'ts_sent":0,"bytes_sent":0,"producer_id":"","ssrc":0},{"mos_quality":0,"timestamp":"T00:0'
    b'0:00.000Z","packets_lost":0,"jitter":0,"packets_received":0,"bytes_received":0,"jitter_b'
    b'uffer_delay":0,"jitter_buffer_emitted_count":0,"consumer_id":"","ssrc":0,"concealment_ev'
    b'ents":0},{"mos_quality":0,"timestamp":"T00:00:00.000Z","packets_lost":0,"jitter":0,"rtt"'
    b':0,"packets_sent":0,"bytes_sent":0,"producer_id":"","ssrc":0,"mid":"","frame_width":0,"f'
    b'rame_height":0,"frames_per_second":0,"frames_encoded":0,"key_frames_encoded":0,"pli_coun'
    b't":0,"fir_count":0,"quality_limitation_reason":"none","quality_limitation_durations":{"b'
    b'andwidth":0,"cpu":0,"none":0,"other":0},"quality_limitation_resolution_changes":0},{"mos'
    b'_quality":0,"timestamp":"T00:00:00.000Z","packets_lost":0,"jitter":0,"packets_received":'
    b'0,"bytes_received":0,"jitter_buffer_delay":0,"jitter_buffer_emitted_count":0,"consumer_i'
    b'd":"","ssrc":0,"mid":"","frame_width":0,"frame_height":0,"frames_per_second":0,"frames_d'
    b'ecoded":0,"frames_dropped":0,"key_frames_decoded":0,"fir_count":0}'
)
_STATE_DICT = (
    b'{"v":0,"report":{"RTCInboundRTPAudioStream_":{"id":"RTCInboundRTPAudioStream_","type":"i'
    b'nbound-rtp","timestamp":0,"ssrc":0,"kind":"audio","trackIdentifier":"","transportId":"RT'
    b'CTransport_","packetsReceived":0,"packetsLost":0,"bytesReceived":0,"jitterBufferDelay":0'
    b',"jitterBufferEmittedCount":0,"concealmentEvents":0},"RTCInboundRTPVideoStream_":{"id":"'
    b'RTCInboundRTPVideoStream_","type":"inbound-rtp","timestamp":0,"ssrc":0,"kind":"video","t'
    b'rackIdentifier":"","transportId":"RTCTransport_","packetsReceived":0,"packetsLost":0,"by'
    b'tesReceived":0,"jitterBufferDelay":0,"jitterBufferEmittedCount":0,"framesDecoded":0,"fra'
    b'mesDropped":0,"framesReceived":0,"keyFramesDecoded":0,"firCount":0,"pliCount":0,"nackCou'
    b'nt":0},"RTCOutboundRTPAudioStream_":{"id":"RTCOutboundRTPAudioStream_","type":"outbound-'
    b'rtp","timestamp":0,"ssrc":0,"kind":"audio","trackIdentifier":"","transportId":"RTCTransp'
    b'ort_","remoteId":"RTCRemoteInboundRtpAudioStream_","packetsSent":0,"bytesSent":0},"RTCOu'
    b'tboundRTPVideoStream_":{"id":"RTCOutboundRTPVideoStream_","type":"outbound-rtp","timesta'
    b'mp":0,"ssrc":0,"kind":"video","trackIdentifier":"","transportId":"RTCTransport_","remote'
    b'Id":"RTCRemoteInboundRtpVideoStream_","packetsSent":0,"bytesSent":0,"framesEncoded":0,"k'
    b'eyFramesEncoded":0,"pliCount":0,"firCount":0,"nackCount":0,"qualityLimitationResolutionC'
    b'hanges":0},"RTCTransport_":{"id":"RTCTransport_","type":"transport","timestamp":0,"selec'
    b'tedCandidatePairId":"RTCIceCandidatePair_"},"RTCRemoteInboundRtpAudioStream_":{"id":"RTC'
    b'RemoteInboundRtpAudioStream_","type":"remote-inbound-rtp","timestamp":0,"ssrc":0,"kind":'
    b'"audio","transportId":"RTCTransport_","localId":"RTCOutboundRTPAudioStream_","packetsLos'
    b't":0},"RTCRemoteInboundRtpVideoStream_":{"id":"RTCRemoteInboundRtpVideoStream_","type":"'
    b'remote-inbound-rtp","timestamp":0,"ssrc":0,"kind":"video","transportId":"RTCTransport_",'
    b'"localId":"RTCOutboundRTPVideoStream_","packetsLost":0},"RTCIceCandidatePair_":{"timesta'
    b'mp":0,"type":"candidate-pair","transportId":"RTCTransport_","localCandidateId":"RTCIceCa'
    b'ndidate_","remoteCandidateId":"RTCIceCandidate_","state":"succeeded","priority":0,"nomin'
    b'ated":true,"writable":true,"bytesSent":0,"bytesReceived":0,"totalRoundTripTime":0,"curre'
    b'ntRoundTripTime":0,"requestsReceived":0,"requestsSent":0,"responsesReceived":0,"response'
    b'sSent":0,"consentRequestsSent":0,"availableOutgoingBitrate":0,"id":"RTCIceCandidatePair_'
    b'"},"RTCIceCandidate_":{"timestamp":0,"type":"remote-candidate","transportId":"RTCTranspo'
    b'rt_","isRemote":true,"ip":"","port":0,"protocol":"udp","candidateType":"srflx","priority'
    b'":0,"deleted":false,"id":"RTCIceCandidate_","address":""}},"labels":[],"pairs":{"consumi'
    b'ng_transport RTCIceCandidatePair_":[0,{}],"producing_transport RTCIceCandidatePair_":[0,'
    b'{"available_outgoing_bitrate":0,"bytes_received":0,"bytes_sent":0,"current_round_trip_ti'
    b'me":0,"total_round_trip_time":0,"nominated":true,"local_candidate_id":"RTCIceCandidate_"'
    b',"local_candidate_address":"","local_candidate_network_type":"","local_candidate_protoco'
    b'l":"","local_candidate_type":"","local_candidate_port":0,"remote_candidate_id":"RTCIceCa'
    b'ndidate_","remote_candidate_address":"","remote_candidate_protocol":"","remote_candidate'
    b'_type":"","remote_candidate_port":0}]},"acc":{"0":{"v":0,"kind":"audio_producer","n":0,"'
    b'mos":[0,0],"loss":[[0],0],"lat":[[0],0],"lm":[0,[0]],"tm":0},"1":{"v":0,"kind":"video_pr'
    b'oducer","n":0,"mos":[0,0],"loss":[[0],0],"lat":[[0],0],"lm":[0,[0]],"tm":0,"fps":[0,0],"'
    b'fw":[0,0],"kf":[[0],[0]],"poor":0,"nov":0,"ql":[[],[]],"qlr":[0,0],"hnf":0,"ts":[[0,0],['
    b'0,0]]},"4":{"v":0,"kind":"audio_consumer","n":0,"mos":[0,0],"loss":[[],0],"lat":[[0,0],0'
    b'],"lm":[0,[]],"tm":0},"5":{"v":0,"kind":"video_consumer","n":0,"mos":[0,0],"loss":[[0],0'
    b'],"lat":[[0,0],0],"lm":[0,[0]],"tm":0,"fps":[0,0],"fw":[0,0],"kf":[[0],[0]],"poor":0,"no'
    b'v":0,"lag":0}},"tail":{"0":[[0,0],[0,0]],"4":[[0,0],[0,0]],"5":[[0,0],[0,0]]},"last":{"0'
    b'":0,"1":0,"4":0,"5":0}}'
)
_EVENTS_DICT = (
    b'[["",0,{"connection_id":"PC_0"}],["","peer_connection_created",0,{"connection_id":"PC_0"}],'
    b'["","peer_connection_closed",0,{"connection_id":"PC_0"}],["","get_user_media",0,{"constrai'
    b'nts":""}],["","get_user_media_success",0,null],["","dtls_state",0,{"state":"connected","'
    b'connection_id":"PC_0"}],["","connection_state",0,{"state":"connected","connection_id":"PC'
    b'_0"}],["","ice_gathering_state",0,{"state":"complete","connection_id":"PC_0"}],["","ice_co'
    b'nnection_state",0,{"state":"checking","connection_id":"PC_0"}],["","ice_connection_state"'
    b',0,{"state":"connected","connection_id":"PC_0"}],["","signaling_state",0,{"state":"have-'
    b'local-offer","connection_id":"PC_0"}],["","signaling_state",0,{"state":"have-remote-offer'
    b'","connection_id":"PC_0"}],["","signaling_state",0,{"state":"stable","connection_id":"PC_0'
    b'"}],["",'
)
# fmt: on
_DICTS = {zlib.adler32(d): d for d in (_ROWS_DICT, _STATE_DICT, _EVENTS_DICT)}


def _compress(data: bytes, level: int, zdict: bytes) -> bytes:
    c = zlib.compressobj(level, zlib.DEFLATED, 15, 9, zlib.Z_DEFAULT_STRATEGY, zdict)
    return c.compress(data) + c.flush()


def _decompress(data: bytes) -> bytes:
    """A zlib stream, with or without a preset dictionary of ``_DICTS``. raises zlib.error."""
    if len(data) >= 6 and data[1] & 0x20:  # FDICT: DICTID follows the two header bytes
        zdict = _DICTS.get(int.from_bytes(data[2:6], "big"))
        if zdict is None:
            raise zlib.error("unknown preset dictionary")
        d = zlib.decompressobj(15, zdict)
        out = d.decompress(data) + d.flush()
        if not d.eof:
            raise zlib.error("incomplete or truncated stream")
        return out
    return zlib.decompress(data)


def plain(data: bytes) -> bytes:
    """``data`` (a block or a state) as a zlib stream without a preset dictionary, as written
    before migration 0006b (its downgrade rewrites blocks and states with this)."""
    return zlib.compress(_decompress(data), 6)


def encode_rows(rows: list[bytes]) -> bytes:
    """One block's bytes from the rows' JSON objects (each ``orjson.dumps`` of a public row)."""
    return _compress(b",".join(rows), _ROWS_LEVEL, _ROWS_DICT)


def decode_rows(block: bytes) -> bytes:
    """The comma-joined JSON objects of a block (``encode_rows`` inverted; also reads blocks
    compressed without a dictionary). raises zlib.error."""
    return _decompress(block)


def join_rows(fragments: list[bytes]) -> bytes:
    """A JSON array of the rows of several decoded blocks, in the given order."""
    parts: list[bytes] = []
    for fragment in fragments:
        if fragment:
            parts += (b",", fragment)
    if not parts:
        return b"[]"
    parts[0] = b"["  # one copy of everything, in the join below
    parts.append(b"]")
    return b"".join(parts)


def encode_state(state: dict[str, Any]) -> bytes:
    """Compressed JSON of a state object (keys must be strings)."""
    return _compress(orjson.dumps(state), _STATE_LEVEL, _STATE_DICT)


def decode_state(data: bytes) -> dict[str, Any]:
    """``encode_state`` inverted. raises zlib.error, orjson.JSONDecodeError or ValueError."""
    value = orjson.loads(_decompress(data))
    if not isinstance(value, dict):
        raise ValueError("state is not a JSON object")
    return value


def encode_events(events: list[list[Any]]) -> bytes:
    """One client-event block's bytes from its entries (JSON values; Python integers beyond 64
    bits are written as the standard library writes them)."""
    try:
        data = orjson.dumps(events)
    except TypeError:  # an integer orjson cannot write (metadata of an import, not of HTTP):
        # the leading space tells decode_events to read it back with the standard library
        # (orjson reads such an integer as a float)
        data = b" " + json.dumps(events, separators=(",", ":"), ensure_ascii=False).encode()
    return _compress(data, _EVENTS_LEVEL, _EVENTS_DICT)


def decode_events(block: bytes) -> list[list[Any]]:
    """``encode_events`` inverted. raises zlib.error or ValueError."""
    data = _decompress(block)
    value = json.loads(data) if data[:1] == b" " else orjson.loads(data)
    if not isinstance(value, list):
        raise ValueError("client-event block is not a JSON array")
    return value
