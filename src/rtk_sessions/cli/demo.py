"""``rtk-sessions demo``: a real two-browser call against a running service."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import click

from rtk_sessions.cli.common import fail, main

DEFAULT_URL = "http://127.0.0.1:8787"


def saved_demo_files() -> list[Path]:
    """Where ``scripts/run`` saves the service's URL and a demo account (``demo.json``), most
    specific first: ``$RTK_DATA_DIR/demo.json`` (the settings' data directory), then
    ``./data/demo.json`` when RTK_DATA_DIR is not set (scripts/run's default, run from the
    repository root)."""
    from rtk_sessions.config import Settings

    files = [Settings().data_dir / "demo.json"]
    if not os.environ.get("RTK_DATA_DIR"):
        files.append(Path("data") / "demo.json")
    return files


def saved_demo() -> dict[str, str]:
    """The first ``demo.json`` of ``saved_demo_files`` as a dict of strings (keys ``url``,
    ``account_id``, ``app_id``, ``token``; any may be missing); {} when there is none.
    A file that is not a JSON object is a user error (one line)."""
    for path in saved_demo_files():
        if path.is_file():
            try:
                known = json.loads(path.read_text())
            except ValueError:
                fail(f"{path} is not JSON: delete it and run scripts/run again")
            if not isinstance(known, dict):
                fail(f"{path} is not a JSON object: delete it and run scripts/run again")
            return {k: str(v) for k, v in known.items() if v is not None}
    return {}


@main.command()
@click.option(
    "--url",
    default=None,
    help=f"The running service. Default: the one scripts/run started (the url in its "
    f"demo.json), else {DEFAULT_URL}.",
)
@click.option(
    "--account", "account_id", default=None, help="Default: from $RTK_DATA_DIR/demo.json."
)
@click.option("--app", "app_id", default=None)
@click.option("--token", default=None, help="API token of the account.")
@click.option(
    "--duration",
    default=20.0,
    show_default=True,
    type=click.FloatRange(min=1),
    help="Seconds the call lasts.",
)
@click.option("--chromium", default="/usr/bin/chromium", show_default=True)
def demo(
    url: str | None,
    account_id: str | None,
    app_id: str | None,
    token: str | None,
    duration: float,
    chromium: str,
) -> None:
    """Run a real two-browser call (headless Chromium) against the running service.

    Creates a meeting and two participants through the API, lets two browsers join with their
    participant tokens and the collector, and follows the session from LIVE to ENDED.
    """
    import shutil
    import time

    import httpx

    if not (Path(chromium).exists() or shutil.which(chromium)):
        fail(
            f"{chromium} not found: a real call needs Chromium. On Debian/Ubuntu, as root: "
            "scripts/install-chromium (or apt-get install chromium)"
        )
    known = saved_demo()
    url = url or known.get("url") or DEFAULT_URL
    if not (account_id and app_id and token):
        account_id = account_id or known.get("account_id")
        app_id = app_id or known.get("app_id")
        token = token or known.get("token")
    if not (account_id and app_id and token):
        fail("give --account, --app and --token (or run scripts/run first, which saves them)")
    from rtk_sessions.livecall import run_call

    base = f"{url.rstrip('/')}/client/v4/accounts/{account_id}/realtime/kit/{app_id}"
    api = httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=30)

    def call_api(method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = api.request(method, base + path, **kwargs)
        except httpx.HTTPError as exc:
            fail(f"cannot reach {url}: {exc} (is `rtk-sessions serve` running? --url)")
        if response.status_code != 200:
            fail(f"{method} {path}: {response.status_code} {response.text}")
        return response.json()["data"]

    meeting = call_api(
        "POST", "/meetings", json={"title": "Demo call", "session_keep_alive_time_in_secs": 5}
    )
    people = [
        call_api(
            "POST",
            f"/meetings/{meeting['id']}/participants",
            json={
                "custom_participant_id": who.lower(),
                "preset_name": "group_call_host",
                "name": who,
            },
        )
        for who in ("Ada", "Grace")
    ]
    click.echo(
        f"meeting {meeting['id']}: two headless Chromium browsers join for {duration:.0f} s ..."
    )
    result = run_call(
        endpoint=f"{base}/ingest",
        tokens=(people[0]["token"], people[1]["token"]),
        meeting_id=meeting["id"],
        participants=({"display_name": "Ada"}, {"display_name": "Grace"}),
        duration_s=duration,
        chromium=chromium,
    )
    if not result.ok:
        fail(
            "the call failed: "
            + "; ".join(f"{p.role}: {p.error}" for p in result.peers if not p.ok)
        )
    sessions = call_api("GET", "/sessions", params={"associated_id": meeting["id"]})["sessions"]
    session = sessions[0]
    click.echo(
        f"session {session['id']}: {session['status']}, "
        f"peak {session['max_concurrent_participants']} participants"
    )
    deadline = time.monotonic() + 30
    while session["status"] != "ENDED" and time.monotonic() < deadline:
        time.sleep(1)
        session = call_api("GET", f"/sessions/{session['id']}")
    click.echo(
        f"session {session['id']}: {session['status']} (keep-alive 5 s), "
        f"{session['minutes_consumed']} participant-minutes"
    )
    for p in call_api("GET", f"/sessions/{session['id']}/participants")["participants"]:
        report = call_api("GET", f"/sessions/peer-report/{p['id']}")["participant"]["peer_report"][
            "quality"
        ]
        rtt = (report.get("video_producer_cumulative") or {}).get("rtt", {}).get("avg")
        mos = (report.get("audio_consumer_cumulative") or {}).get("quality_mos", {}).get("avg")
        click.echo(
            f"  {p['display_name']:6} {p['duration']:.4f} min  "
            f"video RTT avg {rtt} ms  audio MOS avg {mos}"
        )
    click.echo(f"peer reports: GET {base}/sessions/peer-report/<peer id>")
