"""What browsers need: CORS on the ingestion route (only there) and the collector script."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.datastructures import Headers
from starlette.responses import PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rtk_sessions.collector import collector_js

router = APIRouter(tags=["collector"])

CORS_HEADERS = {
    "access-control-allow-origin": "*",
    "access-control-allow-methods": "POST, OPTIONS",
    "access-control-allow-headers": "Authorization, Content-Type",
    "access-control-max-age": "600",
}


def is_ingest_path(path: str) -> bool:
    return path.startswith("/client/v4/accounts/") and path.endswith("/ingest")


class IngestCORS:
    """CORS for the ingestion endpoint, so pages on any origin can report their calls.

    Credentials are the bearer token in the request, never cookies, so ``*`` is safe here. The
    Sessions and Meetings routes (API tokens, server to server) get no CORS headers.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not is_ingest_path(scope["path"]):
            await self.app(scope, receive, send)
            return
        if scope["method"] == "OPTIONS" and "access-control-request-method" in Headers(scope=scope):
            await PlainTextResponse("", status_code=204, headers=CORS_HEADERS)(scope, receive, send)
            return

        async def with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [(k.encode(), v.encode()) for k, v in CORS_HEADERS.items()]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_cors)


#: What the OpenAPI document says these routes answer (not JSON).
_SCRIPT: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/javascript": {}}, "description": "The script."}
}


@router.get(
    "/static/rtk-collector.js",
    summary="The browser collector (docs/collector.md)",
    response_class=Response,
    responses=_SCRIPT,
)
def collector_script() -> Response:
    return Response(
        collector_js(),
        media_type="text/javascript; charset=utf-8",
        headers={"cache-control": "public, max-age=300", **CORS_HEADERS},
    )


@router.get(
    "/static/rtk-collector.mjs",
    summary="The browser collector as an ES module",
    response_class=Response,
    responses=_SCRIPT,
)
def collector_module() -> Response:
    from rtk_sessions.collector import COLLECTOR_MODULE_PATH

    return Response(
        COLLECTOR_MODULE_PATH.read_text(encoding="utf-8"),
        media_type="text/javascript; charset=utf-8",
        headers={"cache-control": "public, max-age=300", **CORS_HEADERS},
    )
