"""Success and error envelopes, and the one table from errors to HTTP status codes
(docs/decisions.md#conventions, D22, D23)."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, Response
from starlette.routing import Match

from rtk_sessions import errors
from rtk_sessions.contract.common import CONTRACT_ERROR

STATUS: tuple[tuple[type[errors.RtkError], int], ...] = (
    (errors.BadRequest, 400),
    (errors.Unauthorized, 401),
    (errors.Forbidden, 403),
    (errors.NotFound, 404),
    (errors.PayloadTooLarge, 413),
    (errors.NotSupported, 501),
)


class JSON(JSONResponse):
    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def ok(data: Any, **extra: Any) -> JSON:
    """``{"success": true, "data": ...}`` plus top-level extras such as ``paging``.

    Always HTTP 200, never 204."""
    return JSON({"success": True, "data": data, **extra})


def error_body(status: int, message: str) -> dict[str, Any]:
    """D22: the hybrid both SDKs parse: Cloudflare ``errors[]`` and RealtimeKit ``error``."""
    item = {"code": status, "message": message}
    return {"success": False, "errors": [item], "messages": [], "error": item}


def error_response(status: int, message: str, headers: dict[str, str] | None = None) -> JSON:
    # Deterministic failures must not be retried by the SDKs (D23).
    return JSON(
        error_body(status, message),
        status_code=status,
        headers={"x-should-retry": "false", **(headers or {})},
    )


def status_for(exc: errors.RtkError) -> int:
    for cls, status in STATUS:
        if isinstance(exc, cls):
            return status
    return 400


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


def allowed_methods(request: Request) -> list[str]:
    """Every method some route serves at the request's path (Starlette's 405 names only the
    first route that matched the path, e.g. ``GET`` for ``…/summary``, which also takes POST).
    Each method is tried against the routes' own matching, so included routers count too."""
    routes = request.app.router.routes
    return [
        method
        for method in _METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] is Match.FULL for route in routes
        )
    ]


def install(app: FastAPI) -> None:
    @app.exception_handler(errors.RtkError)
    async def _rtk(_: Request, exc: errors.RtkError) -> Response:
        return error_response(status_for(exc), exc.message)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> Response:
        message = errors.validation_message(
            exc.errors(),
            prefix="Invalid request",
            hidden=("query", "path", "body"),
            verbatim=(CONTRACT_ERROR,),
            missing_is_required=True,
        )
        return error_response(400, message)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        message = {404: "Route not found", 405: "Method not allowed"}.get(
            exc.status_code, str(exc.detail)
        )
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = ", ".join(allowed_methods(request))
        return error_response(exc.status_code, message, headers)

    @app.exception_handler(Exception)
    async def _crash(_: Request, exc: Exception) -> Response:  # pragma: no cover - last resort
        import logging

        logging.getLogger("rtk_sessions").exception("unhandled error", exc_info=exc)
        return JSON(error_body(500, "Internal server error"), status_code=500)
