"""The operator's view: Prometheus metrics, request ids and JSON log lines (docs/deployment.md).

* **Metrics** (``prometheus-client``). Counters and histograms live in this process's ``REGISTRY``;
  under ``rtk-sessions serve --workers N`` the parent sets ``PROMETHEUS_MULTIPROC_DIR`` to a fresh
  directory and every worker writes its values there, so ``/metrics`` (answered by any worker)
  sums all of them. Gauges that describe the database (sessions live, jobs by status) are read at
  scrape time by ``DatabaseCollector``, never kept per process.
* **Request ids.** ``Observe`` (ASGI middleware) takes a sane incoming ``X-Request-ID`` or makes
  one, echoes it in the response and keeps it in a context variable, so every log line written
  while the request is handled (the access log included) carries it.
* **JSON logs.** ``JsonFormatter``: one object per line (time, level, logger, message,
  request_id, extra fields), with ``token``/``sig`` query values and bearer credentials redacted.
"""

from __future__ import annotations

import contextvars
import logging
import os
import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import orjson
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector
from sqlalchemy import func, select
from starlette.applications import Starlette
from starlette.datastructures import Headers, MutableHeaders
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

if TYPE_CHECKING:
    from rtk_sessions.domain.ingest import IngestResult
    from rtk_sessions.storage.engine import Database

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
REQUEST_ID_HEADER = "X-Request-ID"
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:/+=-]{1,128}")


def multiprocess_mode() -> bool:
    """True when metric values are shared through ``PROMETHEUS_MULTIPROC_DIR`` (serve workers)."""
    return bool(os.environ.get(MULTIPROC_ENV))


# ---- metrics ----------------------------------------------------------------------------------

REGISTRY = CollectorRegistry(auto_describe=True)
if not multiprocess_mode():  # per-process figures mean nothing summed over workers
    ProcessCollector(registry=REGISTRY)
    PlatformCollector(registry=REGISTRY)

HTTP_REQUESTS = Counter(
    "rtk_http_requests",
    "HTTP requests answered, by method, route template and status code.",
    ["method", "route", "status"],
    registry=REGISTRY,
)
HTTP_LATENCY = Histogram(
    "rtk_http_request_duration_seconds",
    "Time from request start to the end of the response body, by method and route template.",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
    registry=REGISTRY,
)
INGEST_ACKNOWLEDGED = Counter(
    "rtk_ingest_batches_acknowledged",
    "Ingestion batches answered 200 (committed).",
    registry=REGISTRY,
)
INGEST_REJECTED = Counter(
    "rtk_ingest_batches_rejected",
    "Ingestion batches not applied, by reason (the HTTP status code answered: 400, 401, 403, "
    "404, 413, 500, ...).",
    ["reason"],
    registry=REGISTRY,
)
INGEST_EVENTS = Counter(
    "rtk_ingest_events",
    "Events in acknowledged batches: outcome 'accepted' (applied) or 'duplicate' (replays).",
    ["outcome"],
    registry=REGISTRY,
)
INGEST_SAMPLES = Counter(
    "rtk_ingest_samples",
    "Sample rows (one per stream and getStats report) stored by acknowledged batches.",
    registry=REGISTRY,
)
SWEEPER_RUNS = Counter(
    "rtk_sweeper_runs",
    "Completed sweeps (ending idle sessions and stale peers).",
    registry=REGISTRY,
)
SWEEPER_FAILURES = Counter(
    "rtk_sweeper_failures", "Sweeps that raised (logged; the sweeper goes on).", registry=REGISTRY
)
JOB_FAILURES = Counter(
    "rtk_job_failures",
    "Failed background job attempts, by kind and whether the job was then marked failed "
    "(final='true') or queued again (final='false').",
    ["kind", "final"],
    registry=REGISTRY,
)


class DatabaseCollector:
    """Gauges read from the database at scrape time: ``rtk_sessions_live`` (top-level sessions
    LIVE, from the ``session_counts`` table) and ``rtk_jobs{status}`` (queued, running, failed:
    the job queue's depth). On a database error they are left out and
    ``rtk_database_scrape_error`` is 1."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def collect(self) -> Iterator[Metric]:
        from rtk_sessions.storage.tables import JobRow, SessionCount

        error = GaugeMetricFamily(
            "rtk_database_scrape_error", "1 when the database gauges could not be read."
        )
        try:
            with self.db.unit_of_work(write=False) as s:
                live = s.scalar(
                    select(func.coalesce(func.sum(SessionCount.n), 0)).where(
                        SessionCount.status == "LIVE"
                    )
                )
                jobs = dict(
                    s.execute(
                        select(JobRow.status, func.count())
                        .where(JobRow.status.in_(("queued", "running", "failed")))
                        .group_by(JobRow.status)
                    ).all()
                )
        except Exception:
            logging.getLogger("rtk_sessions.metrics").exception("reading the database gauges")
            error.add_metric([], 1)
            yield error
            return
        error.add_metric([], 0)
        yield error
        yield GaugeMetricFamily("rtk_sessions_live", "Sessions now LIVE (all apps).", value=live)
        family = GaugeMetricFamily(
            "rtk_jobs", "Background jobs by status (queued: the queue's depth).", labels=["status"]
        )
        for status in ("queued", "running", "failed"):
            family.add_metric([status], jobs.get(status, 0))
        yield family


class _Scrape:
    def __init__(self, db: Database | None) -> None:
        self.db = db

    def collect(self) -> Iterator[Metric]:
        if multiprocess_mode():
            yield from multiprocess.MultiProcessCollector(None).collect()  # type: ignore[no-untyped-call]
        else:
            yield from REGISTRY.collect()
        if self.db is not None:
            yield from DatabaseCollector(self.db).collect()


def exposition(db: Database | None) -> tuple[bytes, str]:
    """The Prometheus text exposition (all workers' counters, plus the database gauges) and its
    content type."""
    return generate_latest(_Scrape(db)), CONTENT_TYPE_LATEST


# ---- per-request context ----------------------------------------------------------------------


@dataclass
class RequestContext:
    request_id: str
    ingest: IngestResult | None = None  # the committed batch's result, set by ingest_batch


_current: contextvars.ContextVar[RequestContext | None] = contextvars.ContextVar(
    "rtk_request", default=None
)


def request_id() -> str | None:
    """The id of the request being handled in this context, if any."""
    ctx = _current.get()
    return ctx.request_id if ctx else None


def note_ingest(result: IngestResult) -> None:
    """Called by ``ingest_batch`` with its result; counted by ``Observe`` once the answer is 200
    (the last call wins: a batch retried after a conflict counts once)."""
    ctx = _current.get()
    if ctx is not None:
        ctx.ingest = result


def _is_ingest(scope: Scope) -> bool:
    from rtk_sessions.api.browser import is_ingest_path

    return scope["method"] == "POST" and is_ingest_path(scope["path"])


class Observe:
    """ASGI middleware: request id (context + ``X-Request-ID`` response header) and the request
    and ingestion metrics. Counts by route template (``/…/{app_id}/ingest``), never raw paths."""

    def __init__(self, app: ASGIApp, *, metrics: bool = True) -> None:
        self.app = app
        self.metrics = metrics
        self._templates: list[tuple[re.Pattern[str], str]] | None = None
        self._by_route: dict[int, tuple[re.Pattern[str], str]] = {}  # id(route) -> its template

    def route_of(self, scope: Scope) -> str:
        """The template of the route that answered (``/client/v4/…/{app_id}/ingest``), or
        ``unmatched``. The matched route object knows only its path within its router, so the
        full template is the OpenAPI path that ends with it and matches the request."""
        route = scope.get("route")
        path = getattr(route, "path", None)
        if not path:
            return "unmatched"
        cached = self._by_route.get(id(route))
        if cached is not None and cached[0].match(scope["path"]):
            return cached[1]
        if self._templates is None:
            openapi = getattr(scope.get("app"), "openapi", None)
            paths = openapi().get("paths", {}) if openapi is not None else {}
            self._templates = [(compile_path(p)[0], p) for p in paths]
        for regex, template in self._templates:
            if template.endswith(path) and regex.match(scope["path"]):
                self._by_route[id(route)] = (regex, template)
                return template
        return str(path)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = Headers(scope=scope).get(REQUEST_ID_HEADER)
        rid = incoming if incoming and _SANE_REQUEST_ID.fullmatch(incoming) else uuid.uuid4().hex
        ctx = RequestContext(rid)
        _current.set(ctx)  # each request runs in its own task: no reset needed
        start = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message).append(REQUEST_ID_HEADER, rid)
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            if self.metrics:
                self._count(scope, status, time.perf_counter() - start, ctx)

    def _count(self, scope: Scope, status: int, elapsed: float, ctx: RequestContext) -> None:
        method = scope["method"] if scope["method"] in _METHODS else "other"  # bounded labels
        route = self.route_of(scope)
        HTTP_REQUESTS.labels(method, route, str(status)).inc()
        HTTP_LATENCY.labels(method, route).observe(elapsed)
        if not _is_ingest(scope):
            return
        if status == 200:
            INGEST_ACKNOWLEDGED.inc()
            if ctx.ingest is not None:
                INGEST_EVENTS.labels("accepted").inc(ctx.ingest.accepted)
                INGEST_EVENTS.labels("duplicate").inc(ctx.ingest.duplicates)
                INGEST_SAMPLES.inc(ctx.ingest.samples)
        else:
            INGEST_REJECTED.labels(str(status)).inc()


def install(app: Starlette, *, metrics: bool = True) -> None:
    """Wrap ``app``'s whole middleware stack in ``Observe``: outside even Starlette's
    ``ServerErrorMiddleware``, so a 500 is counted as one and carries its request id too."""
    build = app.build_middleware_stack

    def build_observed() -> ASGIApp:
        return Observe(build(), metrics=metrics)

    app.build_middleware_stack = build_observed  # type: ignore[method-assign]


# ---- logs -------------------------------------------------------------------------------------

_SECRET_QUERY = re.compile(r"(?i)([?&;](?:token|sig)=)[^&;\s\"']*")
_BEARER = re.compile(r"(?i)\b(bearer\s+)[^\s\"',]+")
_RESERVED = frozenset(
    logging.LogRecord("", 0, "", 0, "", None, None).__dict__.keys()
    | {"message", "asctime", "color_message"}
)


def redact(text: str) -> str:
    """``text`` with ``token``/``sig`` query values and bearer credentials replaced by
    ``[redacted]``."""
    return _BEARER.sub(r"\1[redacted]", _SECRET_QUERY.sub(r"\1[redacted]", text))


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, int | float | bool) or value is None:
        return value
    return redact(str(value))


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``time`` (UTC ISO 8601, ms), ``level``, ``logger``, ``message``,
    ``request_id`` (null outside a request), the record's extra fields, ``exception`` when there
    is one; uvicorn's access lines also get ``client``, ``method``, ``path``, ``status``. Strings
    are redacted (``redact``)."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
            "request_id": request_id(),
        }
        args = record.args
        if record.name == "uvicorn.access" and isinstance(args, tuple) and len(args) == 5:
            client, method, path, _, status = args
            out.update(client=client, method=method, path=path, status=status)
        for key, value in record.__dict__.items():
            if key not in _RESERVED and key not in out and not key.startswith("_"):
                out[key] = value
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return orjson.dumps({k: _clean(v) for k, v in out.items()}).decode()


def plain_line(message: str, log_format: str, logger: str = "rtk_sessions") -> str:
    """``message`` as a line of the ``log_format`` log (an INFO record of ``logger`` in JSON)."""
    if log_format != "json":
        return message
    record = logging.LogRecord(logger, logging.INFO, __file__, 0, message, None, None)
    return JsonFormatter().format(record)


def log_format(config: dict[str, Any], log_format: str) -> dict[str, Any]:
    """``config`` (a ``logging.config.dictConfig`` dict, uvicorn's) with every formatter replaced
    by ``JsonFormatter`` when ``log_format`` is ``"json"``; unchanged for ``"text"``."""
    if log_format == "json":
        for name in list(config.get("formatters", {})):
            config["formatters"][name] = {"()": "rtk_sessions.observability.JsonFormatter"}
    return config
