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
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.server import ServerState

from rtk_sessions.serving import NoDelayH11Protocol


async def _app(
    scope: dict[str, Any], receive: object, send: object
) -> None:  # pragma: no cover - unused
    raise AssertionError("no request is sent")


async def _nodelay_of_accepted(protocol: type[H11Protocol]) -> int:
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


@pytest.mark.parametrize(("protocol", "expected"), [(H11Protocol, 0), (NoDelayH11Protocol, 1)])
def test_nodelay_on_worker_mode_socket(protocol: type[H11Protocol], expected: int) -> None:
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
