"""``rtk-sessions serve`` subprocesses for tests that need real server processes (killed, restarted,
several on one database): start, wait, stop, and an account with an app and an API token.

Used by tests/test_multiprocess.py and tests/test_durability.py.
"""

from __future__ import annotations

import contextlib
import os
import random
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from rtk_sessions.config import normalize_database_url
from rtk_sessions.storage.engine import Database

SECRET = "multiprocess-test-secret-0123456789abcdef"
ENDED_LINE = re.compile(r"sweeper \(pid (\d+)\) ended session (\S+)")
LEADER_LINE = re.compile(r"sweeper \(pid (\d+)\) is the leader")


def wait_until(what: str, check: Callable[[], Any], timeout: float = 60.0) -> Any:
    """Poll ``check`` every 0.1 s until it returns a truthy value (returned); AssertionError after
    ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.1)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def restartable_port() -> int:
    """A free TCP port on 127.0.0.1 below the kernel's ephemeral range, for a server that is
    restarted on the same port: outgoing connections (which take ephemeral ports) and ``bind(0)``
    of other tests cannot take it while the server is down."""
    low = 32768
    with contextlib.suppress(OSError, ValueError, IndexError):
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    rng = random.Random()
    for _ in range(200):
        port = rng.randrange(max(1024, low - 12000), low)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port
    return free_port()


@dataclass
class Server:
    """One ``rtk-sessions serve`` subprocess; its stderr (the log) goes to ``log``."""

    url: str
    log: Path
    proc: subprocess.Popen[bytes]

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def leader_pids(self) -> list[int]:
        return [int(p) for p in LEADER_LINE.findall(self.text())]

    def ended(self) -> list[tuple[int, str]]:
        return [(int(pid), sid) for pid, sid in ENDED_LINE.findall(self.text())]

    def up(self) -> bool:
        """Serving; raises when the process has exited (a failed migration, say)."""
        if self.proc.poll() is not None:
            raise AssertionError(f"server exited with {self.proc.returncode}:\n{self.text()}")
        try:
            return httpx.get(self.url + "/openapi.json", timeout=2).status_code == 200
        except httpx.TransportError:
            return False


def start_serve(
    database_url: str, tmp: Path, name: str, *extra: str, port: int | None = None
) -> Server:
    """Start ``rtk-sessions serve`` on ``database_url`` (any URL the CLI takes) on ``port`` (a free
    one by default), data directory ``tmp/data-{name}``, log appended to ``tmp/{name}.log``. Does
    not wait for it to serve (``wait_until(..., server.up)``)."""
    port = free_port() if port is None else port
    env = {
        **os.environ,
        "RTK_DATABASE_URL": database_url,
        "RTK_DATA_DIR": str(tmp / f"data-{name}"),
        "RTK_SECRET_KEY": SECRET,
        "RTK_SWEEP_INTERVAL_SECS": "0.2",
        "RTK_PEER_TIMEOUT_SECS": "600",
        "RTK_JOB_POLL_SECS": "0.2",
        "RTK_SUMMARIZER": "extractive",
    }
    log = tmp / f"{name}.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "rtk_sessions", "serve", "--port", str(port), *extra],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log.open("ab"),
    )
    return Server(f"http://127.0.0.1:{port}", log, proc)


def stop_all(servers: list[Server]) -> None:
    """SIGTERM every running server and wait for it (SIGKILL after 20 s)."""
    for server in servers:
        if server.proc.poll() is None:
            server.proc.send_signal(signal.SIGTERM)
    for server in servers:
        try:
            server.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.proc.kill()
            server.proc.wait(timeout=10)


@dataclass
class Tenant:
    """An account with an app and an API token, in a database (not bound to one server)."""

    account_id: str
    app_id: str
    token: str

    def base(self, server_url: str) -> str:
        return f"{server_url}/client/v4/accounts/{self.account_id}/realtime/kit/{self.app_id}"

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def make_tenant(database_url: str, name: str = "multiprocess") -> Tenant:
    """Create an account, an app ``name`` and an API token directly in a migrated database."""
    from rtk_sessions.domain import accounts

    db = Database(normalize_database_url(database_url))
    try:
        account_id = uuid.uuid4().hex
        with db.unit_of_work() as s:
            app_id = accounts.create_app(s, account_id, name).id
            token = accounts.create_token(s, account_id)
        return Tenant(account_id, app_id, token)
    finally:
        db.dispose()
