"""Real two-browser WebRTC calls in headless Debian Chromium, optionally over an impaired link.

    from rtk_sessions.livecall import run_call
    from rtk_sessions.netem import Impairment

    res = run_call(endpoint="http://127.0.0.1:8000/client/v4/accounts/A/realtime/kit/APP/ingest",
                   tokens=(tok_a, tok_b), meeting_id="m1", duration_s=20,
                   impairment=Impairment(delay_ms=50, loss_pct=5))

The runner serves the call page, the collector and a tiny signaling relay itself (one HTTP server
on the host, 0.0.0.0:random port), starts one Chromium per peer (in namespace A/B when impaired)
with a fresh profile, waits until both pages report "done" and kills each browser by its PID.
With an impairment, an endpoint host of 127.0.0.1/localhost/0.0.0.0 is rewritten to the host side of
each peer's unimpaired control link (``net.host_ip_a``/``net.host_ip_b``), so the ingestion server
must listen on 0.0.0.0 (or those addresses) and answer CORS for the page origins.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib.resources import files
from typing import Any
from urllib.parse import parse_qs, urlsplit, urlunsplit

from rtk_sessions.collector import collector_js
from rtk_sessions.netem import Impairment


class _QuietServer(ThreadingHTTPServer):
    """Browsers killed mid-request reset their connections: not worth a traceback."""

    daemon_threads = True

    def handle_error(self, request, client_address):  # type: ignore[override]
        import sys

        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)

CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
    "--autoplay-policy=no-user-gesture-required", "--allow-loopback-in-peer-connection",
    "--disable-dev-shm-usage", "--mute-audio",
]


def call_page_html(config: dict[str, Any] | None = None) -> str:
    """The call page; ``config`` (role, endpoint, token, peerId, meetingId, participant,
    durationMs, intervalMs, mediaIp, remoteIp, signal, video) is embedded as JSON. Without it the
    page reads the same keys from its URL query string."""
    html = (files(__name__) / "call.html").read_text(encoding="utf-8")
    if config:
        blob = json.dumps(config).replace("</", "<\\/")
        html = html.replace('<script id="rtk-config" type="application/json">{}</script>',
                            f'<script id="rtk-config" type="application/json">{blob}</script>', 1)
    return html


@dataclass
class PeerResult:
    role: str
    peer_id: str
    ok: bool
    joined_at: float | None = None      # epoch seconds (page clock = host clock)
    connected_at: float | None = None
    left_at: float | None = None
    acked: bool | None = None
    error: str | None = None
    collector: dict[str, Any] | None = None
    logs: list[str] = field(default_factory=list)
    exit_code: int | None = None


@dataclass
class CallResult:
    peers: tuple[PeerResult, PeerResult]
    started_at: float                   # runner wall clock, epoch seconds
    ended_at: float
    impairment: dict[str, Any] | None
    forwarder_stats: dict[str, Any] | None

    @property
    def ok(self) -> bool:
        return all(p.ok for p in self.peers)


class _Relay:
    """HTTP server: the page, the collector, a long-poll signaling relay, logs and done reports."""

    def __init__(self, pages: dict[str, str]) -> None:
        self.pages = pages
        self.msgs: dict[str, list[Any]] = defaultdict(list)
        self.cv = threading.Condition()
        self.done: dict[str, dict[str, Any]] = {}
        self.logs: dict[str, list[str]] = defaultdict(list)
        relay = self
        js = collector_js().encode()

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _send(self, code: int, body: bytes, ctype: str) -> None:
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                u = urlsplit(self.path)
                parts = u.path.strip("/").split("/")
                if u.path == "/rtk-collector.js":
                    return self._send(200, js, "text/javascript; charset=utf-8")
                if parts[0] == "call" and len(parts) == 2 and parts[1] in relay.pages:
                    page = relay.pages[parts[1]].encode()
                    return self._send(200, page, "text/html; charset=utf-8")
                if parts[0] == "signal" and len(parts) == 3:
                    key = parts[1] + "/" + parts[2]
                    after = int((parse_qs(u.query).get("after") or ["0"])[0])
                    with relay.cv:
                        relay.cv.wait_for(lambda: len(relay.msgs[key]) > after, timeout=10)
                        out = relay.msgs[key][after:]
                    return self._send(200, json.dumps(out).encode(), "application/json")
                if u.path == "/favicon.ico":
                    return self._send(204, b"", "text/plain")
                return self._send(404, b"not found", "text/plain")

            def do_POST(self) -> None:
                u = urlsplit(self.path)
                parts = u.path.strip("/").split("/")
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if parts[0] == "signal" and len(parts) == 3:
                    with relay.cv:
                        relay.msgs[parts[1] + "/" + parts[2]].append(json.loads(body))
                        relay.cv.notify_all()
                elif parts[0] == "log" and len(parts) == 2:
                    relay.logs[parts[1]].append(body.decode("utf-8", "replace"))
                elif parts[0] == "done" and len(parts) == 2:
                    with relay.cv:
                        relay.done[parts[1]] = json.loads(body)
                        relay.cv.notify_all()
                else:
                    return self._send(404, b"not found", "text/plain")
                return self._send(200, b"{}", "application/json")

            def log_message(self, *a: Any) -> None:
                pass

        self.httpd = _QuietServer(("0.0.0.0", 0), H)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        with self.cv:
            self.cv.notify_all()
        self.httpd.shutdown()
        self.httpd.server_close()


def _rewrite_host(endpoint: str, host: str) -> str:
    u = urlsplit(endpoint)
    if u.hostname in ("127.0.0.1", "localhost", "0.0.0.0", "::1"):
        netloc = host + (f":{u.port}" if u.port else "")
        return urlunsplit((u.scheme, netloc, u.path, u.query, u.fragment))
    return endpoint


def _kill_group(p: subprocess.Popen) -> None:
    """Ends one browser we started: its process group (chromium's helpers), by PID."""
    if p.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(p.pid, signal.SIGTERM)
    try:
        p.wait(5)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(p.pid, signal.SIGKILL)
        p.wait(5)


def run_call(*, endpoint: str, tokens: tuple[str | None, str | None],
             peer_ids: tuple[str, str] | None = None, meeting_id: str | None = None,
             participants: tuple[dict[str, Any] | None, dict[str, Any] | None] = (None, None),
             duration_s: float = 15, impairment: Impairment | None = None,
             chromium: str = "/usr/bin/chromium", interval_ms: int = 2000, video: bool = True,
             video_size: tuple[int, int] = (640, 480),
             timeout_s: float | None = None, extra_flags: list[str] | None = None,
             log_dir: str | None = None, event_log_dir: str | None = None) -> CallResult:
    """Runs one real call between two headless Chromium pages and returns when both left.

    ``tokens``: the bearer token of each peer (participant tokens, or an API token for both).
    ``participants``: the ``participant`` object of each peer's ``peer.joined``.
    ``video_size``: the getUserMedia camera size asked for (the fake camera honours it).
    ``impairment``: an :class:`Impairment` (opened here and closed afterwards if not already open);
    None runs both browsers in the host namespace over loopback.
    ``log_dir``: keep chromium-{a,b}.log there. ``event_log_dir``: Chromium's RTC event logs
    (``--webrtc-event-logging``: binary libwebrtc RtcEventLog protobufs, one file per
    RTCPeerConnection, packet headers + BWE; read with rtc_event_log_visualizer) in
    {dir}/a and {dir}/b.
    """
    if not (os.path.exists(chromium) or shutil.which(chromium)):
        raise FileNotFoundError(f"{chromium} not found: run scripts/install-chromium")
    peer_ids = peer_ids or (str(uuid.uuid4()), str(uuid.uuid4()))
    own_imp = impairment is not None and getattr(impairment, "_closed", False)
    if own_imp:
        impairment.open()
    tmp = tempfile.mkdtemp(prefix="rtk-livecall-")
    relay = None
    procs: dict[str, subprocess.Popen] = {}
    started = time.time()
    try:
        room = uuid.uuid4().hex[:8]
        pages: dict[str, str] = {}
        origins: dict[str, str] = {}
        relay = _Relay(pages)
        for i, role in enumerate(("a", "b")):
            if impairment is not None:
                host = impairment.host_ip_a if role == "a" else impairment.host_ip_b
                media_ip = impairment.ip_a if role == "a" else impairment.ip_b
                remote_ip = impairment.ip_b if role == "a" else impairment.ip_a
            else:
                host, media_ip, remote_ip = "127.0.0.1", "", ""
            origins[role] = f"http://{host}:{relay.port}"
            pages[role] = call_page_html({
                "role": role, "endpoint": _rewrite_host(endpoint, host) if impairment else endpoint,
                "token": tokens[i], "peerId": peer_ids[i], "remotePeerId": peer_ids[1 - i],
                "meetingId": meeting_id, "participant": participants[i],
                "durationMs": int(duration_s * 1000), "intervalMs": interval_ms,
                "mediaIp": media_ip, "remoteIp": remote_ip, "video": video,
                "videoWidth": video_size[0], "videoHeight": video_size[1],
                "signal": f"{origins[role]}/signal/{room}",
            })
        for role in ("a", "b"):
            profile = os.path.join(tmp, f"profile-{role}")
            os.makedirs(profile)
            cmd = [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}",
                   f"--unsafely-treat-insecure-origin-as-secure={origins[role]}",
                   *(extra_flags or [])]
            if event_log_dir:
                os.makedirs(os.path.join(event_log_dir, role), exist_ok=True)
                cmd.append(f"--webrtc-event-logging={os.path.join(event_log_dir, role)}")
            cmd.append(f"{origins[role]}/call/{role}")
            logf = open(os.path.join(log_dir or tmp, f"chromium-{role}.log"), "w")  # noqa: SIM115
            kw = {"stdout": logf, "stderr": subprocess.STDOUT, "start_new_session": True}
            if impairment is not None:
                procs[role] = impairment.popen_in(role, cmd, **kw)
            else:
                procs[role] = subprocess.Popen(cmd, **kw)
            logf.close()
        deadline = time.monotonic() + (timeout_s or duration_s + 60)
        with relay.cv:
            while len(relay.done) < 2 and time.monotonic() < deadline:
                relay.cv.wait(0.5)
                if any(p.poll() is not None for p in procs.values()) and len(relay.done) < 2:
                    missing = [r for r in ("a", "b") if r not in relay.done]
                    if any(procs[r].poll() is not None for r in missing):
                        break
        ended = time.time()
        results = []
        for i, role in enumerate(("a", "b")):
            d = relay.done.get(role)
            if d is None:
                results.append(PeerResult(role, peer_ids[i], False, error="no done report (timeout "
                                          "or browser exited)", logs=relay.logs.get(role, [])))
                continue
            def ms(v):
                return (v / 1000 if v else None)
            results.append(PeerResult(
                role, d.get("peerId") or peer_ids[i], bool(d.get("ok")),
                joined_at=ms(d.get("joinedAt")), connected_at=ms(d.get("connectedAt")),
                left_at=ms(d.get("leftAt")), acked=d.get("acked"), error=d.get("error"),
                collector=d.get("collector"), logs=d.get("logs") or relay.logs.get(role, [])))
    finally:
        for p in procs.values():
            _kill_group(p)
        if relay is not None:
            relay.close()
        fw = None
        if impairment is not None:
            if own_imp:
                impairment.close()
            fw = impairment.forwarder_stats
        shutil.rmtree(tmp, ignore_errors=True)
    for r, role in zip(results, ("a", "b"), strict=True):
        r.exit_code = procs[role].returncode if role in procs else None
    return CallResult(peers=(results[0], results[1]), started_at=started, ended_at=ended,
                      impairment=impairment.describe() if impairment is not None else None,
                      forwarder_stats=fw)


__all__ = ["CHROMIUM_FLAGS", "CallResult", "PeerResult", "call_page_html", "run_call"]
