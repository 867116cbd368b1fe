"""What every command shares: the ``main`` group, which turns every user error into one line on
stderr and a non-zero exit status, the ``--database-url`` option, settings and the database.

Heavy modules (SQLAlchemy, the app) are imported inside the functions, so ``--help`` stays fast.

User errors and what the line says (exit status 1; a bad flag or argument exits 2, as click does):

- a setting from the environment or a flag that does not validate (``RTK_PEER_TIMEOUT_SECS=abc``):
  the variable, the value's problem, and docs/configuration.md;
- a database URL that does not parse, names an unknown dialect or a driver that is not installed,
  or a database that does not answer: what was wrong, with the URL's password hidden;
- an unknown migration revision; a file or directory that cannot be created or read;
- any ``RtkError`` the domain raises (an account id too long, an unknown app, ...).

Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

from rtk_sessions import __version__

if TYPE_CHECKING:
    from rtk_sessions.config import Settings
    from rtk_sessions.storage.engine import Database

F = TypeVar("F", bound=Callable[..., Any])

DOCS_CONFIGURATION = "docs/configuration.md"


class CliError(click.ClickException):
    """A user error: printed as ``Error: <message>`` on one line, exit status 1."""


def fail(message: str) -> NoReturn:
    """Stop the command with ``message`` (one line, exit status 1)."""
    raise CliError(message)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def hide_password(url: str) -> str:
    """``url`` with its password replaced by ``***`` (unparseable URLs: their scheme only)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        scheme, sep, _ = url.partition("://")
        return f"{scheme}://…" if sep else "(not a URL)"


def settings_error_line(exc: Any) -> str:
    """One line for a pydantic ``ValidationError`` of ``Settings``: each bad field as its
    environment variable, the value (unless it is a secret) and pydantic's reason."""
    parts = []
    for error in exc.errors():
        loc = ".".join(str(part) for part in error.get("loc", ()))
        name = f"RTK_{loc.upper()}" if loc else "settings"
        value = error.get("input")
        secret = "secret" in loc or "key" in loc or "url" in loc
        shown = "" if not loc or secret or isinstance(value, dict) else f"={value!r}"
        reason = str(error.get("msg", "invalid")).removeprefix("Value error, ")
        parts.append(f"{name}{shown}: {reason}")
    return f"{'; '.join(parts)} (settings: {DOCS_CONFIGURATION})"


def user_error_line(exc: BaseException, database_url: str | None = None) -> str | None:
    """The one-line message for a user error, or None when ``exc`` is not one (a bug)."""
    from alembic.util.exc import CommandError
    from pydantic import ValidationError
    from sqlalchemy import exc as sa

    from rtk_sessions.errors import RtkError

    where = f" at {hide_password(database_url)}" if database_url else ""
    if isinstance(exc, RtkError):
        return exc.message
    if isinstance(exc, ValidationError) and exc.title == "Settings":
        return settings_error_line(exc)
    if isinstance(exc, sa.NoSuchModuleError):
        dialect = str(exc).rpartition(":")[2].strip() or "?"
        return (
            f"unknown database driver {dialect!r} in the database URL: use "
            "postgresql://user@host:5432/db or sqlite:////path/to/rtk.db (--database-url, "
            "RTK_DATABASE_URL)"
        )
    if isinstance(exc, sa.ArgumentError):
        return (
            "the database URL does not parse: use postgresql://user@host:5432/db or "
            "sqlite:////path/to/rtk.db (--database-url, RTK_DATABASE_URL)"
        )
    if isinstance(exc, ModuleNotFoundError) and database_url is not None:
        return (
            f"the database driver {exc.name!r} is not installed: rtk-sessions speaks "
            "postgresql:// (psycopg) and sqlite:///"
        )
    if isinstance(exc, sa.OperationalError | sa.InterfaceError):
        reason = _one_line(str(exc.orig) if exc.orig is not None else str(exc))
        return f"cannot use the database{where}: {reason}"
    if isinstance(exc, CommandError):
        return f"migrations: {_one_line(str(exc))} (rtk-sessions db current; db upgrade)"
    if isinstance(exc, OSError) and exc.filename is not None:
        return f"{exc.filename}: {exc.strerror or exc}"
    return None


class OneLineGroup(click.Group):
    """A click group whose user errors are one line on stderr: click's own usage errors (a bad
    flag, a value that is not a number, a choice not offered) and the errors ``user_error_line``
    recognizes. Exit status: 2 for usage errors, 1 for the others."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as exc:
            url = ctx.meta.get("rtk.database_url")
            line = user_error_line(exc, url)
            if line is None:
                raise
            raise CliError(line) from exc

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode, **extra)
        try:
            rv = super().main(args, prog_name, complete_var, False, **extra)
        except click.exceptions.NoArgsIsHelpError as exc:
            click.echo(exc.format_message())
            sys.exit(0)
        except click.UsageError as exc:
            hint = ""
            if exc.ctx is not None:
                hint = f" (see: {exc.ctx.command_path} --help)"
            click.echo(f"Error: {_one_line(exc.format_message())}{hint}", err=True)
            sys.exit(exc.exit_code)
        except click.ClickException as exc:
            click.echo(f"Error: {_one_line(exc.format_message())}", err=True)
            sys.exit(exc.exit_code)
        except click.Abort:
            click.echo("Aborted!", err=True)
            sys.exit(1)
        sys.exit(rv if isinstance(rv, int) else 0)


@click.group(cls=OneLineGroup)
@click.version_option(__version__)
def main() -> None:
    """rtk-sessions: the RealtimeKit Sessions API, self-hosted, from real call data."""


def _remember_url(ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    if value:
        ctx.find_root().meta["rtk.database_url"] = value
    return value


def database_url_option(f: F) -> F:
    """``--database-url`` (env ``RTK_DATABASE_URL``)."""
    option = click.option(
        "--database-url",
        envvar="RTK_DATABASE_URL",
        default=None,
        callback=_remember_url,
        help="postgresql://user@host/db, or a SQLAlchemy URL. Default: SQLite in the data "
        "directory (RTK_DATA_DIR).",
    )
    return option(f)


def load_settings(database_url: str | None) -> Settings:
    """``Settings`` from the environment, ``--database-url`` over ``RTK_DATABASE_URL``. A bad
    setting raises pydantic's ValidationError, which ``main`` prints as one line."""
    from rtk_sessions.config import Settings

    settings = Settings()
    if database_url:
        settings = settings.model_copy(update={"database_url": database_url})
    ctx = click.get_current_context(silent=True)
    if ctx is not None:
        ctx.find_root().meta["rtk.database_url"] = settings.resolved_database_url()
    return settings


def open_database(settings: Settings, *, migrate: bool = True) -> Database:
    """The database of ``settings``, migrated to head unless ``migrate`` is false. Connects once,
    so that a URL that cannot be used fails here (as one line) rather than in the middle of the
    command."""
    from sqlalchemy import text

    from rtk_sessions import migrations
    from rtk_sessions.storage.engine import Database

    url = settings.resolved_database_url()
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///").partition("?")[0]).parent.mkdir(
            parents=True, exist_ok=True
        )
    if migrate:
        migrations.upgrade(url)
    database = Database(url)
    try:
        with database.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except BaseException:
        database.dispose()
        raise
    return database
