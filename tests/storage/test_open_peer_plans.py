"""Lookups of a session's connected peers use the session's index on SQLite at fleet scale.

With the statistics ``ANALYZE`` writes for a database of 2.5M peers (one row per ``left_at``
value: SQLite's ``sqlite_stat1`` knows nothing of NULLs), a plain ``left_at IS NULL`` made the
planner read ``ix_peers_open_received``, every connected peer of the database, for each list page
with LIVE sessions (8 ms at 1M sessions in bench/run.py). The statistics are written here as that
database had them, on an empty one, and the plans of the statements read.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.dialects import sqlite

from rtk_sessions import migrations
from rtk_sessions.domain.lifecycle import _open_peers, still_connected
from rtk_sessions.storage.tables import Peer

# sqlite_stat1 of peers after ANALYZE on the 1M-session database of bench/seed.py
_STATS = [
    ("peers", "ix_peers_session_joined", "2499856 3 1"),
    ("peers", "ix_peers_open_received", "2499856 1 1"),
    ("peers", "sqlite_autoindex_peers_1", "2499856 1"),
]


def _plan(path: Path, sql: str, n_params: int) -> str:
    with sqlite3.connect(path) as conn:
        rows = conn.execute("EXPLAIN QUERY PLAN " + sql, ["x"] * n_params).fetchall()
    return " / ".join(str(row[-1]) for row in rows)


def test_connected_peers_of_sessions_are_read_by_session(tmp_path: Path) -> None:
    path = tmp_path / "rtk.db"
    migrations.upgrade(f"sqlite:///{path}")
    with sqlite3.connect(path) as conn:
        conn.execute("ANALYZE")  # creates sqlite_stat1
        conn.execute("DELETE FROM sqlite_stat1 WHERE tbl = 'peers'")
        conn.executemany("INSERT INTO sqlite_stat1 (tbl, idx, stat) VALUES (?, ?, ?)", _STATS)
        conn.execute("ANALYZE sqlite_schema")  # reload the statistics

    plain = select(Peer.id).where(Peer.session_id == "x", Peer.left_at.is_(None))
    assert "ix_peers_open_received" in _plan(path, str(plain.compile(dialect=sqlite.dialect())), 1)

    ours = select(Peer.id).where(Peer.session_id == "x", still_connected())
    compiled = ours.compile(dialect=sqlite.dialect())
    assert "USING INDEX ix_peers_session_joined" in _plan(path, str(compiled), len(compiled.params))

    page = _open_peers(8).statement.compile(dialect=sqlite.dialect())
    assert "USING INDEX ix_peers_session_joined" in _plan(path, str(page), len(page.params))
