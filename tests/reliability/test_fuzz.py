"""Fuzzing every operation of the served OpenAPI document with schemathesis (issue 9, point 4).

A live server (own database, per dialect) holds real data of two tenants (``world.build_world``:
a real recording imported through ingestion, a meeting, a participant). Schemathesis reads
``/openapi.json`` from the server and, for every operation, generates requests from the document
(valid ones, and invalid ones: negative mode), sent with tenant A's API token; most of them with
A's real ids in the path (else nearly every request would be a 404), some with generated ids.

Every answer must:

- not be a 5xx (but a 501 that the operation documents: a stub);
- have a documented status code. Today the document lists 200 and a 422 that never happens and
  none of the 400/401/403/404/413 answers (issue 9, defect 9); for an operation documenting no
  error status besides 422, the envelope's error statuses are also taken. Once an operation
  documents its errors, only what it documents is;
- conform to the documented response schema and content type (schemathesis' checks; trivially
  true of an untyped ``{}`` schema, meaningful as the handlers become typed);
- for 4xx, carry the error envelope.

Bounded: ``MAX_EXAMPLES`` valid and ``MAX_NEGATIVE`` invalid requests per operation, no
shrinking, no example database. The requests sent are counted and reported
(tests/reliability/figures.py).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import hypothesis.strategies as st
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import Case, GenerationMode
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
)

from tests.conftest import LiveServer, migrated_database, start_server
from tests.reliability import figures
from tests.reliability.conftest import dialect
from tests.reliability.world import World, build_world

MAX_EXAMPLES = 25  # valid requests per operation
MAX_NEGATIVE = 15  # invalid requests per operation
#: Operations fuzzed more (their budget times this), by path suffix: ingestion takes the most
#: varied and the most hostile input.
HEAVIER = {"/ingest": 4}
ENVELOPE_STATUSES = {400, 401, 403, 404, 413}


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def fuzz_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    from rtk_sessions.config import Settings

    with migrated_database(request.param, tmp_path_factory, "rtk_fuzz") as url:
        settings = Settings(data_dir=tmp_path_factory.mktemp("fuzz"), database_url=url)
        live, server, thread = start_server(settings, background=False)
        try:
            yield live
        finally:
            server.should_exit = True
            thread.join(timeout=10)


@dataclass
class Findings:
    requests: int = 0
    by_status: dict[int, int] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    unsatisfiable: list[str] = field(default_factory=list)  # no invalid request to make
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, status: int) -> None:
        with self.lock:
            self.requests += 1
            self.by_status[status] = self.by_status.get(status, 0) + 1


def documented_statuses(case: Case[Any]) -> set[str]:
    responses: dict[str, Any] = case.operation.definition.raw.get("responses", {})
    return set(responses)


def documented_stub(case: Case[Any], status: int) -> bool:
    """A 501 that the operation documents: a stub of a route not implemented (yet)."""
    return status == 501 and "501" in documented_statuses(case)


def check_status(case: Case[Any], status: int) -> str | None:
    """Why ``status`` is not a documented answer of ``case``'s operation (None if it is)."""
    documented = documented_statuses(case)
    if "default" in documented or str(status) in documented or f"{status // 100}XX" in documented:
        return None
    documents_errors = any(s.startswith("4") and s != "422" for s in documented)
    if not documents_errors and status in ENVELOPE_STATUSES:
        return None  # not yet documented (issue 9, defect 9): the envelope's statuses
    return f"status {status} not documented (documented: {sorted(documented)})"


def check_envelope(status: int, content: bytes) -> str | None:
    """Why an answer ``status`` with body ``content`` lacks the error envelope (None if not)."""
    if status < 400:
        return None
    try:
        body = json.loads(content)
    except ValueError:
        return f"{status} without a JSON body: {content[:200]!r}"
    ok = (
        isinstance(body, dict)
        and body.get("success") is False
        and isinstance(body.get("errors"), list)
        and isinstance(body.get("error"), dict)
        and body["error"].get("code") == status
        and isinstance(body["error"].get("message"), str)
    )
    return None if ok else f"{status} without the error envelope: {body!r:.300}"


def hoist_definitions(document: dict[str, Any]) -> list[str]:
    """Move the ``$defs`` of inline request-body schemas into ``components/schemas`` where their
    ``$ref``s point but nothing is defined (issue 9, defect 9: the ingest body refers to undefined
    ``#/components/schemas/...``; a document without the defect is left alone). Returns the names
    added, so that the report can say so."""
    defined = document.setdefault("components", {}).setdefault("schemas", {})
    added = []
    for item in document.get("paths", {}).values():
        for operation in item.values():
            content = (operation.get("requestBody") or {}).get("content", {})
            for media in content.values():
                for name, definition in media.get("schema", {}).pop("$defs", {}).items():
                    if name not in defined:
                        defined[name] = definition
                        added.append(name)
    return added


def _path_values(world: World, path: str, names: list[str]) -> dict[str, str]:
    return {n: v for n in names if (v := world.value(n, path)) is not None}


def fuzz_operation(
    operation: Any, server: LiveServer, world: World, findings: Findings, http: httpx.Client
) -> None:
    names = [p.name for p in operation.path_parameters]
    real = _path_values(world, operation.path, names)
    factor = next((f for end, f in HEAVIER.items() if operation.path.endswith(end)), 1)
    strategies = [(operation.as_strategy(path_parameters=real or None), MAX_EXAMPLES * factor)]
    if len(operation.body):  # parameters are strings of any value: only bodies can be invalid
        negative = st.one_of(
            operation.as_strategy(
                generation_mode=GenerationMode.NEGATIVE, path_parameters=real or None
            ),
            operation.as_strategy(generation_mode=GenerationMode.NEGATIVE),
        )
        strategies.append((negative, MAX_NEGATIVE * factor))
    headers = {"Authorization": f"Bearer {world.tenant.token}"}
    checks = [response_schema_conformance, content_type_conformance]

    for strategy, examples in strategies:

        @settings(
            max_examples=examples,
            deadline=None,
            database=None,
            phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
            derandomize=False,
        )
        @given(case=strategy)
        def run(case: Case[Any]) -> None:
            label = f"{case.method} {case.formatted_path}"
            try:
                response = case.call(base_url=server.url, headers=headers, timeout=60)
            except Exception as exc:  # transport: the server must answer everything
                findings.failures.append(f"{label}: no answer: {exc!r}")
                return
            findings.count(response.status_code)
            problems = []
            if response.status_code >= 500 and not documented_stub(case, response.status_code):
                problems.append(f"{response.status_code}: {response.text[:300]}")
            try:
                case.validate_response(response, checks=checks)
            except (Exception, BaseExceptionGroup) as exc:  # schemathesis' FailureGroup
                problems.append(str(exc)[:600])
            status_problem = check_status(case, response.status_code)
            if status_problem:
                problems.append(status_problem)
            if response.status_code < 500 and (
                envelope := check_envelope(response.status_code, response.content)
            ):
                problems.append(envelope)
            if problems and len(findings.failures) < 50:
                curl = case.as_curl_command(headers={"Authorization": "Bearer <A's token>"})
                findings.failures.append(f"{label}: {'; '.join(problems)}\n    {curl[:800]}")

        try:
            run()
        except Unsatisfiable:
            # negative mode, an operation without parameters or body: nothing to make invalid
            assert strategy is not strategies[0][0], f"{operation.label}: no valid request"
            findings.unsatisfiable.append(operation.label)


def test_fuzz_every_operation(fuzz_server: LiveServer) -> None:
    world = build_world(fuzz_server, "fuzz-a")
    build_world(fuzz_server, "fuzz-b")  # another tenant's data, which A must never reach
    document = httpx.get(fuzz_server.url + "/openapi.json", timeout=60).json()
    repaired = hoist_definitions(document)
    schema = schemathesis.openapi.from_dict(document)
    findings = Findings()
    operations = 0
    unusable = []
    with httpx.Client() as http:
        for result in schema.get_all_operations():
            if not isinstance(result, Ok):
                unusable.append(str(result.err())[:300])
                continue
            operation = result.ok()
            operations += 1
            fuzz_operation(operation, fuzz_server, world, findings, http)
    line = (
        f"fuzzing [{dialect(fuzz_server.database_url)}]: {findings.requests} requests over "
        f"{operations} operations (statuses {dict(sorted(findings.by_status.items()))}); "
        f"{len(findings.failures)} failures; no invalid request possible for "
        f"{len(findings.unsatisfiable)} operations"
        + (f"; {len(repaired)} undefined schemas taken from the body's $defs" if repaired else "")
    )
    figures.report(line)
    print(line)
    assert not unusable, unusable
    assert not findings.failures, "\n".join(findings.failures[:20])
    assert operations >= 25 and findings.requests >= operations
