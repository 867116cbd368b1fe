"""Server CPU per ingested sample and per lifecycle event, in-process, base revision vs current.

    .venv/bin/python bench/ingest_cpu.py [--base REV] [--rounds 3] [--batches 40]
                                         [--life-batches 20] [--database URL] [--callgrind]

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
    parser.add_argument("--child-url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.batches <= 5 or args.life_batches <= 2:
        parser.error("--batches must be more than 5 and --life-batches more than 2 (warm-up)")
    if args.child_url:
        _child(args)
        return
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        base_src = tmp / "base"
        base_src.mkdir()
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", args.base, "src"], capture_output=True, check=True
        )
        subprocess.run(["tar", "-x", "-C", str(base_src)], input=archive.stdout, check=True)
        sources = {"base": base_src / "src", "current": ROOT / "src"}
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
