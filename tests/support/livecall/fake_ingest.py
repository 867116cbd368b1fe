"""A stand-in for the ingestion API, for live-call tests before the real server exists.

Records every batch, answers ``200 {"success": true, "data": {"accepted", "duplicates"}}`` with
CORS headers, accepts ``Authorization: Bearer`` or ``?token=`` (beacons, text/plain bodies), and
de-duplicates by event id like the real service. ``fail_next(n)`` makes the next n POSTs answer 503.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

INGEST_PATH = "/client/v4/accounts/{account_id}/realtime/kit/{app_id}/ingest"


class _QuietServer(ThreadingHTTPServer):
    """Browsers killed mid-request reset their connections: not worth a traceback."""

    daemon_threads = True

    def __init__(self, *a: Any, **kw: Any) -> None:
        self._conns: set[socket.socket] = set()
        self._conns_lock = threading.Lock()
        super().__init__(*a, **kw)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._conns_lock:
            self._conns.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._conns_lock:
            self._conns.discard(request)
        super().shutdown_request(request)

    def cut_connections(self) -> None:
        with self._conns_lock:
            conns = list(self._conns)
        for c in conns:
            with contextlib.suppress(OSError):
                c.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        import sys

        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)


class FakeIngest:
    def __init__(
        self, host: str = "0.0.0.0", port: int = 0, account_id: str = "acc", app_id: str = "app"
    ) -> None:
        self.path = INGEST_PATH.format(account_id=account_id, app_id=app_id)
        self.batches: list[dict[str, Any]] = []
        self.events_by_id: dict[str, dict[str, Any]] = {}
        self.lock = threading.Lock()
        self._fail = 0
        owner = self

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _cors(self) -> None:
                self.send_header("Access-Control-Allow-Origin", self.headers.get("Origin") or "*")
                self.send_header("Access-Control-Allow-Methods", "POST, OPTIONS")
                self.send_header("Access-Control-Allow-Headers", "Authorization, Content-Type")
                self.send_header("Access-Control-Max-Age", "600")
                self.send_header("Vary", "Origin")

            def _answer(self, code: int, obj: Any) -> None:
                body = json.dumps(obj).encode()
                self.send_response(code)
                self._cors()
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _error(self, code: int, message: str) -> None:
                err = {"code": code, "message": message}
                self._answer(code, {"success": False, "errors": [err], "error": err})

            def do_OPTIONS(self) -> None:  # CORS preflight
                self.send_response(204)
                self._cors()
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_POST(self) -> None:
                u = urlsplit(self.path)
                n = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(n)
                if u.path != owner.path:
                    return self._error(404, "no")
                auth = self.headers.get("Authorization", "")
                token = (
                    auth[7:]
                    if auth.startswith("Bearer ")
                    else (parse_qs(u.query).get("token") or [""])[0]
                )
                if not token:
                    return self._error(401, "token")
                with owner.lock:
                    if owner._fail > 0:
                        owner._fail -= 1
                        return self._error(503, "down")
                try:
                    events = json.loads(raw)["events"]
                except (ValueError, KeyError, TypeError):
                    return self._error(400, "bad")
                with owner.lock:
                    acc = dup = 0
                    for e in events:
                        if e["id"] in owner.events_by_id:
                            dup += 1
                        else:
                            owner.events_by_id[e["id"]] = e
                            acc += 1
                    owner.batches.append(
                        {
                            "token": token,
                            "beacon": not auth,
                            "content_type": self.headers.get("Content-Type"),
                            "events": events,
                        }
                    )
                self._answer(200, {"success": True, "data": {"accepted": acc, "duplicates": dup}})

            def log_message(self, *a: Any) -> None:
                pass

        self._host, self._handler = host, H
        self.httpd: _QuietServer | None = _QuietServer((host, port), H)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self._thread: threading.Thread | None = None

    def endpoint(self, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{self.path}"

    def fail_next(self, n: int) -> None:
        with self.lock:
            self._fail = n

    @property
    def events(self) -> list[dict[str, Any]]:
        """Unique events in arrival order."""
        with self.lock:
            return list(self.events_by_id.values())

    def start(self) -> None:
        if self.httpd is None:  # restart on the same port, keeping what was stored
            self.httpd = _QuietServer((self._host, self.port), self._handler)
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Like a server crash: open (keep-alive) connections are cut and the port refuses
        connections until start()."""
        if self.httpd is not None:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.httpd.cut_connections()
            self.httpd = None

    def __enter__(self) -> FakeIngest:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
