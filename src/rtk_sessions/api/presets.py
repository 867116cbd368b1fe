"""Presets API routes (``realtime_kit.presets``): create, list, get, update (PATCH), replace
(PUT), delete, under ``/accounts/{account_id}/realtime/kit/{app_id}/presets``.

Bodies are pydantic models: ``name`` and the three documents ``config`` (with a required
``view_type``), ``permissions`` and ``ui``, stored and returned as sent (PATCH merges objects key by
key). Errors use the contract's envelope: 400 for an invalid body or a duplicate name, 404 for an
unknown preset id (``domain.presets``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator
from starlette.responses import Response

from rtk_sessions.api.deps import ApiScopeDep, DatabaseDep
from rtk_sessions.api.envelope import ok
from rtk_sessions.clock import utc_now
from rtk_sessions.contract.ingest import json_problem
from rtk_sessions.contract.params import Page
from rtk_sessions.domain import presets

router = APIRouter(prefix="/{app_id}/presets", tags=["presets"])

ViewType = Literal["GROUP_CALL", "WEBINAR", "AUDIO_ROOM", "LIVESTREAM"]


def _name(value: str) -> str:
    if "\x00" in value or not value.strip():
        raise ValueError("must be a non-blank string without U+0000")
    return value


Name = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_name)]


def _document(value: dict[str, Any]) -> dict[str, Any]:
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


class PresetBody(BaseModel):
    """POST and PUT: every field required, as in the SDK's create/replace params."""

    model_config = ConfigDict(extra="forbid")
    name: Name
    config: PresetConfig
    permissions: dict[str, Any]
    ui: dict[str, Any]

    @field_validator("permissions", "ui")
    @classmethod
    def _json(cls, value: dict[str, Any]) -> dict[str, Any]:
        return _document(value)

    @field_validator("config", mode="before")
    @classmethod
    def _config_json(cls, value: Any) -> Any:
        return _document(value) if isinstance(value, dict) else value


class PresetPatch(BaseModel):
    """PATCH: any subset; objects are merged into the stored ones key by key."""

    model_config = ConfigDict(extra="forbid")
    name: Name | None = None
    config: PresetConfigPatch | None = None
    permissions: dict[str, Any] | None = None
    ui: dict[str, Any] | None = None

    @field_validator("permissions", "ui")
    @classmethod
    def _json(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        return None if value is None else _document(value)

    @field_validator("config", mode="before")
    @classmethod
    def _config_json(cls, value: Any) -> Any:
        return _document(value) if isinstance(value, dict) else value


class PresetData(BaseModel):
    id: str
    name: str
    config: dict[str, Any]
    permissions: dict[str, Any]
    ui: dict[str, Any]
    created_at: datetime
    updated_at: datetime


class PresetResponse(BaseModel):
    success: Literal[True] = True
    data: PresetData


class PresetSummary(BaseModel):
    id: str
    name: str
    created_at: datetime
    updated_at: datetime


class Paging(BaseModel):
    total_count: int
    start_offset: int
    end_offset: int


class PresetListResponse(BaseModel):
    success: Literal[True] = True
    data: list[PresetSummary]
    paging: Paging


def _config(config: PresetConfig | PresetConfigPatch | None) -> dict[str, Any] | None:
    return None if config is None else config.model_dump(exclude_none=True)


@router.post("", summary="Create a preset", response_model=PresetResponse)
def create_preset(body: PresetBody, scope: ApiScopeDep, db: DatabaseDep) -> Response:
    with db.unit_of_work() as s:
        preset = presets.create_preset(
            s,
            scope.app_id,
            name=body.name,
            config=body.config.model_dump(),
            permissions=body.permissions,
            ui=body.ui,
            now=utc_now(),
        )
        view = presets.preset_view(preset)
    return ok(view)


@router.get("", summary="Fetch all presets of an app", response_model=PresetListResponse)
def get_presets(
    scope: ApiScopeDep,
    db: DatabaseDep,
    page_no: Annotated[str | None, Query()] = None,
    per_page: Annotated[str | None, Query()] = None,
    search: Annotated[str | None, Query(description="Substring of the name")] = None,
) -> Response:
    page = Page.parse(page_no, per_page)
    with db.unit_of_work(write=False) as s:
        items, paging = presets.list_presets(s, scope.app_id, page, search=search)
    return ok(items, paging=paging)


@router.get("/{preset_id}", summary="Fetch a preset", response_model=PresetResponse)
def get_preset_by_id(preset_id: str, scope: ApiScopeDep, db: DatabaseDep) -> Response:
    with db.unit_of_work(write=False) as s:
        view = presets.preset_view(presets.get_preset(s, scope.app_id, preset_id))
    return ok(view)


@router.patch("/{preset_id}", summary="Update a preset", response_model=PresetResponse)
def update_preset(
    preset_id: str, body: PresetPatch, scope: ApiScopeDep, db: DatabaseDep
) -> Response:
    with db.unit_of_work() as s:
        preset = presets.update_preset(
            s,
            scope.app_id,
            preset_id,
            name=body.name,
            config=_config(body.config),
            permissions=body.permissions,
            ui=body.ui,
            now=utc_now(),
            replace=False,
        )
        view = presets.preset_view(preset)
    return ok(view)


@router.put("/{preset_id}", summary="Replace a preset", response_model=PresetResponse)
def replace_preset_by_id(
    preset_id: str, body: PresetBody, scope: ApiScopeDep, db: DatabaseDep
) -> Response:
    with db.unit_of_work() as s:
        preset = presets.update_preset(
            s,
            scope.app_id,
            preset_id,
            name=body.name,
            config=body.config.model_dump(),
            permissions=body.permissions,
            ui=body.ui,
            now=utc_now(),
            replace=True,
        )
        view = presets.preset_view(preset)
    return ok(view)


@router.delete("/{preset_id}", summary="Delete a preset", response_model=PresetResponse)
def delete_preset(preset_id: str, scope: ApiScopeDep, db: DatabaseDep) -> Response:
    """Deletes the preset; participants that name it keep their ``preset_name``."""
    with db.unit_of_work() as s:
        view = presets.delete_preset(s, scope.app_id, preset_id)
    return ok(view)
