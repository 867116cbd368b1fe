"""Presets of an app (``realtime_kit.presets``) and what participants take from them.

A preset is a named role: ``config`` (its ``view_type`` among them), ``permissions`` and ``ui``
are stored as the SDK sends them and returned unchanged. rtk-sessions enforces no permission (it
carries no media); it uses a preset for two things:

- ``add_participant``/``edit_participant`` refuse a ``preset_name`` the app has no preset of
  (``PresetNotFound``, 404 "Preset <name> not found", as RealtimeKit answers an unknown preset),
  once the app has at least one preset. An app without presets keeps accepting any name, so
  sessions recorded before presets existed (and imports) still work; docs/sessions-api.md.
- a peer that joins as a participant whose preset exists gets the preset's ``config.view_type``
  as ``preset_view_type`` in its peer events, unless the client sent one.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session as DB

from rtk_sessions.clock import iso
from rtk_sessions.contract.params import Page
from rtk_sessions.errors import BadRequest, NotFound
from rtk_sessions.storage.tables import Preset

VIEW_TYPES = ("GROUP_CALL", "WEBINAR", "AUDIO_ROOM", "LIVESTREAM")


class PresetNotFound(NotFound):
    def __init__(self, what: str) -> None:
        super().__init__(f"Preset {what} not found")


def preset_view(preset: Preset) -> dict[str, Any]:
    """The SDK's preset ``data``: id, name, config, permissions, ui, created_at, updated_at."""
    return {
        "id": preset.id,
        "name": preset.name,
        "config": preset.config,
        "permissions": preset.permissions,
        "ui": preset.ui,
        "created_at": iso(preset.created_at),
        "updated_at": iso(preset.updated_at),
    }


def summary_view(preset: Preset) -> dict[str, Any]:
    """A row of the preset list (the SDK's ``PresetGetResponse.data[]``)."""
    return {
        "id": preset.id,
        "name": preset.name,
        "created_at": iso(preset.created_at),
        "updated_at": iso(preset.updated_at),
    }


def _view_type(config: dict[str, Any]) -> str:
    value = config.get("view_type")
    if value not in VIEW_TYPES:
        raise BadRequest(f"config.view_type must be one of {', '.join(VIEW_TYPES)}")
    return str(value)


def _check_name_free(db: DB, app_id: str, name: str, preset_id: str | None = None) -> None:
    stmt = select(Preset.id).where(Preset.app_id == app_id, Preset.name == name)
    other = db.scalar(stmt)
    if other is not None and other != preset_id:
        raise BadRequest(f"A preset named {name!r} already exists in this app")


def create_preset(
    db: DB,
    app_id: str,
    *,
    name: str,
    config: dict[str, Any],
    permissions: dict[str, Any],
    ui: dict[str, Any],
    now: datetime,
) -> Preset:
    """raises BadRequest (a duplicate name, a bad ``config.view_type``)."""
    _check_name_free(db, app_id, name)
    preset = Preset(
        id=str(uuid.uuid4()),
        app_id=app_id,
        name=name,
        view_type=_view_type(config),
        config=config,
        permissions=permissions,
        ui=ui,
        created_at=now,
        updated_at=now,
    )
    db.add(preset)
    _flush(db, name)
    return preset


def _flush(db: DB, name: str) -> None:
    """Flush; a concurrent request that took ``name`` first makes it a BadRequest, not a 500."""
    try:
        with db.begin_nested():
            db.flush()
    except IntegrityError:
        raise BadRequest(f"A preset named {name!r} already exists in this app") from None


def get_preset(db: DB, app_id: str, preset_id: str) -> Preset:
    """raises PresetNotFound."""
    preset = db.get(Preset, preset_id)
    if preset is None or preset.app_id != app_id:
        raise PresetNotFound(preset_id)
    return preset


def merge(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """``new`` over ``old``, objects merged key by key at every level (a PATCH)."""
    out = dict(old)
    for key, value in new.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def update_preset(
    db: DB,
    app_id: str,
    preset_id: str,
    *,
    name: str | None,
    config: dict[str, Any] | None,
    permissions: dict[str, Any] | None,
    ui: dict[str, Any] | None,
    now: datetime,
    replace: bool,
) -> Preset:
    """PATCH (``replace=False``: given fields merged in) or PUT (every field replaced).

    raises PresetNotFound, BadRequest."""
    preset = get_preset(db, app_id, preset_id)
    if name is not None and name != preset.name:
        _check_name_free(db, app_id, name, preset.id)
        preset.name = name
    for attr, value in (("config", config), ("permissions", permissions), ("ui", ui)):
        if value is not None:
            setattr(preset, attr, value if replace else merge(getattr(preset, attr), value))
    preset.view_type = _view_type(preset.config)
    preset.updated_at = now
    _flush(db, preset.name)
    return preset


def delete_preset(db: DB, app_id: str, preset_id: str) -> dict[str, Any]:
    """Deletes the preset and returns its view. Participants that name it keep their
    ``preset_name``. raises PresetNotFound."""
    preset = get_preset(db, app_id, preset_id)
    view = preset_view(preset)
    db.delete(preset)
    return view


def list_presets(
    db: DB, app_id: str, page: Page, *, search: str | None
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Presets of the app by creation time (then id); ``search`` is a case-insensitive substring
    of the name."""
    stmt = select(Preset).where(Preset.app_id == app_id)
    if search:
        stmt = stmt.where(func.lower(Preset.name).contains(search.lower(), autoescape=True))
    total = db.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = db.scalars(
        stmt.order_by(Preset.created_at, Preset.id).offset(page.offset).limit(page.size)
    ).all()
    return [summary_view(p) for p in rows], page.paging(total, len(rows))


def check_preset_name(db: DB, app_id: str, name: str) -> None:
    """``name`` must be a preset of the app once the app has any preset. raises PresetNotFound."""
    names = select(Preset.name).where(Preset.app_id == app_id)
    if db.scalar(names.where(Preset.name == name)) is not None:
        return
    if db.scalar(names.limit(1)) is not None:
        raise PresetNotFound(name)


def view_type_of(db: DB, app_id: str, name: str | None) -> str | None:
    """The ``config.view_type`` of the app's preset ``name``; None when there is none."""
    if name is None:
        return None
    return db.scalar(select(Preset.view_type).where(Preset.app_id == app_id, Preset.name == name))
