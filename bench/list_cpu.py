"""Server CPU per list-sessions request and per ``GET /healthz``, in-process, without HTTP.

    .venv/bin/python bench/list_cpu.py [--sessions 10k] [--requests 2000] [--rounds 3]
                                       [--database URL] [--query '?status=ENDED']
                                       [--http | --callgrind]

Seeds a fresh database (``bench/seed.py``'s generator; SQLite file in a temporary directory, or
a database created on the PostgreSQL server of ``--database`` and dropped at the end), builds the
application (``create_app``, background workers off) and drives its ASGI callable directly on one
event loop: ``--requests`` list requests (``GET .../sessions`` plus ``--query``, 25 per page),
then as many ``GET /healthz``, alternating ``--rounds`` times. Prints the best round's µs of CPU
(``time.process_time`` of this process, worker threads included) per request of each and their
ratio: what the application costs per request, without uvicorn's HTTP parsing (the same for
both) and without the database server's CPU on PostgreSQL. ``--profile FILE`` runs the list
loop once more under the sampler of ``py-spy`` if given its path (``--py-spy``), raw output.

``--http``: over HTTP instead, as ``bench/run.py`` measures it: ``rtk-sessions serve`` on the
seeded database (``--workers``), ``--clients`` (4) threads GETting the list, then ``/healthz``,
for ``--secs`` each, ``--rounds`` times; prints each round's requests/s and the server's CPU
(all its processes, from /proc) per request, and the list ÷ healthz ratios of the best rounds.
To compare with another revision, run it with ``PYTHONPATH=<that revision's src>`` (the server
inherits it).

``--instructions OUT``: the in-process loops counted in instructions, for a run of this script
under ``valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file=OUT`` (it turns the
instrumentation on after the warm-up and dumps after each loop): ``--requests`` list requests
then as many ``GET /healthz``, once. Without uvicorn and the event loop's idle polling counted,
these vary by well under 1 % between runs (the thread pool's trip is in them, the kernel's work
is not).

``--callgrind``: over HTTP too, but counting instructions rather than CPU time: one
``rtk-sessions serve`` (one process) under ``valgrind --tool=callgrind`` with instrumentation off
until the warm-up is done, then ``--requests`` sequential list requests and as many
``GET /healthz`` from one client, each counted in a dump of its own; prints instructions per
request of each and their ratio. Instruction counts do not depend on what else the machine runs,
but threads and the event loop's polling make them vary by a few percent from run to run: compare
revisions (``PYTHONPATH``) in alternating runs. Counting starts once the server is idle (its
start-up threads, such as ua-parser's warm-up, done). A few hundred requests take a minute or two.
``--keep DIR`` copies the two dumps (``callgrind.list``, ``callgrind.healthz``) to ``DIR``, for
``callgrind_annotate``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

ACCOUNT = "bench-list-cpu"
# Instructions in 2 s of a server that serves nothing (its event loop's and background workers'
# timers): well under this; a thread at work runs several times more under callgrind.
IDLE_INSTRUCTIONS = 40_000_000


def _count(text: str) -> int:
    text = text.lower().replace(",", "").replace("_", "")
    for suffix, factor in (("k", 1_000), ("m", 1_000_000)):
        if text.endswith(suffix):
            return int(float(text[:-1]) * factor)
    return int(text)


async def _request(app: Any, path: str, query: str, headers: list[tuple[bytes, bytes]]) -> int:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }
    status = 0
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, receive, send)
    return status


async def _loop(app: Any, path: str, query: str, token: str, n: int) -> float:
    headers = [(b"host", b"127.0.0.1:8000"), (b"authorization", f"Bearer {token}".encode())]
    t0 = time.process_time()
    for _ in range(n):
        status = await _request(app, path, query, headers)
        if status != 200:
            raise RuntimeError(f"GET {path}?{query}: {status}")
    return (time.process_time() - t0) / n * 1e6


async def _main(args: argparse.Namespace, url: str) -> None:
    import seed as seeder

    from rtk_sessions import migrations
    from rtk_sessions.app import create_app
    from rtk_sessions.config import Settings
    from rtk_sessions.domain import accounts
    from rtk_sessions.storage.engine import Database

    migrations.upgrade(url)
    db = Database(url)
    with db.unit_of_work() as s:
        app_id = accounts.create_app(s, ACCOUNT, "bench").id
        token = accounts.create_token(s, ACCOUNT, "bench")
    db.dispose()
    seeder.seed(url, _count(args.sessions), app_id=app_id, start=0, migrate=False)
    if args.callgrind:
        _callgrind(args, url, app_id, token)
        return
    if args.http:
        _http(args, url, app_id, token)
        return
    os.environ["RTK_DATABASE_URL"] = url
    app = create_app(Settings(database_url=url), background=False)
    path = f"/client/v4/accounts/{ACCOUNT}/realtime/kit/{app_id}/sessions"
    query = args.query.lstrip("?")
    async with app.router.lifespan_context(app):
        await _loop(app, path, query, token, 50)
        await _loop(app, "/healthz", "", token, 50)
        if args.instructions:
            _ctl("-i", "on")  # after the warm-up
            counts = {}
            for name, target, q in (("list", path, query), ("healthz", "/healthz", "")):
                _ctl("-z")
                await _loop(app, target, q, token, args.requests)
                _ctl("-d")
                counts[name] = _dumped(args.instructions) / args.requests
            print(f"list sessions{'?' + query if query else ''}: {counts['list']:12,.0f} "
                  "instructions per request (in-process)")  # fmt: skip
            print(f"GET /healthz:  {counts['healthz']:12,.0f} instructions per request")
            print(f"healthz / list: {counts['healthz'] / counts['list']:.3f}")
            return
        best_list = best_health = float("inf")
        for _ in range(args.rounds):
            best_list = min(best_list, await _loop(app, path, query, token, args.requests))
            best_health = min(best_health, await _loop(app, "/healthz", "", token, args.requests))
        print(f"list sessions{'?' + query if query else ''}: {best_list:8.1f} µs CPU per request")
        print(f"GET /healthz:  {best_health:8.1f} µs CPU per request")
        print(f"healthz / list: {best_health / best_list:.3f}")
        if args.profile:
            proc = subprocess.Popen(
                [
                    args.py_spy,
                    "record",
                    "-r",
                    "400",
                    "-f",
                    "raw",
                    "-o",
                    args.profile,
                    "-p",
                    str(os.getpid()),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            time.sleep(1.0)
            await _loop(app, path, query, token, args.requests * 3)
            proc.terminate()
            proc.wait()


def _ctl(*command: str) -> None:
    """callgrind_control of this process (which runs under valgrind: ``--instructions``)."""
    subprocess.run(["callgrind_control", *command, str(os.getpid())], check=True,
                   capture_output=True)  # fmt: skip


def _newest_dump(out: str) -> Path:
    """The last dump of ``--callgrind-out-file=out``: ``out.<n>``, n counting up (mtimes may
    tie)."""
    import glob

    return Path(max(glob.glob(f"{out}.*"), key=lambda p: int(p.rsplit(".", 1)[1])))


def _dumped(out: str) -> int:
    """The instructions of the last dump of ``--callgrind-out-file=out``."""
    newest = _newest_dump(out)
    for line in newest.read_text().splitlines():
        if line.startswith("totals:"):
            return int(line.split()[1])
    raise RuntimeError(f"no totals in {newest}")


def _http(args: argparse.Namespace, url: str, app_id: str, token: str) -> None:
    import run

    with tempfile.TemporaryDirectory() as data_dir:
        server = run.Server(url, Path(data_dir), args.workers)
        server.start()
        try:

            def rate(path: str) -> tuple[float, float]:
                def work(_: int, deadline: float, load: run.Load) -> None:
                    with run._client(server, token) as client:
                        while time.perf_counter() < deadline:
                            if client.get(path).status_code != 200:
                                raise RuntimeError(f"GET {path} failed")
                            load.requests += 1

                load = run._run_clients(server, args.clients, args.secs, work)
                return load.requests / load.seconds, load.cpu_seconds / load.requests * 1e6

            path = f"/client/v4/accounts/{ACCOUNT}/realtime/kit/{app_id}/sessions{args.query}"
            rate(path)
            rate("/healthz")
            best: dict[str, tuple[float, float]] = {}
            for n in range(args.rounds):
                for name, target in (("list", path), ("healthz", "/healthz")):
                    rps, cpu = rate(target)
                    print(f"round {n + 1} {name:8} {rps:8.0f} req/s {cpu:8.0f} µs server CPU/req")
                    old = best.get(name, (0.0, float("inf")))
                    best[name] = (max(old[0], rps), min(old[1], cpu))
            print(f"list ÷ healthz req/s (best rounds): {best['list'][0] / best['healthz'][0]:.3f}")
            print(
                f"healthz ÷ list server CPU/req (best): {best['healthz'][1] / best['list'][1]:.3f}"
            )
        finally:
            server.stop()


def _callgrind(args: argparse.Namespace, url: str, app_id: str, token: str) -> None:
    import run

    with tempfile.TemporaryDirectory() as data_dir:
        server = run.Server(url, Path(data_dir), 1)
        out = Path(data_dir) / "callgrind.out"
        valgrind = ["valgrind", "--tool=callgrind", "--instr-atstart=no"]
        # The sweeper's background work is not the requests': it runs once an hour here.
        server.start(
            prefix=[*valgrind, f"--callgrind-out-file={out}"],
            env={"RTK_SWEEP_INTERVAL_SECS": "3600"},
            timeout=600,
        )
        assert server.proc is not None
        proc = server.proc
        try:

            def ctl(*command: str) -> None:
                subprocess.run(["callgrind_control", *command, str(proc.pid)], check=True,
                               capture_output=True)  # fmt: skip

            def counted() -> int:
                return _dumped(str(out))

            path = f"/client/v4/accounts/{ACCOUNT}/realtime/kit/{app_id}/sessions{args.query}"
            with run._client(server, token) as client:
                targets = {"list": path, "healthz": "/healthz"}
                for target in targets.values():  # warm-up, not counted
                    for _ in range(20):
                        if client.get(target).status_code != 200:
                            raise RuntimeError(f"GET {target} failed")
                counts: dict[str, float] = {}
                ctl("-i", "on")
                # The app's start-up work in threads (building ua-parser's matchers: a second of
                # CPU, many more under callgrind) must not be counted as the requests'.
                for _ in range(120):
                    ctl("-z")
                    time.sleep(2.0)
                    ctl("-d")
                    idle = counted()
                    print(f"instructions in 2 s before counting: {idle:,}", file=sys.stderr)
                    if idle < IDLE_INSTRUCTIONS:
                        break
                else:
                    raise RuntimeError("the server did not go idle")
                ctl("-z")
                for name, target in targets.items():
                    for _ in range(args.requests):
                        if client.get(target).status_code != 200:
                            raise RuntimeError(f"GET {target} failed")
                    ctl("-d")  # counts since the previous dump, in a file of their own
                    counts[name] = counted() / args.requests
                    if args.keep:
                        shutil.copy(_newest_dump(str(out)), Path(args.keep) / f"callgrind.{name}")
        finally:
            proc.terminate()
            proc.wait()
        print(f"list sessions{args.query}: {counts['list']:12,.0f} instructions per request")
        print(f"GET /healthz:  {counts['healthz']:12,.0f} instructions per request")
        print(f"healthz / list: {counts['healthz'] / counts['list']:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sessions", default="10k")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--database", default=None, help="postgresql://… server URL")
    parser.add_argument("--query", default="")
    parser.add_argument("--profile", default=None, help="py-spy raw output file")
    parser.add_argument("--py-spy", default="/tmp/p/spy/bin/py-spy")
    parser.add_argument("--http", action="store_true", help="over HTTP, through `serve`")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--secs", type=float, default=5.0)
    parser.add_argument("--callgrind", action="store_true", help="instructions per request, HTTP")
    parser.add_argument(
        "--instructions",
        default=None,
        metavar="OUT",
        help="in-process, under valgrind --tool=callgrind --instr-atstart=no "
        "--callgrind-out-file=OUT: instructions per request",
    )
    parser.add_argument(
        "--keep", default=None, help="--callgrind: copy the dumps (callgrind.list, .healthz) here"
    )
    args = parser.parse_args()
    if args.database:
        import sqlalchemy as sa

        name = f"rtk_list_cpu_{uuid.uuid4().hex[:8]}"
        admin = sa.create_engine(args.database, isolation_level="AUTOCOMMIT")
        with admin.connect() as c:
            c.execute(sa.text(f'CREATE DATABASE "{name}"'))
        try:
            base = args.database.rsplit("/", 1)[0]
            asyncio.run(_main(args, f"{base}/{name}"))
        finally:
            with admin.connect() as c:
                c.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()
    else:
        with tempfile.TemporaryDirectory() as tmp:
            asyncio.run(_main(args, f"sqlite:///{Path(tmp) / 'list.db'}"))


if __name__ == "__main__":
    main()
