"""Shapes every route shares: the success and error envelopes, paging, and the contract's errors.

Success (docs/openapi.md, "Envelopes"): ``{"success": true, "data": ...}``, HTTP 200, plus a
top-level ``paging`` on lists. Errors: the hybrid both official SDKs parse, the Cloudflare
``errors[]`` and the RealtimeKit ``error`` at once::

    {"success": false, "errors": [{"code": 404, "message": "..."}], "messages": [],
     "error": {"code": 404, "message": "..."}}

``code`` is the HTTP status. Request models report a broken rule with ``contract_error(message)``:
a pydantic error of type ``"contract"`` whose message is answered verbatim (HTTP 400, never 422;
``api.envelope``).
"""

from __future__ import annotations

from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict
from pydantic_core import PydanticCustomError

CONTRACT_ERROR = "contract"


def contract_error(message: str) -> PydanticCustomError:
    """A validation error whose ``message`` the service answers as is (400 with the envelope)."""
    return PydanticCustomError(CONTRACT_ERROR, "{message}", {"message": message})


class Shape(BaseModel):
    """Base of every response model: documents what the service sends. Keys without a value are
    omitted rather than sent as null, unless the field says ``| None``; clients keep unknown keys
    (the SDK models allow extra keys)."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)


class ErrorItem(Shape):
    code: int
    """The HTTP status."""
    message: str


class ErrorEnvelope(Shape):
    """Every 4xx and 5xx answer."""

    success: Literal[False] = False
    errors: list[ErrorItem]
    """One item, the same as ``error`` (Cloudflare's shape)."""
    messages: list[str]
    """Always empty."""
    error: ErrorItem
    """RealtimeKit's shape."""


class Paging(Shape):
    """1-based inclusive offsets of the page's items (zeros for an empty page) and the total."""

    start_offset: int
    end_offset: int
    total_count: int


class Success(Shape):
    success: bool = True


class MalformedJSON:
    """A request body that is not JSON, kept for the body model to refuse after the credentials
    were checked (``api.openapi.ContractRoute``): ``Malformed JSON: <reason>``."""

    def __init__(self, reason: str) -> None:
        self.reason = reason


class JSONNull:
    """A request body that is JSON ``null``: not an object, unlike an empty body (which stands
    for ``{}``); kept apart from "no body" for the body model to refuse."""


def json_object(value: Any) -> dict[str, Any]:
    """A request body as a JSON object, checked whole: the body of every JSON route but
    ingestion's. ``bytes`` (a body sent with another content type) are parsed as JSON.

    Refused (contract errors): malformed JSON, anything but an object, strings with NUL and
    nesting deeper than ``contract.ingest.MAX_DEPTH`` anywhere in it (unknown keys included)."""
    from rtk_sessions.contract.ingest import json_problem

    if isinstance(value, bytes | bytearray):
        try:
            value = orjson.loads(value)
        except orjson.JSONDecodeError as exc:
            value = MalformedJSON(str(exc))
    if isinstance(value, MalformedJSON):
        raise contract_error(f"Malformed JSON: {value.reason}")
    if not isinstance(value, dict):
        raise contract_error("body must be a JSON object")
    problem = json_problem(value, numbers=False)
    if problem is not None:
        raise contract_error(f"Invalid body: {problem}")
    return value
