"""Playwright (sync API) over the dashboard, in Debian's Chromium, on the live server of
tests/conftest.py (SQLite and PostgreSQL through the ``database_url`` parameters).

Every page runs with route interception: a request to any host other than 127.0.0.1/localhost is
aborted and recorded, and the test fails; so does any console error or uncaught page error.
Screenshots go to ``docs/screenshots/`` (``RTK_DASHBOARD_SCREENSHOTS`` overrides), from the SQLite
run only, so that the committed pictures come from one deterministic run.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.conftest import LiveServer, Tenant, make_tenant
from tests.dashboard.data import Imported, import_real, ingest_long_peer, post_standup

CHROMIUM = os.environ.get("RTK_CHROMIUM", "/usr/bin/chromium")
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}
SCREENSHOTS = Path(
    os.environ.get(
        "RTK_DASHBOARD_SCREENSHOTS", Path(__file__).resolve().parents[2] / "docs" / "screenshots"
    )
)


@pytest.fixture(scope="module")
def chromium_browser() -> Iterator[Any]:
    """Headless Chromium through Playwright's sync API, per test module: a sync Playwright left
    running for the session keeps its event loop on the main thread, and the next
    ``sync_playwright()`` (tests/live's webrtc-internals recorder) refuses to start inside it."""
    if not (os.path.exists(CHROMIUM) or shutil.which(CHROMIUM)):
        pytest.skip(f"{CHROMIUM} not found: run scripts/install-chromium (as root)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        yield browser
        browser.close()


@dataclass
class Dash:
    """A tenant with imported real recordings and a 2-hour peer, on one live server."""

    server: LiveServer
    tenant: Tenant
    data: Imported
    sqlite: bool

    @property
    def url(self) -> str:
        return self.server.url

    def api(self, path: str, **params: Any) -> Any:
        """GET a public API path under the app (``/sessions...``) with the tenant's token."""
        import httpx

        base = f"{self.server.base_url}/accounts/{self.tenant.account_id}/realtime/kit/{self.tenant.app_id}"
        r = httpx.get(
            base + path,
            params=params,
            headers={"Authorization": f"Bearer {self.tenant.token}"},
            timeout=60,
        )
        assert r.status_code == 200, r.text
        return r.json()


@pytest.fixture(scope="session")
def dash(live_server: LiveServer) -> Dash:
    tenant = make_tenant(live_server, "dashboard")
    data = import_real(
        live_server.database(), live_server.settings, tenant.account_id, tenant.app_id
    )
    data.long_peer = ingest_long_peer(
        live_server.url, tenant.account_id, tenant.app_id, tenant.token
    )
    data.standup = post_standup(live_server.url, tenant.account_id, tenant.app_id, tenant.token)
    dash = Dash(live_server, tenant, data, live_server.database_url.startswith("sqlite"))
    request_summary(dash, data.standup.session_id)
    return dash


def request_summary(dash: Dash, session_id: str) -> None:
    """Wait for the session to end (the sweeper), ask for its summary and wait for it."""
    import httpx

    from tests.servers import wait_until

    base = f"{dash.server.base_url}/accounts/{dash.tenant.account_id}/realtime/kit/{dash.tenant.app_id}/sessions/{session_id}"
    headers = {"Authorization": f"Bearer {dash.tenant.token}"}
    wait_until(
        "the session to end",
        lambda: httpx.get(base, headers=headers).json()["data"]["status"] == "ENDED",
    )
    httpx.post(base + "/summary", headers=headers).raise_for_status()
    wait_until(
        "the summary", lambda: httpx.get(base + "/summary", headers=headers).status_code == 200
    )


@dataclass
class Watched:
    """A page and what it did wrong: console errors, page errors, requests that left the machine."""

    page: Any
    base: str
    console_errors: list[str] = field(default_factory=list)
    external: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)

    def goto(self, route: str) -> None:
        """Open ``/dashboard{route}`` (a ``#/...`` route) and wait until the view is drawn."""
        if self.page.url.startswith(self.base + "/dashboard") and route.startswith("#"):
            self.page.evaluate("delete document.body.dataset.ready")
            self.page.evaluate("r => { location.hash = r }", route)
        else:
            self.page.goto(f"{self.base}/dashboard{route}")
        self.page.wait_for_selector("body[data-ready]", timeout=60_000)

    def sign_in(self, token: str) -> None:
        self.page.goto(f"{self.base}/dashboard")
        self.page.get_by_label("API token").fill(token)
        self.page.get_by_role("button", name="Sign in").click()
        self.page.wait_for_selector("body[data-ready]", timeout=60_000)

    def screenshot(self, name: str, dash: Dash, full_page: bool = True) -> None:
        if dash.sqlite:
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            self.page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=full_page)

    def check(self) -> None:
        assert not self.external, f"requests left the machine: {self.external}"
        assert not self.console_errors, f"console errors: {self.console_errors}"


@pytest.fixture
def watched(chromium_browser: Any, live_server: LiveServer) -> Iterator[Watched]:
    context = chromium_browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    w = Watched(page, live_server.url)

    def route(r: Any) -> None:
        url = r.request.url
        host = urlsplit(url).hostname or ""
        if url.startswith(("data:", "blob:")) or host in LOCAL_HOSTS:
            w.requests.append(url)
            r.continue_()
        else:
            w.external.append(url)
            r.abort()

    context.route("**/*", route)
    page.on("console", lambda m: w.console_errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: w.console_errors.append(f"page error: {e}"))
    yield w
    context.close()
    w.check()
