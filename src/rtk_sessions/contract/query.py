"""Query parameters of every route as models, with the contract's rules (``contract.params``) and
their messages: a broken rule is a ``contract_error`` (HTTP 400 with the message as is).

Unknown parameters are ignored (docs/openapi.md). The types as clients send them: counts are
numbers (the Python SDK sends ``2.0``), booleans ``true``/``false``/``1``/``0`` in any case, times
ISO 8601 (naive = UTC), enums exact.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationInfo, WithJsonSchema
from pydantic import model_validator as _model_validator

from rtk_sessions.contract import params
from rtk_sessions.contract.common import contract_error
from rtk_sessions.errors import BadRequest


def _rule(parse: Callable[[str, str | None], Any]) -> Callable[[Any, ValidationInfo], Any]:
    """A before-validator applying ``parse(field name, raw)``; BadRequest becomes a contract
    error with the same message."""

    def validate(value: Any, info: ValidationInfo) -> Any:
        try:
            return parse(info.field_name or "", None if value is None else str(value))
        except BadRequest as exc:
            raise contract_error(exc.message) from None

    return validate


def _enum(*allowed: str) -> Callable[[str, str | None], str | None]:
    return lambda name, raw: params.parse_enum(name, raw, allowed)


Count = Annotated[
    int | None,
    BeforeValidator(_rule(params.parse_count)),
    WithJsonSchema({"type": "number", "minimum": 0, "description": "A non-negative integer"}),
]
PageCount = Annotated[
    int | None,
    BeforeValidator(_rule(params.parse_page_count)),
    WithJsonSchema(
        {
            "type": "number",
            "minimum": 0,
            "maximum": params.MAX_PAGE_COUNT,
            "description": "A non-negative integer (the offset must fit 64 bits)",
        }
    ),
]
Flag = Annotated[
    bool,
    BeforeValidator(_rule(params.parse_bool)),
    WithJsonSchema({"type": "boolean", "description": "true/false (any case) or 1/0"}),
]
Time = Annotated[
    datetime | None,
    BeforeValidator(_rule(params.parse_time)),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]
# Kept as sent (a str: a set or tuple would be read as a repeated parameter) once checked;
# ``filter_set()``/``participants_range()`` give the parsed values.
Filters = Annotated[
    str | None,
    BeforeValidator(_rule(lambda _, raw: params.parse_filters(raw) and raw)),
    WithJsonSchema(
        {
            "type": "string",
            "description": "Comma-separated, no spaces; each one of "
            + ", ".join(params.PEER_REPORT_FILTERS),
        }
    ),
]
ParticipantsRange = Annotated[
    str | None,
    BeforeValidator(_rule(lambda _, raw: params.parse_participants_range(raw) and raw)),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^\s*\d*(:\d*)?\s*$",
            "description": "'min:max' on max_concurrent_participants, either side optional; "
            "'n' means exactly n",
        }
    ),
]


def _one_of(*allowed: str) -> BeforeValidator:
    """An optional string that must be one of ``allowed`` (exact case)."""
    return BeforeValidator(_rule(_enum(*allowed)))


SortOrder = Annotated[Literal["ASC", "DESC"] | None, _one_of("ASC", "DESC")]
SessionSort = Annotated[
    Literal["minutesConsumed", "createdAt"] | None, _one_of("minutesConsumed", "createdAt")
]
SessionStatus = Annotated[Literal["LIVE", "ENDED"] | None, _one_of("LIVE", "ENDED")]
ParticipantSort = Annotated[Literal["joinedAt", "duration"] | None, _one_of("joinedAt", "duration")]
ParticipantsView = Annotated[Literal["raw", "consolidated"] | None, _one_of("raw", "consolidated")]
TranscriptFormat = Annotated[
    Literal["CSV", "JSON", "SRT", "VTT"] | None, _one_of("CSV", "JSON", "SRT", "VTT")
]
MeetingStatus = Annotated[Literal["ACTIVE", "INACTIVE"] | None, _one_of("ACTIVE", "INACTIVE")]


class QueryModel(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class PageQuery(QueryModel):
    page_no: PageCount = Field(None, description="1-based page number (default 1)")
    per_page: PageCount = Field(None, description="Page size (default 25)")

    def page(self) -> params.Page:
        return params.Page(self.page_no or 1, self.per_page or params.DEFAULT_PER_PAGE)


class _TimeRange(QueryModel):
    start_time: Time = Field(None, description="ISO 8601; inclusive lower bound on created_at")
    end_time: Time = Field(None, description="ISO 8601; inclusive upper bound on created_at")

    @_model_validator(mode="after")
    def _ordered(self) -> Any:
        if self.start_time and self.end_time and self.start_time > self.end_time:
            raise contract_error("start_time must not be after end_time")
        return self


class SessionsQuery(PageQuery, _TimeRange):
    """``GET .../sessions``."""

    associated_id: str | None = Field(None, description="Meeting id")
    participants: ParticipantsRange = None
    search: str | None = Field(None, description="Substring of title, meeting id or session id")
    sort_by: SessionSort = None
    sort_order: SortOrder = Field(None, description="Default DESC")
    status: SessionStatus = None

    def participants_range(self) -> tuple[int | None, int | None]:
        return params.parse_participants_range(self.participants)


class PeerReportQuery(QueryModel):
    """``GET .../sessions/peer-report/{peer_id}``."""

    filters: Filters = None
    include_peer_events: Flag = False

    def filter_set(self) -> frozenset[str] | None:
        return params.parse_filters(self.filters)


class SessionDetailsQuery(QueryModel):
    """``GET .../sessions/{session_id}``."""

    include_breakout_rooms: Flag = False


class SessionParticipantsQuery(PageQuery):
    """``GET .../sessions/{session_id}/participants``."""

    include_peer_events: Flag = False
    search: str | None = Field(None, description="Participant id, custom id or display name")
    sort_by: ParticipantSort = None
    sort_order: SortOrder = Field(None, description="Default ASC")
    view: ParticipantsView = None


class SessionParticipantQuery(QueryModel):
    """``GET .../sessions/{session_id}/participants/{participant_id}``."""

    include_peer_events: Flag = False
    filters: Filters = Field(None, description="Legacy; validated and ignored")


class TranscriptQuery(QueryModel):
    """``GET .../sessions/{session_id}/transcript``."""

    format: TranscriptFormat = Field(None, description="Default CSV")


class MeetingsQuery(PageQuery, _TimeRange):
    """``GET .../meetings``."""

    search: str | None = Field(None, description="Meeting id or a substring of the title")
    status: MeetingStatus = None


class AppsQuery(PageQuery):
    """``GET .../realtime/kit/apps``."""

    search: str | None = Field(None, description="Substring of the app name")
    sort_order: SortOrder = Field(None, description="By creation time; default DESC")


class PresetsQuery(PageQuery):
    """``GET .../presets``."""

    search: str | None = Field(None, description="Substring of the preset name")


Day = Annotated[
    date | None,
    BeforeValidator(_rule(params.parse_day)),
    WithJsonSchema({"type": "string", "format": "date", "description": "YYYY-MM-DD (UTC)"}),
]


class OrgAnalyticsQuery(QueryModel):
    """``GET .../analytics/daywise``: UTC days, inclusive (defaults: ``domain.analytics``)."""

    start_date: Day = None
    end_date: Day = None
