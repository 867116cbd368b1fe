"""``rtk-sessions import`` and ``rtk-sessions prune``: recorded calls in, old raw samples out."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from rtk_sessions.cli.common import database_url_option, load_settings, main, open_database


@main.command("import")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--account", "account_id", required=True)
@click.option("--app", "app_id", required=True)
@click.option("--meeting-title", default=None)
@database_url_option
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
    from rtk_sessions.cli.common import fail
    from rtk_sessions.importers import RecordingFormatError
    from rtk_sessions.importers.service import import_recordings

    settings = load_settings(database_url)
    database = open_database(settings)
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
    except RecordingFormatError as exc:
        fail(str(exc))
    finally:
        database.dispose()
    if as_json:
        click.echo(json.dumps(result.as_dict()))
    else:
        click.echo(f"session {result.session_id}")
        for peer_id, name in result.peers:
            click.echo(f"  peer {peer_id}  {name}")


@main.command()
@database_url_option
@click.option(
    "--days",
    type=click.FloatRange(min=0, min_open=True),
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

    settings = load_settings(database_url)
    database = open_database(settings)
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
