"""What ``rtk-sessions serve`` gives uvicorn beyond the app: the HTTP protocol class.

The protocol is uvicorn's ``httptools`` one (the C parser of uvicorn's standard install) rather
than its pure-Python ``h11`` one: the serving process ran about 530,000 fewer instructions per
``GET /healthz`` (2.18M → 1.65M) and per session-list page (6.26M → 5.76M) with it
(``bench/list_cpu.py --callgrind``, in docs/performance.md), the HTTP work of a small request
being a large part of its cost.

uvicorn's worker mode (``--workers N``) binds its listening socket with ``socket.socket(family)``,
whose protocol number is 0, and asyncio only sets ``TCP_NODELAY`` on connections of sockets whose
protocol is ``IPPROTO_TCP``. Without it, a response written in two sends (headers, then body) waits
for the client's delayed ACK: every request took about 40 ms more with two workers than with one
(measured with a bare ASGI app under uvicorn 0.54). ``NoDelayHttpToolsProtocol`` sets the option
on every connection, whatever socket it came from.
"""

from __future__ import annotations

import asyncio
import socket

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

__all__ = ["NoDelayHttpToolsProtocol"]


class NoDelayHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with ``TCP_NODELAY`` on each TCP connection."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().connection_made(transport)  # type: ignore[arg-type]
