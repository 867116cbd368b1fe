"""SQLite's memory per connection comes from the settings (``RTK_SQLITE_MMAP_MB``,
``RTK_SQLITE_CACHE_MB``): every pooled connection gets them, the server's included."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from rtk_sessions import migrations
from rtk_sessions.app import create_app
from rtk_sessions.config import Settings
from rtk_sessions.storage.engine import Database


def _pragmas(db: Database) -> tuple[int, int]:
    with db.reading() as conn:
        mmap = conn.exec_driver_sql("PRAGMA mmap_size").scalar()
        cache = conn.exec_driver_sql("PRAGMA cache_size").scalar()
    return int(mmap or 0), int(cache or 0)


def test_defaults_bound_each_connection(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'a.db'}")
    try:
        assert _pragmas(db) == (0, -2 * 1024)  # no memory map; 2 MB of page cache (KiB < 0)
    finally:
        db.dispose()


def test_the_server_applies_its_settings(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'b.db'}"
    migrations.upgrade(url)
    settings = Settings(data_dir=tmp_path, database_url=url, sqlite_mmap_mb=3, sqlite_cache_mb=5)
    app = create_app(settings, background=False)
    with TestClient(app):
        assert _pragmas(app.state.db) == (3 * 1024 * 1024, -5 * 1024)
