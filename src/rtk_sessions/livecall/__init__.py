"""The call runner of ``rtk-sessions demo``: one real two-peer WebRTC call in headless Chromium.

    from rtk_sessions.livecall import run_call

    result = run_call(endpoint="http://127.0.0.1:8000/client/v4/accounts/A/realtime/kit/APP/ingest",
                      tokens=(token_a, token_b), meeting_id="m1", duration_s=20)
    result.ok, result.peers[0].joined_at

One browser driver: Debian's ``/usr/bin/chromium`` started as a plain subprocess (no Playwright,
no browser download, nothing beyond the base install), one process group and a fresh profile per
peer, ended by PID. The runner serves the call page (``call.html``), the collector and a small
long-poll signalling relay itself on one HTTP server (``bind``, a random port); each page
reports "done" to it when it left.

``network`` (optional, a :class:`PeerNetwork`) decides where each browser runs and which
addresses its page uses; the tests' impaired-network namespaces (``tests/support/netem``)
implement it. Without one both browsers run on this host over loopback.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib.resources import files
from typing import IO, Any, Protocol
from urllib.parse import parse_qs, urlsplit, urlunsplit

from rtk_sessions.collector import collector_js


class PeerNetwork(Protocol):
    """Where the two browsers of a call run (role ``"a"`` or ``"b"``)."""

    def addresses(self, role: str, /) -> tuple[str, str, str]:
        """(host address the browser reaches this machine at, its own media IP, the other
        peer's media IP); the media IPs restrict ICE candidates to that link."""
        ...

    def popen_in(self, role: str, cmd: Sequence[str], /, **kw: Any) -> subprocess.Popen[bytes]:
        """Start the browser of ``role`` (``cmd`` and ``subprocess.Popen`` keywords)."""
        ...

    def describe(self) -> dict[str, Any]:
        """A JSON-able description, copied to :attr:`CallResult.network`."""
        ...


class _QuietServer(ThreadingHTTPServer):
    """Browsers killed mid-request reset their connections: not worth a traceback."""

    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)


CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--autoplay-policy=no-user-gesture-required",
    "--allow-loopback-in-peer-connection",
    "--disable-dev-shm-usage",
    "--mute-audio",
]


def call_page_html(config: dict[str, Any] | None = None) -> str:
    """The call page; ``config`` (role, endpoint, token, peerId, meetingId, participant,
    durationMs, intervalMs, mediaIp, remoteIp, signal, video) is embedded as JSON. Without it the
    page reads the same keys from its URL query string."""
    html = (files(__name__) / "call.html").read_text(encoding="utf-8")
    if config:
        blob = json.dumps(config).replace("</", "<\\/")
        html = html.replace(
            '<script id="rtk-config" type="application/json">{}</script>',
            f'<script id="rtk-config" type="application/json">{blob}</script>',
            1,
        )
    return html


@dataclass
class PeerResult:
    """One browser's report. Times are epoch seconds from the page's clock (= this host's)."""

    role: str
    peer_id: str
    ok: bool
    joined_at: float | None = None
    connected_at: float | None = None
    #: when the page called ``collector.leave()``; ``left_at``: when that returned (acknowledged).
    #: The ``peer.left`` event's own time lies between the two (after a last getStats poll).
    leave_started_at: float | None = None
    left_at: float | None = None
    acked: bool | None = None
    error: str | None = None
    collector: dict[str, Any] | None = None
    logs: list[str] = field(default_factory=list)
    exit_code: int | None = None


@dataclass
class CallResult:
    """Both peers' reports; ``started_at``/``ended_at`` are the runner's epoch seconds."""

    peers: tuple[PeerResult, PeerResult]
    started_at: float
    ended_at: float
    network: dict[str, Any] | None

    @property
    def ok(self) -> bool:
        return all(p.ok for p in self.peers)


class _Relay:
    """HTTP server: the page, the collector, a long-poll signalling relay, logs and done reports."""

    def __init__(self, pages: dict[str, str], bind: str) -> None:
        self.pages = pages
        self.msgs: dict[str, list[Any]] = defaultdict(list)
        self.cv = threading.Condition()
        self.done: dict[str, dict[str, Any]] = {}
        self.logs: dict[str, list[str]] = defaultdict(list)
        relay = self
        js = collector_js().encode()

        class Handler(BaseHTTPRequestHandler):
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

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = _QuietServer((bind, 0), Handler)
        self.port = int(self.httpd.server_address[1])
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        with self.cv:
            self.cv.notify_all()
        self.httpd.shutdown()
        self.httpd.server_close()


def _rewrite_host(endpoint: str, host: str) -> str:
    """A loopback endpoint, as the browser at ``host`` must address it."""
    u = urlsplit(endpoint)
    if u.hostname in ("127.0.0.1", "localhost", "0.0.0.0", "::1"):
        netloc = host + (f":{u.port}" if u.port else "")
        return urlunsplit((u.scheme, netloc, u.path, u.query, u.fragment))
    return endpoint


def _kill_group(p: subprocess.Popen[bytes]) -> None:
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


def _seconds(ms: Any) -> float | None:
    return float(ms) / 1000 if ms else None


def run_call(
    *,
    endpoint: str,
    tokens: tuple[str | None, str | None],
    peer_ids: tuple[str, str] | None = None,
    meeting_id: str | None = None,
    participants: tuple[dict[str, Any] | None, dict[str, Any] | None] = (None, None),
    duration_s: float = 15,
    network: PeerNetwork | None = None,
    chromium: str = "/usr/bin/chromium",
    interval_ms: int = 2000,
    video: bool = True,
    video_size: tuple[int, int] = (640, 480),
    timeout_s: float | None = None,
    extra_flags: Sequence[str] = (),
    log_dir: str | None = None,
) -> CallResult:
    """Runs one real call between two headless Chromium pages and returns when both left.

    ``endpoint``: the ingestion URL the collector posts to. ``tokens``: each peer's bearer token
    (participant tokens, or an API token for both). ``participants``: the ``participant`` object
    of each peer's ``peer.joined``. ``duration_s``: seconds each page stays in the call after it
    connected; ``interval_ms``: the collector's getStats() period. ``video_size``: the camera
    size asked for (the fake camera honours it). ``network``: see :class:`PeerNetwork`; its pages
    reach the runner at the address it gives, so the relay listens on 0.0.0.0 then (127.0.0.1
    otherwise), and a loopback ``endpoint`` is rewritten to that address. ``log_dir``: keep
    chromium-{a,b}.log there. Raises ``FileNotFoundError`` when ``chromium`` does not exist;
    a call that fails is reported in :attr:`CallResult.ok` and each peer's ``error``.
    """
    if not (os.path.exists(chromium) or shutil.which(chromium)):
        raise FileNotFoundError(f"{chromium} not found: run scripts/install-chromium")
    peer_ids = peer_ids or (str(uuid.uuid4()), str(uuid.uuid4()))
    tmp = tempfile.mkdtemp(prefix="rtk-livecall-")
    relay: _Relay | None = None
    procs: dict[str, subprocess.Popen[bytes]] = {}
    started = time.time()
    ended = started
    results: list[PeerResult] = []
    try:
        room = uuid.uuid4().hex[:8]
        pages: dict[str, str] = {}
        origins: dict[str, str] = {}
        relay = _Relay(pages, "0.0.0.0" if network is not None else "127.0.0.1")
        for i, role in enumerate(("a", "b")):
            host, media_ip, remote_ip = (
                network.addresses(role) if network is not None else ("127.0.0.1", "", "")
            )
            origins[role] = f"http://{host}:{relay.port}"
            pages[role] = call_page_html(
                {
                    "role": role,
                    "endpoint": _rewrite_host(endpoint, host) if network else endpoint,
                    "token": tokens[i],
                    "peerId": peer_ids[i],
                    "remotePeerId": peer_ids[1 - i],
                    "meetingId": meeting_id,
                    "participant": participants[i],
                    "durationMs": int(duration_s * 1000),
                    "intervalMs": interval_ms,
                    "mediaIp": media_ip,
                    "remoteIp": remote_ip,
                    "video": video,
                    "videoWidth": video_size[0],
                    "videoHeight": video_size[1],
                    "signal": f"{origins[role]}/signal/{room}",
                }
            )
        for role in ("a", "b"):
            profile = os.path.join(tmp, f"profile-{role}")
            os.makedirs(profile)
            cmd = [
                chromium,
                *CHROMIUM_FLAGS,
                f"--user-data-dir={profile}",
                f"--unsafely-treat-insecure-origin-as-secure={origins[role]}",
                *extra_flags,
                f"{origins[role]}/call/{role}",
            ]
            log_path = os.path.join(log_dir or tmp, f"chromium-{role}.log")
            logf: IO[bytes]
            with open(log_path, "wb") as logf:
                if network is not None:
                    procs[role] = network.popen_in(
                        role, cmd, stdout=logf, stderr=subprocess.STDOUT, start_new_session=True
                    )
                else:
                    procs[role] = subprocess.Popen(
                        cmd, stdout=logf, stderr=subprocess.STDOUT, start_new_session=True
                    )
        deadline = time.monotonic() + (timeout_s or duration_s + 60)
        with relay.cv:
            while len(relay.done) < 2 and time.monotonic() < deadline:
                relay.cv.wait(0.5)
                missing = [r for r in ("a", "b") if r not in relay.done]
                if any(procs[r].poll() is not None for r in missing):
                    break
        ended = time.time()
        for i, role in enumerate(("a", "b")):
            d = relay.done.get(role)
            if d is None:
                error = "no done report (timeout or browser exited)"
                results.append(
                    PeerResult(role, peer_ids[i], False, error=error, logs=relay.logs.get(role, []))
                )
                continue
            results.append(
                PeerResult(
                    role,
                    d.get("peerId") or peer_ids[i],
                    bool(d.get("ok")),
                    joined_at=_seconds(d.get("joinedAt")),
                    connected_at=_seconds(d.get("connectedAt")),
                    leave_started_at=_seconds(d.get("leaveStart")),
                    left_at=_seconds(d.get("leftAt")),
                    acked=d.get("acked"),
                    error=d.get("error"),
                    collector=d.get("collector"),
                    logs=d.get("logs") or relay.logs.get(role, []),
                )
            )
    finally:
        for p in procs.values():
            _kill_group(p)
        if relay is not None:
            relay.close()
        shutil.rmtree(tmp, ignore_errors=True)
    for r in results:
        r.exit_code = procs[r.role].returncode if r.role in procs else None
    return CallResult(
        peers=(results[0], results[1]),
        started_at=started,
        ended_at=ended,
        network=network.describe() if network is not None else None,
    )


__all__ = [
    "CHROMIUM_FLAGS",
    "CallResult",
    "PeerNetwork",
    "PeerResult",
    "call_page_html",
    "run_call",
]
