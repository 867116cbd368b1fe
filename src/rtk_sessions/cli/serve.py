"""``rtk-sessions serve``: migrations, then the API under /client/v4 (uvicorn), with logs that
never carry credentials."""

from __future__ import annotations

import logging
import re
from typing import Any

import click

from rtk_sessions import __version__
from rtk_sessions.cli.common import (
    database_url_option,
    fail,
    load_settings,
    main,
    open_database,
)

#: uvicorn's log levels (``trace`` is below ``debug``).
LOG_LEVELS = ("critical", "error", "warning", "info", "debug", "trace")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8787, show_default=True, type=int)
@database_url_option
@click.option(
    "--log-level",
    type=click.Choice(LOG_LEVELS, case_sensitive=False),
    default="info",
    show_default=True,
)
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
    from rtk_sessions.serving import NoDelayHttpToolsProtocol

    log_level = log_level.lower()
    settings = load_settings(database_url)
    check_listen(host, port)
    open_database(settings, migrate=migrate).dispose()
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
            http=NoDelayHttpToolsProtocol,  # see rtk_sessions.serving
            log_level=log_level,
            log_config=observability.log_format(_log_config(log_level), log_format),
        )
    finally:
        if metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)


def check_listen(host: str, port: int) -> None:
    """Stop with one line when ``host:port`` cannot be listened on (in use, not an address of
    this machine, a privileged port), before migrations run; bound the way uvicorn binds
    (``SO_REUSEADDR``), then released for uvicorn."""
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            fail(f"cannot listen on {host}:{port}: {exc.strerror or exc} (--host, --port)")
        except (OverflowError, ValueError) as exc:  # a port above 65535
            fail(f"cannot listen on {host}:{port}: {exc} (--host, --port)")


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
    """uvicorn's logging configuration, plus our ``rtk_sessions`` loggers at ``log_level`` (one of
    ``LOG_LEVELS``); every handler redacts credentials in URLs (``RedactCredentials``). uvicorn
    applies it in each worker process."""
    import copy

    from uvicorn.config import LOGGING_CONFIG

    config: dict[str, Any] = copy.deepcopy(LOGGING_CONFIG)
    config.setdefault("filters", {})["redact"] = {"()": f"{__name__}.RedactCredentials"}
    for handler in config["handlers"].values():
        handler.setdefault("filters", []).append("redact")
    level = "DEBUG" if log_level.lower() == "trace" else log_level.upper()
    config["loggers"]["rtk_sessions"] = {
        "handlers": ["default"],
        "level": level,
        "propagate": False,
    }
    return config
