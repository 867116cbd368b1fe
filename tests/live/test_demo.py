"""``rtk-sessions demo``: a real two-browser call against a running service."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

from tests.conftest import LiveServer, make_tenant


def run_demo(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rtk_sessions", "demo", *args],
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
        check=False,
    )


def test_demo_without_chromium_says_how_to_install(tmp_path: Any) -> None:
    done = run_demo(
        "--chromium", str(tmp_path / "no-chromium"), "--account", "a", "--app", "b", "--token", "c"
    )
    assert done.returncode == 1
    assert "needs Chromium" in done.stderr and "scripts/install-chromium" in done.stderr


@pytest.mark.browser
def test_demo_call_appears_and_ends(live_server: LiveServer, need_chromium: str) -> None:
    tenant = make_tenant(live_server, "demo")
    done = run_demo(
        "--url",
        live_server.url,
        "--account",
        tenant.account_id,
        "--app",
        tenant.app_id,
        "--token",
        tenant.token,
        "--duration",
        "10",
        "--chromium",
        need_chromium,
    )
    assert done.returncode == 0, done.stderr
    assert "LIVE, peak 2 participants" in done.stdout and "ENDED" in done.stdout
    sessions = tenant.sdk().realtime_kit.sessions.get_sessions(
        tenant.app_id, account_id=tenant.account_id
    )
    [session] = sessions.data.sessions
    assert session.status == "ENDED" and session.max_concurrent_participants == 2
    assert session.meeting_display_name == "Demo call"
