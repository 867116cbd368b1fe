"""Recount the sample rows each event of ``bench/data/ingest-payloads.json.gz`` yields, with the
stats code in this tree, and write the counts (and ``counted_with``) back into the file.

    .venv/bin/python bench/recount_payloads.py [--check]

``bench/run.py`` computes samples/s from these counts and checks a stored peer report against
them ("stored == sent"), so they must follow the metric rules the server applies (e.g. decision
Q13 in docs/quality-metrics.md changed which consumer rows exist). Each ``peer.stats`` event is
replayed exactly as ``domain/samples.py:SampleWriter.apply_report`` does: per (peer, connection),
a report not after the previous one's timestamp yields nothing, otherwise ``stats.ingest_report``
against the previous cursor. ``--check`` exits 1 when the stored counts differ, writing nothing.
"""

from __future__ import annotations

import argparse
import gzip
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from rtk_sessions import stats

DATA = Path(__file__).resolve().parent / "data" / "ingest-payloads.json.gz"


def _millis(timestamp: Any) -> float:
    if isinstance(timestamp, int | float):
        return float(timestamp)
    from datetime import datetime

    return datetime.fromisoformat(str(timestamp).replace("Z", "+00:00")).timestamp() * 1000


def counts(events: list[dict[str, Any]]) -> list[int]:
    """Sample rows per event, in order (0 for every event that is not ``peer.stats``)."""
    cursors: dict[tuple[str, str], tuple[float, Any, list[Any]]] = {}
    out = []
    for event in events:
        if event.get("type") != "peer.stats":
            out.append(0)
            continue
        key = (event["peer_id"], event.get("connection_id") or "default")
        at = _millis(event["timestamp"])
        last_at, cursor, labels = cursors.get(key, (None, None, []))
        if last_at is not None and at <= last_at:
            out.append(0)
            continue
        labels = event.get("labels") or labels
        rows, _pairs, cursor = stats.ingest_report(
            cursor,
            event["stats"],
            namespace=f"{key[0]}:{key[1]}",
            transport=event.get("transport"),
            labels=[stats.StreamLabel.from_mapping(label) for label in labels],
        )
        cursors[key] = (at, json.loads(json.dumps(cursor)), labels)
        out.append(len(rows))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare only; exit 1 on a change")
    args = parser.parse_args(argv)
    with gzip.open(DATA, "rt") as f:
        data = json.load(f)
    changed = False
    for template in data["templates"]:
        new = counts(template["events"])
        if new != template["samples"]:
            print(f"{template['name']}: {sum(template['samples'])} -> {sum(new)} sample rows")
            template["samples"] = new
            changed = True
    if args.check:
        return 1 if changed else 0
    if changed:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
        ).stdout.strip()
        data["counted_with"] = (
            f"rtk-sessions at commit {commit} (sample rows per peer.stats event; "
            "bench/recount_payloads.py)"
        )
        with gzip.open(DATA, "wt") as f:
            json.dump(data, f, separators=(",", ":"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
