"""The authorization matrix, generated from the application's routes (issue 9, point 4).

Every route of ``app.routes`` and each of its methods is classified by the authentication
dependency it has (``AUTH``: an API token of the app's account, of the account, or the ingestion
scope) or found in ``PUBLIC``; a route that is neither fails the test with a message telling its
author to classify it, so routes added later are covered without editing a list here.

Each route is then called, with tenant A's real ids in its path, under every credential of
``CREDENTIALS`` (none, malformed ones, another account's API token, participant tokens of A and of
another tenant, an expired one, one replaced by a refresh); each answer must be the documented
401/403/404 with the error envelope (a valid participant token of A is the one credential the
ingestion route takes). Then tenant B's API token is used with cross-tenant ids: A's account, A's
app under B's account, A's meetings, sessions, peers and participants under B's own app, and
ingestion bodies naming A's meeting, session, breakout parent and peer. No answer to anyone but A
contains A's data (its marker, in titles, names, chat and transcript), and afterwards A's data,
read through the API and counted in every table, is what it was.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute, Route

from rtk_sessions.api import deps
from rtk_sessions.clock import iso
from rtk_sessions.security import ParticipantClaims, issue_participant_token
from rtk_sessions.storage.engine import Database
from tests.api.test_errors import assert_envelope
from tests.conftest import LiveServer
from tests.reliability import figures
from tests.reliability.conftest import dialect
from tests.reliability.world import World, build_world, row_counts, snapshot

#: Dependencies that authenticate, and the kind of scope each gives.
AUTH: dict[Callable[..., Any], str] = {
    deps.api_scope: "app",
    deps.account_scope: "account",
    deps.ingest_scope: "ingest",
    deps.token_account: "token",
}
#: Routes without credentials, by path: liveness and readiness, metrics, the API description,
#: the browser collector's script, and signed downloads (the signature is the credential).
PUBLIC = {
    "/healthz",
    "/readyz",
    "/metrics",
    "/openapi.json",
    "/docs",
    "/docs/oauth2-redirect",
    "/redoc",
    "/static/rtk-collector.js",
    "/static/rtk-collector.mjs",
    "/downloads/{kind}/{name}",
    "/",  # a page of links to /dashboard and /docs
    "/dashboard",  # the dashboard's page: it holds no data, it calls the API with the token
    "/.well-known/webhooks.json",  # the public key receivers verify webhook signatures with
}
#: Mounted static files without credentials (the dashboard's scripts, styles, vendored libraries).
PUBLIC_MOUNTS = {"/dashboard/static"}
CLASSIFY = (
    "route {method} {path} has no known authentication dependency ({known}) and is not listed "
    "as public: give it one of those dependencies, or (if it really takes no credentials) add "
    "its path to PUBLIC in tests/reliability/test_authz.py; a new kind of credentials goes into "
    "AUTH there, with its expected answers in EXPECTED"
)


@dataclass(frozen=True)
class Operation:
    method: str
    path: str  # the route's template, e.g. /client/v4/accounts/{account_id}/...
    kind: str  # "app", "account", "ingest", "token" or "public"

    @property
    def params(self) -> list[str]:
        return re.findall(r"{(\w+)(?::[^}]*)?}", self.path)

    @property
    def has_resource(self) -> bool:
        """Names a resource beyond the account and app."""
        return any(p not in ("account_id", "app_id") for p in self.params)


def _calls(dependant: Dependant) -> Iterator[Any]:
    for sub in dependant.dependencies:
        yield sub.call
        yield from _calls(sub)


def _flat(routes: list[BaseRoute]) -> Iterator[Any]:
    """The application's routes with the prefixes and dependencies of the routers they were
    included from (FastAPI 0.165+ includes routers lazily; ``app.routes`` before that)."""
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # pragma: no cover - older FastAPI: routes are copied at inclusion
        yield from routes
        return
    yield from iter_route_contexts(routes)


def operations(routes: list[BaseRoute]) -> list[Operation]:
    """Every (method, route) of the application, classified; AssertionError for one that cannot
    be (see ``CLASSIFY``)."""
    found = []
    unknown = []
    known = ", ".join(f"{f.__name__}: {k}" for f, k in AUTH.items())
    for route in _flat(routes):
        original = getattr(route, "original_route", route)
        path: str = getattr(route, "path", None) or repr(original)
        if isinstance(original, APIRoute):
            dependant: Dependant = route.dependant
            kinds = {AUTH[c] for c in _calls(dependant) if c in AUTH}
        elif isinstance(original, Route):  # FastAPI's own /openapi.json, /docs, /redoc
            kinds = set()
        elif path in PUBLIC_MOUNTS:
            continue
        else:
            unknown.append(CLASSIFY.format(method="*", path=path, known="mounts are not"))
            continue
        for method in sorted((route.methods or {"GET"}) - {"HEAD", "OPTIONS"}):
            if len(kinds) == 1:
                found.append(Operation(method, path, next(iter(kinds))))
            elif not kinds and path in PUBLIC:
                found.append(Operation(method, path, "public"))
            else:
                unknown.append(CLASSIFY.format(method=method, path=path, known=known))
    assert not unknown, "\n".join(unknown)
    return found


# ---- credentials ----------------------------------------------------------------------------


@dataclass
class Worlds:
    a: World
    b: World
    server: LiveServer


def _forged(world: World) -> str:
    """A participant token of ``world``'s participant signed with another secret."""
    claims = ParticipantClaims(
        world.tenant.account_id, world.tenant.app_id, world.meeting_id, world.participant_id, 1
    )
    return issue_participant_token(
        b"not-the-server-secret-0123456789abcdef",
        claims,
        now=datetime.now(UTC),
        ttl=timedelta(hours=1),
    )


def credentials(w: Worlds) -> dict[str, dict[str, str]]:
    """Name -> request headers."""

    def bearer(token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    return {
        "no token": {},
        "malformed header": {"Authorization": "Basic dXNlcjpwYXNz"},
        "empty bearer": {"Authorization": "Bearer"},
        "unknown API token": bearer("rtk_" + uuid.uuid4().hex),
        "forged participant token": bearer(_forged(w.a)),
        "another account's API token": bearer(w.b.tenant.token),
        "participant token": bearer(w.a.participant_token),
        "another tenant's participant token": bearer(w.b.participant_token),
        "expired participant token": bearer(w.a.expired_token),
        "refreshed-away participant token": bearer(w.a.stale_token),
        # Cloudflare's legacy key headers: another account's token there must not open A's data
        # (ignored today: 401; refused once the headers are taken: 403/404)
        "another account's token as X-Auth-Key": {
            "X-Auth-Email": "intruder@example.com",
            "X-Auth-Key": w.b.tenant.token,
        },
    }


ANY_REFUSAL = {401, 403, 404}
#: Documented answers by (kind, credential); ``None``: the credential is valid there (any answer
#: below 500 but 401/403, e.g. 400 for the matrix's empty body).
EXPECTED: dict[str, dict[str, set[int] | None]] = {
    "app": {
        "no token": {401},
        "malformed header": {401},
        "empty bearer": {401},
        "unknown API token": {401},
        "forged participant token": {401},
        "another account's API token": {403, 404},
        "participant token": {403},
        "another tenant's participant token": {403},
        "expired participant token": {401},
        "refreshed-away participant token": {401, 403},
        "another account's token as X-Auth-Key": ANY_REFUSAL,
    },
    "ingest": {
        "no token": {401},
        "malformed header": {401},
        "empty bearer": {401},
        "unknown API token": {401},
        "forged participant token": {401},
        "another account's API token": {403, 404},
        "participant token": None,
        "another tenant's participant token": {403},
        "expired participant token": {401},
        "refreshed-away participant token": {401},
        "another account's token as X-Auth-Key": ANY_REFUSAL,
    },
}
EXPECTED["account"] = EXPECTED["app"]
#: Routes of any API token (they name no account or app): another account's token is valid
#: there and answers about that account only (``_no_leak`` checks nothing of A comes back).
EXPECTED["token"] = {
    **EXPECTED["app"],
    "another account's API token": None,
    "another account's token as X-Auth-Key": None,
}


def _path(op: Operation, values: dict[str, str]) -> str:
    return re.sub(r"{(\w+)(?::[^}]*)?}", lambda m: values[m.group(1)], op.path)


def _body(op: Operation) -> dict[str, Any] | None:
    return {} if op.method in ("POST", "PUT", "PATCH") else None


@dataclass
class Tally:
    tried: int = 0
    routes: int = 0


def _call(
    http: httpx.Client, op: Operation, path: str, headers: dict[str, str], tally: Tally
) -> httpx.Response:
    tally.tried += 1
    return http.request(op.method, path, headers=headers, json=_body(op))


def _no_leak(response: httpx.Response, a: World, what: str) -> None:
    assert a.marker not in response.text, (what, response.text[:500])
    if response.status_code < 300:
        for value in (a.meeting_id, a.session_id, a.peer_id, a.participant_id, a.tenant.app_id):
            assert value not in response.text, (what, value, response.text[:500])


def test_authorization_matrix(quiet_server: LiveServer) -> None:
    app = quiet_server.app
    ops = operations(app.routes)
    a, b = build_world(quiet_server, "a"), build_world(quiet_server, "b")
    w = Worlds(a, b, quiet_server)
    db: Database = app.state.db
    before = snapshot(a), row_counts(db, a)
    creds = credentials(w)
    tally = Tally()
    base = quiet_server.url

    def a_value(name: str, template: str) -> str:
        return a.value(name, template) or f"x-{uuid.uuid4().hex[:8]}"

    with httpx.Client(base_url=base, timeout=60) as http:
        for op in ops:
            tally.routes += 1
            path = _path(op, {p: a_value(p, op.path) for p in op.params})
            for name, headers in creds.items():
                what = f"{op.method} {op.path} with {name}"
                response = _call(http, op, path, headers, tally)
                assert response.status_code < 500, (what, response.text[:500])
                _no_leak(response, a, what)
                if op.kind == "public":
                    if op.path.startswith("/downloads/"):  # no signature: no file, whoever asks
                        assert_envelope(response, 403)
                    continue
                expected = EXPECTED[op.kind][name]
                if expected is None:
                    assert response.status_code not in (401, 403), (what, response.text)
                else:
                    assert response.status_code in expected, (what, response.text[:500])
                    assert_envelope(response, response.status_code)
            if op.kind == "public" or not op.params:
                continue  # no ids in the path: nothing of A's to name
            # cross-tenant ids: B's own token, with A's account, A's app, A's resources
            b_headers = {"Authorization": f"Bearer {b.tenant.token}"}

            variants: list[tuple[str, tuple[str, ...]]] = [("A's account", ())]
            if "app_id" in op.params:
                variants.append(("A's app under B's account", ("account_id",)))
            if op.has_resource:
                variants.append(("A's resources under B's app", ("account_id", "app_id")))
            for label, keep in variants:
                what = f"{op.method} {op.path} with B's token and {label}"
                values = {p: b.ids[p] if p in keep else a_value(p, op.path) for p in op.params}
                path = _path(op, values)
                response = _call(http, op, path, b_headers, tally)
                _no_leak(response, a, what)
                # under B's own app, A's ids are unknown (404); a route that is a documented
                # stub (501 Not Implemented) has nothing to find
                want = {404, 501} if label.startswith("A's resources") else {403, 404}
                if _body(op) is not None and label.startswith("A's resources"):
                    # the body ({}) is validated before the resource is looked up (docs/openapi.md):
                    # a 400 saying what the body lacks tells nothing about A's ids
                    want.add(400)
                assert response.status_code in want, (what, response.text[:500])
                assert_envelope(response, response.status_code)
        crossed = _cross_tenant_bodies(http, w, tally)

    after = snapshot(a), row_counts(db, a)
    assert after == before, "tenant A's data changed"
    assert sum(after[1].values()) > 0
    kinds = sorted({op.kind for op in ops})
    line = (
        f"authorization matrix [{dialect(quiet_server.database_url)}]: "
        f"{tally.routes} route methods ({', '.join(kinds)}) × {len(creds)} credentials, "
        f"{tally.tried} requests in all (with cross-tenant ids; {crossed} cross-tenant bodies); "
        f"tenant A's data unchanged ({sum(after[1].values())} rows)"
    )
    figures.report(line)
    print(line)


def _cross_tenant_bodies(http: httpx.Client, w: Worlds, tally: Tally) -> int:
    """Ingestion into B's app naming A's meeting, session, breakout parent and peer: refused or
    applied to B's own data only (checked by the caller against A's snapshot)."""
    a, b = w.a, w.b
    now = iso(datetime.now(UTC))
    peer = f"b-peer-{uuid.uuid4().hex[:8]}"
    bodies: list[dict[str, Any]] = [
        {
            "id": f"b1-{peer}",
            "type": "peer.joined",
            "timestamp": now,
            "peer_id": peer,
            "meeting_id": a.meeting_id,
        },
        {
            "id": f"b2-{peer}",
            "type": "peer.joined",
            "timestamp": now,
            "peer_id": peer + "s",
            "meeting_id": b.meeting_id,
            "session_id": a.session_id,
        },
        {
            "id": f"b3-{peer}",
            "type": "peer.joined",
            "timestamp": now,
            "peer_id": peer + "p",
            "meeting_id": b.meeting_id,
            "parent_session_id": a.session_id,
        },
        {"id": f"b4-{peer}", "type": "peer.left", "timestamp": now, "peer_id": a.peer_id},
        {
            "id": f"b5-{peer}",
            "type": "chat.message",
            "timestamp": now,
            "peer_id": a.peer_id,
            "payload_type": "TEXT_MESSAGE",
            "payload": "intruder",
        },
        {
            "id": f"b6-{peer}",
            "type": "peer.metadata",
            "timestamp": now,
            "peer_id": a.peer_id,
            "device_info": {"os": "intruder"},
        },
        {
            "id": f"b7-{peer}",
            "type": "transcript.segment",
            "timestamp": now,
            "peer_id": a.peer_id,
            "session_id": a.session_id,
            "start": now,
            "end": now,
            "text": "intruder",
        },
        # and A's event ids: B's own namespace, not a duplicate of A's
        {
            "id": f"{a.peer_id}:chat",
            "type": "peer.joined",
            "timestamp": now,
            "peer_id": peer + "d",
            "meeting_id": b.meeting_id,
        },
    ]
    url = f"{b.kit}/{b.tenant.app_id}/ingest"
    tokens = {"B's API token": b.tenant.token, "B's participant token": b.participant_token}
    for who, token in tokens.items():
        for event in bodies:
            tally.tried += 1
            response = http.post(
                url, json={"events": [event]}, headers={"Authorization": f"Bearer {token}"}
            )
            what = (who, event["type"], event["id"])
            assert response.status_code < 500, (what, response.text)
            _no_leak(response, a, str(what))
            if response.status_code != 200:
                assert_envelope(response, response.status_code)
    # participant token of A used on B's app, and B's API token on A's app, with the same bodies
    for event in bodies[:2]:
        for url_, token, want in (
            (url, a.participant_token, {403}),
            (f"{a.kit}/{a.tenant.app_id}/ingest", b.tenant.token, {403, 404}),
        ):
            tally.tried += 1
            response = http.post(
                url_, json={"events": [event]}, headers={"Authorization": f"Bearer {token}"}
            )
            assert response.status_code in want, response.text
    return len(bodies) * len(tokens) + 4


def test_an_unclassified_route_fails_the_matrix_with_a_message() -> None:
    from fastapi import FastAPI

    from rtk_sessions.app import create_app

    app: FastAPI = create_app()

    @app.get("/client/v4/accounts/{account_id}/realtime/kit/{app_id}/new-thing")
    def new_thing(account_id: str, app_id: str) -> dict[str, str]:
        return {}

    with pytest.raises(AssertionError, match=r"GET .*/new-thing has no known authentication"):
        operations(app.routes)
    operations(app.routes[:-1])  # the application's own routes are all classified
