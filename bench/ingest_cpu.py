"""Server CPU per ingested sample and per lifecycle event, in-process, base revision vs current.

    .venv/bin/python bench/ingest_cpu.py [--base REV] [--rounds 3] [--batches 40]
                                         [--life-batches 20] [--database URL] [--callgrind]
    .venv/bin/python bench/ingest_cpu.py --split [--rounds 3] [--batches 40] [--database URL]

Runs ``api.ingest.parse_batch`` + ``api.ingest.apply_batch`` (everything the ingest endpoint does
after reading the body, without HTTP) in a child process on a fresh database:

* ingest: ``--batches`` 100-event batches of real getStats reports (``bench/payloads.py``, client
  ``c``); the first 5 warm up, the rest are timed; figure: µs of CPU per sample row;
* lifecycle: ``--life-batches`` (20) batches of 1,000 ``peer.joined``/``peer.left`` events
  (50 sessions of 10 peers, as ``bench/run.py``'s lifecycle load), the first 2 warm up;
  figure: µs of CPU per event.

once with the ``src/`` of git revision ``--base`` (extracted with ``git archive``) and once with
this tree's, alternating ``--rounds`` times; the best round of each is printed with the ratio
base / current. CPU is ``time.process_time`` of the child (wall time on a shared machine also
counts the other processes). ``--database``: a ``postgresql://`` URL of a server where the
children may create databases (each child creates and drops its own); default SQLite files in a
temporary directory. ``--callgrind``: run each child once under ``valgrind --tool=callgrind``
(instrumentation off until the timed part starts) and print instruction counts instead:
repeatable on a loaded machine, slow (minutes).

``--split`` (this tree only, no base): where a sample's CPU goes, best of ``--rounds``. In the
child, each timed batch is parsed (``parse_batch``; then ``orjson.loads`` of the same body
alone) and applied (``apply_batch``), one batch at a time as the server does, with the getStats pass
(``stats.ingest_indexed``: ``ReportIndex``, rows, pairs, cursor) timed inside it; the rest of
``apply_batch`` is the accumulators, sample blocks, client events and the batch's SQL. Then over
HTTP: ``rtk-sessions serve`` (one process, the database of ``--database`` or SQLite) takes the
same batches from one client, and the server process's CPU (``/proc``, user + system) per sample
is printed next to the in-process total: what HTTP, the event loop and the threadpool add.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def _child(args: argparse.Namespace) -> None:
    sys.path.insert(0, str(ROOT / "bench"))
    from payloads import Payloads

    from rtk_sessions import migrations
    from rtk_sessions.api.deps import AppScope
    from rtk_sessions.api.ingest import apply_batch, parse_batch
    from rtk_sessions.config import Settings
    from rtk_sessions.domain import accounts
    from rtk_sessions.storage.engine import Database

    url = args.child_url
    migrations.upgrade(url)
    settings = Settings()
    db = Database(url)
    with db.unit_of_work() as s:
        app_id = accounts.create_app(s, "acct", "bench").id
    scope = AppScope("acct", app_id)
    gen = Payloads.load().batches("c", 100)
    batches = [next(gen) for _ in range(args.batches)]
    life = [_lifecycle_body(n) for n in range(args.life_batches)]

    def run(bodies: list[bytes]) -> None:
        for body in bodies:
            apply_batch(db, settings, scope, parse_batch(body, settings))

    if args.split:
        _split(db, settings, scope, batches)
        return
    run([b.body for b in batches[:5]])
    run(life[:2])
    _callgrind("-i", "on")
    t0 = time.process_time()
    run([b.body for b in batches[5:]])
    t1 = time.process_time()
    _callgrind("-d")  # the ingest part's counts go to their own file
    run(life[2:])
    t2 = time.process_time()
    _callgrind("-d")
    _callgrind("-i", "off")
    out = {
        "samples": sum(b.samples for b in batches[5:]),
        "ingest_cpu": t1 - t0,
        "events": 1000 * len(life[2:]),
        "life_cpu": t2 - t1,
    }
    print("RESULT " + json.dumps(out), flush=True)


def _split(db: Any, settings: Any, scope: Any, batches: list[Any]) -> None:
    """``--split``'s child: parse, then apply with the getStats pass timed inside it."""
    import orjson

    from rtk_sessions import stats
    from rtk_sessions.api.ingest import apply_batch, parse_batch

    inner = stats.ingest_indexed
    spent = [0.0]

    def timed(*a: Any, **k: Any) -> Any:
        began = time.process_time()
        try:
            return inner(*a, **k)
        finally:
            spent[0] += time.process_time() - began

    stats.ingest_indexed = timed  # domain.samples calls it as ``stats.ingest_indexed``
    for b in batches[:5]:
        apply_batch(db, settings, scope, parse_batch(b.body, settings))
    parse = loads = apply = 0.0
    spent[0] = 0.0
    for b in batches[5:]:  # one batch at a time, as the server holds them
        t0 = time.process_time()
        batch = parse_batch(b.body, settings)
        t1 = time.process_time()
        orjson.loads(b.body)
        t2 = time.process_time()
        apply_batch(db, settings, scope, batch)
        t3 = time.process_time()
        parse, loads, apply = parse + t1 - t0, loads + t2 - t1, apply + t3 - t2
    out = {
        "samples": sum(b.samples for b in batches[5:]),
        "parse": parse,
        "loads": loads,
        "apply": apply,
        "stats_pass": spent[0],
    }
    print("RESULT " + json.dumps(out), flush=True)


def _split_http(args: argparse.Namespace, tmp: Path) -> dict[str, float]:
    """``--split`` over HTTP: a server's CPU per sample for the child's batches, one client."""
    sys.path.insert(0, str(ROOT / "bench"))
    from payloads import Payloads
    from run import KIT, Server, _client, _post

    from rtk_sessions import migrations

    url, drop = _database(args.database, tmp)
    try:
        migrations.upgrade(url)
        server = Server(url, tmp, 1)
        server.start()
        try:
            token = server.cli("tokens", "create", "--account", "bench", "--name", "b")["token"]
            app = server.cli("apps", "create", "--account", "bench", "--name", "i")["id"]
            gen = Payloads.load().batches("c", 100)
            batches = [next(gen) for _ in range(args.batches)]
            path = f"{KIT}/{app}/ingest"
            with _client(server, token) as client:
                for b in batches[:5]:
                    _post(client, path, b.body, b.events)
                cpu = server.cpu_seconds()
                for b in batches[5:]:
                    _post(client, path, b.body, b.events)
                cpu = server.cpu_seconds() - cpu
        finally:
            server.stop()
    finally:
        drop()
    return {"samples": sum(b.samples for b in batches[5:]), "cpu": cpu}


def _print_split(args: argparse.Namespace, tmp: Path) -> None:
    best: dict[str, Any] | None = None
    http: dict[str, float] | None = None
    for _ in range(args.rounds):
        r = _run(ROOT / "src", args, tmp)
        if best is None or r["parse"] + r["apply"] < best["parse"] + best["apply"]:
            best = r
        h = _split_http(args, tmp)
        if http is None or h["cpu"] / h["samples"] < http["cpu"] / http["samples"]:
            http = h
    assert best is not None and http is not None
    n = best["samples"]
    total = best["parse"] + best["apply"]
    lines = [
        ("parse_batch (JSON, checks, event models)", best["parse"]),
        ("  of which orjson.loads alone", best["loads"]),
        ("apply_batch", best["apply"]),
        ("  the getStats pass (stats.ingest_indexed)", best["stats_pass"]),
        ("  the rest (accumulators, blocks, SQL)", best["apply"] - best["stats_pass"]),
        ("in-process total", total),
    ]
    db = "PostgreSQL" if args.database else "SQLite"
    print(f"ingest CPU per sample, this tree, {db}, best of {args.rounds} ({n:,} samples)")
    print(f"{'':44}{'µs/sample':>10}{'share':>8}")
    for label, seconds in lines:
        print(f"{label:44}{seconds / n * 1e6:10.1f}{seconds / total:8.0%}")
    over = http["cpu"] / http["samples"] * 1e6
    label = "over HTTP: the server process, 1 client"
    print(f"{label:44}{over:10.1f}{over / (total / n * 1e6):7.2f}×")


def _callgrind(*command: str) -> None:
    """Send callgrind a command (instrumentation on/off, dump; a no-op outside valgrind)."""
    if os.environ.get("INGEST_CPU_CALLGRIND"):
        subprocess.run(
            ["callgrind_control", *command, str(os.getpid())],
            capture_output=True,
            check=False,
        )


def _lifecycle_body(n: int) -> bytes:
    t0 = 1_780_000_000_000
    events: list[dict[str, Any]] = []
    for s in range(50):
        tag = f"life-{n}-{s}"
        events += [
            {"id": f"{tag}-{p}:j", "type": "peer.joined", "peer_id": f"{tag}-{p}",
             "timestamp": t0 + p * 1000, "meeting_id": f"m-{tag}", "session_id": f"s-{tag}",
             "meeting_title": "lifecycle", "participant": {"display_name": f"Peer {p}"}}
            for p in range(10)
        ]  # fmt: skip
        events += [
            {"id": f"{tag}-{p}:l", "type": "peer.left", "peer_id": f"{tag}-{p}",
             "timestamp": t0 + 600_000 + p * 1000}
            for p in range(10)
        ]  # fmt: skip
    return json.dumps({"events": events}).encode()


def _database(base_url: str | None, tmp: Path) -> tuple[str, Any]:
    """A fresh database URL and a function dropping it."""
    name = f"ingest_cpu_{uuid.uuid4().hex[:10]}"
    if base_url is None:
        return f"sqlite:///{tmp / name}.db", lambda: None
    import sqlalchemy as sa

    from rtk_sessions.config import normalize_database_url

    base_url = normalize_database_url(base_url)
    admin = sa.create_engine(base_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.engine.make_url(base_url).set(database=name).render_as_string(hide_password=False)

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return url, drop


def _run(src: Path, args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    url, drop = _database(args.database, tmp)
    cmd = [sys.executable, __file__, "--child-url", url, "--batches", str(args.batches),
           "--life-batches", str(args.life_batches)]  # fmt: skip
    if args.split:
        cmd.append("--split")
    env = {**os.environ, "PYTHONPATH": str(src), "PYTHONHASHSEED": "0"}
    out_file = tmp / f"callgrind.{uuid.uuid4().hex[:8]}"
    if args.callgrind:
        env["INGEST_CPU_CALLGRIND"] = "1"
        cmd = [
            "valgrind", "--tool=callgrind", "--instr-atstart=no",
            f"--callgrind-out-file={out_file}", *cmd,
        ]  # fmt: skip
    try:
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    finally:
        drop()
    line = next((x for x in done.stdout.splitlines() if x.startswith("RESULT ")), None)
    if line is None:
        raise SystemExit(f"child failed ({src}):\n{done.stdout}\n{done.stderr}")
    result: dict[str, Any] = json.loads(line[7:])
    if args.callgrind:
        # Dump 1: the ingest batches; dump 2: the lifecycle ones.
        for key, path in (("ingest_ir", Path(f"{out_file}.1")), ("life_ir", Path(f"{out_file}.2"))):
            match = re.search(r"^(?:summary|totals): (\d+)", path.read_text(), re.M)
            result[key] = int(match.group(1)) if match else 0
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", default="HEAD", help="git revision to compare with (HEAD)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batches", type=int, default=40)
    parser.add_argument("--life-batches", type=int, default=20)
    parser.add_argument("--database", help="postgresql:// URL (default: SQLite)")
    parser.add_argument("--callgrind", action="store_true")
    parser.add_argument("--split", action="store_true", help="where the CPU goes, this tree only")
    parser.add_argument("--child-url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.batches <= 5 or args.life_batches <= 2:
        parser.error("--batches must be more than 5 and --life-batches more than 2 (warm-up)")
    if args.child_url:
        _child(args)
        return
    if args.split and args.callgrind:
        parser.error("--split times CPU; it does not run under --callgrind")
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        if args.split:
            _print_split(args, tmp)
            return
        sys.path.insert(0, str(ROOT / "bench"))
        from run import extract_src

        sources = {"base": extract_src(args.base, tmp / "base"), "current": ROOT / "src"}
        best: dict[str, dict[str, Any]] = {}
        rounds = 1 if args.callgrind else args.rounds
        for _ in range(rounds):
            for label, src in sources.items():
                r = _run(src, args, tmp)
                keep = best.get(label)
                if (
                    keep is None
                    or r["ingest_cpu"] / r["samples"] < keep["ingest_cpu"] / keep["samples"]
                ):
                    keep = {**(keep or {}), **{k: r[k] for k in ("samples", "ingest_cpu")}}
                if "life_cpu" not in keep or r["life_cpu"] < keep["life_cpu"]:
                    keep.update(events=r["events"], life_cpu=r["life_cpu"])
                if "ingest_ir" in r:
                    keep.update(ingest_ir=r["ingest_ir"], life_ir=r["life_ir"])
                best[label] = keep
    db = "PostgreSQL" if args.database else "SQLite"
    b, c = best["base"], best["current"]
    print(f"ingest CPU, in-process, {db}; base {args.base} vs current tree, best of {rounds}")
    us = {k: v["ingest_cpu"] / v["samples"] * 1e6 for k, v in best.items()}
    ev = {k: v["life_cpu"] / v["events"] * 1e6 for k, v in best.items()}
    print(f"{'':34}{'base':>10}{'current':>10}{'base/current':>14}")
    print(f"{'ingest µs CPU per sample':34}{us['base']:10.1f}{us['current']:10.1f}"
          f"{us['base'] / us['current']:13.2f}×")  # fmt: skip
    print(f"{'  (samples timed)':34}{b['samples']:10d}{c['samples']:10d}")
    print(f"{'lifecycle µs CPU per event':34}{ev['base']:10.1f}{ev['current']:10.1f}"
          f"{ev['base'] / ev['current']:13.2f}×")  # fmt: skip
    if args.callgrind:
        parts = (("ingest_ir", "sample", "samples"), ("life_ir", "event", "events"))
        for key, what, count in parts:
            per = {k: v[key] / v[count] for k, v in best.items()}
            print(f"{'instructions per ' + what:34}{per['base']:10,.0f}{per['current']:10,.0f}"
                  f"{per['base'] / per['current']:13.2f}×")  # fmt: skip


if __name__ == "__main__":
    main()
