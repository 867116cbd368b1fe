"""Credentials stay out of URLs and logs (issue 9, defect 5): ``?token=`` takes participant tokens
only, and a real ``rtk-sessions serve`` with its access log on writes no token or signature."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from rtk_sessions.clock import iso
from tests.api.test_errors import assert_envelope
from tests.conftest import Tenant
from tests.helpers import ingest_url


def _kit(tenant: Tenant) -> str:
    return f"{tenant.server.base_url}/accounts/{tenant.account_id}/realtime/kit/{tenant.app_id}"


def _participant_token(tenant: Tenant) -> tuple[str, str]:
    """A meeting of ``tenant`` and a participant token for it: (meeting_id, token)."""
    headers = {"Authorization": f"Bearer {tenant.token}"}
    meeting = httpx.post(f"{_kit(tenant)}/meetings", json={"title": "t"}, headers=headers)
    assert meeting.status_code == 200, meeting.text
    meeting_id = meeting.json()["data"]["id"]
    body = {"name": "Ada", "preset_name": "group_call_host", "custom_participant_id": "ada"}
    added = httpx.post(
        f"{_kit(tenant)}/meetings/{meeting_id}/participants", json=body, headers=headers
    )
    assert added.status_code == 200, added.text
    return meeting_id, added.json()["data"]["token"]


def _beacon(peer: str, text: str) -> list[dict[str, Any]]:
    now = iso(datetime.now(UTC))
    return [
        {"id": f"j-{peer}", "type": "peer.joined", "timestamp": now, "peer_id": peer},
        {
            "id": f"c-{uuid.uuid4()}",
            "type": "chat.message",
            "timestamp": now,
            "peer_id": peer,
            "payload_type": "TEXT_MESSAGE",
            "payload": text,
        },
    ]


def test_query_token_takes_participant_tokens_only(tenant: Tenant) -> None:
    _, token = _participant_token(tenant)
    peer = f"p-{uuid.uuid4()}"
    ok = httpx.post(
        ingest_url(tenant), params={"token": token}, json={"events": _beacon(peer, "hi")}
    )
    assert ok.status_code == 200, ok.text
    assert ok.json()["data"] == {"accepted": 2, "duplicates": 0}
    refused = httpx.post(
        ingest_url(tenant), params={"token": tenant.token}, json={"events": _beacon("q", "x")}
    )
    assert_envelope(refused, 401, "?token= takes participant tokens only")
    # the API token still works where it belongs: the Authorization header
    header = httpx.post(
        ingest_url(tenant),
        json={"events": []},
        headers={"Authorization": f"Bearer {tenant.token}"},
    )
    assert header.status_code == 200, header.text


def test_redaction_of_query_credentials() -> None:
    from rtk_sessions.cli import redact_credentials

    line = '1.2.3.4:5 - "GET /d/chat/x.csv?expires=9&sig=AbC-_9&token=e.y.J HTTP/1.1" 200'
    assert redact_credentials(line) == (
        '1.2.3.4:5 - "GET /d/chat/x.csv?expires=9&sig=[redacted]&token=[redacted] HTTP/1.1" 200'
    )
    assert redact_credentials("/x?tokens=1&mysig=2") == "/x?tokens=1&mysig=2"


@dataclass
class Served:
    url: str
    log: Path
    process: subprocess.Popen[bytes]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def served(database_url: str, tmp_path: Path) -> Iterator[Served]:
    """``rtk-sessions serve`` in a subprocess (2 workers, access log on), its output in a file."""
    port = _free_port()
    log = tmp_path / "server.log"
    env = {**os.environ, "RTK_DATA_DIR": str(tmp_path / "data"), "RTK_SWEEP_INTERVAL_SECS": "0.5"}
    command = [sys.executable, "-m", "rtk_sessions", "serve", "--port", str(port)]
    command += ["--database-url", database_url, "--workers", "2", "--log-level", "info"]
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{url}/client/v4/openapi-probe", timeout=2)
                break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(log.read_text()) from None
                time.sleep(0.2)
        yield Served(url, log, process)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)


def test_served_logs_hold_no_token_or_signature(served: Served, database_url: str) -> None:
    from rtk_sessions.config import normalize_database_url
    from rtk_sessions.domain import accounts
    from rtk_sessions.storage.engine import Database

    db = Database(normalize_database_url(database_url))
    account_id = uuid.uuid4().hex
    with db.unit_of_work() as s:
        app_id = accounts.create_app(s, account_id, "logs").id
        api_token = accounts.create_token(s, account_id)
    db.dispose()

    class _Server:
        base_url = f"{served.url}/client/v4"

    tenant = Tenant(account_id, app_id, api_token, _Server())  # type: ignore[arg-type]
    headers = {"Authorization": f"Bearer {api_token}"}
    secrets: list[str] = [api_token]
    _, participant = _participant_token(tenant)
    secrets += [participant, participant.rsplit(".", 1)[1]]  # the token, and its signature
    peer = f"p-{uuid.uuid4()}"
    beacon = httpx.post(
        ingest_url(tenant), params={"token": participant}, json={"events": _beacon(peer, "hi")}
    )
    assert beacon.status_code == 200, beacon.text
    for method, path in (("POST", "/ingest"), ("GET", "/sessions"), ("GET", "/meetings")):
        # an API token where it does not belong: refused, and not logged either
        refused = httpx.request(method, f"{_kit(tenant)}{path}", params={"token": api_token})
        assert refused.status_code == 401, refused.text
    sessions = httpx.get(f"{_kit(tenant)}/sessions", headers=headers).json()["data"]["sessions"]
    assert len(sessions) == 1
    chat = httpx.get(f"{_kit(tenant)}/sessions/{sessions[0]['id']}/chat", headers=headers)
    assert chat.status_code == 200, chat.text
    signed = chat.json()["data"]["chat_download_url"]
    secrets += parse_qs(urlsplit(signed).query)["sig"]
    downloaded = httpx.get(signed)
    assert downloaded.status_code == 200 and b"hi" in downloaded.content
    tampered = httpx.get(signed.replace("sig=", "sig=x"))
    assert tampered.status_code in (401, 403, 404), tampered.text
    secrets.append("x" + secrets[-1])

    served.process.send_signal(signal.SIGINT)
    served.process.wait(20)
    output = served.log.read_text(errors="replace")
    assert "GET /downloads/chat/" in output  # the access log was on
    assert "token=[redacted]" in output and "sig=[redacted]" in output
    for secret in secrets:
        assert len(secret) >= 16
        assert secret not in output, f"{secret[:6]}… appears in the server's log"
