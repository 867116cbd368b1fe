"""Presets API shapes (``realtime_kit.presets``; docs/openapi.md): the bodies of create, replace
(PUT) and update (PATCH), and the answers as the SDK models (``cloudflare`` 5.9.0,
``cloudflare.types.realtime_kit.preset_*``) name them.

A preset's ``config``, ``permissions`` and ``ui`` are stored and returned as sent (PATCH merges
objects key by key, ``domain.presets``): only ``config.view_type`` is checked (required on
create and PUT). The SDK's answer models require many keys inside these three documents; this
service answers only what the client stored, so they are documented as open objects.

Bodies: a JSON object checked whole (``contract.common.json_object``); unknown top-level keys
are refused; every broken rule is a 400.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from rtk_sessions.contract.common import Paging, Shape, Success, json_object
from rtk_sessions.contract.ingest import json_problem

ViewType = Literal["GROUP_CALL", "WEBINAR", "AUDIO_ROOM", "LIVESTREAM"]


def _name(value: str) -> str:
    if "\x00" in value or not value.strip():
        raise ValueError("must be a non-blank string without U+0000")
    return value


Name = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_name)]


def _document(value: Any) -> Any:
    if isinstance(value, dict):
        problem = json_problem(value)
        if problem is not None:
            raise ValueError(problem)
    return value


class PresetConfig(BaseModel):
    """``config``: ``view_type`` is required on create/PUT; every other SDK field
    (``max_screenshare_count``, ``max_video_streams``, ``media``, ...) is kept as sent."""

    model_config = ConfigDict(extra="allow")
    view_type: ViewType


class PresetConfigPatch(BaseModel):
    model_config = ConfigDict(extra="allow")
    view_type: ViewType | None = None


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _whole(cls, value: Any) -> Any:
        return json_object(value)

    @field_validator("config", "permissions", "ui", mode="before", check_fields=False)
    @classmethod
    def _json(cls, value: Any) -> Any:
        return _document(value)


class PresetBody(_Body):
    """POST and PUT: every field required, as in the SDK's create/replace params."""

    name: Name
    config: PresetConfig
    permissions: dict[str, Any]
    ui: dict[str, Any]


class PresetPatch(_Body):
    """PATCH: any subset; objects are merged into the stored ones key by key."""

    name: Name | None = None
    config: PresetConfigPatch | None = None
    permissions: dict[str, Any] | None = None
    ui: dict[str, Any] | None = None


class StoredConfig(Shape):
    """The ``config`` as stored: ``view_type`` and whatever else the client sent; the other keys
    the SDK knows are listed, each present only when the client sent it."""

    view_type: ViewType
    max_screenshare_count: float | None = None
    max_video_streams: dict[str, Any] | None = None
    """As sent (the SDK's ``{desktop, mobile}``)."""
    media: dict[str, Any] | None = None
    """As sent (the SDK's ``{screenshare, video, audio}``)."""
    livestream_viewer_qualities: list[int] | None = None


class Preset(Shape):
    id: str
    name: str
    config: StoredConfig
    permissions: dict[str, Any]
    """As sent."""
    ui: dict[str, Any]
    """As sent."""
    created_at: datetime
    updated_at: datetime


class PresetResponse(Success):
    """A preset: create, fetch, update, replace, delete (SDK ``PresetCreateResponse``,
    ``PresetGetPresetByIDResponse``, ``PresetUpdateResponse``, ``PresetReplacePresetByIDResponse``,
    ``PresetDeleteResponse``)."""

    data: Preset


class PresetSummary(Shape):
    id: str
    name: str
    created_at: datetime
    updated_at: datetime


class PresetsResponse(Success):
    """``GET .../presets`` (SDK ``PresetGetResponse``)."""

    data: list[PresetSummary]
    paging: Paging
