"""Userspace L2 forwarder with fixed delay and random loss (netem is not available here).

Runs inside the middle ("router") namespace: every frame read on one veth with an AF_PACKET raw
socket is written to the other veth after ``delay_ms`` unless it is dropped (probability
``loss_pct``/100, per direction, from a seeded RNG). A scheduler thread sends frames from a heap of
due times, so the delay does not depend on when the reader threads run.

    python -m rtk_sessions.netem.forwarder --if-a ra --if-b rb --delay-ms 50 --loss-pct 5 --seed 1

On SIGTERM/SIGINT it writes its counters as JSON to ``--stats-file`` (if given) and exits.
"""

from __future__ import annotations

import argparse
import contextlib
import heapq
import json
import random
import signal
import socket
import sys
import threading
import time

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
PACKET_IGNORE_OUTGOING = 23  # Linux >= 4.20
SOL_PACKET = 263


def _open(ifname: str) -> socket.socket:
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 * 1024 * 1024)
    with contextlib.suppress(OSError):  # else filtered by pkttype in the reader
        s.setsockopt(SOL_PACKET, PACKET_IGNORE_OUTGOING, 1)
    s.bind((ifname, 0))
    return s


class Forwarder:
    def __init__(self, if_a: str, if_b: str, *, delay_ms: float, loss_pct: float,
                 delay_ba_ms: float | None = None, loss_ba_pct: float | None = None,
                 seed: int | None = None) -> None:
        self.if_a, self.if_b = if_a, if_b
        self.sock_a, self.sock_b = _open(if_a), _open(if_b)
        # direction "ab" = frames read on if_a, written to if_b
        self.delay = {"ab": delay_ms / 1000.0,
                      "ba": (delay_ms if delay_ba_ms is None else delay_ba_ms) / 1000.0}
        self.loss = {"ab": loss_pct / 100.0,
                     "ba": (loss_pct if loss_ba_pct is None else loss_ba_pct) / 100.0}
        base = random.Random(seed)
        self.rng = {"ab": random.Random(base.getrandbits(64)),
                    "ba": random.Random(base.getrandbits(64))}
        self.counts = {d: {"received": 0, "dropped": 0, "sent": 0, "send_errors": 0}
                       for d in ("ab", "ba")}
        self.heap: list[tuple[float, int, str, bytes]] = []
        self.seq = 0
        self.cv = threading.Condition()
        self.stopping = threading.Event()
        self.max_lateness = 0.0

    def _reader(self, direction: str, sock: socket.socket) -> None:
        rng, loss, delay, c = (self.rng[direction], self.loss[direction],
                               self.delay[direction], self.counts[direction])
        sock.settimeout(0.2)
        while not self.stopping.is_set():
            try:
                frame, addr = sock.recvfrom(65535)
            except TimeoutError:
                continue
            except OSError:
                if self.stopping.is_set():
                    return
                raise
            if addr[2] == PACKET_OUTGOING:
                continue
            now = time.monotonic()
            c["received"] += 1
            if loss > 0 and rng.random() < loss:
                c["dropped"] += 1
                continue
            with self.cv:
                self.seq += 1
                heapq.heappush(self.heap, (now + delay, self.seq, direction, frame))
                self.cv.notify()

    def _scheduler(self) -> None:
        out = {"ab": self.sock_b, "ba": self.sock_a}
        while not self.stopping.is_set():
            with self.cv:
                while not self.heap and not self.stopping.is_set():
                    self.cv.wait(0.2)
                if self.stopping.is_set():
                    return
                due = self.heap[0][0]
                wait = due - time.monotonic()
                if wait > 0:
                    self.cv.wait(wait)  # a new frame may be due earlier only if delays differ
                    continue
                _, _, direction, frame = heapq.heappop(self.heap)
            late = -wait
            if late > self.max_lateness:
                self.max_lateness = late
            try:
                out[direction].send(frame)
                self.counts[direction]["sent"] += 1
            except OSError:  # e.g. ENOBUFS when a tbf queue on the egress veth is full
                self.counts[direction]["send_errors"] += 1

    def run(self) -> None:
        threads = [threading.Thread(target=self._reader, args=("ab", self.sock_a), daemon=True),
                   threading.Thread(target=self._reader, args=("ba", self.sock_b), daemon=True),
                   threading.Thread(target=self._scheduler, daemon=True)]
        for t in threads:
            t.start()
        while not self.stopping.wait(0.5):
            pass
        with self.cv:
            self.cv.notify_all()
        for t in threads:
            t.join(1.0)

    def stop(self) -> None:
        self.stopping.set()

    def stats(self) -> dict:
        return {"counts": self.counts, "delay_s": self.delay, "loss": self.loss,
                "max_lateness_ms": round(self.max_lateness * 1000, 3)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--if-a", required=True)
    p.add_argument("--if-b", required=True)
    p.add_argument("--delay-ms", type=float, default=0.0, help="one-way delay, both directions")
    p.add_argument("--loss-pct", type=float, default=0.0, help="random loss %%, both directions")
    p.add_argument("--delay-ba-ms", type=float, default=None, help="override delay b->a")
    p.add_argument("--loss-ba-pct", type=float, default=None, help="override loss b->a")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--stats-file", default=None)
    p.add_argument("--ready-file", default=None, help="touched once the sockets are bound")
    a = p.parse_args(argv)
    fw = Forwarder(a.if_a, a.if_b, delay_ms=a.delay_ms, loss_pct=a.loss_pct,
                   delay_ba_ms=a.delay_ba_ms, loss_ba_pct=a.loss_ba_pct, seed=a.seed)

    def _stop(*_):
        fw.stop()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    if a.ready_file:
        with open(a.ready_file, "w") as f:
            f.write("ready\n")
    fw.run()
    st = json.dumps(fw.stats())
    if a.stats_file:
        with open(a.stats_file, "w") as f:
            f.write(st)
    else:
        print(st, file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
