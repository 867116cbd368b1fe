"""The ``rtk-sessions`` command. Heavy modules are imported inside the commands."""

from __future__ import annotations

import json
import logging
import re
import sys
from pathlib import Path
from typing import Any

import click

from rtk_sessions import __version__

DATABASE_URL = click.option(
    "--database-url",
    envvar="RTK_DATABASE_URL",
    default=None,
    help="postgresql://user@host/db, or a SQLAlchemy URL. Default: SQLite in the data directory.",
)


def _settings(database_url: str | None) -> Any:
    from rtk_sessions.config import Settings

    settings = Settings()
    if database_url:
        settings = settings.model_copy(update={"database_url": database_url})
    return settings


def _database(settings: Any, *, migrate: bool = True) -> Any:
    from rtk_sessions import migrations
    from rtk_sessions.storage.engine import Database

    url = settings.resolved_database_url()
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    if migrate:
        migrations.upgrade(url)
    return Database(url)


def _fail(message: str) -> None:
    click.echo(f"Error: {message}", err=True)
    sys.exit(1)


@click.group()
@click.version_option(__version__)
def main() -> None:
    """rtk-sessions: the RealtimeKit Sessions API, self-hosted, from real call data."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8787, show_default=True, type=int)
@DATABASE_URL
@click.option("--log-level", default="info", show_default=True)
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(min=1),
    help="Server processes on this port (uvicorn workers). Background work is shared across "
    "them and across other servers of the same database: docs/deployment.md.",
)
@click.option(
    "--migrate/--no-migrate",
    default=True,
    show_default=True,
    help="Apply migrations before serving (once, under a lock, even when several servers start "
    "together). --no-migrate: the schema is upgraded elsewhere (rtk-sessions db upgrade).",
)
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    envvar="RTK_LOG_FORMAT",
    help="json: one JSON object a line, with the request id (env RTK_LOG_FORMAT).",
)
def serve(
    host: str,
    port: int,
    database_url: str | None,
    log_level: str,
    workers: int,
    migrate: bool,
    log_format: str,
) -> None:
    """Apply migrations and serve the API under /client/v4."""
    import os
    import shutil
    import tempfile

    import uvicorn

    from rtk_sessions import observability
    from rtk_sessions.serving import NoDelayH11Protocol

    settings = _settings(database_url)
    _database(settings, migrate=migrate).dispose()
    # The workers build the app from the environment (rtk_sessions.app:app_from_env): pass the
    # options on, and create the server secret here so that they cannot race to generate it.
    os.environ["RTK_DATABASE_URL"] = settings.resolved_database_url()
    settings.resolved_secret()
    click.echo(
        observability.plain_line(
            f"rtk-sessions {__version__} on http://{host}:{port}/client/v4"
            + (f" ({workers} workers)" if workers > 1 else ""),
            log_format,
        ),
        err=True,
    )
    metrics_dir = None
    if workers > 1:  # the workers share their metrics through files in a fresh directory
        metrics_dir = tempfile.mkdtemp(prefix="rtk-metrics-")
        os.environ[observability.MULTIPROC_ENV] = metrics_dir
    try:
        uvicorn.run(
            "rtk_sessions.app:app_from_env",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            http=NoDelayH11Protocol,  # see rtk_sessions.serving: ~40 ms a request without it
            log_level=log_level,
            log_config=observability.log_format(_log_config(log_level), log_format),
        )
    finally:
        if metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)


_CREDENTIAL_PARAM = re.compile(r"([?&](?:token|sig)=)[^&\s\"#]*", re.IGNORECASE)


def redact_credentials(text: str) -> str:
    """``text`` with the values of ``token`` and ``sig`` query parameters replaced by
    ``[redacted]`` (participant tokens of beacons, signatures of download URLs)."""
    return _CREDENTIAL_PARAM.sub(r"\1[redacted]", text)


class RedactCredentials(logging.Filter):
    """A logging filter for every handler of ``serve``: uvicorn's access log writes whole URLs,
    query strings included; this rewrites the record's message and arguments so no ``token`` or
    ``sig`` value reaches a log line."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact_credentials(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(
                redact_credentials(a) if isinstance(a, str) else a for a in record.args
            )
        return True


def _log_config(log_level: str) -> dict[str, Any]:
    """uvicorn's logging configuration, plus our ``rtk_sessions`` loggers at ``log_level``; every
    handler redacts credentials in URLs (``RedactCredentials``). uvicorn applies it in each
    worker process."""
    import copy

    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config.setdefault("filters", {})["redact"] = {"()": "rtk_sessions.cli.RedactCredentials"}
    for handler in config["handlers"].values():
        handler.setdefault("filters", []).append("redact")
    level = "DEBUG" if log_level.lower() == "trace" else log_level.upper()
    config["loggers"]["rtk_sessions"] = {
        "handlers": ["default"],
        "level": level,
        "propagate": False,
    }
    return config


@main.group()
def db() -> None:
    """Database schema (Alembic migrations, one tree for SQLite and PostgreSQL)."""


@db.command("upgrade")
@DATABASE_URL
@click.option("--revision", default="head", show_default=True)
def db_upgrade(database_url: str | None, revision: str) -> None:
    """Apply migrations up to REVISION."""
    from rtk_sessions import migrations

    settings = _settings(database_url)
    _database(settings, migrate=False).dispose()
    migrations.upgrade(settings.resolved_database_url(), revision)
    click.echo(f"Database at {migrations.current(settings.resolved_database_url())}")


@db.command("current")
@DATABASE_URL
def db_current(database_url: str | None) -> None:
    """Print the applied migration revision."""
    from rtk_sessions import migrations

    click.echo(migrations.current(_settings(database_url).resolved_database_url()) or "(empty)")


@main.group()
def apps() -> None:
    """RealtimeKit apps."""


@apps.command("create")
@click.option("--account", "account_id", required=True, help="Account id (at most 32 characters).")
@click.option("--name", required=True)
@DATABASE_URL
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def apps_create(account_id: str, name: str, database_url: str | None, as_json: bool) -> None:
    """Create an app and print its id."""
    from rtk_sessions.domain import accounts
    from rtk_sessions.errors import RtkError

    database = _database(_settings(database_url))
    try:
        with database.unit_of_work() as s:
            app = accounts.create_app(s, account_id, name)
            app_id = app.id
    except RtkError as exc:
        _fail(exc.message)
    finally:
        database.dispose()
    click.echo(
        json.dumps({"id": app_id, "account_id": account_id, "name": name}) if as_json else app_id
    )


@main.group()
def tokens() -> None:
    """API tokens (Authorization: Bearer)."""


@tokens.command("create")
@click.option("--account", "account_id", required=True)
@click.option("--name", default=None)
@DATABASE_URL
@click.option("--json", "as_json", is_flag=True)
def tokens_create(
    account_id: str, name: str | None, database_url: str | None, as_json: bool
) -> None:
    """Create an API token for an account and print it (it is stored hashed; keep it)."""
    from rtk_sessions.domain import accounts
    from rtk_sessions.errors import RtkError

    database = _database(_settings(database_url))
    try:
        with database.unit_of_work() as s:
            token = accounts.create_token(s, account_id, name)
    except RtkError as exc:
        _fail(exc.message)
    finally:
        database.dispose()
    click.echo(json.dumps({"token": token, "account_id": account_id}) if as_json else token)


@main.command("import")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--account", "account_id", required=True)
@click.option("--app", "app_id", required=True)
@click.option("--meeting-title", default=None)
@DATABASE_URL
@click.option("--json", "as_json", is_flag=True)
def import_(
    files: tuple[str, ...],
    account_id: str,
    app_id: str,
    meeting_title: str | None,
    database_url: str | None,
    as_json: bool,
) -> None:
    """Import recordings of real calls (rtcstats, webrtc-internals dumps) as one session.

    Each recorded client becomes a peer. Events go through the same validation and ingestion code
    as live clients; importing the same files again changes nothing.
    """
    from rtk_sessions.errors import RtkError
    from rtk_sessions.importers import RecordingFormatError
    from rtk_sessions.importers.service import import_recordings

    settings = _settings(database_url)
    database = _database(settings)
    try:
        result = import_recordings(
            database,
            settings,
            [Path(f) for f in files],
            account_id=account_id,
            app_id=app_id,
            meeting_title=meeting_title,
            progress=not as_json and sys.stderr.isatty(),
        )
    except (RtkError, RecordingFormatError) as exc:
        _fail(str(getattr(exc, "message", exc)))
    finally:
        database.dispose()
    if as_json:
        click.echo(json.dumps(result.as_dict()))
    else:
        click.echo(f"session {result.session_id}")
        for peer_id, name in result.peers:
            click.echo(f"  peer {peer_id}  {name}")


@main.command()
@DATABASE_URL
@click.option(
    "--days",
    type=float,
    default=None,
    help="Keep this many days of raw samples (default: RTK_RETENTION_DAYS, 30).",
)
@click.option("--json", "as_json", is_flag=True)
def prune(database_url: str | None, days: float | None, as_json: bool) -> None:
    """Delete raw sample rows older than the retention period.

    Sessions, participants and the cumulative blocks of peer reports stay. On PostgreSQL whole
    daily partitions are dropped. The server also does this by itself every hour.
    """
    from rtk_sessions.clock import utc_now
    from rtk_sessions.domain.samples import prune as prune_samples

    settings = _settings(database_url)
    if days is not None and days <= 0:
        _fail("--days must be positive")
    database = _database(settings)
    try:
        with database.unit_of_work() as session:
            result = prune_samples(
                session, now=utc_now(), retention_days=days or settings.retention_days
            )
    finally:
        database.dispose()
    if as_json:
        click.echo(json.dumps(result.__dict__))
    else:
        click.echo(
            f"pruned samples received before day {result.cutoff_day}: "
            f"{len(result.partitions_dropped)} "
            f"daily partitions dropped, {result.blocks_deleted} blocks deleted"
        )


@main.command()
@click.option(
    "--url", default="http://127.0.0.1:8787", show_default=True, help="The running service."
)
@click.option(
    "--account", "account_id", default=None, help="Default: from $RTK_DATA_DIR/demo.json."
)
@click.option("--app", "app_id", default=None)
@click.option("--token", default=None, help="API token of the account.")
@click.option("--duration", default=20.0, show_default=True, help="Seconds the call lasts.")
@click.option("--chromium", default="/usr/bin/chromium", show_default=True)
def demo(
    url: str,
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

    from rtk_sessions.config import Settings

    if not (Path(chromium).exists() or shutil.which(chromium)):
        _fail(
            f"{chromium} not found: a real call needs Chromium. On Debian/Ubuntu, as root: "
            "scripts/install-chromium (or apt-get install chromium)"
        )
    saved = Settings().data_dir / "demo.json"
    if not (account_id and app_id and token) and saved.exists():
        known = json.loads(saved.read_text())
        account_id = account_id or known["account_id"]
        app_id = app_id or known["app_id"]
        token = token or known["token"]
    if not (account_id and app_id and token):
        _fail("give --account, --app and --token (or run scripts/run first, which saves them)")
    from rtk_sessions.livecall import run_call

    base = f"{url.rstrip('/')}/client/v4/accounts/{account_id}/realtime/kit/{app_id}"
    api = httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=30)

    def call_api(method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = api.request(method, base + path, **kwargs)
        except httpx.HTTPError as exc:
            _fail(f"cannot reach {url}: {exc} (is `rtk-sessions serve` running?)")
        if response.status_code != 200:
            _fail(f"{method} {path}: {response.status_code} {response.text}")
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
        _fail(
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
