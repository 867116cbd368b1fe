"""A live two-Chromium call (rtk_sessions.livecall, as in tests/live) seen in the dashboard while it
happens and afterwards: the LIVE session appears in the list by itself, its page refreshes by
itself, and the participants' charts carry the API's numbers."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from rtk_sessions.livecall import CallResult, run_call
from tests.conftest import LiveServer, make_tenant
from tests.dashboard.conftest import CHROMIUM, Dash, Watched
from tests.dashboard.test_dashboard import _check_charts
from tests.live.test_live_sdk import setup_meeting

pytestmark = pytest.mark.browser


def test_live_call_in_the_dashboard(live_server: LiveServer, watched: Watched) -> None:
    tenant = make_tenant(live_server, "live-dashboard")
    dash = Dash(live_server, tenant, None, live_server.database_url.startswith("sqlite"))  # type: ignore[arg-type]
    meeting, a, b = setup_meeting(tenant, "Live call in the dashboard")
    endpoint = f"{live_server.url}/client/v4/accounts/{tenant.account_id}/realtime/kit/{tenant.app_id}/ingest"
    result: list[CallResult] = []
    errors: list[BaseException] = []

    def call() -> None:
        try:
            result.append(
                run_call(
                    endpoint=endpoint,
                    tokens=(a.token, b.token),
                    meeting_id=meeting.id,
                    participants=({"display_name": "Alice"}, {"display_name": "Bob"}),
                    chromium=CHROMIUM,
                    duration_s=30,
                )
            )
        except BaseException as exc:  # reported by the test thread
            errors.append(exc)

    watched.sign_in(tenant.token)
    watched.goto("#/sessions?status=LIVE")
    page = watched.page
    assert page.evaluate("window.rtkDashboard.page.total") == 0
    thread = threading.Thread(target=call)
    thread.start()
    try:
        # the list refreshes by itself: the call's session shows up as LIVE
        page.wait_for_function("() => window.rtkDashboard.page.total === 1", timeout=90_000)
        session_id = page.evaluate("window.rtkDashboard.page.ids[0]")
        page.wait_for_selector("span.badge.live")
        watched.screenshot("sessions-live", dash, full_page=False)
        watched.goto(f"#/session/{session_id}")
        page.wait_for_function(
            "() => window.rtkDashboard.page.peers && window.rtkDashboard.page.peers.length === 2",
            timeout=60_000,
        )
        first = page.evaluate("window.rtkDashboard.page.refreshedAt")
        page.wait_for_function(
            "t => window.rtkDashboard.page.refreshedAt > t", arg=first, timeout=30_000
        )
        assert page.locator("#participants tbody tr").count() == 2
        watched.screenshot("session-live", dash)
    finally:
        thread.join(timeout=240)
    assert not errors, errors
    assert result and result[0].ok, [(p.role, p.error) for p in result[0].peers] if result else None
    # after the keep-alive the sweeper ends the session; the open page follows by itself
    page.wait_for_function("() => window.rtkDashboard.page.status === 'ENDED'", timeout=90_000)
    peers = page.evaluate("window.rtkDashboard.page.peers")
    assert sorted(peers) == sorted(p.peer_id for p in result[0].peers)
    for peer in peers:
        report = _check_charts(dash, watched, peer)
        quality: dict[str, Any] = report["peer_report"]["quality"]
        for kind in ("audio_producer", "video_producer", "audio_consumer", "video_consumer"):
            assert len(quality[kind]) >= 5, kind
        assert page.evaluate("Object.keys(window.rtkDashboard.charts).length") >= 20
    watched.screenshot("participant-live", dash)
