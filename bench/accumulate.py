"""Cost of maintaining the cumulative blocks as samples arrive (``stats.KindAccumulator``).

    .venv/bin/python bench/accumulate.py [--repeat 20] [--hours 2]

Rows: every peer connection of every real recording in tests/fixtures/real-stats (getStats
reports -> ``normalize_report`` -> ``sample_rows`` against the compacted cursor, as the service
ingests them), pooled per kind. Per kind it prints

* ``add``: µs per row of ``KindAccumulator.add`` (the ingest hot path);
* ``block``, ``to_state``, ``from_state``: µs per call on the accumulator of all those rows
  (``from_state`` includes ``orjson.loads`` of the stored bytes, ``to_state`` ``orjson.dumps``);
* ``new cum.``: µs of ``cumulative(kind, rows)`` (add every row, then block);
* ``old cum.``: µs of the pre-accumulator ``cumulative`` (tests/stats/legacy_aggregate.py), which
  a report used to run over the whole history;
* ``state B``: the orjson size of the state.

Then the state size of a synthetic long peer: ``--hours`` of 2-second rows per kind (one stream
per kind), values drawn from the real rows of that kind, with ``mos_quality`` and
``frames_per_second`` re-drawn as 2-dp values around the real ones so that histograms are wider
than a steady real stream's (pessimistic).
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "tests"))

from stats.legacy_aggregate import (  # type: ignore[import-not-found]  # noqa: E402
    cumulative as old_cumulative,
)
from stats.rtcstats_dump import FIXTURES, getstats_reports  # type: ignore[import-not-found]  # noqa: E402

from rtk_sessions.stats import (  # noqa: E402
    KINDS,
    KindAccumulator,
    QualityThresholds,
    compact_report,
    cumulative,
    normalize_report,
    sample_rows,
)


def real_rows() -> dict[str, list[dict[str, Any]]]:
    """``{kind: [row values]}`` of every recording and peer connection, in ingest order."""
    out: dict[str, list[dict[str, Any]]] = {kind: [] for kind in KINDS}
    for path in sorted(FIXTURES.glob("*.rtcstats.jsonl")):
        for pc, reports in getstats_reports(path).items():
            cursor = None
            for raw in reports:
                current = normalize_report(list(raw.values()))
                for row in sample_rows(cursor, current, namespace=f"{path.stem}:{pc}"):
                    out[row.kind].append(row.values)
                cursor = compact_report(current)
    return out


def best_us(fn: Callable[[], Any], repeat: int) -> float:
    """Best of ``repeat`` runs, µs of this process's CPU time (the machine may be shared)."""
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        fn()
        best = min(best, time.process_time() - start)
    return best * 1e6


def fill(kind: str, rows: list[dict[str, Any]], t: QualityThresholds) -> KindAccumulator:
    acc = KindAccumulator(kind)
    for row in rows:
        acc.add(row, t)
    return acc


def measure(
    kind: str, rows: list[dict[str, Any]], t: QualityThresholds, repeat: int
) -> tuple[float, float, float, float, float, float, int]:
    """µs of: adding all rows, block, to_state+dumps, loads+from_state, new and old cumulative;
    and the state's size in bytes."""
    acc = fill(kind, rows, t)
    assert cumulative(kind, rows, t) == acc.block()
    data = orjson.dumps(acc.to_state())
    return (
        best_us(lambda: fill(kind, rows, t), repeat),
        best_us(acc.block, repeat),
        best_us(lambda: orjson.dumps(acc.to_state()), repeat),
        best_us(lambda: KindAccumulator.from_state(kind, orjson.loads(data)), repeat),
        best_us(lambda: cumulative(kind, rows, t), repeat),
        best_us(lambda: old_cumulative(kind, rows, t), repeat),
        len(data),
    )


def long_peer(
    rows: list[dict[str, Any]], count: int, rng: random.Random, jitter: bool
) -> list[dict[str, Any]]:
    """``count`` rows drawn from ``rows``; with ``jitter``, mos ± N(0, 0.3) and fps ± N(0, 2),
    both at 2 dp (wider histograms than a real steady stream's)."""
    out = []
    for _ in range(count):
        row = dict(rng.choice(rows))
        if jitter and "mos_quality" in row:
            mos = row["mos_quality"] + rng.gauss(0, 0.3)
            row["mos_quality"] = round(min(5.0, max(1.0, mos)), 2)
        if jitter and "frames_per_second" in row:
            row["frames_per_second"] = round(
                max(0.0, row["frames_per_second"] + rng.gauss(0, 2)), 2
            )
        out.append(row)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=20, help="runs per measurement (best is kept)")
    ap.add_argument("--hours", type=float, default=2.0, help="length of the synthetic long peer")
    args = ap.parse_args(argv)
    t = QualityThresholds()
    by_kind = real_rows()
    print(f"Python {sys.version.split()[0]}; best of {args.repeat} runs\n")
    header = ("kind", "rows", "add µs/row", "block µs", "to_state µs", "from_state µs",
              "new cum. µs", "old cum. µs", "state B")  # fmt: skip
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    all_rows = 0
    add_total = 0.0
    for kind in KINDS:
        rows = by_kind[kind]
        if not rows:
            continue
        add, block, dump, load, new, old, size = measure(kind, rows, t, args.repeat)
        all_rows += len(rows)
        add_total += add
        print(f"| {kind} | {len(rows)} | {add / len(rows):.2f} | {block:.1f} | {dump:.1f} | "
              f"{load:.1f} | {new:.0f} | {old:.0f} | {size} |")  # fmt: skip
    print(f"\nadd over all {all_rows} rows: {add_total / all_rows:.2f} µs/row\n")

    rng = random.Random(7)
    count = int(args.hours * 3600 / 2)
    print(f"Synthetic {args.hours:g} h peer, {count} rows per kind (2 s interval):\n")
    print("| kind | values | state B | mos values | fps values | width values |")
    print("|---|---|---|---|---|---|")
    totals = {False: 0, True: 0}
    for kind in KINDS:
        if not by_kind[kind]:
            continue
        for jitter in (False, True):
            acc = fill(kind, long_peer(by_kind[kind], count, rng, jitter), t)
            size = len(orjson.dumps(acc.to_state()))
            totals[jitter] += size
            print(f"| {kind} | {'jittered' if jitter else 'real'} | {size} | {len(acc.mos)} | "
                  f"{len(acc.fps)} | {len(acc.width)} |")  # fmt: skip
    print(f"\nall kinds: {totals[False]} B (real values), {totals[True]} B (jittered)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
