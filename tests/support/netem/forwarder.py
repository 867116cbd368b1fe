"""Userspace L2 forwarder with fixed delay and random loss (netem is not available here).

Runs inside the middle ("router") namespace: every frame read on one veth with an AF_PACKET raw
socket is written to the other veth after ``delay_ms`` unless it is dropped (probability
``loss_pct``/100, per direction, from a seeded RNG). A scheduler thread sends frames from a heap of
due times, so the delay does not depend on when the reader threads run.

    python tests/support/netem/forwarder.py --if-a ra --if-b rb --delay-ms 50 --loss-pct 5 --seed 1

Each frame's delay is counted from the kernel's receive timestamp (``SO_TIMESTAMPNS``), so a
reader thread that runs late under CPU load does not add to it. The forwarder also measures what it
actually applied, per direction, on the frames it forwarded: the delay from that receive
timestamp to the moment ``send`` returned, and the frames it dropped (random loss plus send
errors). UDP frames are classified by RFC 7983's first-byte rule and RFC 5761's RTP/RTCP split;
RTP ones also by payload type (Chromium's Opus is 111), so a test can compare a WebRTC peer
report with the delay and loss its media really met.

On SIGTERM/SIGINT it writes its counters as JSON to ``--stats-file`` (if given) and exits::

    {"counts": {"ab": {received, dropped, sent, send_errors}, "ba": ...},
     "applied": {"ab": {"delay_ms": {"udp": D, "rtcp": D, "rtp": D, "rtcp_pt": {"111": D, ...}},
                        "loss": {"udp": L, "rtcp": L, "rtp": L, "rtp_pt": {"111": L, ...}}},
                 "ba": ...},
     "delay_s": {...}, "loss": {...}, "max_lateness_ms": float}

    D = {"n", "mean", "median", "p95", "min", "max"} (ms, or null when n = 0)
    L = {"received", "dropped", "loss_pct"}

Direction "ab" is frames read on ``--if-a`` and written to ``--if-b``.
"""

from __future__ import annotations

import argparse
import contextlib
import heapq
import json
import os
import random
import signal
import socket
import statistics
import struct
import sys
import threading
import time

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
PACKET_IGNORE_OUTGOING = 23  # Linux >= 4.20
SOL_PACKET = 263
SO_TIMESTAMPNS = 35  # = SCM_TIMESTAMPNS; not exported by Python's socket module
ETH_HLEN = 14
ETH_P_IP = 0x0800
IPPROTO_UDP = 17


def without_udp_checksum(frame: bytes) -> bytes:
    """An IPv4 UDP frame with its checksum field set to 0 ("no checksum", RFC 768): with the
    veths' checksum offload on (no ethtool to turn it off), a captured frame carries only the
    pseudo-header sum, and the receiving namespace would drop it as corrupt."""
    if len(frame) < ETH_HLEN + 20 or struct.unpack_from("!H", frame, 12)[0] != ETH_P_IP:
        return frame
    if frame[ETH_HLEN + 9] != IPPROTO_UDP:
        return frame
    at = ETH_HLEN + (frame[ETH_HLEN] & 0x0F) * 4 + 6
    if len(frame) < at + 2:
        return frame
    return frame[:at] + b"\0\0" + frame[at + 2 :]


def classify(frame: bytes, ssrc_pt: dict[int, int] | None = None) -> tuple[str, ...]:
    """The classes a frame counts in: () for non-UDP, else ("udp",) plus ("rtcp",) or
    ("rtp", "pt<N>") for RTP/RTCP (first payload byte 128–191; RTCP when the second byte is
    192–223, RFC 5761). ``ssrc_pt`` maps the SSRCs of the RTP seen so far (in the clear, also
    in SRTP) to their payload types; an RTCP packet whose sender SSRC (the first packet's, in the
    clear, also in SRTCP) is one of them and which starts with a sender or receiver report (packet
    type 200/201: not a reduced-size feedback packet) also counts in "rtcp_pt<N>": the reports of
    that stream's RTP session (an RTT sample is one sender report one way plus the report block on
    it coming back)."""
    if len(frame) < ETH_HLEN + 20 or struct.unpack_from("!H", frame, 12)[0] != ETH_P_IP:
        return ()
    ihl = (frame[ETH_HLEN] & 0x0F) * 4
    if frame[ETH_HLEN + 9] != IPPROTO_UDP:
        return ()
    payload = ETH_HLEN + ihl + 8
    if len(frame) < payload + 2 or not 128 <= frame[payload] <= 191:
        return ("udp",)
    second = frame[payload + 1]
    if 192 <= second <= 223:
        if ssrc_pt is not None and second in (200, 201) and len(frame) >= payload + 8:
            pt = ssrc_pt.get(struct.unpack_from("!I", frame, payload + 4)[0])
            if pt is not None:
                return ("udp", "rtcp", f"rtcp_pt{pt}")
        return ("udp", "rtcp")
    if ssrc_pt is not None and len(frame) >= payload + 12:
        ssrc_pt[struct.unpack_from("!I", frame, payload + 8)[0]] = second & 0x7F
    return ("udp", "rtp", f"pt{second & 0x7F}")


class Applied:
    """What one direction really did to the frames of each class (see the module docstring)."""

    def __init__(self) -> None:
        self.delays: dict[str, list[float]] = {"udp": [], "rtcp": [], "rtp": []}
        self.received: dict[str, int] = {}
        self.dropped: dict[str, int] = {}

    def seen(self, classes: tuple[str, ...]) -> None:
        for c in classes:
            self.received[c] = self.received.get(c, 0) + 1

    def lost(self, classes: tuple[str, ...]) -> None:
        for c in classes:
            self.dropped[c] = self.dropped.get(c, 0) + 1

    def delayed(self, classes: tuple[str, ...], seconds: float) -> None:
        for c in classes:
            if c in self.delays or c.startswith("rtcp_pt"):
                self.delays.setdefault(c, []).append(seconds * 1000)

    @staticmethod
    def _delay(values: list[float]) -> dict[str, float | int | None]:
        if not values:
            return {"n": 0, "mean": None, "median": None, "p95": None, "min": None, "max": None}
        ordered = sorted(values)
        return {
            "n": len(values),
            "mean": round(statistics.fmean(values), 3),
            "median": round(statistics.median(ordered), 3),
            "p95": round(ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))], 3),
            "min": round(ordered[0], 3),
            "max": round(ordered[-1], 3),
        }

    def _loss(self, c: str) -> dict[str, float | int | None]:
        received, dropped = self.received.get(c, 0), self.dropped.get(c, 0)
        return {
            "received": received,
            "dropped": dropped,
            "loss_pct": round(100 * dropped / received, 3) if received else None,
        }

    def report(self) -> dict[str, object]:
        loss: dict[str, object] = {c: self._loss(c) for c in ("udp", "rtcp", "rtp")}
        loss["rtp_pt"] = {c[2:]: self._loss(c) for c in sorted(self.received) if c[:2] == "pt"}
        delays: dict[str, object] = {
            c: self._delay(v) for c, v in self.delays.items() if not c.startswith("rtcp_pt")
        }
        delays["rtcp_pt"] = {
            c[7:]: self._delay(v) for c, v in sorted(self.delays.items()) if c.startswith("rtcp_pt")
        }
        return {"delay_ms": delays, "loss": loss}


def _open(ifname: str) -> socket.socket:
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 * 1024 * 1024)
    with contextlib.suppress(OSError):  # else filtered by pkttype in the reader
        s.setsockopt(SOL_PACKET, PACKET_IGNORE_OUTGOING, 1)
    s.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    s.bind((ifname, 0))
    return s


def _rx_time(ancdata: list[tuple[int, int, bytes]]) -> float | None:
    """The kernel receive time (CLOCK_REALTIME seconds) from the SCM_TIMESTAMPNS message."""
    for level, kind, data in ancdata:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(data) >= 16:
            sec, nsec = struct.unpack_from("@qq", data)
            return float(sec) + float(nsec) / 1e9
    return None


class Forwarder:
    def __init__(
        self,
        if_a: str,
        if_b: str,
        *,
        delay_ms: float,
        loss_pct: float,
        delay_ba_ms: float | None = None,
        loss_ba_pct: float | None = None,
        seed: int | None = None,
    ) -> None:
        self.if_a, self.if_b = if_a, if_b
        self.sock_a, self.sock_b = _open(if_a), _open(if_b)
        # direction "ab" = frames read on if_a, written to if_b
        self.delay = {
            "ab": delay_ms / 1000.0,
            "ba": (delay_ms if delay_ba_ms is None else delay_ba_ms) / 1000.0,
        }
        self.loss = {
            "ab": loss_pct / 100.0,
            "ba": (loss_pct if loss_ba_pct is None else loss_ba_pct) / 100.0,
        }
        base = random.Random(seed)
        self.rng = {
            "ab": random.Random(base.getrandbits(64)),
            "ba": random.Random(base.getrandbits(64)),
        }
        self.counts = {
            d: {"received": 0, "dropped": 0, "sent": 0, "send_errors": 0} for d in ("ab", "ba")
        }
        self.applied = {"ab": Applied(), "ba": Applied()}
        self.ssrc_pt: dict[str, dict[int, int]] = {"ab": {}, "ba": {}}
        # (due monotonic, seq, direction, frame, kernel receive time realtime, classes)
        self.heap: list[tuple[float, int, str, bytes, float, tuple[str, ...]]] = []
        self.seq = 0
        self.cv = threading.Condition()
        self.stopping = threading.Event()
        self.max_lateness = 0.0

    def _reader(self, direction: str, sock: socket.socket) -> None:
        rng, loss, delay, c = (
            self.rng[direction],
            self.loss[direction],
            self.delay[direction],
            self.counts[direction],
        )
        applied = self.applied[direction]
        sock.settimeout(0.2)
        while not self.stopping.is_set():
            try:
                frame, ancdata, _flags, addr = sock.recvmsg(65535, 64)
            except TimeoutError:
                continue
            except OSError:
                if self.stopping.is_set():
                    return
                raise
            if addr[2] == PACKET_OUTGOING:
                continue
            now, wall = time.monotonic(), time.time()
            rx = _rx_time(ancdata)
            if rx is None or rx > wall:
                rx = wall
            classes = classify(frame, self.ssrc_pt[direction])
            c["received"] += 1
            applied.seen(classes)
            if loss > 0 and rng.random() < loss:
                c["dropped"] += 1
                applied.lost(classes)
                continue
            frame = without_udp_checksum(frame)
            due = now - (wall - rx) + delay  # counted from the kernel's receive time
            with self.cv:
                self.seq += 1
                heapq.heappush(self.heap, (due, self.seq, direction, frame, rx, classes))
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
                _, _, direction, frame, rx, classes = heapq.heappop(self.heap)
            late = -wait
            if late > self.max_lateness:
                self.max_lateness = late
            try:
                out[direction].send(frame)
            except OSError:  # e.g. ENOBUFS when a tbf queue on the egress veth is full
                self.counts[direction]["send_errors"] += 1
                self.applied[direction].lost(classes)
                continue
            self.counts[direction]["sent"] += 1
            self.applied[direction].delayed(classes, time.time() - rx)

    def run(self) -> None:
        threads = [
            threading.Thread(target=self._reader, args=("ab", self.sock_a), daemon=True),
            threading.Thread(target=self._reader, args=("ba", self.sock_b), daemon=True),
            threading.Thread(target=self._scheduler, daemon=True),
        ]
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

    def stats(self) -> dict[str, object]:
        return {
            "counts": self.counts,
            "delay_s": self.delay,
            "loss": self.loss,
            "applied": {d: a.report() for d, a in self.applied.items()},
            "max_lateness_ms": round(self.max_lateness * 1000, 3),
        }


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
    fw = Forwarder(
        a.if_a,
        a.if_b,
        delay_ms=a.delay_ms,
        loss_pct=a.loss_pct,
        delay_ba_ms=a.delay_ba_ms,
        loss_ba_pct=a.loss_ba_pct,
        seed=a.seed,
    )

    def _stop(*_: object) -> None:
        fw.stop()

    # Real-time priority (root only; threads started later inherit it): the emulated link keeps
    # its delay while other processes keep the CPUs busy. What it really applied is measured anyway.
    with contextlib.suppress(OSError, AttributeError):
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(10))
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
