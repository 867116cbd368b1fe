"""UDP echo probe for checking the forwarder: ``server`` echoes, ``client`` measures RTT and loss.

    python tests/support/netem/probe.py server --bind 10.200.0.2 --port 9999 --seconds 20
    python tests/support/netem/probe.py client --to 10.200.0.2 --count 300 --interval-ms 10

The client prints one JSON object: sent, received, loss_pct (round trip),
rtt_ms {min, median, mean, max}.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import socket
import statistics
import struct
import sys
import time
from typing import Any


def server(bind: str, port: int, seconds: float) -> None:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((bind, port))
    s.settimeout(0.5)
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            data, addr = s.recvfrom(2048)
        except TimeoutError:
            continue
        if data == b"quit":
            return
        s.sendto(data, addr)


def client(
    to: str, port: int, count: int, interval_ms: float, size: int, wait_s: float
) -> dict[str, Any]:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setblocking(False)
    sent: dict[int, float] = {}
    rtts: list[float] = []
    pad = b"x" * max(0, size - 12)
    start = time.monotonic()

    def drain() -> None:
        while True:
            try:
                data = s.recv(4096)
            except BlockingIOError:
                return
            seq, _ = struct.unpack("!Id", data[:12])
            t0 = sent.pop(seq, None)
            if t0 is not None:
                rtts.append((time.monotonic() - t0) * 1000)

    for i in range(count):
        target = start + i * interval_ms / 1000
        while time.monotonic() < target:
            drain()
            time.sleep(0.0005)
        sent[i] = time.monotonic()
        with contextlib.suppress(OSError):
            s.sendto(struct.pack("!Id", i, sent[i]) + pad, (to, port))
    end = time.monotonic() + wait_s
    while sent and time.monotonic() < end:
        drain()
        time.sleep(0.001)
    got = len(rtts)
    with_stats = (
        {
            "min": min(rtts),
            "median": statistics.median(rtts),
            "mean": statistics.fmean(rtts),
            "max": max(rtts),
        }
        if rtts
        else None
    )
    return {
        "sent": count,
        "received": got,
        "loss_pct": 100.0 * (count - got) / count,
        "rtt_ms": with_stats,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    ps = sub.add_parser("server")
    ps.add_argument("--bind", default="0.0.0.0")
    ps.add_argument("--port", type=int, default=9999)
    ps.add_argument("--seconds", type=float, default=30)
    pc = sub.add_parser("client")
    pc.add_argument("--to", required=True)
    pc.add_argument("--port", type=int, default=9999)
    pc.add_argument("--count", type=int, default=300)
    pc.add_argument("--interval-ms", type=float, default=10)
    pc.add_argument("--size", type=int, default=200)
    pc.add_argument("--wait-s", type=float, default=2)
    a = p.parse_args(argv)
    if a.cmd == "server":
        server(a.bind, a.port, a.seconds)
    else:
        print(json.dumps(client(a.to, a.port, a.count, a.interval_ms, a.size, a.wait_s)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
