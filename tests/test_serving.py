"""``rtk-sessions serve`` sets TCP_NODELAY on connections of uvicorn's worker-mode socket.

uvicorn's ``--workers`` mode listens on ``socket.socket(family)`` (protocol 0), and asyncio then
leaves ``TCP_NODELAY`` off on accepted connections: each response waited ~40 ms for the client's
delayed ACK. The test serves on such a socket and reads the option on the server's side of a real
connection, with uvicorn's own protocol (off: the defect) and with ours (on).

Also: the app ``serve``'s workers build is frozen out of the garbage collector's reach.
"""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from rtk_sessions.serving import NoDelayHttpToolsProtocol


async def _app(
    scope: dict[str, Any], receive: object, send: object
) -> None:  # pragma: no cover - unused
    raise AssertionError("no request is sent")


async def _nodelay_of_accepted(protocol: type[HttpToolsProtocol]) -> int:
    config = Config(app=_app, log_level="warning")
    config.load()
    state = ServerState()
    accepted: list[socket.socket] = []

    class Recording(protocol):  # type: ignore[valid-type, misc]
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            super().connection_made(transport)
            accepted.append(transport.get_extra_info("socket"))

    listener = socket.socket(socket.AF_INET)  # as uvicorn's Config.bind_socket makes it
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: Recording(config=config, server_state=state, app_state={}), sock=listener
    )
    try:
        _, writer = await asyncio.open_connection(*listener.getsockname())
        for _ in range(100):
            if accepted:
                break
            await asyncio.sleep(0.01)
        value = accepted[0].getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
        writer.close()
        return value
    finally:
        server.close()
        await server.wait_closed()


@pytest.mark.parametrize(
    ("protocol", "expected"), [(HttpToolsProtocol, 0), (NoDelayHttpToolsProtocol, 1)]
)
def test_nodelay_on_worker_mode_socket(protocol: type[HttpToolsProtocol], expected: int) -> None:
    assert asyncio.run(_nodelay_of_accepted(protocol)) == expected


def test_the_served_app_is_out_of_the_garbage_collectors_reach(tmp_path: Any) -> None:
    """``app_from_env`` (what ``serve``'s workers build) freezes what exists once the app is built,
    so collections during requests do not walk it; in a child process, to leave ours alone."""
    import os
    import subprocess
    import sys

    code = (
        "import gc; from rtk_sessions.app import app_from_env; "
        "before = gc.get_freeze_count(); app_from_env(); "
        "print(before, gc.get_freeze_count(), len(gc.get_objects(generation=2)))"
    )
    env = {**os.environ, "RTK_DATA_DIR": str(tmp_path)}
    env.pop("RTK_DATABASE_URL", None)
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    before, frozen, old = (int(x) for x in out.stdout.split())
    assert before == 0 and frozen > 50_000 and old < frozen / 10, out.stdout


def test_served_http_refuses_ambiguous_message_length(tmp_path: Any) -> None:
    """``rtk-sessions serve`` parses HTTP with httptools, which refuses a request carrying both
    ``Transfer-Encoding: chunked`` and ``Content-Length`` (RFC 9112 §6.1: the framing a proxy in
    front and this server could disagree on, i.e. request smuggling). uvicorn's h11 protocol,
    served before, passed it on to the app (401 here); a plain request is served."""
    from tests.servers import start_serve, stop_all, wait_until

    server = start_serve(f"sqlite:///{tmp_path / 'serve.db'}", tmp_path, "http")
    try:
        wait_until("the server", server.up)
        host, port = server.url.removeprefix("http://").split(":")

        def first_line(request: bytes) -> bytes:
            with socket.create_connection((host, int(port)), timeout=10) as conn:
                conn.sendall(request)
                data = b""
                while b"\r\n" not in data:
                    chunk = conn.recv(4096)
                    if not chunk:
                        break
                    data += chunk
            return data.split(b"\r\n", 1)[0]

        path = b"/client/v4/accounts/a/realtime/kit/b/ingest"
        smuggled = (
            b"POST " + path + b" HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer t\r\n"
            b"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n"
        )
        assert first_line(smuggled) == b"HTTP/1.1 400 Bad Request"
        plain = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
        assert first_line(plain) == b"HTTP/1.1 200 OK"
    finally:
        stop_all([server])
