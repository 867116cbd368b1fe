"""The ASGI application: ``create_app(settings)`` builds it; nothing is built at import time."""

from __future__ import annotations

import gc
import logging
import os
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from fastapi import APIRouter, Depends, FastAPI
from fastapi.routing import APIRoute

from rtk_sessions import __version__, observability, webhook_delivery, workers
from rtk_sessions.api import (
    active_session,
    analytics,
    apps,
    browser,
    conversation,
    dashboard,
    envelope,
    health,
    ingest,
    meetings,
    openapi,
    presets,
    sessions,
    unsupported,
    webhooks,
)
from rtk_sessions.api.deps import no_nul_in_url
from rtk_sessions.clock import utc_now
from rtk_sessions.config import Settings, get_settings
from rtk_sessions.domain import samples, summaries, useragent
from rtk_sessions.domain.lifecycle import fold_session_counts, fold_session_day_counts, sweep
from rtk_sessions.downloads import ExpiredFilePruner
from rtk_sessions.jobs import JobRunner, JobSettings
from rtk_sessions.leader import Lock, sweeper_lock
from rtk_sessions.storage import partitions, planner
from rtk_sessions.storage.engine import Database

log = logging.getLogger("rtk_sessions")
sweep_log = logging.getLogger("rtk_sessions.sweeper")

PREFIX = "/client/v4/accounts/{account_id}/realtime/kit"
MAINTENANCE_INTERVAL_SECS = 3600.0


class Sweeper:
    """Background thread: leaves stale peers, ends idle sessions and folds ``session_counts``
    (``fold_session_counts``) every ``sweep_interval_secs``; hourly, sample partitions and
    retention (``maintain``); on PostgreSQL without autovacuum, what autovacuum would do every
    ``storage.planner.INTERVAL_SECS`` (``vacuum``, then ``analyze``).

    Every process starts one, but only the holder of the sweeper lock sweeps
    (``leader.sweeper_lock``: a PostgreSQL advisory lock, or a file lock beside a SQLite file). The
    others try to take the lock every interval, so one of them takes over within an interval or two
    of the leader's death. ``sweeps`` and ``ended`` count this process's sweeps and ended sessions,
    ``failures`` the rows a sweep had to skip (each logged with its error); each ended session is
    also logged (``rtk_sessions.sweeper``, INFO).
    """

    def __init__(self, db: Database, settings: Settings, lock: Lock | None = None) -> None:
        self.db, self.settings = db, settings
        self.lock = lock or sweeper_lock(db.url, interval_secs=settings.sweep_interval_secs)
        self.sweeps = 0
        self.ended = 0
        self.failures = 0  # peers and sessions a sweep skipped (logged; see lifecycle.sweep)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rtk-sweeper", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)  # its thread releases the lock

    def dispose(self) -> None:
        """Release the lock of a sweeper that never ran (``background=False``)."""
        self.lock.dispose()

    def run_once(self) -> list[str]:
        """One sweep, whether or not this process leads (tests call it directly)."""
        failed: list[str] = []
        with self.db.unit_of_work() as session:
            now = utc_now()
            ended = sweep(
                session,
                now=now,
                peer_timeout=timedelta(seconds=self.settings.peer_timeout_secs),
                failed=failed,
            )
            # meetings.summarize_on_end: queued in the same transaction that ends the session
            summaries.summarize_ended(
                session, ended, now=now, max_attempts=self.settings.job_max_attempts
            )
        if self.db.dialect == "postgresql":  # SQLite has no deltas to fold: no write lock taken
            with self.db.unit_of_work() as session:  # its own transaction: fold_session_counts
                fold_session_counts(session)
                fold_session_day_counts(session)
        self.sweeps += 1
        observability.SWEEPER_RUNS.inc()
        self.ended += len(ended)
        self.failures += len(failed)
        for session_id in ended:
            sweep_log.info("sweeper (pid %d) ended session %s", os.getpid(), session_id)
        return ended

    def lead(self) -> bool:
        """Take or keep the sweeper lock; True while this process holds it. Logs changes."""
        was = self.lock.held
        now = self.lock.acquire()
        if now != was:
            sweep_log.info(
                "sweeper (pid %d) %s", os.getpid(), "is the leader" if now else "lost the lead"
            )
        return now

    def maintain(self) -> samples.PruneResult:
        """Hourly: create the coming days' sample partitions and delete samples past retention."""
        with self.db.unit_of_work() as session:
            now = utc_now()
            partitions.ensure(session.connection(), now)
            return samples.prune(session, now=now, retention_days=self.settings.retention_days)

    def vacuum(self) -> list[str]:
        """PostgreSQL without autovacuum: VACUUM the tables autovacuum would
        (``storage.planner.vacuum_stale``); the names of those it went through."""
        return planner.vacuum_stale(self.db.engine)

    def analyze(self) -> list[str]:
        """PostgreSQL without autovacuum: ANALYZE the tables autovacuum would
        (``storage.planner.analyze_stale``); the names of those analyzed."""
        return planner.analyze_stale(self.db.engine)

    def _run(self) -> None:
        next_maintenance = next_statistics = 0.0
        try:
            while not self._stop.wait(self.settings.sweep_interval_secs):
                try:
                    if not self.lead():
                        continue
                    self.run_once()
                except Exception:  # keep sweeping; a transient database error must not stop it
                    observability.SWEEPER_FAILURES.inc()
                    log.exception("sweep failed")
                    continue
                if time.monotonic() >= next_maintenance:
                    next_maintenance = time.monotonic() + MAINTENANCE_INTERVAL_SECS
                    try:
                        self.maintain()
                    except Exception:
                        log.exception("sample retention failed")
                if time.monotonic() >= next_statistics:
                    next_statistics = time.monotonic() + planner.INTERVAL_SECS
                    try:
                        self.vacuum()
                    except Exception:
                        log.exception("VACUUM of tables with dead rows failed")
                    try:
                        self.analyze()
                    except Exception:
                        log.exception("ANALYZE of stale tables failed")
        finally:
            self.lock.dispose()


def _job_runner(ctx: workers.WorkerContext) -> JobRunner:
    """Summary jobs, and (when idle) the pruning of download files past their links' life."""
    summarizer, label = summaries.build_summarizer(ctx.settings)
    return JobRunner(
        ctx.db,
        {summaries.KIND: summaries.SummaryJob(ctx.db, summarizer, label)},
        JobSettings(
            lease_secs=ctx.settings.job_lease_secs,
            poll_secs=ctx.settings.job_poll_secs,
            backoff_secs=ctx.settings.job_backoff_secs,
            backoff_max_secs=ctx.settings.job_backoff_max_secs,
        ),
        idle=ExpiredFilePruner(ctx.state.downloads),
    )


workers.register("sweeper", lambda ctx: Sweeper(ctx.db, ctx.settings))
workers.register("jobs", _job_runner)
workers.register("webhooks", webhook_delivery.build_worker)


def create_app(settings: Settings | None = None, *, background: bool = True) -> FastAPI:
    """The service. ``background=False`` builds the registered workers (``rtk_sessions.workers``)
    but does not start them (tests drive the sweeper by hand)."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db = Database(
            settings.resolved_database_url(),
            sqlite_mmap_mb=settings.sqlite_mmap_mb,
            sqlite_cache_mb=settings.sqlite_cache_mb,
        )
        app.state.db = db
        app.state.settings = settings
        app.state.secret = settings.resolved_secret()
        conversation.start(app, settings, app.state.secret)
        background_workers = workers.Workers(
            workers.WorkerContext(
                db=db, settings=settings, secret=app.state.secret, state=app.state
            )
        )
        threading.Thread(target=useragent.warm_up, name="rtk-ua-warm-up", daemon=True).start()
        if background:
            background_workers.start()
        try:
            yield
        finally:
            background_workers.stop()
            db.dispose()

    app = FastAPI(
        title="rtk-sessions",
        version=__version__,
        description="The Cloudflare RealtimeKit Sessions API, self-hosted and computed from real "
        "call data. Point the official SDKs at http://HOST:PORT/client/v4.",
        lifespan=lifespan,
        docs_url=None,  # served offline by dashboard.install
        redoc_url=None,
    )
    envelope.install(app)
    openapi.install(app)
    kit = APIRouter(prefix=PREFIX, dependencies=[Depends(no_nul_in_url)], responses=openapi.ERRORS)
    kit.include_router(apps.router)
    kit.include_router(sessions.router)
    kit.include_router(ingest.router)
    kit.include_router(meetings.router)
    kit.include_router(presets.router)
    kit.include_router(active_session.router)
    kit.include_router(analytics.router)
    kit.include_router(webhooks.router)
    app.include_router(kit)
    app.include_router(
        conversation.router, dependencies=[Depends(no_nul_in_url)], responses=openapi.ERRORS
    )
    app.include_router(browser.router)
    app.include_router(health.router)
    app.include_router(webhooks.public_router)
    dashboard.install(app)
    # Last: 501 for the SDK routes no router above serves.
    served = {
        (method, route.path)
        for route in app.routes
        if isinstance(route, APIRoute)
        for method in route.methods or ()
    }
    app.include_router(
        unsupported.router_for(served, prefix=PREFIX),
        prefix=PREFIX,
        dependencies=[Depends(no_nul_in_url)],
    )
    app.add_middleware(browser.IngestCORS)
    if settings.metrics:
        app.include_router(health.metrics_router)
    observability.install(app, metrics=settings.metrics)  # request ids, metrics: outermost
    return app


def app_from_env() -> FastAPI:
    """``create_app`` with settings from the ``RTK_*`` environment: the factory uvicorn's workers
    call (``rtk-sessions serve`` passes its options to them through the environment). It never
    migrates; ``serve`` did that once in the parent, unless ``--no-migrate``.

    Once the app is built, what exists then (modules, routes, schemas: hundreds of thousands of
    objects that live as long as the process) is moved out of the garbage collector's reach
    (``gc.freeze``), so its collections no longer walk them: lifecycle ingestion, which makes and
    drops many small objects, takes ~20% less CPU (docs/performance.md, "Garbage collection")."""
    app = create_app(Settings())
    gc.collect()
    gc.freeze()
    return app
