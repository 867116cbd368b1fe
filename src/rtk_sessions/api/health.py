"""``GET /healthz``: liveness, and the bare-endpoint baseline of ``bench/run.py``."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import JSONResponse

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Liveness", include_in_schema=False)
async def healthz() -> JSONResponse:
    """``200 {"status": "ok"}`` while the process serves requests. No auth, no database access."""
    return JSONResponse({"status": "ok"})
