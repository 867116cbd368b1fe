"""Network impairment without netem: namespaces, veths and a userspace delay/loss forwarder.

Topology (all addresses live only inside namespaces this module creates, plus the host side of
the two control links)::

    root ns (host)              [ns A]             [ns R: forwarder]            [ns B]
      hctlA 10.X.Y.5/30 ----- ctl 10.X.Y.6/30
                              media 10.X.Y.1 --- ra ==(delay,loss)== rb --- media 10.X.Y.2 (/30)
      hctlB 10.X.Y.9/30 ----------------------------------------------- ctl 10.X.Y.10/30

``media`` is the impaired path (A and B share one /30; the forwarder copies Ethernet frames between
``ra`` and ``rb``). ``ctl`` links are unimpaired and reach the host, e.g. an HTTP server listening
on 0.0.0.0 is reachable from A at ``net.host_ip_a`` and from B at ``net.host_ip_b``.
No default routes exist in A/B, so nothing can leave the machine.

    with Impairment(delay_ms=50, loss_pct=5, rate_kbit=None, seed=1) as net:
        net.exec_a(["ping", "-c", "3", net.ip_b])
        p = net.popen_b([...])
"""

from __future__ import annotations

import atexit
import contextlib
import ipaddress
import json
import os
import random
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

PREFIX = "rtkn"
# Run by path (stdlib only), so the namespace's python needs no import path to the tests.
FORWARDER = str(Path(__file__).with_name("forwarder.py"))
PROBE = str(Path(__file__).with_name("probe.py"))


class NetnsUnavailable(RuntimeError):
    pass


def netns_unavailable_reason() -> str | None:
    """Why namespaces can't be used here, or None if they can."""
    if os.geteuid() != 0:
        return "network namespaces need root (run the tests as root)"
    if not shutil.which("ip"):
        return "iproute2 `ip` is not installed"
    return None


def _run(
    cmd: Sequence[str], *, check: bool = True, ns: str | None = None, timeout: float = 20
) -> subprocess.CompletedProcess[str]:
    full = (["ip", "netns", "exec", ns, *cmd]) if ns else list(cmd)
    p = subprocess.run(full, capture_output=True, text=True, timeout=timeout)
    if check and p.returncode != 0:
        raise RuntimeError(f"{' '.join(full)} failed ({p.returncode}): {p.stderr.strip()}")
    return p


def _ethtool() -> str | None:
    for c in ("ethtool", "/usr/sbin/ethtool", "/sbin/ethtool"):
        w = shutil.which(c)
        if w:
            return w
    return None


def _used_networks() -> list[ipaddress.IPv4Network]:
    out = _run(["ip", "-4", "-o", "addr", "show"], check=False).stdout
    nets: list[ipaddress.IPv4Network] = []
    for line in out.splitlines():
        parts = line.split()
        if "inet" in parts:
            nets.append(ipaddress.IPv4Interface(parts[parts.index("inet") + 1]).network)
    out = _run(["ip", "-4", "route", "show", "table", "all"], check=False).stdout
    for line in out.splitlines():
        tok = line.split()[0] if line.split() else ""
        with contextlib.suppress(ValueError):
            if tok and tok not in ("default", "broadcast", "local", "unreachable"):
                nets.append(ipaddress.IPv4Network(tok, strict=False))
    return nets


def _pick_block() -> ipaddress.IPv4Network:
    """A free /28 in 10.200.0.0/13 for this run."""
    used = _used_networks()
    for _ in range(200):
        x, y, z = random.randint(200, 207), random.randint(0, 255), random.randrange(0, 256, 16)
        net = ipaddress.IPv4Network(f"10.{x}.{y}.{z}/28")
        if not any(net.overlaps(u) for u in used if u.prefixlen > 0):
            return net
    raise RuntimeError("no free 10.200.0.0/13 block for the impairment namespaces")


_live: set[Impairment] = set()
_live_lock = threading.Lock()


def _atexit_cleanup() -> None:
    for imp in list(_live):
        imp.close()


atexit.register(_atexit_cleanup)


def cleanup_stale() -> list[str]:
    """Delete namespaces left by crashed runs (their creator pid is dead). Returns deleted names."""
    out = _run(["ip", "netns", "list"], check=False).stdout
    deleted = []
    for line in out.splitlines():
        name = line.split()[0] if line.split() else ""
        if not name.startswith(PREFIX):
            continue
        try:
            pid = int(name[len(PREFIX) :].split("x")[0])
        except ValueError:
            continue
        if pid != os.getpid() and not os.path.exists(f"/proc/{pid}"):
            _kill_ns_pids(name)
            _run(["ip", "netns", "del", name], check=False)
            deleted.append(name)
    # host-side control veths whose namespace is gone disappear with it
    return deleted


def _kill_ns_pids(ns: str) -> None:
    pids = _run(["ip", "netns", "pids", ns], check=False).stdout.split()
    for sig in (signal.SIGTERM, signal.SIGKILL):
        alive = []
        for p in pids:
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(p), sig)
                alive.append(p)
        if not alive:
            return
        deadline = time.monotonic() + 2
        while (
            time.monotonic() < deadline
            and _run(["ip", "netns", "pids", ns], check=False).stdout.split()
        ):
            time.sleep(0.05)
        pids = _run(["ip", "netns", "pids", ns], check=False).stdout.split()
        if not pids:
            return


class Impairment:
    """Two peer namespaces joined through a delay/loss forwarder; see the module docstring.

    delay_ms / loss_pct apply to each direction (A->B and B->A); ``rate_kbit`` adds a
    ``tc tbf`` cap on both forwarder egress veths (so both directions are capped).
    """

    def __init__(
        self,
        delay_ms: float = 0.0,
        loss_pct: float = 0.0,
        rate_kbit: int | None = None,
        *,
        seed: int | None = None,
        delay_ba_ms: float | None = None,
        loss_ba_pct: float | None = None,
        tbf_latency_ms: int = 150,
        peer_nice: int | None = None,
    ) -> None:
        self.delay_ms, self.loss_pct, self.rate_kbit = delay_ms, loss_pct, rate_kbit
        # niceness of what popen_in starts (negative = before the machine's other work; root)
        self.peer_nice = peer_nice
        self.delay_ba_ms, self.loss_ba_pct = delay_ba_ms, loss_ba_pct
        self.seed = seed if seed is not None else secrets.randbits(32)
        self.tbf_latency_ms = tbf_latency_ms
        tag = f"{os.getpid()}x{secrets.token_hex(2)}"
        self.tag = tag
        self.ns_a, self.ns_b, self.ns_r = f"{PREFIX}{tag}a", f"{PREFIX}{tag}b", f"{PREFIX}{tag}r"
        short = secrets.token_hex(3)
        self.host_if_a, self.host_if_b = f"rk{short}a", f"rk{short}b"
        self.forwarder: subprocess.Popen[bytes] | None = None
        self.forwarder_stats: dict[str, Any] | None = None
        self._tmp = tempfile.mkdtemp(prefix="rtk-netem-")
        self._procs: list[subprocess.Popen[bytes]] = []
        self._old_handlers: dict[int, Any] = {}
        self._closed = True
        self.ip_a = self.ip_b = self.host_ip_a = self.host_ip_b = ""
        self.ctl_ip_a = self.ctl_ip_b = ""

    # ---------------------------------------------------------------- lifecycle
    def __enter__(self) -> Impairment:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def open(self) -> None:
        reason = netns_unavailable_reason()
        if reason:
            raise NetnsUnavailable(reason)
        cleanup_stale()
        self._closed = False
        with _live_lock:
            _live.add(self)
        self._install_signal_handlers()
        try:
            self._setup()
        except BaseException:
            self.close()
            raise

    def _install_signal_handlers(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return

        def handler(signum: int, frame: object) -> None:
            self.close()
            prev = self._old_handlers.get(signum)
            if callable(prev):
                prev(signum, frame)
            raise SystemExit(128 + signum)

        for sig in (signal.SIGTERM, signal.SIGHUP):
            with contextlib.suppress(ValueError, OSError):
                self._old_handlers[sig] = signal.signal(sig, handler)

    def _restore_signal_handlers(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for sig, h in self._old_handlers.items():
            with contextlib.suppress(ValueError, OSError, TypeError):
                signal.signal(sig, h if h is not None else signal.SIG_DFL)
        self._old_handlers.clear()

    def _setup(self) -> None:
        block = _pick_block()
        hosts = list(block)  # 16 addresses
        media, ctla, ctlb = hosts[0:4], hosts[4:8], hosts[8:12]
        self.ip_a, self.ip_b = str(media[1]), str(media[2])
        self.host_ip_a, self.ctl_ip_a = str(ctla[1]), str(ctla[2])
        self.host_ip_b, self.ctl_ip_b = str(ctlb[1]), str(ctlb[2])
        self.block = block
        for ns in (self.ns_a, self.ns_b, self.ns_r):
            _run(["ip", "netns", "add", ns])
        a, b, r = self.ns_a, self.ns_b, self.ns_r
        # impaired media path
        _run(
            [
                "ip",
                "link",
                "add",
                "media",
                "netns",
                a,
                "type",
                "veth",
                "peer",
                "name",
                "ra",
                "netns",
                r,
            ]
        )
        _run(
            [
                "ip",
                "link",
                "add",
                "media",
                "netns",
                b,
                "type",
                "veth",
                "peer",
                "name",
                "rb",
                "netns",
                r,
            ]
        )
        # unimpaired control links to the host
        _run(
            ["ip", "link", "add", self.host_if_a, "type", "veth", "peer", "name", "ctl", "netns", a]
        )
        _run(
            ["ip", "link", "add", self.host_if_b, "type", "veth", "peer", "name", "ctl", "netns", b]
        )
        for ns in (a, b, r):
            for key in ("all", "default"):
                _run(["sysctl", "-qw", f"net.ipv6.conf.{key}.disable_ipv6=1"], ns=ns, check=False)
            _run(["ip", "link", "set", "lo", "up"], ns=ns)
        for hif in (self.host_if_a, self.host_if_b):
            _run(["sysctl", "-qw", f"net.ipv6.conf.{hif}.disable_ipv6=1"], check=False)
        _run(["ip", "addr", "add", f"{self.ip_a}/30", "dev", "media"], ns=a)
        _run(["ip", "addr", "add", f"{self.ip_b}/30", "dev", "media"], ns=b)
        _run(["ip", "addr", "add", f"{self.ctl_ip_a}/30", "dev", "ctl"], ns=a)
        _run(["ip", "addr", "add", f"{self.ctl_ip_b}/30", "dev", "ctl"], ns=b)
        _run(["ip", "addr", "add", f"{self.host_ip_a}/30", "dev", self.host_if_a])
        _run(["ip", "addr", "add", f"{self.host_ip_b}/30", "dev", self.host_if_b])
        eth = _ethtool()
        offload = ["tx", "off", "rx", "off", "tso", "off", "gso", "off", "gro", "off"]
        for ns, dev in ((a, "media"), (b, "media"), (r, "ra"), (r, "rb")):
            if eth:
                _run([eth, "-K", dev, *offload], ns=ns, check=False)
            _run(["ip", "link", "set", dev, "up"], ns=ns)
        for ns, dev in ((r, "ra"), (r, "rb")):
            _run(["ip", "link", "set", dev, "promisc", "on"], ns=ns)
        for ns in (a, b):
            _run(["ip", "link", "set", "ctl", "up"], ns=ns)
        for hif in (self.host_if_a, self.host_if_b):
            _run(["ip", "link", "set", hif, "up"])
        if not eth:
            print(
                "tests.support.netem: ethtool missing; offloads left on "
                "(run scripts/install-chromium)",
                file=sys.stderr,
            )
        if self.rate_kbit:
            rate_bytes = self.rate_kbit * 1000 / 8
            burst = max(3000, int(rate_bytes / 25))
            for dev in ("ra", "rb"):
                _run(
                    [
                        "tc",
                        "qdisc",
                        "add",
                        "dev",
                        dev,
                        "root",
                        "tbf",
                        "rate",
                        f"{self.rate_kbit}kbit",
                        "burst",
                        str(burst),
                        "latency",
                        f"{self.tbf_latency_ms}ms",
                    ],
                    ns=r,
                )
        ready = os.path.join(self._tmp, "ready")
        cmd = [
            sys.executable,
            FORWARDER,
            "--if-a",
            "ra",
            "--if-b",
            "rb",
            "--delay-ms",
            str(self.delay_ms),
            "--loss-pct",
            str(self.loss_pct),
            "--seed",
            str(self.seed),
            "--stats-file",
            os.path.join(self._tmp, "fwstats.json"),
            "--ready-file",
            ready,
        ]
        if self.delay_ba_ms is not None:
            cmd += ["--delay-ba-ms", str(self.delay_ba_ms)]
        if self.loss_ba_pct is not None:
            cmd += ["--loss-ba-pct", str(self.loss_ba_pct)]
        with open(os.path.join(self._tmp, "fw.err"), "w") as err:
            self.forwarder = subprocess.Popen(["ip", "netns", "exec", r, *cmd], stderr=err)
        deadline = time.monotonic() + 10
        while not os.path.exists(ready):
            if self.forwarder.poll() is not None or time.monotonic() > deadline:
                with open(os.path.join(self._tmp, "fw.err")) as f:
                    reason = f.read()
                raise RuntimeError(f"forwarder did not start: {reason}")
            time.sleep(0.02)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for p in self._procs:
            if p.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    p.terminate()
        for p in self._procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                p.wait(3)
            if p.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    p.kill()
        if self.forwarder and self.forwarder.poll() is None:
            self.forwarder.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.forwarder.wait(5)
            if self.forwarder.poll() is None:
                self.forwarder.kill()
        with (
            contextlib.suppress(OSError, ValueError),
            open(os.path.join(self._tmp, "fwstats.json")) as f,
        ):
            self.forwarder_stats = json.load(f)
        for ns in (self.ns_a, self.ns_b, self.ns_r):
            _kill_ns_pids(ns)
            _run(["ip", "netns", "del", ns], check=False)
        for hif in (self.host_if_a, self.host_if_b):  # normally gone with their peers
            _run(["ip", "link", "del", hif], check=False)
        shutil.rmtree(self._tmp, ignore_errors=True)
        with _live_lock:
            _live.discard(self)
        self._restore_signal_handlers()

    # ---------------------------------------------------------------- running things
    def _ns(self, side: str) -> str:
        return {"a": self.ns_a, "b": self.ns_b, "r": self.ns_r}[side]

    def exec_in(self, side: str, cmd: Sequence[str], **kw: Any) -> subprocess.CompletedProcess[str]:
        kw.setdefault("capture_output", True)
        kw.setdefault("text", True)
        kw.setdefault("timeout", 60)
        return subprocess.run(["ip", "netns", "exec", self._ns(side), *cmd], **kw)

    def popen_in(self, side: str, cmd: Sequence[str], /, **kw: Any) -> subprocess.Popen[bytes]:
        """Start ``cmd`` in namespace ``side`` (at ``peer_nice``, if given); ended on close."""
        nice = ["nice", "-n", str(self.peer_nice)] if self.peer_nice is not None else []
        p = subprocess.Popen(["ip", "netns", "exec", self._ns(side), *nice, *cmd], **kw)
        self._procs.append(p)
        return p

    def exec_a(self, cmd: Sequence[str], **kw: Any) -> subprocess.CompletedProcess[str]:
        return self.exec_in("a", cmd, **kw)

    def exec_b(self, cmd: Sequence[str], **kw: Any) -> subprocess.CompletedProcess[str]:
        return self.exec_in("b", cmd, **kw)

    def popen_a(self, cmd: Sequence[str], **kw: Any) -> subprocess.Popen[bytes]:
        return self.popen_in("a", cmd, **kw)

    def popen_b(self, cmd: Sequence[str], **kw: Any) -> subprocess.Popen[bytes]:
        return self.popen_in("b", cmd, **kw)

    def addresses(self, role: str) -> tuple[str, str, str]:
        """For the call runner (rtk_sessions.livecall.PeerNetwork): the host address the browser
        of ``role`` reaches this machine at, its media IP, the other peer's media IP."""
        if role == "a":
            return self.host_ip_a, self.ip_a, self.ip_b
        return self.host_ip_b, self.ip_b, self.ip_a

    def describe(self) -> dict[str, Any]:
        return {
            "delay_ms": self.delay_ms,
            "loss_pct": self.loss_pct,
            "rate_kbit": self.rate_kbit,
            "seed": self.seed,
            "ip_a": self.ip_a,
            "ip_b": self.ip_b,
            "host_ip_a": self.host_ip_a,
            "host_ip_b": self.host_ip_b,
            "namespaces": [self.ns_a, self.ns_b, self.ns_r],
        }


__all__ = ["Impairment", "NetnsUnavailable", "cleanup_stale", "netns_unavailable_reason"]
