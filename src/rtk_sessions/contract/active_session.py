"""Active session and org analytics shapes (``realtime_kit.active_session``,
``realtime_kit.analytics``; docs/openapi.md), as the SDK models (``cloudflare`` 5.9.0,
``active_session_*``, ``analytics_get_org_analytics_*``) name them."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from rtk_sessions.contract.common import Shape, Success, json_object
from rtk_sessions.contract.sessions import Session

Ids = Annotated[list[Annotated[str, Field(min_length=1, max_length=200)]], Field(max_length=1000)]


class KickBody(BaseModel):
    """The body of ``POST .../active-session/kick``: meeting participant ids and/or custom
    participant ids (at least one id in all; else 400)."""

    model_config = ConfigDict(extra="forbid")
    participant_ids: Ids = []
    custom_participant_ids: Ids = []

    @model_validator(mode="before")
    @classmethod
    def _whole(cls, value: Any) -> Any:
        return json_object(value)


class ActiveSessionResponse(Success):
    """``GET .../active-session`` (SDK ``ActiveSessionGetActiveSessionResponse``): the LIVE
    session as ``GET .../sessions/{session_id}`` shows it."""

    data: Session


class KickedParticipant(Shape):
    id: str
    """The meeting participant id."""
    custom_participant_id: str
    """An extension: the SDK's model has no such key."""
    name: str | None = None
    picture: str | None = None
    created_at: str
    updated_at: str


class KickData(Shape):
    action: Literal["kick"] = "kick"
    participants: list[KickedParticipant]


class KickResponse(Success):
    """``POST .../active-session/kick`` (SDK ``ActiveSessionKickParticipantsResponse``)."""

    data: KickData


class KickAllData(Shape):
    action: Literal["kick_all"] = "kick_all"
    kicked_participants_count: int


class KickAllResponse(Success):
    """``POST .../active-session/kick-all`` (SDK ``ActiveSessionKickAllParticipantsResponse``)."""

    data: KickAllData


# ---- org analytics ----------------------------------------------------------------------------


class SessionDay(Shape):
    day: str
    """YYYY-MM-DD (UTC)."""
    total_sessions: int
    total_session_minutes: float


class SessionStats(Shape):
    sessions_count: int
    sessions_minutes_consumed: float
    """Participant-minutes, 4 decimals."""
    day_stats: list[SessionDay]


class RecordingDay(Shape):
    day: str
    total_recordings: int
    total_recording_minutes: int


class RecordingStats(Shape):
    """Always zero: rtk-sessions records nothing."""

    recording_count: int
    recording_minutes_consumed: float
    day_stats: list[RecordingDay]


class OrgAnalytics(Shape):
    session_stats: SessionStats
    recording_stats: RecordingStats


class OrgAnalyticsResponse(Success):
    """``GET .../analytics/daywise`` (SDK ``AnalyticsGetOrgAnalyticsResponse``)."""

    data: OrgAnalytics
