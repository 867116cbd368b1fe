"""Ingestion events (docs/ingest.md). Validation only; ``domain.ingest`` applies them."""

from __future__ import annotations

import gc
import math
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import orjson
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainValidator,
    StringConstraints,
    ValidationError,
    WithJsonSchema,
)

from rtk_sessions.clock import from_epoch_ms, parse_iso
from rtk_sessions.errors import validation_message

# Epoch ms between 2000-01-01 and 2100-01-01: anything else is a unit mistake (seconds, µs).
_MIN_MS, _MAX_MS = 946_684_800_000, 4_102_444_800_000
# The same range for ISO 8601 times (docs/ingest.md, "Limits").
MIN_TIME, MAX_TIME = datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC)

# Limits on any JSON body (docs/ingest.md, "Limits"): nesting depth of arrays and objects (the
# top-level object is depth 1), and the magnitude of numbers (RTCStats counters are at most
# unsigned 64-bit; anything beyond a signed 64-bit integer cannot be stored, so it is refused).
MAX_DEPTH = 32
MAX_NUMBER = 2**63


def json_problem(
    value: Any, *, numbers: bool = True, max_depth: int = MAX_DEPTH, at: str = "", depth: int = 0
) -> str | None:
    """What makes a parsed JSON value unacceptable anywhere in the API, or None when nothing does.

    Refused: a string (value or object key) containing U+0000 (PostgreSQL cannot store it), arrays
    and objects nested deeper than ``max_depth``, and with ``numbers`` any number whose magnitude is
    ``MAX_NUMBER`` (2**63) or more. ``at``/``depth``: the path and level of ``value`` in the body
    it was taken from. Iterative, so no depth can exhaust the Python stack. The answer
    names where the problem is, e.g. ``events[3].stats[0].bytesSent: number out of range ...``.
    """
    if not _suspect(value, numbers, max_depth, depth):
        return None
    return _problem(value, numbers, max_depth, at, depth)


def _suspect(value: Any, numbers: bool, max_depth: int, depth: int = 0) -> bool:
    """The common case of ``json_problem``, as fast as Python goes (about 0.15 µs a value): True
    when something may be wrong. Scalars are checked where they sit, containers stacked."""
    stack: list[tuple[Any, int]] = [(value, depth)]
    pop, push = stack.pop, stack.append
    while stack:
        item, depth = pop()
        kind = type(item)
        if kind is str:
            return "\x00" in item
        if kind is not dict and kind is not list:
            return (
                numbers and (kind is int or kind is float) and not -MAX_NUMBER < item < MAX_NUMBER
            )
        if depth >= max_depth:
            return True
        if kind is dict:
            for key in item:
                if "\x00" in key:
                    return True
            members = item.values()
        else:
            members = item
        for member in members:
            kind = type(member)
            if kind is str:
                if "\x00" in member:
                    return True
            elif kind is dict or kind is list:
                push((member, depth + 1))
            elif (
                numbers and (kind is int or kind is float) and not -MAX_NUMBER < member < MAX_NUMBER
            ):
                return True
    return False


def _problem(value: Any, numbers: bool, max_depth: int, at: str = "", depth: int = 0) -> str | None:
    """``json_problem`` the slow way, keeping track of where each value is (``at``: the path of
    ``value`` itself, ``depth`` its level in the body)."""
    stack: list[tuple[Any, int, str]] = [(value, depth, at)]
    pop, push = stack.pop, stack.append
    while stack:
        item, depth, where = pop()
        kind = type(item)
        if kind is str:
            if "\x00" in item:
                return f"{where or 'body'}: strings must not contain NUL (U+0000)"
        elif kind is dict:
            if depth >= max_depth:
                return f"{where or 'body'}: nested deeper than {max_depth} levels"
            for key, member in item.items():
                if "\x00" in key:
                    return f"{where or 'body'}: object keys must not contain NUL (U+0000)"
                push((member, depth + 1, f"{where}.{key}" if where else key))
        elif kind is list:
            if depth >= max_depth:
                return f"{where or 'body'}: nested deeper than {max_depth} levels"
            for index, member in enumerate(item):
                push((member, depth + 1, f"{where}[{index}]"))
        elif numbers and (kind is int or kind is float) and not -MAX_NUMBER < item < MAX_NUMBER:
            return f"{where or 'body'}: number out of range (magnitude must be below 2^63)"
    return None


_REPORT_DEPTH = 3  # the body is level 0, its events list 1, an event 2: a report sits at 3


def batch_problem(data: Any, raw: bytes) -> str | None:
    """``json_problem`` of an ingestion body, with its getStats reports checked the cheap way.

    Everything but the ``stats`` of ``peer.stats`` events is checked as ``json_problem`` does.
    A report is refused for NUL in a string or nesting deeper than the body's limit, but not for
    large numbers: real browsers put them there (Firefox reports ``framerateMean`` as 1.8e308
    before it has a value), and the stats package takes any value it cannot use as absent. The
    reports, nearly all of a body, are walked only when the raw body holds an escaped NUL or
    ``orjson`` (in C) finds them deeper than it serializes (254 levels): walking every value in
    Python costs about as much as parsing the body. Serializing them costs a third of parsing
    them, so it is done only for reports that ``_shallow`` cannot clear (none, in real traffic).
    """
    if not isinstance(data, dict) or not isinstance(data.get("events"), list):
        return json_problem(data)
    events = []
    reports: list[tuple[int, Any]] = []
    for index, event in enumerate(data["events"]):
        if isinstance(event, dict) and event.get("type") == "peer.stats" and "stats" in event:
            reports.append((index, event["stats"]))
            event = {**event, "stats": []}
        events.append(event)
    problem = json_problem({**data, "events": events})
    if problem is not None or not reports:
        return problem
    if not _escaped_nul(raw):
        values = [report for _, report in reports]
        if _shallow(values, _REPORT_DEPTH):  # the walk below could find nothing: no NUL, shallow
            return None
        try:
            orjson.dumps(values)
            return None
        except orjson.JSONEncodeError:
            pass
    for index, report in reports:
        problem = json_problem(
            report, numbers=False, at=f"events[{index}].stats", depth=_REPORT_DEPTH
        )
        if problem is not None:
            return problem
    return None


_is_tracked = gc.is_tracked


def _shallow(values: list[Any], depth: int) -> bool:
    """True when no array or object inside ``values`` (JSON values at level ``depth`` of a body)
    sits deeper than level ``MAX_DEPTH - 1``, so ``json_problem(value, depth=depth)`` finds no
    nesting problem in any of them; False when that is not certain.

    It visits only the containers whose members may be containers, which CPython's garbage
    collector tells apart: a list is always tracked, and so is a dict that holds a list or a dict
    (anything that can be part of a reference cycle must be), while a dict of scalars, as
    ``orjson`` makes every RTCStats object without nested members, is not tracked. So the members
    of an untracked dict are all scalars, and a level of a report is cleared by a filter run in C
    (``gc.is_tracked``) instead of a Python loop over its values. That dicts of scalars are
    untracked makes this fast, not correct: were every dict tracked, all would be visited.
    """
    level = values
    while level:
        if depth + 1 >= MAX_DEPTH:  # members of this level's containers may be too deep
            return False
        nested: list[Any] = []
        for value in level:
            kind = value.__class__
            if kind is dict:
                nested.extend(filter(_is_tracked, value.values()))
            elif kind is list:
                nested.extend(filter(_is_tracked, value))
        level = nested
        depth += 1
    return True


def _escaped_nul(raw: bytes) -> bool:
    """Whether ``raw`` (a JSON text) may hold a NUL: the escape ``\\u0000`` (a raw NUL byte is not
    valid JSON). A NUL needs a backslash, and looking for one byte is a ``memchr``: on
    bodies without escapes (nearly all) about 15 times faster than looking for the escape itself,
    whose last byte ``0`` is common in JSON numbers."""
    return b"\\" in raw and b"\\u0000" in raw


def _timestamp(value: Any) -> datetime:
    if isinstance(value, bool):
        raise ValueError("must be an ISO 8601 string or epoch milliseconds")
    if isinstance(value, int | float):
        if not math.isfinite(value) or not _MIN_MS <= value <= _MAX_MS:
            raise ValueError("epoch milliseconds out of range (2000..2100)")
        return from_epoch_ms(float(value))
    if isinstance(value, str):
        try:
            parsed = parse_iso(value)
        except ValueError:
            raise ValueError(f"not an ISO 8601 time: {value[:40]!r}") from None
        if not MIN_TIME <= parsed <= MAX_TIME:
            raise ValueError("time out of range (2000..2100)")
        return parsed
    raise ValueError("must be an ISO 8601 string or epoch milliseconds")


Timestamp = Annotated[datetime, BeforeValidator(_timestamp)]


_ONLY_DICT = {dict}


def _stats_report(value: Any) -> list[dict[str, Any]] | dict[str, dict[str, Any]]:
    """A getStats() report as sent: a list of RTCStats objects, or an object of them by id.

    Checked one level deep and passed on as is: the stats objects are read leniently by
    ``rtk_sessions.stats`` (unknown and malformed members are ignored there), so copying every
    member through a schema would only cost time on the ingest path.
    """
    if type(value) is list:
        if not value or {*map(type, value)} == _ONLY_DICT:  # a C loop; all(...) runs bytecode
            return value
        raise ValueError("must be a list of stats objects")
    if type(value) is dict:
        if not value or {*map(type, value.values())} == _ONLY_DICT:
            return value
        raise ValueError("must be an object of stats objects by id")
    raise ValueError("must be a list of stats objects or an object of them by id")


StatsReport = Annotated[
    list[dict[str, Any]] | dict[str, dict[str, Any]],
    PlainValidator(_stats_report),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "array", "items": {"type": "object"}},
                {"type": "object", "additionalProperties": {"type": "object"}},
            ],
            "description": "A getStats() report: its RTCStats objects, as a list or by id.",
        }
    ),
]
EventId = Annotated[str, StringConstraints(min_length=1, max_length=128)]
Ident = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Name = Annotated[str, StringConstraints(max_length=500)]
PresetViewType = Literal["GROUP_CALL", "WEBINAR", "AUDIO_ROOM", "LIVESTREAM", "CHAT"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class ParticipantInfo(_Model):
    user_id: Ident | None = None
    custom_participant_id: Name | None = None
    display_name: Name | None = None
    preset_name: Name | None = None
    preset_view_type: PresetViewType | None = None


class Identity(_Model):
    user_id: Ident | None = None
    custom_participant_id: Name | None = None
    display_name: Name | None = None


class Device(_Model):
    device_id: str | None = None
    kind: str | None = None
    label: str | None = None


class _Event(_Model):
    id: EventId
    timestamp: Timestamp


class _PeerEvent(_Event):
    peer_id: Ident


class PeerJoined(_PeerEvent):
    type: Literal["peer.joined"]
    meeting_id: Ident | None = None
    meeting_title: Name | None = None
    session_id: Ident | None = None
    parent_session_id: Ident | None = None
    participant: ParticipantInfo = ParticipantInfo()
    socket_session_id: Name | None = None


class PeerLeft(_PeerEvent):
    type: Literal["peer.left"]
    reason: Name | None = None


class PeerStats(_PeerEvent):
    type: Literal["peer.stats"]
    connection_id: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    transport: Literal["producing", "consuming"] | None = None
    stats: StatsReport
    labels: list[dict[str, Any]] = Field(default_factory=list, max_length=1000)


class PeerMetadata(_PeerEvent):
    type: Literal["peer.metadata"]
    user_agent: Annotated[str, StringConstraints(max_length=2000)] | None = None
    device_info: dict[str, Any] | None = None
    browser_metadata: dict[str, Any] | None = None
    sdk_name: Name | None = None
    sdk_type: Name | None = None
    sdk_version: Name | None = None
    room_view_type: Name | None = None
    ip_information: dict[str, Any] | None = None
    native_metadata: dict[str, Any] | None = None
    pc_metadata: dict[str, Any] | None = None


class PeerDevices(_PeerEvent):
    type: Literal["peer.devices"]
    kind: Literal["audio", "video", "speaker"]
    added: list[Device] = Field(default_factory=list)
    removed: list[Device] = Field(default_factory=list)


class PeerDeviceSelected(_PeerEvent):
    type: Literal["peer.device_selected"]
    device: Device


class PeerClientEvent(_PeerEvent):
    type: Literal["peer.event"]
    name: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    metadata: dict[str, str | int | float | bool | None] = Field(default_factory=dict)


class _Located(_Event):
    session_id: Ident | None = None
    meeting_id: Ident | None = None
    peer_id: Ident | None = None


class ChatMessage(_Located):
    type: Literal["chat.message"]
    message_id: EventId | None = None
    sender: Identity | None = None
    payload_type: Literal["TEXT_MESSAGE", "IMAGE_MESSAGE", "FILE_MESSAGE"]
    payload: Annotated[str, StringConstraints(max_length=100_000)]
    pinned: bool = False
    is_edited: bool = False


class TranscriptSegment(_Located):
    type: Literal["transcript.segment"]
    speaker: Identity | None = None
    start: Timestamp
    end: Timestamp
    text: Annotated[str, StringConstraints(max_length=100_000)]
    is_final: bool = True
    language: Annotated[str, StringConstraints(max_length=35)] | None = None


Event = Annotated[
    PeerJoined
    | PeerLeft
    | PeerStats
    | PeerMetadata
    | PeerDevices
    | PeerDeviceSelected
    | PeerClientEvent
    | ChatMessage
    | TranscriptSegment,
    Field(discriminator="type"),
]

EVENT_TYPES = (
    "peer.joined",
    "peer.left",
    "peer.stats",
    "peer.metadata",
    "peer.devices",
    "peer.device_selected",
    "peer.event",
    "chat.message",
    "transcript.segment",
)


class IngestBatch(_Model):
    events: list[Event]


class IngestResult(BaseModel):
    accepted: int
    """Events applied by this batch."""
    duplicates: int
    """Events already applied before (same id): ignored."""


class IngestResponse(BaseModel):
    """``POST .../{app_id}/ingest``: answered once the batch is durably committed."""

    success: bool = True
    data: IngestResult


def batch_validation_message(exc: ValidationError) -> str:
    """A batch's validation errors in the words of :func:`rtk_sessions.errors.validation_message`
    (``Invalid ingestion batch: events[3].timestamp: ...``; the event type tags left out of the
    path), for a :class:`~rtk_sessions.errors.BadRequest`."""
    return validation_message(
        exc.errors(), prefix="Invalid ingestion batch", hidden=EVENT_TYPES, tag_label="event type"
    )
