"""Cost of the whole-body check of ingestion (``contract.ingest.json_problem``: NUL, depth, numbers)
next to parsing and validating the same body.

    .venv/bin/python bench/edge_check.py

A worst-case batch: 1000 ``peer.stats`` events of 30 stats objects with 31 members each (~24 MB).
Prints the best of 5 runs of each step, in milliseconds.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any

import orjson

from rtk_sessions.contract.ingest import IngestBatch, json_problem


def _stats_object(rng: random.Random, i: int) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "id": f"OT{i}",
        "type": "outbound-rtp",
        "kind": "video",
        "timestamp": 1.7e12 + i,
        "ssrc": rng.randrange(2**32),
    }
    for k in range(25):
        obj[f"member{k}"] = rng.random() * 1e6 if k % 2 else rng.randrange(10**9)
    obj["qualityLimitationDurations"] = {"none": 1.0, "cpu": 0.0, "bandwidth": 2.5, "other": 0}
    return obj


def _best_ms(step: Callable[[], object], runs: int = 5) -> float:
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        step()
        best = min(best, time.perf_counter() - start)
    return best * 1000


def main() -> None:
    rng = random.Random(1)
    events = [
        {
            "id": f"e{i}",
            "type": "peer.stats",
            "peer_id": "p",
            "connection_id": "c",
            "timestamp": 1.7e12 + i,
            "stats": [_stats_object(rng, j) for j in range(30)],
        }
        for i in range(1000)
    ]
    raw = orjson.dumps({"events": events})
    data = orjson.loads(raw)
    assert json_problem(data) is None
    print(f"body {len(raw) / 1e6:.1f} MB")
    print(f"orjson.loads    {_best_ms(lambda: orjson.loads(raw)):7.1f} ms")
    print(f"json_problem    {_best_ms(lambda: json_problem(data)):7.1f} ms")
    print(f"model_validate  {_best_ms(lambda: IngestBatch.model_validate(data)):7.1f} ms")


if __name__ == "__main__":
    main()
