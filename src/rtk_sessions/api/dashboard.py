"""The dashboard (a static single-page app shipped as package data) and the offline API docs.

Routes (``install(app)`` adds them):

- ``GET /`` – a small HTML page linking to ``/dashboard`` and ``/docs``.
- ``GET /dashboard`` – the app (``rtk_sessions/dashboard/static/index.html``); its modules, styles
  and vendored libraries under ``/dashboard/static/``
  (``src/rtk_sessions/dashboard/static/vendor/SOURCES.md`` names versions and licenses). The page
  itself holds no data: it calls the public API with the API token the person typed in, sent as
  ``Authorization: Bearer`` and kept in ``sessionStorage``, never in a URL.
- ``GET /docs`` – Swagger UI with its assets served from ``/dashboard/static/vendor/swagger-ui``
  (the FastAPI default loads them from a CDN and shows a blank page offline). ReDoc is not served.
- ``GET /dashboard/api/whoami`` – the account of the bearer API token: ``{"account_id"}``.
- ``GET /dashboard/api/accounts/{account_id}/apps/{app_id}/fleet?days=N`` – sessions and minutes
  per UTC day and peers' quality by browser, OS and network type (``Fleet``).
- ``GET /dashboard/api/accounts/{account_id}/apps/{app_id}/sessions/{session_id}/quality`` – each
  peer's mean MOS per stream kind and its worst issues, worst peer first (``SessionQuality``).

The JSON routes answer in the API's envelope (``{"success": true, "data": ...}``) and its errors
(401 without or with a bad token, 403 for another account's id, 404 for an app not in the account,
400 for a bad ``days``). They are in the OpenAPI document like the API's routes (typed answers
``WhoAmIResponse``, ``FleetResponse``, ``SessionQualityResponse``, ``openapi.ERRORS``, the bearer
scheme; tests/api/test_openapi.py checks them): a script other than the dashboard may call them.
They are this service's own, not RealtimeKit's: no SDK calls them.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, Query
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema
from sqlalchemy import ColumnElement, String, cast, func, select
from sqlalchemy.orm import Session as DB
from starlette.responses import FileResponse, HTMLResponse, Response

from rtk_sessions import stats
from rtk_sessions.api.deps import (
    ApiScopeDep,
    DatabaseDep,
    no_nul_in_url,
    token_account,
)
from rtk_sessions.api.envelope import ok
from rtk_sessions.api.openapi import ERRORS, ContractRoute
from rtk_sessions.clock import utc_now
from rtk_sessions.contract.common import Success, contract_error
from rtk_sessions.domain.samples import ConnectionState
from rtk_sessions.storage.blocks import decode_state
from rtk_sessions.storage.tables import Peer, PeerConnectionState, Session

STATIC_DIR = Path(str(resources.files("rtk_sessions") / "dashboard" / "static"))
SWAGGER = "/dashboard/static/vendor/swagger-ui"

#: Most peers the fleet view classifies (the newest first); ``Fleet.peers_truncated`` says when
#: the window held more.
FLEET_MAX_PEERS = 5000
#: MOS bounds of the fleet's quality classes (the mean of a peer's per-kind ``quality_mos.avg``,
#: the lowest kind counted): good ≥ 4.0, fair ≥ 3.0, poor below; ``unknown`` without telemetry.
GOOD_MOS, FAIR_MOS = 4.0, 3.0

#: The dashboard page may load and call only its own origin (no inline script; inline styles are
#: what the charts and bars use for their geometry).
DASHBOARD_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'"
)

Quality = Literal["good", "fair", "poor", "unknown"]

router = APIRouter(
    prefix="/dashboard/api", tags=["dashboard"], route_class=ContractRoute, responses=ERRORS
)


class WhoAmI(BaseModel):
    """The account an API token belongs to."""

    account_id: str


class Day(BaseModel):
    """Top-level sessions created on one UTC day and their minutes (``minutes_consumed``)."""

    day: str  # YYYY-MM-DD (UTC)
    sessions: int
    minutes: float


class QualityCounts(BaseModel):
    """Peers of one group (a browser, an OS, a network type) per quality class."""

    name: str
    good: int = 0
    fair: int = 0
    poor: int = 0
    unknown: int = 0


class Fleet(BaseModel):
    """The app over the last ``days`` UTC days (today included).

    - per_day: every day of the window, oldest first, zeros included.
    - by_browser / by_os / by_network: peers that joined in the window, classed by their lowest
      per-kind mean MOS (``GOOD_MOS``, ``FAIR_MOS``); browser and OS from the peer's metadata
      (``browser_metadata.browser``, ``device_info.os``), network from the selected candidate
      pair's ``local_candidate_network_type``, else the last ``pc_metadata``
      ``effective_network_type``; "unknown" when absent.
    - peers: how many peers were classed; peers_truncated when there were more than
      ``FLEET_MAX_PEERS`` (the newest were classed).
    """

    days: int
    since: str  # ISO 8601, the window's first instant
    per_day: list[Day]
    by_browser: list[QualityCounts]
    by_os: list[QualityCounts]
    by_network: list[QualityCounts]
    peers: int
    peers_truncated: bool


class WhoAmIResponse(Success):
    data: WhoAmI


class FleetResponse(Success):
    data: Fleet


def _days(value: Any) -> int:
    try:
        days = 14 if value is None else int(str(value))
    except ValueError:
        raise contract_error("days must be an integer between 1 and 90") from None
    if not 1 <= days <= 90:
        raise contract_error("days must be an integer between 1 and 90")
    return days


class FleetQuery(BaseModel):
    """``GET .../fleet``."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    days: Annotated[
        int,
        BeforeValidator(_days),
        WithJsonSchema({"type": "integer", "minimum": 1, "maximum": 90}),
    ] = Field(14, description="Window in UTC days, 1–90 (default 14)")


@router.get(
    "/whoami",
    summary="The account of the API token (dashboard sign-in)",
    response_model=WhoAmIResponse,
)
async def whoami(account_id: Annotated[str, Depends(token_account)]) -> Response:
    """``{"account_id"}`` of the bearer API token. raises 401 (no/unknown token), 403
    (participant token)."""
    return ok(WhoAmI(account_id=account_id).model_dump())


def _day_expr(db: DB) -> ColumnElement[str]:
    """``sessions.created_at`` as its UTC day ``YYYY-MM-DD`` in SQL."""
    column = Session.__table__.c.created_at
    if db.get_bind().dialect.name == "postgresql":
        return func.to_char(func.timezone("UTC", column), "YYYY-MM-DD")
    return func.substr(cast(column, String), 1, 10)  # SQLite stores naive UTC text


def _mean_mos(state: ConnectionState, sums: dict[int, list[float]]) -> None:
    for index, acc in state.accumulators.items():
        block = acc.block()
        avg = (block.get("quality_mos") or {}).get("avg") if isinstance(block, dict) else None
        if isinstance(avg, int | float) and avg > 0:
            total = sums.setdefault(index, [0.0, 0.0])
            total[0] += float(avg)
            total[1] += 1


def _quality_of(mos: float | None) -> Quality:
    if mos is None:
        return "unknown"
    return "good" if mos >= GOOD_MOS else "fair" if mos >= FAIR_MOS else "poor"


def _network_of(meta: dict[str, Any], pairs: list[dict[str, Any]]) -> str:
    for pair in pairs:
        kind = pair.get("local_candidate_network_type")
        if isinstance(kind, str) and kind:
            return kind
    for entry in reversed(meta.get("pc_metadata") or []):
        kind = entry.get("effective_network_type") if isinstance(entry, dict) else None
        if isinstance(kind, str) and kind:
            return kind
    return "unknown"


def _name(value: Any) -> str:
    return value if isinstance(value, str) and value else "unknown"


def _grouped(counts: dict[str, Counter[str]]) -> list[QualityCounts]:
    rows = [QualityCounts(name=name, **dict(c)) for name, c in counts.items()]
    return sorted(rows, key=lambda r: (-(r.good + r.fair + r.poor + r.unknown), r.name))


def fleet(db: DB, app_id: str, *, days: int, now: datetime) -> Fleet:
    """The ``Fleet`` view of ``app_id`` (see the class); reads sessions grouped by day in SQL and
    at most ``FLEET_MAX_PEERS`` peers with their connection states."""
    today = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    since = today - timedelta(days=days - 1)
    s = Session.__table__.c
    day = _day_expr(db)
    per_day = {
        str(d): (int(n), float(secs or 0.0))
        for d, n, secs in db.execute(
            select(day, func.count(), func.sum(s.consumed_secs))
            .where(s.app_id == app_id, s.parent_session_id.is_(None), s.created_at >= since)
            .group_by(day)
        )
    }
    days_out = []
    for i in range(days):
        key = (since + timedelta(days=i)).strftime("%Y-%m-%d")
        n, secs = per_day.get(key, (0, 0.0))
        days_out.append(Day(day=key, sessions=n, minutes=round(secs / 60, 4)))

    peers = db.execute(
        select(Peer.id, Peer.meta)
        .where(Peer.app_id == app_id, Peer.joined_at >= since)
        .order_by(Peer.joined_at.desc())
        .limit(FLEET_MAX_PEERS + 1)
    ).all()
    truncated = len(peers) > FLEET_MAX_PEERS
    peers = peers[:FLEET_MAX_PEERS]
    sums: dict[str, dict[int, list[float]]] = {}
    pairs: dict[str, list[dict[str, Any]]] = {}
    c = PeerConnectionState.__table__.c
    ids = [row.id for row in peers]
    for start in range(0, len(ids), 500):
        for peer_id, connection_id, timestamp_ms, raw in db.execute(
            select(c.peer_id, c.connection_id, c.timestamp_ms, c.state).where(
                c.app_id == app_id, c.peer_id.in_(ids[start : start + 500])
            )
        ):
            state = ConnectionState.from_json(
                peer_id, connection_id, timestamp_ms, decode_state(raw)
            )
            _mean_mos(state, sums.setdefault(peer_id, {}))
            pairs.setdefault(peer_id, []).extend(data for _, data in state.pairs.values())
    by_browser: dict[str, Counter[str]] = {}
    by_os: dict[str, Counter[str]] = {}
    by_network: dict[str, Counter[str]] = {}
    for peer_id, meta in peers:
        meta = meta or {}
        kinds = sums.get(peer_id, {})
        means = [total / n for total, n in kinds.values() if n]
        quality = _quality_of(min(means) if means else None)
        browser = _name((meta.get("browser_metadata") or {}).get("browser"))
        os_name = _name((meta.get("device_info") or {}).get("os"))
        network = _network_of(meta, pairs.get(peer_id, []))
        by_browser.setdefault(browser, Counter())[quality] += 1
        by_os.setdefault(os_name, Counter())[quality] += 1
        by_network.setdefault(network, Counter())[quality] += 1
    return Fleet(
        days=days,
        since=since.isoformat().replace("+00:00", "Z"),
        per_day=days_out,
        by_browser=_grouped(by_browser),
        by_os=_grouped(by_os),
        by_network=_grouped(by_network),
        peers=len(peers),
        peers_truncated=truncated,
    )


@router.get(
    "/accounts/{account_id}/apps/{app_id}/fleet",
    summary="Sessions and minutes per day, quality by browser, OS and network type",
    response_model=FleetResponse,
)
def get_fleet(
    scope: ApiScopeDep, db: DatabaseDep, query: Annotated[FleetQuery, Query()]
) -> Response:
    """The ``Fleet`` of the app. raises 400 (days not an integer in 1–90), 401, 403, 404."""
    with db.unit_of_work(write=False) as s:
        body = fleet(s, scope.app_id, days=query.days, now=utc_now())
    return ok(body.model_dump())


class PeerIssue(BaseModel):
    """One problem of a peer from its cumulative blocks: ``fraction`` of the kind's sample rows
    (0–1) where it held; ``name`` is the block's key (e.g. ``packet_loss ≥ 5 %``)."""

    kind: str
    name: str
    fraction: float


class PeerQuality(BaseModel):
    """A peer of a session at a glance: mean MOS per stream kind (``{kind}_cumulative``
    ``quality_mos.avg``), the lowest of them (``worst_mos``, None without telemetry) and its issues,
    largest fraction first."""

    peer_id: str
    mos: dict[str, float]
    worst_mos: float | None
    issues: list[PeerIssue]


class SessionQuality(BaseModel):
    """The peers of one session (not its breakout rooms), worst first (lowest ``worst_mos``,
    peers without telemetry last)."""

    session_id: str
    peers: list[PeerQuality]
    has_transcript: bool  # GET .../transcript answers 200 (else 404)
    has_summary: bool  # GET .../summary answers 200 (else 404 with the reason)
    summary_status: str | None  # the summary text's absence reason when has_summary is false


class SessionQualityResponse(Success):
    data: SessionQuality


#: (block key, threshold key, label) of the cumulative blocks' event fractions shown as issues.
_ISSUE_KEYS = (
    ("packet_loss", "5_or_greater_event_fraction", "packet loss ≥ 5 %"),
    ("rtt", "250ms_or_greater_event_fraction", "RTT ≥ 250 ms"),
    ("jitter_buffer_delay", "250ms_or_greater_event_fraction", "jitter buffer ≥ 250 ms"),
)
#: Smallest fraction of rows reported as an issue.
ISSUE_MIN_FRACTION = 0.05


def _peer_issues(kind: str, block: dict[str, Any]) -> list[PeerIssue]:
    found = []
    for key, sub, label in _ISSUE_KEYS:
        value = (block.get(key) or {}).get(sub)
        if isinstance(value, int | float) and value >= ISSUE_MIN_FRACTION:
            found.append(PeerIssue(kind=kind, name=label, fraction=float(value)))
    for name, value in (block.get("issues") or {}).items():
        if isinstance(value, int | float) and value >= ISSUE_MIN_FRACTION:
            found.append(PeerIssue(kind=kind, name=name.removesuffix("_fraction"), fraction=value))
    return found


def session_quality(db: DB, app_id: str, session_id: str) -> SessionQuality:
    """``SessionQuality`` from the peers' connection states (no sample rows are read).
    raises SessionNotFound (through ``domain.sessions.get_session``)."""
    from rtk_sessions.domain.sessions import get_session

    get_session(db, app_id, session_id, include_breakout_rooms=False)
    p = Peer.__table__.c
    ids = list(db.scalars(select(p.id).where(p.session_id == session_id, p.app_id == app_id)))
    merged: dict[str, dict[int, stats.KindAccumulator]] = {peer_id: {} for peer_id in ids}
    c = PeerConnectionState.__table__.c
    for start in range(0, len(ids), 500):
        for peer_id, connection_id, timestamp_ms, raw in db.execute(
            select(c.peer_id, c.connection_id, c.timestamp_ms, c.state).where(
                c.app_id == app_id, c.peer_id.in_(ids[start : start + 500])
            )
        ):
            state = ConnectionState.from_json(
                peer_id, connection_id, timestamp_ms, decode_state(raw)
            )
            mine = merged[peer_id]
            for index, acc in state.accumulators.items():
                if index in mine:
                    mine[index].merge(acc)
                else:
                    mine[index] = acc
    out = []
    for peer_id, accs in merged.items():
        mos: dict[str, float] = {}
        issues: list[PeerIssue] = []
        for index, acc in sorted(accs.items()):
            kind = stats.KINDS[index]
            block = acc.block()
            avg = (block.get("quality_mos") or {}).get("avg")
            if isinstance(avg, int | float) and avg > 0:
                mos[kind] = float(avg)
            issues.extend(_peer_issues(kind, block))
        issues.sort(key=lambda i: -i.fraction)
        worst = min(mos.values()) if mos else None
        out.append(PeerQuality(peer_id=peer_id, mos=mos, worst_mos=worst, issues=issues))
    out.sort(key=lambda q: (q.worst_mos is None, q.worst_mos or 0.0, -len(q.issues), q.peer_id))
    from rtk_sessions.domain import conversation, summaries
    from rtk_sessions.errors import NotFound

    reason: str | None = None
    try:
        summaries.summary_of(db, app_id, session_id)
    except NotFound as exc:
        reason = exc.message
    return SessionQuality(
        session_id=session_id,
        peers=out,
        has_transcript=conversation.has_transcript(db, session_id),
        has_summary=reason is None,
        summary_status=reason,
    )


@router.get(
    "/accounts/{account_id}/apps/{app_id}/sessions/{session_id}/quality",
    summary="The peers of a session at a glance, worst first",
    response_model=SessionQualityResponse,
)
def get_session_quality(session_id: str, scope: ApiScopeDep, db: DatabaseDep) -> Response:
    """``SessionQuality`` of one session. raises 401, 403, 404 (app or session)."""
    with db.unit_of_work(write=False) as s:
        body = session_quality(s, scope.app_id, session_id)
    return ok(body.model_dump())


_ROOT = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>rtk-sessions</title>
<link rel="icon" href="data:,"></head><body style="font-family:system-ui,sans-serif;margin:3rem">
<h1>rtk-sessions</h1><ul><li><a href="/dashboard">Dashboard</a>: sessions, participants and call
quality</li><li><a href="/docs">API documentation</a> (Swagger UI; <a href="/openapi.json">OpenAPI
document</a>)</li></ul></body></html>"""


def install(app: FastAPI) -> None:
    """Add the dashboard, its API, ``/`` and the offline ``/docs`` to ``app`` (create it with
    ``docs_url=None, redoc_url=None``)."""
    app.include_router(router, dependencies=[Depends(no_nul_in_url)])
    app.mount("/dashboard/static", StaticFiles(directory=STATIC_DIR), name="dashboard-static")

    @app.get("/", include_in_schema=False)
    def root() -> HTMLResponse:
        return HTMLResponse(_ROOT)

    @app.get("/dashboard", include_in_schema=False)
    def dashboard() -> FileResponse:
        return FileResponse(
            STATIC_DIR / "index.html",
            headers={"cache-control": "no-cache", "content-security-policy": DASHBOARD_CSP},
        )

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} – API",
            swagger_js_url=f"{SWAGGER}/swagger-ui-bundle.js",
            swagger_css_url=f"{SWAGGER}/swagger-ui.css",
            swagger_favicon_url=f"{SWAGGER}/favicon-32x32.png",
        )
