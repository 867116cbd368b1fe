"""CPU cost of the pure getStats -> sample-row path of ingest, original vs current, in one run.

    .venv/bin/python bench/stats_path.py [--repeat 7] [--base 4d38a8d] [--data PATH]

Replays every ``peer.stats`` report of ``bench/data/ingest-payloads.json.gz`` (five real
recordings, see bench/data/SOURCES.md; plus its 24 steady P2P reports as one more connection)
through exactly the calls ``domain/ingest.py:_peer_stats`` makes, connection by connection, with
the previous report's compact cursor (JSON round-tripped, as the database returns it):

* original (the ``rtk_sessions/stats`` package of git revision ``--base``, extracted with
  ``git show`` into a temporary package at run time): ``normalize_report(raw)``,
  ``sample_rows(previous_compact, report, …)``, ``candidate_pairs(report, transport=…)``,
  ``compact_report(report)``;
* current: ``stats.ingest_report(previous_compact, raw, …)`` and, timed one by one, its four
  steps (``ReportIndex``, ``ReportIndex.sample_rows``, ``ReportIndex.candidate_pairs``,
  ``ReportIndex.compact``).

Before timing, the outputs of both are compared (rows with their key order, pairs, cursors); the
script exits 1 on any difference. Each timing is the best of ``--repeat`` passes over all reports
in CPU time of this process (``time.process_time_ns``: on a shared machine, wall time also counts
the other processes), garbage collector off during a pass; µs are per report and per sample row
produced. The ratio is original / current of the same run.
"""

from __future__ import annotations

import argparse
import gc
import gzip
import importlib
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "bench" / "data" / "ingest-payloads.json.gz"
STATS_FILES = (
    "__init__.py",
    "aggregate.py",
    "compact.py",
    "normalize.py",
    "pairs.py",
    "report.py",
    "rows.py",
    "scoring.py",
    "types.py",
)


def load_original(base: str, into: Path) -> Any:
    """Import ``rtk_sessions/stats`` of git revision ``base`` as the package ``_stats_original``."""
    pkg = into / "_stats_original"
    pkg.mkdir()
    listing = subprocess.run(
        ["git", "-C", str(ROOT), "ls-tree", "--name-only", f"{base}:src/rtk_sessions/stats"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    for name in listing:
        if name.endswith(".py"):
            text = subprocess.run(
                ["git", "-C", str(ROOT), "show", f"{base}:src/rtk_sessions/stats/{name}"],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            (pkg / name).write_text(text, encoding="utf-8")
    sys.path.insert(0, str(into))
    return importlib.import_module("_stats_original")


def load_series(path: Path) -> list[list[dict[str, Any]]]:
    """Per connection, its ``peer.stats`` calls in order: raw report, transport, labels."""
    doc = json.loads(gzip.decompress(path.read_bytes()))
    series: list[list[dict[str, Any]]] = []
    for template in doc["templates"]:
        by_connection: dict[str, list[dict[str, Any]]] = {}
        labels_of: dict[str, list[dict[str, Any]]] = {}
        for event in template["events"]:
            if event["type"] != "peer.stats":
                continue
            conn = event["connection_id"]
            labels = event.get("labels") or labels_of.get(conn, [])
            labels_of[conn] = labels
            by_connection.setdefault(conn, []).append(
                {
                    "namespace": f"peer-{template['name']}:{conn}",
                    "stats": event["stats"],
                    "transport": event.get("transport"),
                    "labels": labels,
                }
            )
        series.extend(by_connection.values())
    source = doc["report_source"]
    series.append(
        [
            {"namespace": "steady:PC_0", "stats": r["stats"], "transport": None, "labels": []}
            for r in source["reports"]
        ]
    )
    return series


def _rows_json(rows: list[Any]) -> str:
    return json.dumps(
        [[r.kind, r.stream_key, r.timestamp_ms, list(r.values.items())] for r in rows]
    )


def run_original(pkg: Any, call: dict[str, Any], previous: Any) -> tuple[Any, Any, Any]:
    report = pkg.normalize_report(call["stats"])
    rows = pkg.sample_rows(
        previous,
        report,
        namespace=call["namespace"],
        transport=call["transport"],
        labels=call["label_objs"],
        thresholds=call["thresholds"],
    )
    pairs = pkg.candidate_pairs(report, transport=call["transport"])
    return rows, pairs, pkg.compact_report(report)


def run_current(pkg: Any, call: dict[str, Any], previous: Any) -> tuple[Any, Any, Any]:
    return pkg.ingest_report(
        previous,
        call["stats"],
        namespace=call["namespace"],
        transport=call["transport"],
        labels=call["labels_new"],
        thresholds=call["thresholds_new"],
    )


def chain(
    series: list[list[dict[str, Any]]],
    run: Callable[[dict[str, Any], Any], tuple[Any, Any, Any]],
) -> list[tuple[Any, Any, Any, Any]]:
    """Run every connection's calls in order; returns (previous, rows, pairs, compact) per call."""
    out = []
    for calls in series:
        previous = None
        for call in calls:
            rows, pairs, compact = run(call, previous)
            out.append((previous, rows, pairs, compact))
            previous = json.loads(json.dumps(compact))  # as the stats_cursors row returns it
    return out


def best_ns(fn: Callable[[Any], None], repeat: int, setup: Callable[[], Any] | None = None) -> int:
    """Best wall time of ``fn(setup())`` over ``repeat`` passes (``setup`` is not timed)."""
    best = None
    for _ in range(repeat):
        state = setup() if setup is not None else None
        gc.collect()
        gc.disable()
        try:
            start = time.process_time_ns()
            fn(state)
            elapsed = time.process_time_ns() - start
        finally:
            gc.enable()
        best = elapsed if best is None else min(best, elapsed)
    assert best is not None
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--base", default="4d38a8d", help="git revision of the original")
    parser.add_argument("--data", type=Path, default=DATA)
    args = parser.parse_args(argv)

    from rtk_sessions import stats as current
    from rtk_sessions.stats.compact import compact_indexed
    from rtk_sessions.stats.normalize import ReportIndex
    from rtk_sessions.stats.pairs import candidate_pairs_indexed
    from rtk_sessions.stats.rows import sample_rows_indexed

    series = load_series(args.data)
    with tempfile.TemporaryDirectory() as tmp:
        original = load_original(args.base, Path(tmp))
        for calls in series:
            for call in calls:
                call["label_objs"] = [original.StreamLabel.from_mapping(x) for x in call["labels"]]
                call["labels_new"] = [current.StreamLabel.from_mapping(x) for x in call["labels"]]
                call["thresholds"] = original.QualityThresholds()
                call["thresholds_new"] = current.QualityThresholds()

        old = chain(series, lambda c, p: run_original(original, c, p))
        new = chain(series, lambda c, p: run_current(current, c, p))
        flat = [call for calls in series for call in calls]
        n_reports = len(flat)
        n_samples = sum(len(r[1]) for r in old)
        mismatches = 0
        for (_, o_rows, o_pairs, o_comp), (_, n_rows_, n_pairs, n_comp), call in zip(
            old, new, flat, strict=True
        ):
            same = (
                _rows_json(o_rows) == _rows_json(n_rows_)
                and json.dumps(o_pairs) == json.dumps(n_pairs)
                and json.dumps(o_comp) == json.dumps(n_comp)
            )
            if not same:
                mismatches += 1
                if mismatches <= 3:
                    print(f"MISMATCH in {call['namespace']}", file=sys.stderr)
        print(
            f"{n_reports} reports, {n_samples} sample rows "
            f"({n_samples / n_reports:.2f}/report), outputs identical: {mismatches == 0}"
        )

        # Inputs of each step, so that each step is timed alone. The current steps get fresh
        # indexes every pass (a ReportIndex memoizes what a step derived from it).
        prevs = [o[0] for o in old]
        reports_old = [original.normalize_report(c["stats"]) for c in flat]
        work = list(zip(flat, prevs, reports_old, strict=True))

        def fresh() -> list[tuple[Any, Any]]:
            return [
                (ReportIndex(c["stats"]), ReportIndex(p) if p is not None else None)
                for c, p, _ in work
            ]

        def o_norm(_: Any) -> None:
            for c, _p, _ro in work:
                original.normalize_report(c["stats"])

        def o_rows(_: Any) -> None:
            for c, p, ro in work:
                original.sample_rows(
                    p,
                    ro,
                    namespace=c["namespace"],
                    transport=c["transport"],
                    labels=c["label_objs"],
                    thresholds=c["thresholds"],
                )

        def o_pairs(_: Any) -> None:
            for c, _p, ro in work:
                original.candidate_pairs(ro, transport=c["transport"])

        def o_compact(_: Any) -> None:
            for _c, _p, ro in work:
                original.compact_report(ro)

        def o_total(_: Any) -> None:
            for c, p, _ro in work:
                run_original(original, c, p)

        def n_norm(_: Any) -> None:
            for c, _p, _ro in work:
                ReportIndex(c["stats"])

        def n_prev(_: Any) -> None:
            for _c, p, _ro in work:
                if p is not None:
                    ReportIndex(p)

        def n_rows(indexes: list[tuple[Any, Any]]) -> None:
            for (c, _p, _ro), (rn, pn) in zip(work, indexes, strict=True):
                sample_rows_indexed(
                    pn,
                    rn,
                    namespace=c["namespace"],
                    labels=c["labels_new"],
                    thresholds=c["thresholds_new"],
                )

        def n_pairs(indexes: list[tuple[Any, Any]]) -> None:
            for (c, _p, _ro), (rn, _pn) in zip(work, indexes, strict=True):
                candidate_pairs_indexed(rn, transport=c["transport"])

        def n_compact(indexes: list[tuple[Any, Any]]) -> None:
            for (_c, _p, _ro), (rn, _pn) in zip(work, indexes, strict=True):
                compact_indexed(rn)

        def n_total(_: Any) -> None:
            for c, p, _ro in work:
                run_current(current, c, p)

        steps = [
            ("normalize / ReportIndex(current)", o_norm, n_norm, None),
            ("(current only) ReportIndex(cursor)", None, n_prev, None),
            ("sample_rows", o_rows, n_rows, fresh),
            ("candidate_pairs", o_pairs, n_pairs, fresh),
            ("compact_report", o_compact, n_compact, fresh),
            ("TOTAL (ingest_report)", o_total, n_total, None),
        ]
        print(
            f"{'step':36} {'orig µs/rep':>11} {'µs/sample':>9} "
            f"{'new µs/rep':>10} {'µs/sample':>9} {'ratio':>6}"
        )
        for name, o_fn, n_fn, setup in steps:
            o_ns = best_ns(o_fn, args.repeat) if o_fn is not None else None
            n_ns = best_ns(n_fn, args.repeat, setup)
            o_rep = f"{o_ns / 1000 / n_reports:11.1f}" if o_ns is not None else f"{'-':>11}"
            o_smp = f"{o_ns / 1000 / n_samples:9.1f}" if o_ns is not None else f"{'-':>9}"
            ratio = f"{o_ns / n_ns:6.2f}" if o_ns is not None else f"{'-':>6}"
            print(
                f"{name:36} {o_rep} {o_smp} {n_ns / 1000 / n_reports:10.1f} "
                f"{n_ns / 1000 / n_samples:9.1f} {ratio}"
            )
        print(
            "original sample_rows includes normalizing the cursor; the current steps start from "
            "fresh indexes (ingest_report shares their lookups, so its total is below their sum)"
        )
    return 0 if mismatches == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
