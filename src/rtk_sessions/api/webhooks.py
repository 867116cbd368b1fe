"""Webhook routes the official SDKs call (``realtime_kit.webhooks``), the delivery log, and the
public key that verifies webhook signatures (docs/webhooks.md).

Under ``/client/v4/accounts/{account_id}/realtime/kit/{app_id}/webhooks``:

* ``POST``            create (``name``, ``url``, ``events`` required; ``enabled`` default true)
* ``GET``             list the app's webhooks (oldest first)
* ``GET /{id}``       one webhook
* ``PATCH /{id}``     edit the fields given
* ``PUT /{id}``       replace (``name``, ``url``, ``events`` required; ``enabled`` default true)
* ``DELETE /{id}``    delete it (and its undelivered deliveries); answers the deleted webhook
* ``GET /{id}/deliveries``  (this service's own) deliveries with their attempts, newest first

Every answer is the contract's envelope; a bad body or URL answers 400, an unknown webhook 404.
``GET /.well-known/webhooks.json`` (no credentials) answers ``{"public_key": "<PEM>"}``.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema
from sqlalchemy import select
from sqlalchemy.orm import Session as DB

from rtk_sessions.api.deps import ApiScopeDep, DatabaseDep, SettingsDep
from rtk_sessions.clock import iso, utc_now
from rtk_sessions.domain import webhooks
from rtk_sessions.errors import BadRequest
from rtk_sessions.storage.tables import WebhookAttemptRow, WebhookDeliveryRow, WebhookRow
from rtk_sessions.webhook_delivery import SigningKey, WebhookWorker

router = APIRouter(prefix="/{app_id}/webhooks", tags=["webhooks"])
public_router = APIRouter(tags=["webhooks"])


# ---- models ----------------------------------------------------------------------------------


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)


class WebhookCreate(_Body):
    """Body of create (POST) and replace (PUT)."""

    name: str = Field(min_length=1, max_length=200)
    url: str = Field(min_length=1, max_length=webhooks.MAX_URL_LENGTH)
    events: list[str] = Field(max_length=len(webhooks.EVENTS) * 4)
    enabled: bool | None = None


class WebhookEdit(_Body):
    """Body of edit (PATCH): only the fields given change."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    url: str | None = Field(default=None, min_length=1, max_length=webhooks.MAX_URL_LENGTH)
    events: list[str] | None = Field(default=None, max_length=len(webhooks.EVENTS) * 4)
    enabled: bool | None = None


class Webhook(BaseModel):
    """A webhook as the SDK reads it (times: ``YYYY-MM-DDTHH:MM:SS.sssZ``), plus
    ``consecutive_failures`` and ``disabled_reason`` (set when delivery failures disabled it)."""

    id: str
    name: str
    url: str
    events: Annotated[
        list[str],
        WithJsonSchema(
            {"type": "array", "items": {"type": "string", "enum": list(webhooks.EVENTS)}}
        ),
    ]
    """Each one of ``domain.webhooks.EVENTS`` (checked on input)."""
    enabled: bool
    created_at: str
    updated_at: str
    consecutive_failures: int
    disabled_reason: str | None


class WebhookEnvelope(BaseModel):
    success: Literal[True] = True
    data: Webhook


class WebhookListEnvelope(BaseModel):
    success: Literal[True] = True
    data: list[Webhook]


class Attempt(BaseModel):
    attempt: int
    started_at: str
    finished_at: str | None
    status_code: int | None
    error: str | None


class Delivery(BaseModel):
    """One event for this webhook: ``status`` ``pending`` or ``delivered``; ``body`` is the JSON
    text that is signed and sent."""

    id: str
    event_id: str
    event: str
    session_id: str
    status: str
    attempts: int
    next_attempt_at: str | None
    last_status_code: int | None
    last_error: str | None
    created_at: str
    delivered_at: str | None
    body: str
    attempt_log: list[Attempt]


class DeliveryListEnvelope(BaseModel):
    success: Literal[True] = True
    data: list[Delivery]


class PublicKey(BaseModel):
    public_key: str


def _view(row: WebhookRow) -> Webhook:
    return Webhook(
        id=row.id,
        name=row.name,
        url=row.url,
        events=list(row.events),
        enabled=row.enabled,
        created_at=iso(row.created_at),
        updated_at=iso(row.updated_at),
        consecutive_failures=row.consecutive_failures,
        disabled_reason=row.disabled_reason,
    )


def _input(body: WebhookCreate | WebhookEdit) -> webhooks.WebhookInput:
    return webhooks.WebhookInput(
        name=body.name, url=body.url, events=body.events, enabled=body.enabled
    )


# ---- routes ----------------------------------------------------------------------------------


@router.post("", summary="Add a webhook", response_model=WebhookEnvelope)
def create_webhook(
    body: WebhookCreate, scope: ApiScopeDep, db: DatabaseDep, settings: SettingsDep
) -> WebhookEnvelope:
    with db.unit_of_work() as s:
        row = webhooks.create_webhook(
            s,
            scope.app_id,
            _input(body),
            now=utc_now(),
            allow_private=settings.webhooks_allow_private_targets,
        )
        return WebhookEnvelope(data=_view(row))


@router.get("", summary="Fetch all webhooks details", response_model=WebhookListEnvelope)
def get_webhooks(scope: ApiScopeDep, db: DatabaseDep) -> WebhookListEnvelope:
    with db.unit_of_work(write=False) as s:
        return WebhookListEnvelope(data=[_view(r) for r in webhooks.list_webhooks(s, scope.app_id)])


@router.get("/{webhook_id}", summary="Fetch details of a webhook", response_model=WebhookEnvelope)
def get_webhook_by_id(webhook_id: str, scope: ApiScopeDep, db: DatabaseDep) -> WebhookEnvelope:
    with db.unit_of_work(write=False) as s:
        return WebhookEnvelope(data=_view(webhooks.get_webhook(s, scope.app_id, webhook_id)))


def _update(
    webhook_id: str,
    body: WebhookCreate | WebhookEdit,
    scope: ApiScopeDep,
    db: DatabaseDep,
    settings: SettingsDep,
    request: Request,
) -> WebhookEnvelope:
    data = _input(body)
    if isinstance(body, WebhookCreate) and data.enabled is None:
        data.enabled = True
    with db.unit_of_work() as s:
        row = webhooks.update_webhook(
            s,
            scope.app_id,
            webhook_id,
            data,
            now=utc_now(),
            allow_private=settings.webhooks_allow_private_targets,
        )
        view = _view(row)
    worker: WebhookWorker | None = getattr(request.app.state, "webhooks", None)
    if worker is not None and view.enabled:
        worker.notify()  # held deliveries of a re-enabled webhook
    return WebhookEnvelope(data=view)


@router.patch("/{webhook_id}", summary="Edit a webhook", response_model=WebhookEnvelope)
def edit_webhook(
    webhook_id: str,
    body: WebhookEdit,
    scope: ApiScopeDep,
    db: DatabaseDep,
    settings: SettingsDep,
    request: Request,
) -> WebhookEnvelope:
    return _update(webhook_id, body, scope, db, settings, request)


@router.put("/{webhook_id}", summary="Replace a webhook", response_model=WebhookEnvelope)
def replace_webhook(
    webhook_id: str,
    body: WebhookCreate,
    scope: ApiScopeDep,
    db: DatabaseDep,
    settings: SettingsDep,
    request: Request,
) -> WebhookEnvelope:
    return _update(webhook_id, body, scope, db, settings, request)


@router.delete("/{webhook_id}", summary="Delete a webhook", response_model=WebhookEnvelope)
def delete_webhook(webhook_id: str, scope: ApiScopeDep, db: DatabaseDep) -> WebhookEnvelope:
    with db.unit_of_work() as s:
        return WebhookEnvelope(data=_view(webhooks.delete_webhook(s, scope.app_id, webhook_id)))


@router.get(
    "/{webhook_id}/deliveries",
    summary="Deliveries of a webhook with their attempts (this service's own)",
    response_model=DeliveryListEnvelope,
)
def get_webhook_deliveries(
    webhook_id: str,
    scope: ApiScopeDep,
    db: DatabaseDep,
    status: Annotated[str | None, Query(description="pending | delivered")] = None,
    limit: Annotated[str | None, Query(description="1-500, default 50")] = None,
) -> DeliveryListEnvelope:
    """Newest first."""
    if status is not None and status not in (webhooks.PENDING, webhooks.DELIVERED):
        raise BadRequest("status must be pending or delivered")
    n = 50
    if limit is not None:
        if not limit.isdigit() or not 1 <= int(limit) <= 500:
            raise BadRequest("limit must be an integer from 1 to 500")
        n = int(limit)
    with db.unit_of_work(write=False) as s:
        webhooks.get_webhook(s, scope.app_id, webhook_id)
        return DeliveryListEnvelope(data=deliveries(s, webhook_id, status=status, limit=n))


def deliveries(
    s: DB, webhook_id: str, *, status: str | None = None, limit: int = 50
) -> list[Delivery]:
    """The webhook's deliveries, newest first, each with its attempts (also used by the CLI)."""
    query = select(WebhookDeliveryRow).where(WebhookDeliveryRow.webhook_id == webhook_id)
    if status is not None:
        query = query.where(WebhookDeliveryRow.status == status)
    rows = list(s.scalars(query.order_by(WebhookDeliveryRow.seq.desc()).limit(limit)))
    attempts: dict[int, list[Attempt]] = {}
    if rows:
        for a in s.scalars(
            select(WebhookAttemptRow)
            .where(WebhookAttemptRow.delivery_seq.in_([r.seq for r in rows]))
            .order_by(WebhookAttemptRow.delivery_seq, WebhookAttemptRow.attempt)
        ):
            attempts.setdefault(a.delivery_seq, []).append(
                Attempt(
                    attempt=a.attempt,
                    started_at=iso(a.started_at),
                    finished_at=iso(a.finished_at) if a.finished_at else None,
                    status_code=a.status_code,
                    error=a.error,
                )
            )
    return [
        Delivery(
            id=r.id,
            event_id=r.event_id,
            event=r.event,
            session_id=r.order_key,
            status=r.status,
            attempts=r.attempts,
            next_attempt_at=iso(r.next_attempt_at) if r.status == webhooks.PENDING else None,
            last_status_code=r.last_status_code,
            last_error=r.last_error,
            created_at=iso(r.created_at),
            delivered_at=iso(r.delivered_at) if r.delivered_at else None,
            body=r.body,
            attempt_log=attempts.get(r.seq, []),
        )
        for r in rows
    ]


@public_router.get(
    "/.well-known/webhooks.json",
    summary="The public key that verifies webhook signatures",
    response_model=PublicKey,
)
def webhooks_public_key(request: Request) -> PublicKey:
    """``{"public_key": "-----BEGIN PUBLIC KEY-----..."}`` (PEM, SubjectPublicKeyInfo, RSA 2048):
    verify ``rtk-signature`` (base64 RSA-SHA256, PKCS#1 v1.5) over the raw request body."""
    key: SigningKey = request.app.state.webhook_key
    return PublicKey(public_key=key.public_pem)
