"""The served OpenAPI document is complete and matches the official SDK (``cloudflare`` 5.9.0).

Every API route has a typed 200 answer and typed query parameters and body, documents the error
envelope for 400/401/403/404/409/413/5XX, and needs the bearer scheme; every ``$ref`` resolves;
no 422 (the service answers 400). Each documented response is compared with the SDK model the
SDK parses it into: our field names exist there (except the listed extensions), the SDK's
required fields are all documented, and the basic JSON types agree, all the way down.
"""

from __future__ import annotations

import datetime
import fnmatch
import importlib
import inspect
import re
import types
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import BaseModel

from rtk_sessions import migrations
from rtk_sessions.api import unsupported
from rtk_sessions.app import create_app
from rtk_sessions.config import Settings

KIT = "/client/v4/accounts/{account_id}/realtime/kit"
SESSIONS = KIT + "/{app_id}/sessions"
MEETINGS = KIT + "/{app_id}/meetings"
PRESETS = KIT + "/{app_id}/presets"
ACTIVE = MEETINGS + "/{meeting_id}/active-session"
WEBHOOKS = KIT + "/{app_id}/webhooks"
DASHBOARD = "/dashboard/api"
API_PREFIXES = ("/client/v4/", DASHBOARD + "/")
ERRORS = ("400", "401", "403", "404", "409", "413", "5XX")
METHODS = ("get", "post", "put", "patch", "delete")

# (method, path) -> the SDK response model it is parsed into (module, class).
SDK = "cloudflare.types.realtime_kit."
SDK_RESPONSES = {
    ("get", SESSIONS): "session_get_sessions_response.SessionGetSessionsResponse",
    ("get", SESSIONS + "/{session_id}"): (
        "session_get_session_details_response.SessionGetSessionDetailsResponse"
    ),
    ("get", SESSIONS + "/{session_id}/participants"): (
        "session_get_session_participants_response.SessionGetSessionParticipantsResponse"
    ),
    ("get", SESSIONS + "/{session_id}/participants/{participant_id}"): (
        "session_get_session_participant_details_response."
        "SessionGetSessionParticipantDetailsResponse"
    ),
    ("get", SESSIONS + "/peer-report/{peer_id}"): (
        "session_get_participant_data_from_peer_id_response."
        "SessionGetParticipantDataFromPeerIDResponse"
    ),
    ("get", SESSIONS + "/{session_id}/chat"): (
        "session_get_session_chat_response.SessionGetSessionChatResponse"
    ),
    ("get", SESSIONS + "/{session_id}/transcript"): (
        "session_get_session_transcripts_response.SessionGetSessionTranscriptsResponse"
    ),
    ("get", SESSIONS + "/{session_id}/summary"): (
        "session_get_session_summary_response.SessionGetSessionSummaryResponse"
    ),
    ("post", SESSIONS + "/{session_id}/summary"): (
        "session_generate_summary_of_transcripts_response."
        "SessionGenerateSummaryOfTranscriptsResponse"
    ),
    ("get", MEETINGS): "meeting_get_response.MeetingGetResponse",
    ("post", MEETINGS): "meeting_create_response.MeetingCreateResponse",
    ("get", MEETINGS + "/{meeting_id}"): (
        "meeting_get_meeting_by_id_response.MeetingGetMeetingByIDResponse"
    ),
    ("patch", MEETINGS + "/{meeting_id}"): (
        "meeting_update_meeting_by_id_response.MeetingUpdateMeetingByIDResponse"
    ),
    ("put", MEETINGS + "/{meeting_id}"): (
        "meeting_replace_meeting_by_id_response.MeetingReplaceMeetingByIDResponse"
    ),
    ("post", MEETINGS + "/{meeting_id}/participants"): (
        "meeting_add_participant_response.MeetingAddParticipantResponse"
    ),
    ("get", MEETINGS + "/{meeting_id}/participants"): (
        "meeting_get_meeting_participants_response.MeetingGetMeetingParticipantsResponse"
    ),
    ("get", MEETINGS + "/{meeting_id}/participants/{participant_id}"): (
        "meeting_get_meeting_participant_response.MeetingGetMeetingParticipantResponse"
    ),
    ("patch", MEETINGS + "/{meeting_id}/participants/{participant_id}"): (
        "meeting_edit_participant_response.MeetingEditParticipantResponse"
    ),
    ("delete", MEETINGS + "/{meeting_id}/participants/{participant_id}"): (
        "meeting_delete_meeting_participant_response.MeetingDeleteMeetingParticipantResponse"
    ),
    ("post", MEETINGS + "/{meeting_id}/participants/{participant_id}/token"): (
        "meeting_refresh_participant_token_response.MeetingRefreshParticipantTokenResponse"
    ),
    ("get", KIT + "/apps"): "app_get_response.AppGetResponse",
    ("post", KIT + "/apps"): "app_post_response.AppPostResponse",
    ("post", PRESETS): "preset_create_response.PresetCreateResponse",
    ("get", PRESETS): "preset_get_response.PresetGetResponse",
    ("get", PRESETS + "/{preset_id}"): (
        "preset_get_preset_by_id_response.PresetGetPresetByIDResponse"
    ),
    ("patch", PRESETS + "/{preset_id}"): "preset_update_response.PresetUpdateResponse",
    ("put", PRESETS + "/{preset_id}"): (
        "preset_replace_preset_by_id_response.PresetReplacePresetByIDResponse"
    ),
    ("delete", PRESETS + "/{preset_id}"): "preset_delete_response.PresetDeleteResponse",
    ("get", ACTIVE): (
        "active_session_get_active_session_response.ActiveSessionGetActiveSessionResponse"
    ),
    ("post", ACTIVE + "/kick"): (
        "active_session_kick_participants_response.ActiveSessionKickParticipantsResponse"
    ),
    ("post", ACTIVE + "/kick-all"): (
        "active_session_kick_all_participants_response.ActiveSessionKickAllParticipantsResponse"
    ),
    ("get", KIT + "/{app_id}/analytics/daywise"): (
        "analytics_get_org_analytics_response.AnalyticsGetOrgAnalyticsResponse"
    ),
    ("post", WEBHOOKS): "webhook_create_webhook_response.WebhookCreateWebhookResponse",
    ("get", WEBHOOKS): "webhook_get_webhooks_response.WebhookGetWebhooksResponse",
    ("get", WEBHOOKS + "/{webhook_id}"): (
        "webhook_get_webhook_by_id_response.WebhookGetWebhookByIDResponse"
    ),
    ("patch", WEBHOOKS + "/{webhook_id}"): (
        "webhook_edit_webhook_response.WebhookEditWebhookResponse"
    ),
    ("put", WEBHOOKS + "/{webhook_id}"): (
        "webhook_replace_webhook_response.WebhookReplaceWebhookResponse"
    ),
    ("delete", WEBHOOKS + "/{webhook_id}"): (
        "webhook_delete_webhook_response.WebhookDeleteWebhookResponse"
    ),
}
# The routes of api.unsupported (501, never 200) that no router serves: generated from its
# ROUTES; a route served by a later router (say webhooks) leaves this set once it is mapped in
# SDK_RESPONSES.
NOT_SUPPORTED = {
    (route.method.lower(), KIT + "/{app_id}" + route.path) for route in unsupported.ROUTES
} - set(SDK_RESPONSES)
# POST routes whose SDK method sends no body.
NO_BODY = {
    ("post", MEETINGS + "/{meeting_id}/participants/{participant_id}/token"),
    ("post", SESSIONS + "/{session_id}/summary"),
    ("post", ACTIVE + "/kick-all"),
}
# Request bodies and the SDK's params (TypedDicts) they must stay within.
SDK_PARAMS = {
    ("post", MEETINGS): "meeting_create_params.MeetingCreateParams",
    ("patch", MEETINGS + "/{meeting_id}"): (
        "meeting_update_meeting_by_id_params.MeetingUpdateMeetingByIDParams"
    ),
    ("put", MEETINGS + "/{meeting_id}"): (
        "meeting_replace_meeting_by_id_params.MeetingReplaceMeetingByIDParams"
    ),
    ("post", MEETINGS + "/{meeting_id}/participants"): (
        "meeting_add_participant_params.MeetingAddParticipantParams"
    ),
    ("patch", MEETINGS + "/{meeting_id}/participants/{participant_id}"): (
        "meeting_edit_participant_params.MeetingEditParticipantParams"
    ),
    ("post", KIT + "/apps"): "app_post_params.AppPostParams",
    ("post", PRESETS): "preset_create_params.PresetCreateParams",
    ("patch", PRESETS + "/{preset_id}"): "preset_update_params.PresetUpdateParams",
    ("put", PRESETS + "/{preset_id}"): (
        "preset_replace_preset_by_id_params.PresetReplacePresetByIDParams"
    ),
    ("post", ACTIVE + "/kick"): (
        "active_session_kick_participants_params.ActiveSessionKickParticipantsParams"
    ),
    ("post", WEBHOOKS): "webhook_create_webhook_params.WebhookCreateWebhookParams",
    ("patch", WEBHOOKS + "/{webhook_id}"): "webhook_edit_webhook_params.WebhookEditWebhookParams",
    ("put", WEBHOOKS + "/{webhook_id}"): (
        "webhook_replace_webhook_params.WebhookReplaceWebhookParams"
    ),
}
# Keys we send that the SDK model lacks (kept by the SDK as extra keys), each on purpose
# (fnmatch patterns: ``*`` matches any run of characters, dots included):
EXTENSIONS = {
    # a participants list carries its paging at the top level like every list, and inside
    # ``data`` as well (older clients read it there)
    "paging",
    "data.paging",
    # the meetings list carries the same meeting shape as a single meeting
    "data[].ai_config",
    # a participant token only when adding (the SDK's shared participant shape has no token)
    "data.token",
    "data[].token",
    # Q11 (docs/quality-metrics.md section 6): how much of a cumulative metric was measured
    "data.participant.peer_report.quality.*_cumulative.*.measured_rows",
    "data.participant.peer_report.quality.*_cumulative.*.measured_avg",
    # the problems of the peer with their time ranges (stats.issues; docs/quality-metrics.md)
    "data.participant.peer_report.detected_issues",
    # a kicked participant is a meeting participant: its custom id says which one
    "data.participants[].custom_participant_id",
    # a webhook's delivery health: failures in a row, and why delivery failures disabled it
    "data.consecutive_failures",
    "data.disabled_reason",
    "data[].consecutive_failures",
    "data[].disabled_reason",
}
# Objects stored and answered as the client sent them (a preset's documents, domain.presets):
# the SDK's answer model requires keys inside them that the service never invents; the keys we
# do document there are still compared (fnmatch patterns, as EXTENSIONS).
AS_SENT = {"data.config", "data.config.*", "data.permissions", "data.ui"}
# Body fields we accept beyond an SDK method's params: ``status`` on create and replace (the
# SDK's update params have it).
BODY_EXTENSIONS = {"status"}
# Query parameters of SDK methods are typed as the SDK sends them; ours must have a type too.
JSON_TYPES = {str: "string", float: "number", int: "integer", bool: "boolean"}


@pytest.fixture(scope="module")
def document(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("openapi")
    url = f"sqlite:///{tmp / 'rtk.db'}"
    migrations.upgrade(url)
    app = create_app(Settings(data_dir=Path(tmp), database_url=url), background=False)
    with TestClient(app) as client:
        response = client.get("/openapi.json")
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method in METHODS:
            if method in item:
                yield method, path, item[method]


def api_operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """Operations of the API (under /client/v4) and of the dashboard's JSON API (/dashboard/api),
    with credentials, but the 501 ones."""
    for method, path, operation in operations(document):
        if path.startswith(API_PREFIXES) and (method, path) not in NOT_SUPPORTED:
            yield method, path, operation


def resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` with its ``$ref`` followed and a nullable ``anyOf [X, null]`` taken as X."""
    while True:
        if "$ref" in schema:
            node: Any = document
            for part in schema["$ref"].removeprefix("#/").split("/"):
                node = node[part]
            schema = node
        elif "anyOf" in schema:
            options = [s for s in schema["anyOf"] if s.get("type") != "null"]
            if len(options) != 1:
                return schema
            schema = options[0]
        else:
            return schema


def test_every_ref_resolves(document: dict[str, Any]) -> None:
    refs: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("$ref"), str):
                refs.append(node["$ref"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(document)
    assert refs
    schemas = document["components"]["schemas"]
    missing = sorted({r for r in refs if r.removeprefix("#/components/schemas/") not in schemas})
    assert not missing, f"undefined component schemas: {missing}"
    assert all(r.startswith("#/components/schemas/") for r in refs)


def test_no_422_anywhere(document: dict[str, Any]) -> None:
    for method, path, operation in operations(document):
        assert "422" not in operation["responses"], (method, path)
    assert "HTTPValidationError" not in document["components"]["schemas"]
    assert "ValidationError" not in document["components"]["schemas"]


def test_bearer_scheme_on_every_route_with_credentials(document: dict[str, Any]) -> None:
    schemes = document["components"]["securitySchemes"]
    assert schemes == {"BearerToken": {"type": "http", "scheme": "bearer", **_description(schemes)}}
    for method, path, operation in api_operations(document):
        assert operation.get("security") == [{"BearerToken": []}], (method, path)


def _description(schemes: dict[str, Any]) -> dict[str, Any]:
    description = schemes["BearerToken"].get("description")
    return {"description": description} if description else {}


def test_every_route_is_typed_and_documents_its_errors(document: dict[str, Any]) -> None:
    checked = 0
    for method, path, operation in api_operations(document):
        where = f"{method.upper()} {path}"
        ok = operation["responses"]["200"]["content"]["application/json"]["schema"]
        assert "$ref" in ok, where
        answer = resolve(document, ok)
        assert answer["type"] == "object" and "data" in answer["properties"], where
        for status in ERRORS:
            error = operation["responses"][status]["content"]["application/json"]["schema"]
            assert error == {"$ref": "#/components/schemas/ErrorEnvelope"}, (where, status)
        for parameter in operation.get("parameters", []):
            schema = resolve(document, parameter["schema"])
            assert schema.get("type") in ("string", "number", "integer", "boolean"), (
                where,
                parameter["name"],
            )
        if method in ("post", "put", "patch") and (method, path) not in NO_BODY:
            body = operation["requestBody"]["content"]["application/json"]["schema"]
            body = resolve(document, body)
            assert body["type"] == "object" and body["properties"], where
        checked += 1
    assert checked >= len(SDK_RESPONSES) + 1  # and ingestion
    envelope = document["components"]["schemas"]["ErrorEnvelope"]
    assert set(envelope["required"]) == {"errors", "messages", "error"}


def test_dashboard_json_routes_are_documented(document: dict[str, Any]) -> None:
    """Every JSON route of api.dashboard is in the document (so test_every_route_is_typed_and_documents_its_errors and
    the bearer test cover it), generated from its router."""
    from fastapi.routing import APIRoute

    from rtk_sessions.api import dashboard

    routes = {
        (method.lower(), route.path)
        for route in dashboard.router.routes
        if isinstance(route, APIRoute)
        for method in route.methods or ()
    }
    documented = {(m, p) for m, p, _ in api_operations(document) if p.startswith(DASHBOARD)}
    assert routes and routes == documented
    fleet = document["paths"][DASHBOARD + "/accounts/{account_id}/apps/{app_id}/fleet"]["get"]
    assert {p["name"] for p in fleet["parameters"] if p["in"] == "query"} == {"days"}


def test_query_parameters_are_documented(document: dict[str, Any]) -> None:
    names = {
        (method, path): {p["name"] for p in op.get("parameters", []) if p["in"] == "query"}
        for method, path, op in api_operations(document)
    }
    assert names[("get", SESSIONS)] >= {
        "associated_id",
        "start_time",
        "end_time",
        "page_no",
        "per_page",
        "participants",
        "search",
        "sort_by",
        "sort_order",
        "status",
    }
    assert names[("get", SESSIONS + "/peer-report/{peer_id}")] == {
        "filters",
        "include_peer_events",
    }
    assert names[("get", SESSIONS + "/{session_id}/participants")] >= {"view", "sort_by"}
    assert names[("get", SESSIONS + "/{session_id}/transcript")] == {"format"}
    assert names[("get", MEETINGS)] >= {"search", "status", "page_no", "per_page"}


# ---- the documented shapes against the SDK's models ----------------------------------------


def _sdk(name: str) -> Any:
    module, _, cls = name.rpartition(".")
    return getattr(importlib.import_module(SDK + module), cls)


def _strip_optional(annotation: Any) -> Any:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0]
        return typing.Union[tuple(args)]  # noqa: UP007
    return annotation


def _compare(
    document: dict[str, Any], schema: dict[str, Any], annotation: Any, at: str
) -> list[str]:
    """Where the documented ``schema`` disagrees with the SDK's ``annotation``."""
    schema = resolve(document, schema)
    annotation = _strip_optional(annotation)
    origin = typing.get_origin(annotation)
    kind = schema.get("type")
    if annotation is object or annotation is Any:
        return []
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        if kind != "object":
            return [f"{at}: documented {kind}, SDK {annotation.__name__} (object)"]
        return _compare_model(document, schema, annotation, at)
    if origin is list:
        if kind != "array":
            return [f"{at}: documented {kind}, SDK list"]
        return _compare(
            document, schema.get("items", {}), typing.get_args(annotation)[0], at + "[]"
        )
    if origin is dict:
        return [] if kind == "object" else [f"{at}: documented {kind}, SDK dict"]
    if origin is typing.Literal:
        allowed = set(typing.get_args(annotation))
        ours = set(schema.get("enum", [schema["const"]] if "const" in schema else []))
        if not ours:
            return [f"{at}: documented without its values, SDK {sorted(allowed)}"]
        return [] if ours <= allowed else [f"{at}: {sorted(ours - allowed)} not in the SDK's"]
    if origin in (typing.Union, types.UnionType):
        return [] if "anyOf" in schema or kind == "object" else [f"{at}: SDK union, ours {kind}"]
    if annotation is datetime.datetime:
        return [] if kind == "string" else [f"{at}: documented {kind}, SDK datetime"]
    expected = JSON_TYPES.get(annotation)
    if expected is None:
        return [f"{at}: SDK type {annotation!r} unknown to this test"]
    if expected == "number" and kind in ("number", "integer"):
        return []
    return [] if kind == expected else [f"{at}: documented {kind}, SDK {expected}"]


def _compare_model(
    document: dict[str, Any], schema: dict[str, Any], model: type[BaseModel], at: str
) -> list[str]:
    problems = []
    fields = {(f.alias or name): f for name, f in model.model_fields.items()}
    ours = schema.get("properties", {})
    for key, sub in ours.items():
        where = f"{at}.{key}" if at else key
        if key not in fields:
            if not any(fnmatch.fnmatchcase(where, pattern) for pattern in EXTENSIONS):
                problems.append(f"{where}: documented, not in the SDK's {model.__name__}")
            continue
        problems += _compare(document, sub, fields[key].annotation, where)
    for key, field in fields.items():
        if (
            field.is_required()
            and key not in ours
            and not any(fnmatch.fnmatchcase(at, pattern) for pattern in AS_SENT)
        ):
            problems.append(f"{at}.{key}: required by the SDK, not documented")
    return problems


@pytest.mark.parametrize(("method", "path"), sorted(SDK_RESPONSES))
def test_response_matches_the_sdk_model(document: dict[str, Any], method: str, path: str) -> None:
    operation = document["paths"][path][method]
    schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
    model = _sdk(SDK_RESPONSES[(method, path)])
    problems = _compare_model(document, resolve(document, schema), model, "")
    assert not problems, "\n".join(problems)


_CALL = re.compile(
    r"self\._(get|post|put|patch|delete)\(\s*path_template\(\s*\"([^\"]+)\"", re.DOTALL
)
_CAST = re.compile(r"cast_to=(?:cast\(\s*Type\[)?(\w+)")
_PARAMS = re.compile(r"\b(\w+_params)\.(\w+Params)\b")


def _template(path: str) -> str:
    """A path with its parameter names blanked (``{}``): the SDK names some differently."""
    return re.sub(r"\{[^}]*\}", "{}", path)


def sdk_routes() -> dict[tuple[str, str], tuple[str, str, str | None]]:
    """Every route of the SDK's ``realtime_kit`` resources, read from their source:
    {(method, path template under /client/v4 with blank parameters): (SDK method, response
    model as in SDK_RESPONSES, params as in SDK_PARAMS or None)}."""
    import cloudflare.resources.realtime_kit as kit

    routes: dict[tuple[str, str], tuple[str, str, str | None]] = {}
    for file in sorted(Path(kit.__file__).parent.glob("*.py")):
        module = importlib.import_module(f"{kit.__name__}.{file.stem}")
        for chunk in re.split(r"\n    (?:async )?def ", inspect.getsource(module)):
            call, cast = _CALL.search(chunk), _CAST.search(chunk)
            if call is None or cast is None:
                continue
            model = getattr(module, cast.group(1), None)
            if model is None or not model.__module__.startswith(SDK):
                continue
            params = _PARAMS.search(chunk)
            key = (call.group(1), _template("/client/v4" + call.group(2)))
            routes.setdefault(
                key,
                (
                    f"{file.stem}.{chunk.split('(', 1)[0]}",
                    f"{model.__module__.removeprefix(SDK)}.{model.__name__}",
                    None if params is None else f"{params.group(1)}.{params.group(2)}",
                ),
            )
    return routes


def _what_to_add(method: str, path: str, routes: dict[Any, Any]) -> str:
    found = routes.get((method, _template(path)))
    if found is None:
        return (
            f"{method.upper()} {path}: no SDK method calls it; if it is ours, exclude it in "
            "test_every_sdk_route_is_compared (as /ingest) with the reason, else map it in "
            "SDK_RESPONSES"
        )
    sdk_method, response, params = found
    advice = (
        f"{method.upper()} {path} (SDK {sdk_method}): add to SDK_RESPONSES in "
        f'tests/api/test_openapi.py\n    ("{method}", "{path}"): "{response}",'
    )
    if params is not None:
        advice += f'\n  and to SDK_PARAMS\n    ("{method}", "{path}"): "{params}",'
    return advice + (
        "\n  give the route response_model= (a model of rtk_sessions.contract), "
        "route_class=ContractRoute, query/body models; list any key the SDK lacks in EXTENSIONS"
    )


def test_every_sdk_route_is_compared(document: dict[str, Any]) -> None:
    served = {(m, p) for m, p, _ in api_operations(document)}
    # ours, no SDK method calls them: ingestion, downloads, the dashboard's JSON API and a
    # webhook's deliveries (docs/webhooks.md)
    ours = {
        (m, p)
        for m, p in served
        if "/ingest" not in p
        and "/downloads/" not in p
        and not p.startswith(DASHBOARD)
        and not p.endswith("/deliveries")
    }
    assert set(SDK_RESPONSES) <= served, sorted(set(SDK_RESPONSES) - served)
    routes = sdk_routes()
    missing = [_what_to_add(m, p, routes) for m, p in sorted(ours - set(SDK_RESPONSES))]
    assert not missing, "routes without their SDK model:\n" + "\n".join(missing)


def test_sdk_responses_name_the_sdk_methods_models() -> None:
    """Each mapping is the model the SDK method of that route parses the answer into (read from
    the SDK's source), and each body mapping its params."""
    routes = sdk_routes()
    assert len(routes) > 40
    for (method, path), model in {**SDK_RESPONSES}.items():
        found = routes.get((method, _template(path)))
        assert found is not None and found[1] == model, (method, path, found)
    for (method, path), params in SDK_PARAMS.items():
        found = routes.get((method, _template(path)))
        assert found is not None and found[2] == params, (method, path, found)


def test_unsupported_routes_document_only_their_501(document: dict[str, Any]) -> None:
    """api.unsupported: each route answers 501 with the error envelope, never 200, documents
    the errors of every route and needs the bearer scheme."""
    assert NOT_SUPPORTED
    routes = sdk_routes()
    for method, path in sorted(NOT_SUPPORTED):
        operation = document["paths"][path][method]
        responses = operation["responses"]
        assert "200" not in responses, "served now, so:\n" + _what_to_add(method, path, routes)
        for status in (*ERRORS, "501"):
            schema = responses[status]["content"]["application/json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/ErrorEnvelope"}, (path, status)
        assert operation.get("security") == [{"BearerToken": []}], (method, path)
        assert "requestBody" not in operation, (method, path)


@pytest.mark.parametrize(("method", "path"), sorted(SDK_PARAMS))
def test_request_body_is_within_the_sdk_params(
    document: dict[str, Any], method: str, path: str
) -> None:
    operation = document["paths"][path][method]
    body = resolve(document, operation["requestBody"]["content"]["application/json"]["schema"])
    params = typing.get_type_hints(_sdk(SDK_PARAMS[(method, path)]))
    unknown = set(body["properties"]) - set(params) - BODY_EXTENSIONS
    assert not unknown, f"body fields the SDK cannot send: {sorted(unknown)}"
    for key, sub in body["properties"].items():
        if key not in params:
            continue
        annotation = _strip_optional(params[key])
        if typing.get_origin(annotation) is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        expected = JSON_TYPES.get(annotation)
        if expected is not None:
            kind = resolve(document, sub).get("type")
            assert kind == expected or (expected == "number" and kind == "integer"), (key, kind)


def test_ingest_body_is_fully_defined(document: dict[str, Any]) -> None:
    """Issue 9, defect 9: the ingest body referred to an undefined ``Identity`` schema."""
    operation = document["paths"][KIT + "/{app_id}/ingest"]["post"]
    body = resolve(document, operation["requestBody"]["content"]["application/json"]["schema"])
    events = resolve(document, body["properties"]["events"]["items"])
    kinds = {resolve(document, s)["properties"]["type"]["const"] for s in events["oneOf"]}
    assert "chat.message" in kinds and "peer.stats" in kinds
    assert "Identity" in document["components"]["schemas"]
    answer = resolve(
        document, operation["responses"]["200"]["content"]["application/json"]["schema"]
    )
    data = resolve(document, answer["properties"]["data"])
    assert set(data["properties"]) == {"accepted", "duplicates"}
