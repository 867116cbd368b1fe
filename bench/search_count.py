"""Where a session-list search spends its time on SQLite: the pieces of the request, timed.

    .venv/bin/python bench/search_count.py --database-url sqlite:///PATH --app-id APP
                                           [--words retro,kickoff] [--repeat 30]

On a database seeded by ``bench/seed.py`` (``bench/run.py``'s search variant at 1M sessions:
title words each in about 1 of 15 sessions), for each word: the served path
(``domain.sessions.list_sessions`` with ``search=``, in a read transaction, views included), then
its statements alone, each with its plan (``EXPLAIN QUERY PLAN``): the trigram probe
(``_FTS_PROBE``), the page (the list in order, ``instr`` on each row), the capped count
(``_capped_total``, at most the page's end + ``COUNT_LOOKAHEAD`` matches) as the trigram index's
hits joined to their sessions by id (before migration 0011b; still the count of a search with
another filter), and, where the index holds ``top_app`` (0011b), the same count in the index
alone. Prints the median and p99 (nearest rank) in ms of ``--repeat`` runs of each.
Timings are wall-clock in this process: on a shared machine, compare runs made side by side.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT / "src") not in sys.path:
    sys.path.insert(0, str(ROOT / "src"))

from sqlalchemy import Connection, text  # noqa: E402

from rtk_sessions.contract.params import Page  # noqa: E402
from rtk_sessions.domain import sessions  # noqa: E402
from rtk_sessions.storage.engine import Database  # noqa: E402

TOP = "sessions.app_id = :a AND sessions.parent_session_id IS NULL"
STATEMENTS = {
    "probe": f"SELECT rowid FROM sessions_fts WHERE sessions_fts MATCH :p LIMIT "
    f"{sessions.FTS_PROBE_LIMIT + 1}",
    "page": f"SELECT id FROM sessions WHERE {TOP} AND instr(search_text, :w) > 0 "
    "ORDER BY created_at DESC, id LIMIT 25",
    "count, joined": "SELECT count(*) FROM (SELECT 1 FROM sessions_fts JOIN sessions "
    f"ON sessions.id = sessions_fts.session_id WHERE sessions_fts MATCH :p AND {TOP} "
    "AND instr(sessions.search_text, :w) > 0 LIMIT :cap)",
}
INDEX_ALONE = (
    "count, index alone",
    "SELECT count(*) FROM (SELECT 1 FROM sessions_fts WHERE sessions_fts MATCH :p "
    "AND top_app = :a AND instr(sessions_fts.search_text, :w) > 0 LIMIT :cap)",
)


def _times(run: Callable[[], object], repeat: int) -> tuple[float, float]:
    spent = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        run()
        spent.append((time.perf_counter() - t0) * 1e3)
    ordered = sorted(spent)
    return statistics.median(spent), ordered[max(0, math.ceil(0.99 * len(ordered)) - 1)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--app-id", required=True)
    parser.add_argument("--words", default="retro,kickoff,standup,townhall,incident")
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    db = Database(args.database_url)
    statements = dict(STATEMENTS)
    with db.reading() as conn:
        columns = [row[1] for row in conn.execute(text("PRAGMA table_info(sessions_fts)"))]
    if "top_app" in columns:
        statements[INDEX_ALONE[0]] = INDEX_ALONE[1]
    page = Page(1, 25)
    cap = page.offset + page.size + sessions.COUNT_LOOKAHEAD
    print(f"{'word':10} {'piece':20} {'median ms':>10} {'p99 ms':>8}")
    for word in args.words.split(","):
        query = sessions.SessionQuery(search=word)

        def served(query: sessions.SessionQuery = query) -> object:
            with db.reading() as conn:
                return sessions.list_sessions(conn, args.app_id, query, page)

        served()
        median, p99 = _times(served, args.repeat)
        print(f"{word:10} {'list_sessions':20} {median:10.2f} {p99:8.2f}")
        params = {"p": f'"{word}"', "a": args.app_id, "w": word, "cap": cap}
        with db.reading() as conn:
            for label, sql in statements.items():

                def one(
                    c: Connection = conn, s: str = sql, p: dict[str, object] = params
                ) -> object:
                    return c.execute(text(s), p).all()

                one()
                median, p99 = _times(one, args.repeat)
                print(f"{word:10} {label:20} {median:10.2f} {p99:8.2f}")
    with db.reading() as conn:
        for label, sql in statements.items():
            plan = conn.execute(text("EXPLAIN QUERY PLAN " + sql), params).all()
            print(f"plan of {label}: " + "; ".join(row[3] for row in plan))
    db.dispose()


if __name__ == "__main__":
    main()
