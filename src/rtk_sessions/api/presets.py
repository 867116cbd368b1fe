"""Presets API routes (``realtime_kit.presets``): create, list, get, update (PATCH), replace
(PUT), delete, under ``/accounts/{account_id}/realtime/kit/{app_id}/presets``.

Bodies and answers are the models of ``contract.presets``: ``name`` and the three documents
``config`` (with a required ``view_type``), ``permissions`` and ``ui``, stored and returned as sent
(PATCH merges objects key by key). Errors use the contract's envelope: 400 for an invalid body
or a duplicate name, 404 for an unknown preset id (``domain.presets``).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from starlette.responses import Response

from rtk_sessions.api.deps import ApiScopeDep, DatabaseDep
from rtk_sessions.api.envelope import ok
from rtk_sessions.api.openapi import ContractRoute
from rtk_sessions.clock import utc_now
from rtk_sessions.contract.presets import (
    PresetBody,
    PresetConfig,
    PresetConfigPatch,
    PresetPatch,
    PresetResponse,
    PresetsResponse,
)
from rtk_sessions.contract.query import PresetsQuery
from rtk_sessions.domain import presets

router = APIRouter(prefix="/{app_id}/presets", tags=["presets"], route_class=ContractRoute)


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


@router.get("", summary="Fetch all presets of an app", response_model=PresetsResponse)
def get_presets(
    scope: ApiScopeDep, db: DatabaseDep, query: Annotated[PresetsQuery, Query()]
) -> Response:
    page = query.page()
    with db.unit_of_work(write=False) as s:
        items, paging = presets.list_presets(s, scope.app_id, page, search=query.search)
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
