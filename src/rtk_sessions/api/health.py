"""Operators' endpoints, outside authentication: ``/healthz``, ``/readyz`` and ``/metrics``
(docs/deployment.md)."""

from __future__ import annotations

import logging
from functools import cache
from typing import Literal

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from fastapi import APIRouter, Request
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, Response

from rtk_sessions import observability

router = APIRouter(tags=["operations"])
metrics_router = APIRouter(tags=["operations"])
log = logging.getLogger("rtk_sessions.health")


class Health(BaseModel):
    status: Literal["ok"] = "ok"


class Ready(BaseModel):
    status: Literal["ready"] = "ready"
    database: str  # "sqlite" | "postgresql"
    revision: str  # the applied migration revision (the head)


class NotReady(BaseModel):
    status: Literal["unavailable"] = "unavailable"
    reason: str
    revision: str | None = None  # the applied revision, when the database answered
    head: str | None = None  # the revision this server needs


@cache
def head_revisions() -> frozenset[str]:
    """The head revision(s) of the migration tree shipped with this server."""
    from rtk_sessions.migrations import alembic_config

    return frozenset(ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads())


@router.get("/healthz", summary="Liveness: the process answers", response_model=Health)
async def healthz() -> Health:
    """200 ``{"status": "ok"}`` while the process serves requests; touches nothing else."""
    return Health()


@router.get(
    "/readyz",
    summary="Readiness: the database answers and its schema is at this server's head revision",
    response_model=Ready,
    responses={503: {"model": NotReady, "description": "Not ready; ``reason`` says why."}},
)
def readyz(request: Request) -> Response:
    """200 ``{"status": "ready", "database", "revision"}`` when a connection to the database
    opens and its applied Alembic revision is this server's head; else 503
    ``{"status": "unavailable", "reason", "revision", "head"}`` (the reason never carries the
    database URL; the error itself is logged)."""
    db = request.app.state.db
    heads = head_revisions()
    head = ",".join(sorted(heads))
    try:
        with db.engine.connect() as conn:
            applied = frozenset(MigrationContext.configure(conn).get_current_heads())
    except Exception as exc:
        log.warning("readiness: database unreachable", exc_info=True)
        body = NotReady(reason=f"database unreachable ({type(exc).__name__})", head=head)
        return JSONResponse(body.model_dump(), status_code=503)
    revision = ",".join(sorted(applied)) or None
    if applied != heads:
        body = NotReady(
            reason="database schema is not at this server's migration head "
            "(run rtk-sessions db upgrade)",
            revision=revision,
            head=head,
        )
        return JSONResponse(body.model_dump(), status_code=503)
    return JSONResponse(Ready(database=db.dialect, revision=head).model_dump())


@metrics_router.get(
    "/metrics",
    summary="Prometheus metrics (text exposition format)",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}, "description": "Metrics, all workers."}},
)
async def metrics(request: Request) -> Response:
    """Counters of every worker plus gauges read from the database (docs/deployment.md lists
    them). Disabled (404) with ``RTK_METRICS=false``."""
    body, content_type = await run_in_threadpool(observability.exposition, request.app.state.db)
    return Response(body, media_type=content_type)
