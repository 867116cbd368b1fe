"""The userspace forwarder really delays and drops: UDP echo A <-> B through it."""

import json
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.support.netem import PROBE, Impairment

pytestmark = [pytest.mark.netns, pytest.mark.usefixtures("need_netns")]


#: The probe's two ends run at real-time priority, like the forwarder (SCHED_FIFO, root): what
#: they measure is then the path, not how long a loaded machine left them unscheduled (a
#: client that wakes late counts the delay as round trip, a server that drains late as loss).
REALTIME = ["chrt", "-f", "10"]


def _probe(net: Impairment, count: int = 500, interval_ms: float = 5) -> dict[str, Any]:
    srv = net.popen_b(
        [*REALTIME, sys.executable, PROBE, "server", "--bind", net.ip_b, "--seconds", "30"]
    )
    time.sleep(0.3)
    r = net.exec_a(
        [
            *REALTIME,
            sys.executable,
            PROBE,
            "client",
            "--to",
            net.ip_b,
            "--count",
            str(count),
            "--interval-ms",
            str(interval_ms),
        ],
        timeout=30,
    )
    srv.terminate()
    assert r.returncode == 0, r.stderr
    result: dict[str, Any] = json.loads(r.stdout)
    return result


def test_delay_and_loss_each_way() -> None:
    """The probe's round trips are what the forwarder measured it applied (each direction at
    least the injected 50 ms, never less), and its drops are the injected 5 % each way."""
    with Impairment(delay_ms=50, loss_pct=5, seed=11) as net:
        res = _probe(net)
    fw = net.forwarder_stats
    assert fw is not None
    print("probe", res, "forwarder", fw)
    applied = {d: fw["applied"][d] for d in ("ab", "ba")}
    for d in ("ab", "ba"):
        # never early; 0.1 ms for the two clocks compared (the kernel's receive timestamp, the
        # forwarder's after send): the CI dry run saw 49.996
        assert applied[d]["delay_ms"]["udp"]["min"] >= 50 - 0.1
    truth = sum(applied[d]["delay_ms"]["udp"]["median"] for d in ("ab", "ba"))
    assert res["rtt_ms"]["median"] == pytest.approx(truth, rel=0.10), (res, truth)
    # the round trip survives both directions: 1 - (1 - drop_ab)(1 - drop_ba), ±1.5 points
    survive = 1.0
    for d in ("ab", "ba"):
        loss = applied[d]["loss"]["udp"]
        survive *= 1 - loss["dropped"] / loss["received"]
        assert 0.02 <= loss["dropped"] / loss["received"] <= 0.09
    assert res["loss_pct"] == pytest.approx(100 * (1 - survive), abs=1.5)


def test_clean_link_is_fast_and_lossless() -> None:
    with Impairment(delay_ms=0, loss_pct=0, seed=1) as net:
        res = _probe(net, count=300)
    fw = net.forwarder_stats
    assert fw is not None
    print("probe", res)
    assert res["loss_pct"] == 0
    truth = sum(fw["applied"][d]["delay_ms"]["udp"]["median"] for d in ("ab", "ba"))
    assert res["rtt_ms"]["median"] < truth + 5


def test_control_link_reaches_host_and_cleanup() -> None:
    hits = []

    class H(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits.append(self.client_address[0])
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *a: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("0.0.0.0", 0), H)
    port = httpd.server_address[1]
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        with Impairment(delay_ms=200, loss_pct=50) as net:
            for side, host in (("a", net.host_ip_a), ("b", net.host_ip_b)):
                t0 = time.monotonic()
                r = net.exec_in(
                    side,
                    [
                        "python3",
                        "-c",
                        f"import urllib.request;print(urllib.request.urlopen("
                        f"'http://{host}:{port}/',timeout=5).read())",
                    ],
                )
                assert r.returncode == 0, r.stderr
                assert time.monotonic() - t0 < 3  # not through the 200 ms/50 % forwarder
            # no route off the machine from inside a peer namespace
            r = net.exec_a(["ip", "route", "get", "8.8.8.8"])
            assert r.returncode != 0
            names = (net.ns_a, net.ns_b, net.ns_r)
        listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
        assert not any(n in listed for n in names)
        assert hits == [net.ctl_ip_a, net.ctl_ip_b]
    finally:
        httpd.shutdown()
