"""A webhook receiver (a real HTTP server in the test process) and a live rtk-sessions server with
fast webhook retries, per database dialect."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from tests.conftest import LiveServer, migrated_database, start_server


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def payload(self) -> dict[str, Any]:
        return json.loads(self.body)  # type: ignore[no-any-return]


@dataclass
class Receiver:
    """Records every POST; ``respond`` chooses the answer's status (default 200) per request."""

    url: str
    received: list[Received] = field(default_factory=list)
    respond: Callable[[Received], int] = lambda _r: 200
    delay: Callable[[Received], float] = lambda _r: 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def of(self, path: str) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.path == path]

    def wait_for(
        self, path: str, check: Callable[[list[Received]], bool], timeout: float = 60
    ) -> list[Received]:
        deadline = time.monotonic() + timeout
        while True:
            got = self.of(path)
            if check(got):
                return got
            if time.monotonic() > deadline:
                events = [r.payload.get("event") for r in got]
                raise AssertionError(f"timed out waiting on {path}; got {events}")
            time.sleep(0.05)


def start_receiver() -> tuple[Receiver, ThreadingHTTPServer]:
    receiver = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", "0"))
            body = self.rfile.read(length)
            item = Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
            with receiver.lock:
                receiver.received.append(item)
            pause = receiver.delay(item)
            if pause:
                time.sleep(pause)
            status = receiver.respond(item)
            self.send_response(status)
            self.send_header("content-length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return receiver, server


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rec, server = start_receiver()
    yield rec
    server.shutdown()
    server.server_close()


def public_key(server_url: str) -> rsa.RSAPublicKey:
    """The key published at /.well-known/webhooks.json."""
    response = httpx.get(server_url + "/.well-known/webhooks.json", timeout=10)
    assert response.status_code == 200, response.text
    pem = response.json()["public_key"]
    assert pem.startswith("-----BEGIN PUBLIC KEY-----")
    key = serialization.load_pem_public_key(pem.encode())
    assert isinstance(key, rsa.RSAPublicKey)
    return key


def verify(key: rsa.RSAPublicKey, item: Received) -> None:
    """The receiver's check: rtk-signature is base64 RSA-SHA256 over the exact body bytes
    (raises InvalidSignature otherwise); the body names the delivery of the headers."""
    signature = base64.b64decode(item.headers["rtk-signature"])
    key.verify(signature, item.body, padding.PKCS1v15(), hashes.SHA256())
    payload = item.payload
    assert payload["deliveryId"] == item.headers["rtk-delivery-id"]
    assert payload["eventId"] == item.headers["rtk-event-id"]
    assert payload["event"] == item.headers["rtk-event"]
    assert abs(int(item.headers["rtk-timestamp"]) - time.time()) < 3600


WEBHOOK_SETTINGS: dict[str, Any] = {
    "webhooks_allow_private_targets": True,
    "webhooks_backoff_secs": 0.2,
    "webhooks_backoff_max_secs": 0.5,
    "webhooks_disable_after": 5,
    "webhooks_poll_secs": 0.1,
    "webhooks_timeout_secs": 3.0,
    "webhooks_cache_secs": 0.0,
}


@pytest.fixture(scope="module")
def hook_server(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """The service with fast webhook retries (and private targets allowed, for the receiver), on
    a database of its own (of ``database_url``'s dialect): the delivery worker of whichever
    server process holds a database's webhook lock sends its deliveries, so on the session's
    shared database another test's server (other settings) would be the one sending."""
    from rtk_sessions.config import Settings

    dialect = "postgresql" if database_url.startswith("postgresql") else "sqlite"
    with migrated_database(dialect, tmp_path_factory, prefix="rtk_hooks") as url:
        settings = Settings(
            data_dir=tmp_path_factory.mktemp("hookdata"),
            database_url=url,
            sweep_interval_secs=0.2,
            job_poll_secs=0.2,
            summarizer="extractive",
            **WEBHOOK_SETTINGS,
        )
        live, server, thread = start_server(settings)
        yield live
        server.should_exit = True
        thread.join(timeout=15)
