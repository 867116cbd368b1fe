"""The served OpenAPI document is complete and matches the official SDK (``cloudflare`` 5.9.0).

Every API route has a typed 200 answer and typed query parameters and body, documents the error
envelope for 400/401/403/404/409/413/5XX, and needs the bearer scheme; every ``$ref`` resolves;
no 422 (the service answers 400). Each documented response is compared with the SDK model the
SDK parses it into: our field names exist there (except the listed extensions), the SDK's
required fields are all documented, and the basic JSON types agree, all the way down.
"""

from __future__ import annotations

import datetime
import types
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import BaseModel

from rtk_sessions import migrations
from rtk_sessions.app import create_app
from rtk_sessions.config import Settings

KIT = "/client/v4/accounts/{account_id}/realtime/kit"
SESSIONS = KIT + "/{app_id}/sessions"
MEETINGS = KIT + "/{app_id}/meetings"
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
}
# Keys we send that the SDK model lacks (kept by the SDK as extra keys), each on purpose:
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
}
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
    """Operations of the API (under /client/v4), with credentials."""
    for method, path, operation in operations(document):
        if path.startswith("/client/v4/"):
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
        if method in ("post", "put", "patch") and not path.endswith(("/token", "/summary")):
            body = operation["requestBody"]["content"]["application/json"]["schema"]
            body = resolve(document, body)
            assert body["type"] == "object" and body["properties"], where
        checked += 1
    assert checked >= len(SDK_RESPONSES) + 1  # and ingestion
    envelope = document["components"]["schemas"]["ErrorEnvelope"]
    assert set(envelope["required"]) == {"errors", "messages", "error"}


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
    import importlib

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
            if where not in EXTENSIONS:
                problems.append(f"{where}: documented, not in the SDK's {model.__name__}")
            continue
        problems += _compare(document, sub, fields[key].annotation, where)
    for key, field in fields.items():
        if field.is_required() and key not in ours:
            problems.append(f"{at}.{key}: required by the SDK, not documented")
    return problems


@pytest.mark.parametrize(("method", "path"), sorted(SDK_RESPONSES))
def test_response_matches_the_sdk_model(document: dict[str, Any], method: str, path: str) -> None:
    operation = document["paths"][path][method]
    schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
    model = _sdk(SDK_RESPONSES[(method, path)])
    problems = _compare_model(document, resolve(document, schema), model, "")
    assert not problems, "\n".join(problems)


def test_every_sdk_route_is_compared(document: dict[str, Any]) -> None:
    served = {(m, p) for m, p, _ in api_operations(document)}
    ours = {(m, p) for m, p in served if "/ingest" not in p and "/downloads/" not in p}
    assert set(SDK_RESPONSES) <= served
    assert ours - set(SDK_RESPONSES) == set(), "a route without its SDK model in SDK_RESPONSES"


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
