"""python -m tests.support.livecall [--delay-ms 50 --loss-pct 5 --rate-kbit 400] --duration 20

Runs one real call against a built-in fake ingest server (or --endpoint/--token-a/--token-b for
a real one) and prints the numbers measured from the raw stats as JSON.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys

from rtk_sessions.livecall import run_call
from tests.support.livecall.analyze import summarize
from tests.support.livecall.fake_ingest import FakeIngest
from tests.support.netem import Impairment


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--duration", type=float, default=20)
    p.add_argument("--delay-ms", type=float, default=None, help="one-way delay; implies netns")
    p.add_argument("--loss-pct", type=float, default=0.0)
    p.add_argument("--rate-kbit", type=int, default=None)
    p.add_argument("--netns", action="store_true", help="use namespaces even without impairment")
    p.add_argument("--video-size", default="640x480", help="camera WxH asked for")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--endpoint", default=None, help="real ingest URL (default: a fake one)")
    p.add_argument("--token-a", default="token-a")
    p.add_argument("--token-b", default="token-b")
    p.add_argument("--meeting-id", default="live-call")
    p.add_argument("--chromium", default="/usr/bin/chromium")
    a = p.parse_args(argv)
    width, height = (int(x) for x in a.video_size.lower().split("x"))
    size = (width, height)
    use_ns = a.netns or a.delay_ms is not None or a.loss_pct or a.rate_kbit
    imp = (
        Impairment(
            delay_ms=a.delay_ms or 0, loss_pct=a.loss_pct, rate_kbit=a.rate_kbit, seed=a.seed
        )
        if use_ns
        else None
    )
    with imp if imp is not None else contextlib.nullcontext():
        return _run(a, imp, size)


def _run(a: argparse.Namespace, imp: Impairment | None, size: tuple[int, int]) -> int:
    participants = (
        {"display_name": "Peer A", "custom_participant_id": "a"},
        {"display_name": "Peer B", "custom_participant_id": "b"},
    )
    if a.endpoint:
        res = run_call(
            endpoint=a.endpoint,
            tokens=(a.token_a, a.token_b),
            meeting_id=a.meeting_id,
            participants=participants,
            duration_s=a.duration,
            network=imp,
            chromium=a.chromium,
            video_size=size,
        )
        summary = None
    else:
        with FakeIngest() as fake:
            res = run_call(
                endpoint=fake.endpoint(),
                tokens=(a.token_a, a.token_b),
                meeting_id=a.meeting_id,
                participants=participants,
                duration_s=a.duration,
                network=imp,
                chromium=a.chromium,
                video_size=size,
            )
            summary = summarize(fake.events)
    out = {
        "ok": res.ok,
        "impairment": res.network,
        "forwarder": None,
        "peers": [
            {
                "role": r.role,
                "peer_id": r.peer_id,
                "ok": r.ok,
                "error": r.error,
                "joined_at": r.joined_at,
                "left_at": r.left_at,
                "acked": r.acked,
                "measured": (summary or {}).get(r.peer_id),
            }
            for r in res.peers
        ],
    }
    if not res.ok:
        out["logs"] = {r.role: r.logs[-30:] for r in res.peers}
    print(json.dumps(out, indent=2), flush=True)
    return 0 if res.ok else 1


if __name__ == "__main__":
    sys.exit(main())
