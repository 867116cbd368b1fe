"""The ASGI application: ``create_app(settings)`` builds it; nothing is built at import time."""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from fastapi import APIRouter, FastAPI

from rtk_sessions import __version__
from rtk_sessions.api import (
    apps,
    browser,
    conversation,
    envelope,
    health,
    ingest,
    meetings,
    sessions,
)
from rtk_sessions.clock import utc_now
from rtk_sessions.config import Settings, get_settings
from rtk_sessions.domain import summaries
from rtk_sessions.domain.lifecycle import sweep
from rtk_sessions.storage.engine import Database

log = logging.getLogger("rtk_sessions")

PREFIX = "/client/v4/accounts/{account_id}/realtime/kit"


class Sweeper:
    """Background thread: leaves stale peers and ends idle sessions every ``sweep_interval_secs``."""

    def __init__(self, db: Database, settings: Settings) -> None:
        self.db, self.settings = db, settings
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rtk-sweeper", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def run_once(self) -> list[str]:
        with self.db.unit_of_work() as session:
            now = utc_now()
            ended = sweep(
                session,
                now=now,
                peer_timeout=timedelta(seconds=self.settings.peer_timeout_secs),
            )
            # meetings.summarize_on_end: queued in the same transaction that ends the session
            summaries.summarize_ended(
                session, ended, now=now, max_attempts=self.settings.job_max_attempts
            )
            return ended

    def _run(self) -> None:
        while not self._stop.wait(self.settings.sweep_interval_secs):
            try:
                self.run_once()
            except Exception:  # keep sweeping; a transient database error must not stop it
                log.exception("sweep failed")


def create_app(settings: Settings | None = None, *, background: bool = True) -> FastAPI:
    """The service. ``background=False`` leaves out the sweeper (tests drive it by hand)."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db = Database(settings.resolved_database_url())
        app.state.db = db
        app.state.settings = settings
        app.state.secret = settings.resolved_secret()
        app.state.sweeper = Sweeper(db, settings)
        conversation.start(app, db, settings, app.state.secret, background=background)
        if background:
            app.state.sweeper.start()
        try:
            yield
        finally:
            if background:
                app.state.sweeper.stop()
            conversation.stop(app, background=background)
            db.dispose()

    app = FastAPI(
        title="rtk-sessions",
        version=__version__,
        description="The Cloudflare RealtimeKit Sessions API, self-hosted and computed from real "
        "call data. Point the official SDKs at http://HOST:PORT/client/v4.",
        lifespan=lifespan,
    )
    envelope.install(app)
    kit = APIRouter(prefix=PREFIX)
    kit.include_router(apps.router)
    kit.include_router(sessions.router)
    kit.include_router(ingest.router)
    kit.include_router(meetings.router)
    app.include_router(kit)
    app.include_router(conversation.router)
    app.include_router(browser.router)
    app.include_router(health.router)
    app.add_middleware(browser.IngestCORS)
    return app
