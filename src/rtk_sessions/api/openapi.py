"""How routes declare the contract, and the OpenAPI document built from it.

A route of the API declares (see ``api/meetings.py``):

- its query as a model of ``contract.query`` (``Annotated[Model, Query()]``), its body as a model
  of ``contract`` (a body parameter), its 200 answer as ``response_model=`` (a model of
  ``contract``); hot routes still return ``envelope.ok(...)`` (orjson), which FastAPI sends as is,
  without validating it against the response model;
- the errors it may answer: ``ERRORS`` is on every router of the API (400, 401, 403, 404, 409,
  413, 5XX, all with ``contract.common.ErrorEnvelope``); never 422: a request that breaks a model
  is answered 400 (``api.envelope``);
- a route of ``api.unsupported`` documents ``NOT_SUPPORTED`` (its 501 and the errors) and no 200;
- its credentials through ``deps`` (``ApiScopeDep``, ``AccountDep``, ``IngestScopeDep``), which
  depend on ``BEARER``: the ``HTTPBearer`` scheme of the document (the Authorize button of
  ``/docs``).

Routers of the API use ``route_class=ContractRoute``: JSON bodies are parsed with orjson (with
its limits and error messages), whatever the content type, and a malformed body is reported by
the body model's validation, after authentication, as ``Malformed JSON: ...``.
"""

from __future__ import annotations

import collections.abc
import dataclasses
import typing
from collections.abc import Callable, Coroutine
from contextvars import ContextVar
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi import routing as fastapi_routing
from fastapi.dependencies.models import Dependant
from fastapi.dependencies.utils import get_dependant
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute
from fastapi.security import HTTPBearer
from starlette.responses import Response

from rtk_sessions.contract.common import ErrorEnvelope, JSONNull, MalformedJSON
from rtk_sessions.contract.query import QueryModel

BEARER = HTTPBearer(
    auto_error=False,
    scheme_name="BearerToken",
    description="An API token (``rtk-sessions tokens create``); on the ingestion route also a "
    "participant token (from adding a meeting participant).",
)


def _error(description: str) -> dict[str, Any]:
    return {"model": ErrorEnvelope, "description": description}


ERRORS: dict[int | str, dict[str, Any]] = {
    400: _error("Invalid parameter or body; the message says which and why."),
    401: _error("Missing, malformed or unknown token."),
    403: _error("A valid token used outside its account, app or scope."),
    404: _error("Unknown route, or no such app, session, meeting, participant or file."),
    409: _error("A conflicting concurrent change; the SDKs retry it."),
    413: _error("The body is larger, or holds more events, than the service accepts at once."),
    "5XX": _error("Server error (the SDKs retry it)."),
}
NOT_SUPPORTED: dict[int | str, dict[str, Any]] = {
    **ERRORS,
    501: _error(
        "Not supported by rtk-sessions (``api.unsupported``): the message names the feature and "
        "why. Always this answer, never a 200."
    ),
}
"""The answers of a route of ``api.unsupported``: the errors of every route and the 501."""


class _OrjsonRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            try:
                parsed = orjson.loads(await self.body())
                self._json = JSONNull() if parsed is None else parsed
            except orjson.JSONDecodeError as exc:
                self._json = MalformedJSON(str(exc))
        return self._json


def _str_path_params_only(dependant: Dependant) -> bool:
    """Whether no parameter of ``dependant`` and its dependencies but its query model can fail
    validation: path parameters that are plain ``str``, no header, cookie or body parameters, and
    no query parameters in the dependencies."""
    if dependant.header_params or dependant.cookie_params or dependant.body_params:
        return False
    if any(field.field_info.annotation is not str for field in dependant.path_params):
        return False
    return all(
        not sub.query_params and _str_path_params_only(sub) for sub in dependant.dependencies
    )


def _may_be_sequence(annotation: Any) -> bool:
    """Whether a field of this annotation may take a list, tuple or set (directly, or as a member
    of a union or in ``Annotated``): FastAPI gives those every value of a repeated parameter."""
    origin = typing.get_origin(annotation)
    if origin is None:
        return isinstance(annotation, type) and issubclass(
            annotation, (list, tuple, set, frozenset)
        )
    if origin in (list, tuple, set, frozenset) or (
        isinstance(origin, type)
        and issubclass(origin, collections.abc.Sequence)
        and not issubclass(origin, (str, bytes))
    ):
        return True
    return any(_may_be_sequence(arg) for arg in typing.get_args(annotation))


def _fast_query(dependant: Dependant) -> Dependant | None:
    """``dependant`` with its query model (``Annotated[QueryModel, Query()]``, the route's only
    query parameter) read by a dependency of its own, the last one, rather than by FastAPI's
    parameter resolution, which inspects every field's annotation at each request (about a
    tenth of a list request's instructions). The model is validated by the same field, with the
    same input (each field's value, the last one of a repeated parameter; unknown parameters are
    ignored by the model anyway) and the same errors at the same point: after the other
    dependencies, whose failures (authentication) come first. None when the route is not of
    that shape; the OpenAPI document is built from the route's own dependant, unchanged."""
    if len(dependant.query_params) != 1 or not _str_path_params_only(dependant):
        return None
    field = dependant.query_params[0]
    model = field.field_info.annotation
    if not (isinstance(model, type) and issubclass(model, QueryModel)):
        return None
    if model.model_config.get("extra") != "ignore":
        return None
    names = tuple(model.model_fields)
    if any(
        info.alias is not None
        or info.validation_alias is not None
        or _may_be_sequence(info.annotation)  # FastAPI reads every value of those
        for info in model.model_fields.values()
    ):
        return None

    async def read_query(request: Request) -> Any:
        params = request.query_params
        given = {name: params[name] for name in names if name in params}
        value, errors = field.validate(given, {}, loc=("query",))
        if errors:
            raise RequestValidationError(errors, body=None)
        return value

    query = get_dependant(path=dependant.path or "", call=read_query, name=field.name)
    runtime = _undocumented(dependant)
    return dataclasses.replace(
        runtime, query_params=[], dependencies=[*runtime.dependencies, query]
    )


def _undocumented(dependant: Dependant) -> Dependant:
    """``dependant`` without ``BEARER`` in its dependencies (at any depth): the scheme only
    documents the token (``auto_error=False``: it refuses nothing, and the dependencies that
    declare it ignore its value), and FastAPI's solving of each dependency costs a few percent of
    a list request's instructions."""
    kept = [_undocumented(sub) for sub in dependant.dependencies if sub.call is not BEARER]
    if len(kept) == len(dependant.dependencies) and all(
        new is old for new, old in zip(kept, dependant.dependencies, strict=True)
    ):
        return dependant
    return dataclasses.replace(dependant, dependencies=kept)


class ContractRoute(APIRoute):
    """An API route: JSON bodies parsed by orjson, for any content type (``strict_content_type``
    off); malformed ones and ``null`` are handed to the body model (``MalformedJSON``,
    ``JSONNull``), which refuses them. A query model is read by ``_fast_query``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("strict_content_type", False)
        super().__init__(*args, **kwargs)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        # The route's handler is built from its dependant, or from that of the route as included
        # in a router (FastAPI's context of the inclusion, when it builds that one's handler).
        context: ContextVar[Any] | None = getattr(
            fastapi_routing, "_effective_route_context_var", None
        )
        effective = context.get() if context is not None else None
        route: Any = (
            self if effective is None or effective.original_route is not self else effective
        )
        documented = route.dependant
        fast = _fast_query(documented) if documented is not None else None
        if fast is not None:
            route.dependant = fast
        try:
            handler = super().get_route_handler()
        finally:
            route.dependant = documented

        async def run(request: Request) -> Response:
            return await handler(_OrjsonRequest(request.scope, request.receive))

        return run


_EXTRA_SCHEMAS: dict[str, dict[str, Any]] = {}


def add_schemas(definitions: dict[str, dict[str, Any]]) -> None:
    """Component schemas referred to by hand-written parts of the document (``openapi_extra``),
    e.g. the ``$defs`` of a model's ``model_json_schema(ref_template=...)``."""
    _EXTRA_SCHEMAS.update(definitions)


def _drop_422(document: dict[str, Any]) -> None:
    for item in document.get("paths", {}).values():
        for operation in item.values():
            if isinstance(operation, dict):
                operation.get("responses", {}).pop("422", None)
    schemas = document.get("components", {}).get("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)


def install(app: FastAPI) -> None:
    """``app.openapi()``: FastAPI's document, with the schemas of ``add_schemas`` and without the
    422 answers FastAPI adds to every route with parameters (this service answers 400)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title,
                version=app.version,
                openapi_version=app.openapi_version,
                description=app.description,
                routes=app.routes,
                tags=app.openapi_tags,
                servers=app.servers,
            )
            schemas = document.setdefault("components", {}).setdefault("schemas", {})
            for name, schema in _EXTRA_SCHEMAS.items():
                if schemas.setdefault(name, schema) != schema:
                    # two models of one name: rename one, or refs would point at the wrong one
                    raise ValueError(f"two different component schemas named {name!r}")
            _drop_422(document)
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
