"""Data files are private from the start (issue 9, defect 8): the data directory is 0700, the
SQLite database, the secret and download files 0600, whatever the umask; processes starting
together agree on one secret."""

from __future__ import annotations

import multiprocessing
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from rtk_sessions.config import Settings
from rtk_sessions.downloads import LocalFileStorage, file_name


@pytest.fixture(autouse=True)
def permissive_umask() -> Iterator[None]:
    """The most permissive umask: modes must come from the code, not from the environment."""
    old = os.umask(0)
    yield
    os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_database_and_data_directory_are_private(tmp_path: Path) -> None:
    from rtk_sessions import migrations
    from rtk_sessions.domain import accounts
    from rtk_sessions.storage.engine import Database

    settings = Settings(data_dir=tmp_path / "data", database_url=None)
    url = settings.resolved_database_url()
    assert _mode(settings.data_dir) == 0o700
    assert _mode(settings.data_dir / "rtk.db") == 0o600
    migrations.upgrade(url)
    db = Database(url)
    with db.unit_of_work() as s:
        accounts.create_app(s, "a" * 32, "x")
    db.dispose()
    settings.resolved_secret()
    files = [p for p in settings.data_dir.rglob("*") if p.is_file()]
    assert settings.data_dir / "secret.key" in files and settings.data_dir / "rtk.db" in files
    for path in files:
        if path.name.endswith(".lock"):  # empty lock files hold nothing
            continue
        assert _mode(path) == 0o600, path
    assert _mode(settings.data_dir / "secret.key") == 0o600


def test_download_files_are_private(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", database_url=None)
    settings.data_dir.mkdir(mode=0o700)
    storage = LocalFileStorage(settings.data_dir / "files")
    data = b"when,who,what\n"
    name = file_name("s-1", data, "csv")
    storage.put("chat", name, data)
    assert storage.get("chat", name) == data
    assert _mode(settings.data_dir / "files") == 0o700
    assert _mode(settings.data_dir / "files" / "chat") == 0o700
    assert _mode(settings.data_dir / "files" / "chat" / name) == 0o600


def test_an_existing_open_data_directory_is_restricted(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    Settings(data_dir=data, database_url=None).resolved_database_url()
    assert _mode(data) == 0o700


def _secret(data_dir: str, barrier: object, out: object) -> None:
    barrier.wait()  # type: ignore[attr-defined]
    out.put(Settings(data_dir=Path(data_dir), secret_key=None).resolved_secret())  # type: ignore[attr-defined]


def test_processes_starting_together_share_one_secret(tmp_path: Path) -> None:
    context = multiprocessing.get_context("fork")
    for attempt in range(6):
        data_dir = tmp_path / f"data{attempt}"
        barrier, out = context.Barrier(6), context.Queue()
        workers = [
            context.Process(target=_secret, args=(str(data_dir), barrier, out)) for _ in range(6)
        ]
        for worker in workers:
            worker.start()
        secrets = [out.get(timeout=30) for _ in workers]
        for worker in workers:
            worker.join(10)
        stored = (data_dir / "secret.key").read_bytes().strip()
        assert len(stored) >= 48
        assert secrets == [stored] * len(workers)
        assert sorted(p.name for p in data_dir.iterdir()) == ["secret.key"]  # no leftovers
        assert _mode(data_dir / "secret.key") == 0o600


def test_resolving_the_url_never_drops_the_locks_of_open_connections(tmp_path: Path) -> None:
    """``resolved_database_url`` used to open and close the SQLite file even when it existed;
    closing any descriptor of a file drops every POSIX lock the process holds on it, SQLite's
    included. A CLI command run in the process of a live server (or a second app in one process)
    then let another process write under the first one's lock, and the database came apart
    ("database disk image is malformed" in the suite). Here: a write lock held in this process
    must still keep another process out after the URL is resolved again."""
    import sqlite3
    import subprocess
    import sys

    path = tmp_path / "data" / "rtk.db"
    settings = Settings(data_dir=tmp_path / "data", database_url=f"sqlite:///{path}")
    settings.resolved_database_url()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("PRAGMA journal_mode = WAL")
    holder.execute("CREATE TABLE t (x)")
    holder.execute("INSERT INTO t VALUES (1)")
    # In WAL mode every connection holds a shared POSIX lock on the database file: it is what
    # tells another process's last connection not to checkpoint and delete the WAL under it.
    assert holder.execute("SELECT count(*) FROM t").fetchone() == (1,)
    try:
        settings.resolved_database_url()  # the file exists: must not be opened and closed
        probe = (
            "import sqlite3, sys\n"
            "c = sqlite3.connect(sys.argv[1], timeout=0, isolation_level=None)\n"
            "try:\n    print(c.execute('PRAGMA journal_mode = DELETE').fetchone()[0])\n"
            "except sqlite3.OperationalError as e:\n    print(e)\n"
        )
        out = subprocess.run(
            [sys.executable, "-c", probe, str(path)], capture_output=True, text=True, check=True
        ).stdout.strip()
        # while this process has the database open it stays in WAL mode: the other process
        # cannot take the exclusive lock that leaving WAL needs
        assert out in ("wal", "database is locked"), out
    finally:
        holder.close()
