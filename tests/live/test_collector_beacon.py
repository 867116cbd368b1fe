"""pagehide: the collector sends peer.left and unacknowledged events by sendBeacon (?token=)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from rtk_sessions.collector import collector_js
from rtk_sessions.livecall import CHROMIUM_FLAGS
from tests.support.livecall.fake_ingest import FakeIngest

pytestmark = pytest.mark.browser

PAGE = """<!doctype html><script src="/rtk-collector.js"></script><script>
const c = RTKCollector.start({endpoint: %s, token: "tok/+ =", peerId: "beacon-peer",
                              intervalMs: 60000, flushMs: 60000});
c.event("before_unload_test", {n: 1});
setTimeout(() => { location.href = "/bye"; }, 1500);
</script>"""


def test_pagehide_sends_beacon_with_query_token(need_chromium: str) -> None:
    with FakeIngest() as fake:
        page = PAGE % json.dumps(fake.endpoint())

        class H(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = (
                    collector_js()
                    if self.path == "/rtk-collector.js"
                    else page
                    if self.path == "/"
                    else "bye"
                ).encode()
                ctype = "text/javascript" if self.path.endswith(".js") else "text/html"
                self.send_response(200)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a: Any) -> None:
                pass

        httpd = ThreadingHTTPServer(("127.0.0.1", 0), H)
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        with tempfile.TemporaryDirectory() as prof:
            p = subprocess.Popen(
                [
                    need_chromium,
                    *CHROMIUM_FLAGS,
                    f"--user-data-dir={prof}",
                    f"http://127.0.0.1:{httpd.server_address[1]}/",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
            try:
                deadline = time.monotonic() + 20
                while time.monotonic() < deadline and not any(
                    e["type"] == "peer.left" for e in fake.events
                ):
                    time.sleep(0.2)
            finally:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait(5)
                httpd.shutdown()
    beacons = [b for b in fake.batches if b["beacon"]]
    assert beacons, fake.batches
    assert beacons[0]["token"] == "tok/+ ="  # ?token= survives URL encoding
    assert beacons[0]["content_type"].startswith("text/plain")
    types = [e["type"] for e in fake.events]
    assert types[0] == "peer.joined" and types[-1] == "peer.left"
    assert fake.events[-1]["reason"] == "pagehide"
    assert "peer.event" in types
