"""``rtk-sessions demo``: a real two-browser call against a running service."""

from __future__ import annotations

import re
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
    # The demo looks at the session once the browsers have closed; the meeting's keep-alive is
    # 5 s, so on a loaded machine the session may have ended already by then: LIVE or ENDED,
    # with both participants counted, then ENDED.
    first, *_ = re.findall(r"^session \S+: (\w+), peak (\d+) participants$", done.stdout, re.M)
    assert first[0] in ("LIVE", "ENDED") and first[1] == "2", done.stdout
    assert re.search(r"^session \S+: ENDED \(keep-alive 5 s\)", done.stdout, re.M), done.stdout
    sessions = tenant.sdk().realtime_kit.sessions.get_sessions(
        tenant.app_id, account_id=tenant.account_id
    )
    [session] = sessions.data.sessions
    assert session.status == "ENDED" and session.max_concurrent_participants == 2
    assert session.meeting_display_name == "Demo call"
