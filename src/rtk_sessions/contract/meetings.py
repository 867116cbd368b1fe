"""Meetings API and Apps API shapes (docs/openapi.md): request bodies with the contract's
rules and messages, and responses as the official SDK models (``cloudflare`` 5.9.0,
``cloudflare.types.realtime_kit.meeting_*``, ``app_*``) name and type them.

Bodies: a JSON object, checked whole (``contract.common.json_object``); unknown keys are ignored.
A create or PUT sets every field (absent ones to their defaults); a PATCH only the fields it
carries (``model_fields_set``). Every broken rule is a 400 with the message given below.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationInfo, model_validator

from rtk_sessions.contract.common import Paging, Shape, Success, contract_error, json_object

MAX_KEEP_ALIVE = 86_400
"""Seconds: the longest ``session_keep_alive_time_in_secs``."""
MEETING_FLAGS = (
    "record_on_start",
    "live_stream_on_start",
    "persist_chat",
    "summarize_on_end",
    "transcribe_on_end",
)


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _whole(cls, value: Any) -> Any:
        return json_object(value)


# ---- field rules (each raises a contract error with its message) ----------------------------


def _title(value: Any) -> Any:
    if value is not None and (not isinstance(value, str) or len(value) > 500):
        raise contract_error("title must be a string of at most 500 characters")
    return value


def _flag(value: Any, info: ValidationInfo) -> Any:
    if not isinstance(value, bool):
        raise contract_error(f"{info.field_name} must be a boolean")
    return value


def _keep_alive(value: Any) -> Any:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not 0 <= value <= MAX_KEEP_ALIVE
    ):
        raise contract_error(
            f"session_keep_alive_time_in_secs must be a number from 0 to {MAX_KEEP_ALIVE}"
        )
    return int(value)


_INT64 = 2**63


def _out_of_range(value: Any) -> bool:
    """Whether a JSON document holds a number of magnitude 2^63 or more. PostgreSQL's jsonb keeps
    it as an exact numeric (``1e30`` too), which reads back as an integer that no JSON answer can
    hold (orjson writes 64-bit integers): every later list of meetings would fail."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif (
            isinstance(item, int | float)
            and not isinstance(item, bool)
            and not -_INT64 <= item < _INT64
        ):
            return True
    return False


def _object(value: Any, info: ValidationInfo) -> Any:
    if value is not None and not isinstance(value, dict):
        raise contract_error(f"{info.field_name} must be an object")
    if value is not None and _out_of_range(value):
        raise contract_error(f"{info.field_name}: numbers must be within ±2^63")
    return value


def _status(value: Any) -> Any:
    if value not in ("ACTIVE", "INACTIVE"):
        shown = value if isinstance(value, str) else repr(value)
        raise contract_error(f"status must be one of ACTIVE, INACTIVE, got {shown!r}")
    return value


def _text(limit: int, *, required: bool) -> BeforeValidator:
    def check(value: Any, info: ValidationInfo) -> Any:
        if value is None:
            if required:
                raise contract_error(f"{info.field_name} is required")
            return None
        if not isinstance(value, str) or not value.strip() or len(value) > limit:
            raise contract_error(
                f"{info.field_name} must be a non-empty string of at most {limit} characters"
            )
        return value

    return BeforeValidator(check)


Flag = Annotated[bool, BeforeValidator(_flag)]
Config = Annotated[dict[str, Any] | None, BeforeValidator(_object)]


# ---- meetings ---------------------------------------------------------------------------------


class MeetingBody(_Body):
    """The body of ``POST .../meetings`` (create), ``PUT`` (replace) and ``PATCH`` (update)."""

    title: Annotated[Annotated[str, Field(max_length=500)] | None, BeforeValidator(_title)] = None
    record_on_start: Flag = False
    live_stream_on_start: Flag = False
    persist_chat: Flag = False
    summarize_on_end: Flag = False
    """Queue a summary when a session of this meeting ends."""
    transcribe_on_end: Flag = False
    session_keep_alive_time_in_secs: Annotated[
        int | None, BeforeValidator(_keep_alive), Field(ge=0, le=MAX_KEEP_ALIVE)
    ] = None
    """Seconds a session stays live with nobody in it (default: the server's setting)."""
    ai_config: Config = None
    """Stored and returned as sent."""
    recording_config: Config = None
    """Stored and returned as sent."""
    status: Annotated[Literal["ACTIVE", "INACTIVE"] | None, BeforeValidator(_status)] = None


class Meeting(Shape):
    id: str
    title: str | None = None
    """Omitted when the meeting has none."""
    status: Literal["ACTIVE", "INACTIVE"]
    record_on_start: bool
    live_stream_on_start: bool
    persist_chat: bool
    summarize_on_end: bool
    transcribe_on_end: bool
    session_keep_alive_time_in_secs: int
    ai_config: dict[str, Any] | None = None
    recording_config: dict[str, Any] | None = None
    created_at: datetime
    updated_at: datetime


class MeetingResponse(Success):
    """A meeting: create, fetch, update, replace (SDK ``MeetingCreateResponse``,
    ``MeetingGetMeetingByIDResponse``, ``MeetingUpdateMeetingByIDResponse``,
    ``MeetingReplaceMeetingByIDResponse``)."""

    data: Meeting


class MeetingsResponse(Success):
    """``GET .../meetings`` (SDK ``MeetingGetResponse``)."""

    data: list[Meeting]
    paging: Paging


# ---- meeting participants ---------------------------------------------------------------------


class ParticipantCreate(_Body):
    """The body of ``POST .../meetings/{meeting_id}/participants``."""

    custom_participant_id: Annotated[str, _text(500, required=True), Field(max_length=500)]
    preset_name: Annotated[str, _text(500, required=True), Field(max_length=500)]
    name: Annotated[Annotated[str, Field(max_length=500)] | None, _text(500, required=False)] = None
    picture: Annotated[
        Annotated[str, Field(max_length=4000)] | None, _text(4000, required=False)
    ] = None


class ParticipantEdit(_Body):
    """The body of ``PATCH .../meetings/{meeting_id}/participants/{participant_id}``: the fields
    it carries are changed (``name`` and ``picture`` may be null to clear them)."""

    name: Annotated[Annotated[str, Field(max_length=500)] | None, _text(500, required=False)] = None
    picture: Annotated[
        Annotated[str, Field(max_length=4000)] | None, _text(4000, required=False)
    ] = None
    preset_name: Annotated[
        Annotated[str, Field(max_length=500)] | None, _text(500, required=True)
    ] = None


class MeetingParticipant(Shape):
    id: str
    """Becomes the ``user_id`` of the session participants (peers) it joins as."""
    token: str | None = None
    """A participant token (signed, expiring): only when adding the participant."""
    custom_participant_id: str
    preset_name: str
    name: str | None = None
    picture: str | None = None
    created_at: datetime
    updated_at: datetime


class MeetingParticipantResponse(Success):
    """A meeting participant: add (with ``token``), fetch, edit (SDK
    ``MeetingAddParticipantResponse``, ``MeetingGetMeetingParticipantResponse``,
    ``MeetingEditParticipantResponse``)."""

    data: MeetingParticipant


class MeetingParticipantsResponse(Success):
    """``GET .../meetings/{meeting_id}/participants``
    (SDK ``MeetingGetMeetingParticipantsResponse``)."""

    data: list[MeetingParticipant]
    paging: Paging


class DeletedParticipant(Shape):
    created_at: datetime
    custom_participant_id: str
    preset_id: str
    """The preset name."""
    updated_at: datetime


class DeletedParticipantResponse(Success):
    """``DELETE .../meetings/{meeting_id}/participants/{participant_id}``
    (SDK ``MeetingDeleteMeetingParticipantResponse``)."""

    data: DeletedParticipant


class ParticipantToken(Shape):
    token: str


class ParticipantTokenResponse(Success):
    """``POST .../participants/{participant_id}/token``
    (SDK ``MeetingRefreshParticipantTokenResponse``)."""

    data: ParticipantToken


# ---- apps -----------------------------------------------------------------------------------


def _app_body(value: Any) -> Any:
    if not isinstance(value, dict) or not isinstance(value.get("name"), str):
        raise contract_error("name is required and must be a string")
    if "\x00" in value["name"]:
        raise contract_error("name must not contain NUL (U+0000)")
    return value


class AppCreate(BaseModel):
    """The body of ``POST .../realtime/kit/apps``."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    name: str

    @model_validator(mode="before")
    @classmethod
    def _whole(cls, value: Any) -> Any:
        return _app_body(value)


class App(Shape):
    id: str
    name: str
    created_at: datetime


class AppsResponse(Success):
    """``GET .../realtime/kit/apps`` (SDK ``AppGetResponse``)."""

    data: list[App]
    paging: Paging


class CreatedApp(Shape):
    app: App


class AppResponse(Success):
    """``POST .../realtime/kit/apps`` (SDK ``AppPostResponse``)."""

    data: CreatedApp
