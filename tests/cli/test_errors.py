"""Every user error of ``rtk-sessions`` is one line on stderr, saying what to fix, and a non-zero
exit status; never a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from rtk_sessions.cli import main

# (arguments, extra environment, a piece of the line, exit status)
MISTAKES: dict[str, tuple[list[str], dict[str, str], str, int]] = {
    "unparseable database URL": (
        ["db", "current", "--database-url", "not a url"],
        {},
        "the database URL does not parse",
        1,
    ),
    "unparseable database URL from the environment": (
        ["apps", "list", "--account", "a"],
        {"RTK_DATABASE_URL": "::"},
        "the database URL does not parse",
        1,
    ),
    "unknown driver": (
        ["db", "upgrade", "--database-url", "nosuch://host/db"],
        {},
        "unknown database driver 'nosuch'",
        1,
    ),
    "driver not installed": (
        ["apps", "create", "--account", "a", "--name", "n", "--database-url", "mysql://u@h/db"],
        {},
        "is not installed",
        1,
    ),
    "unreachable database": (
        ["tokens", "list", "--database-url", "postgresql://postgres:hunter2@127.0.0.1:1/x"],
        {},
        "cannot use the database at postgresql+psycopg://postgres:***@127.0.0.1:1/x",
        1,
    ),
    "database file in a directory that cannot exist": (
        ["db", "current"],
        {"RTK_DATA_DIR": "{tmp}/a-file/data"},
        "a-file",
        1,
    ),
    "non-numeric setting": (
        ["db", "current"],
        {"RTK_PEER_TIMEOUT_SECS": "soon"},
        "RTK_PEER_TIMEOUT_SECS='soon': Input should be a valid number",
        1,
    ),
    "setting out of range": (
        ["serve"],
        {"RTK_INGEST_MAX_EVENTS": "0"},
        "RTK_INGEST_MAX_EVENTS='0': Input should be greater than or equal to 1",
        1,
    ),
    "setting not one of its choices": (
        ["prune"],
        {"RTK_SUMMARIZER": "gpt"},
        "RTK_SUMMARIZER='gpt'",
        1,
    ),
    "incomplete settings": (
        ["db", "current"],
        {"RTK_SUMMARIZER": "openai"},
        "summarizer 'openai' needs RTK_OPENAI_BASE_URL and RTK_OPENAI_MODEL",
        1,
    ),
    "log level not a choice": (
        ["serve", "--log-level", "loud"],
        {},
        "'loud' is not one of 'critical', 'error', 'warning', 'info', 'debug', 'trace'",
        2,
    ),
    "non-numeric port": (["serve", "--port", "eighty"], {}, "'eighty' is not a valid integer", 2),
    "no workers": (["serve", "--workers", "0"], {}, "--workers", 2),
    "negative retention": (["prune", "--days", "-1"], {}, "--days", 2),
    "unknown flag": (["serve", "--colour"], {}, "No such option '--colour'", 2),
    "unknown command": (["serv"], {}, "No such command 'serv'", 2),
    "missing required option": (["apps", "create", "--name", "x"], {}, "'--account'", 2),
    "account id too long": (
        ["apps", "create", "--account", "a" * 33, "--name", "x"],
        {},
        "account_id must be 1 to 32 characters",
        1,
    ),
    "unknown app for an import": (
        ["import", "{fixture}", "--account", "a", "--app", "nope"],
        {},
        "App nope not found",
        1,
    ),
    "unknown migration revision": (
        ["db", "downgrade", "zzzz"],
        {},
        "Can't locate revision identified by 'zzzz'",
        1,
    ),
    "unknown token": (
        ["tokens", "revoke", "no-such-id", "--account", "a"],
        {},
        "no API token no-such-id in account a",
        1,
    ),
}

FIXTURE = (
    Path(__file__).parent.parent
    / "fixtures/real-stats/jitsi-rtcstats_google-standard-stats-p2p.rtcstats.jsonl"
)


def _fill(text: str, tmp: Path) -> str:
    return text.replace("{tmp}", str(tmp)).replace("{fixture}", str(FIXTURE))


@pytest.mark.parametrize("mistake", list(MISTAKES))
def test_mistake_is_one_line(mistake: str, tmp_path: Path) -> None:
    args, extra_env, expected, status = MISTAKES[mistake]
    (tmp_path / "a-file").write_text("not a directory")
    env = {"RTK_DATA_DIR": str(tmp_path / "data"), "RTK_DATABASE_URL": None}
    env |= {k: _fill(v, tmp_path) for k, v in extra_env.items()}
    result = CliRunner().invoke(main, [_fill(a, tmp_path) for a in args], env=env)
    assert result.exit_code == status, (result.exit_code, result.output, result.exception)
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ") and expected in lines[0], lines[0]
    assert "hunter2" not in result.stderr


def test_port_in_use_is_one_line(tmp_path: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(
            main, ["serve", "--port", str(port)], env={"RTK_DATA_DIR": str(tmp_path)}
        )
    assert result.exit_code == 1
    [line] = result.stderr.splitlines()
    assert (
        line == f"Error: cannot listen on 127.0.0.1:{port}: Address already in use (--host, --port)"
    )
    db = tmp_path / "rtk.db"
    assert not db.exists() or db.stat().st_size == 0  # stopped before migrating the database


def test_help_and_version_still_exit_zero() -> None:
    for args in (["--help"], ["--version"], ["tokens", "revoke", "--help"], []):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 0, (args, result.output)
        assert result.stdout


@pytest.mark.parametrize(
    ("args", "env", "expected"),
    [
        (["db", "current", "--database-url", "nosuch://x"], {}, "unknown database driver"),
        (["serve"], {"RTK_SWEEP_INTERVAL_SECS": "often"}, "RTK_SWEEP_INTERVAL_SECS='often'"),
        (["serve", "--log-level", "loud"], {}, "--log-level"),
    ],
    ids=["driver", "setting", "flag"],
)
def test_installed_command_prints_no_traceback(
    args: list[str], env: dict[str, str], expected: str, tmp_path: Path
) -> None:
    """The real entry point, in its own process: stderr is the one line and nothing else."""
    import os

    done = subprocess.run(
        [sys.executable, "-m", "rtk_sessions", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "RTK_DATA_DIR": str(tmp_path), **env},
        check=False,
    )
    assert done.returncode != 0
    assert done.stdout == ""
    assert len(done.stderr.splitlines()) == 1 and expected in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
