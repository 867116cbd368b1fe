"""The ingestion endpoint (ours; docs/ingest.md)."""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any

import orjson
from fastapi import APIRouter, Request
from pydantic import ValidationError
from sqlalchemy.exc import DBAPIError, IntegrityError
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from rtk_sessions.api.deps import AppScope, IngestScopeDep
from rtk_sessions.api.envelope import ok
from rtk_sessions.api.openapi import add_schemas
from rtk_sessions.clock import utc_now
from rtk_sessions.config import Settings
from rtk_sessions.contract.ingest import (
    IngestBatch,
    IngestResponse,
    PeerStats,
    batch_problem,
    batch_validation_message,
)
from rtk_sessions.domain import accounts
from rtk_sessions.domain.ingest import IngestResult, ingest_batch, precompute_stats
from rtk_sessions.errors import BadRequest, PayloadTooLarge
from rtk_sessions.storage.engine import Database

router = APIRouter(tags=["ingest"])

MAX_BODY_BYTES = 20 * 1024 * 1024


def parse_batch(raw: bytes, settings: Settings) -> IngestBatch:
    """The batch of a request body, checked whole before its events are validated: strings with
    NUL, nesting deeper than ``contract.ingest.MAX_DEPTH`` and numbers of magnitude 2**63 or more
    are refused anywhere in it (docs/ingest.md, "Limits").

    raises BadRequest (malformed JSON or events), PayloadTooLarge."""
    if len(raw) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"Request body over {MAX_BODY_BYTES} bytes")
    try:
        data: Any = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"Malformed JSON: {exc}") from None
    problem = batch_problem(data, raw)
    if problem is not None:
        raise BadRequest(f"Invalid ingestion batch: {problem}")
    if not isinstance(data, dict) or not isinstance(data.get("events"), list):
        raise BadRequest('Invalid ingestion batch: expected a JSON object {"events": [...]}')
    if len(data["events"]) > settings.ingest_max_events:
        raise PayloadTooLarge(
            f"Too many events: {len(data['events'])} (at most {settings.ingest_max_events} a batch)"
        )
    try:
        return IngestBatch.model_validate(data)
    except ValidationError as exc:
        raise BadRequest(batch_validation_message(exc)) from None


_RETRY_SQLSTATES = frozenset({"40P01", "40001"})  # deadlock detected, serialization failure
_ATTEMPTS = 5


def _retryable(exc: DBAPIError) -> bool:
    """A conflict with a concurrent batch: a duplicate key (a concurrent replay of the same ids or
    the first report of a connection), or a PostgreSQL deadlock or serialization failure."""
    if isinstance(exc, IntegrityError):
        return True
    return getattr(exc.orig, "sqlstate", None) in _RETRY_SQLSTATES


def apply_batch(
    db: Database, settings: Settings, scope: AppScope, batch: IngestBatch
) -> IngestResult:
    """Apply and commit. A batch that lost a race with a concurrent one is applied again from the
    start (at most ``_ATTEMPTS`` times; the replayed part is then recognised as duplicates).

    On SQLite the batch's reports are applied first in a read transaction (``precompute_stats``),
    in this process's turn to write but before the database's write lock, which serializes every
    process's writers: the lock is then held for the writes (docs/performance.md)."""
    with db.write_turn():
        precomputed = None
        if db.dialect == "sqlite" and any(isinstance(e, PeerStats) for e in batch.events):
            with db.unit_of_work(write=False) as session:
                precomputed = precompute_stats(session, scope.app_id, batch.events, now=utc_now())
        for attempt in range(_ATTEMPTS):
            try:
                with db.unit_of_work() as session:
                    app = accounts.get_app(session, scope.account_id, scope.app_id)
                    return ingest_batch(
                        session,
                        app,
                        batch.events,
                        now=utc_now(),
                        claims=scope.participant,
                        default_keep_alive=settings.session_keep_alive_secs,
                        precomputed=precomputed,
                    )
            except DBAPIError as exc:
                if attempt == _ATTEMPTS - 1 or not _retryable(exc):
                    raise
                time.sleep(random.uniform(0, 0.01 * 2**attempt))  # let the other one finish
    raise AssertionError("unreachable")


def _slots(request: Request, settings: Settings) -> asyncio.Semaphore:
    """The process's ingestion slots (``ingest_concurrency``): a batch is read, parsed and applied
    holding one, so memory stays bounded however many clients send at once. Batches beyond the
    database's own parallelism would only wait for its locks, parsed, in memory."""
    slots: asyncio.Semaphore | None = getattr(request.app.state, "ingest_slots", None)
    if slots is None:
        slots = request.app.state.ingest_slots = asyncio.Semaphore(settings.ingest_concurrency)
    return slots


_BATCH_SCHEMA = IngestBatch.model_json_schema(ref_template="#/components/schemas/{model}")
add_schemas(_BATCH_SCHEMA.pop("$defs", {}))
add_schemas({"IngestBatch": _BATCH_SCHEMA})


@router.post(
    "/{app_id}/ingest",
    summary="Ingest call events (rtk-sessions extension)",
    response_model=IngestResponse,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/IngestBatch"}}
            },
        }
    },
)
async def ingest(request: Request, scope: IngestScopeDep) -> Response:
    """Apply a batch of events (docs/ingest.md); answers only after it is durably committed.

    Idempotent by event id: a replayed event is counted in ``duplicates`` and changes nothing.
    """
    settings: Settings = request.app.state.settings
    async with _slots(request, settings):
        batch = parse_batch(await request.body(), settings)
        result = await run_in_threadpool(apply_batch, request.app.state.db, settings, scope, batch)
    return ok({"accepted": result.accepted, "duplicates": result.duplicates})
