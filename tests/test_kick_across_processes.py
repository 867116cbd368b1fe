"""A kick takes effect at once in every process: two ``rtk-sessions serve`` processes on one
database (SQLite file or PostgreSQL); the participant's token and API-token events about its peer
were accepted by server B (warming whatever B caches), the kick goes to server A through the SDK,
and B refuses both on the very next request."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import cloudflare
import httpx
import pytest

from rtk_sessions.config import normalize_database_url
from tests.conftest import _drop_postgres_database, _postgres_database
from tests.servers import make_tenant, start_serve, stop_all, wait_until


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'kick.db'}"
        return
    name = f"rtk_kick_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    yield normalize_database_url(_postgres_database(name))
    _drop_postgres_database(name)


def _event(kind: str, peer_id: str, **extra: object) -> dict[str, object]:
    now = datetime.now(UTC).timestamp() * 1000
    return {
        "id": f"{kind}-{uuid.uuid4()}",
        "type": kind,
        "timestamp": now,
        "peer_id": peer_id,
        **extra,
    }


def test_a_kick_through_one_server_is_refused_by_the_other_at_once(
    database: str, tmp_path: Path
) -> None:
    servers = [start_serve(database, tmp_path, "a")]
    try:
        a = servers[0]
        wait_until("server a", a.up, timeout=90)
        servers.append(start_serve(database, tmp_path, "b", "--no-migrate"))
        b = servers[1]
        wait_until("server b", b.up, timeout=90)
        tenant = make_tenant(database)
        sdk_a: Any = cloudflare.Cloudflare(  # Any: the SDK's models make every field optional
            api_token=tenant.token, base_url=f"{a.url}/client/v4", max_retries=0
        )
        kit = sdk_a.realtime_kit
        meeting = kit.meetings.create(tenant.app_id, account_id=tenant.account_id).data
        ada = kit.meetings.add_participant(
            meeting.id,
            account_id=tenant.account_id,
            app_id=tenant.app_id,
            custom_participant_id="ada",
            preset_name="p",
        ).data
        ingest_b = f"{tenant.base(b.url)}/ingest"
        peer = f"kick-{uuid.uuid4().hex[:8]}"

        def send(token: str, *events: dict[str, object]) -> httpx.Response:
            return httpx.post(
                ingest_b,
                json={"events": list(events)},
                headers={"Authorization": f"Bearer {token}"},
                timeout=30,
            )

        assert send(ada.token, _event("peer.joined", peer)).status_code == 200
        assert send(ada.token, _event("peer.metadata", peer, sdk_name="x")).status_code == 200
        assert send(tenant.token, _event("peer.metadata", peer, sdk_name="y")).status_code == 200

        kicked = kit.active_session.kick_participants(
            meeting.id,
            account_id=tenant.account_id,
            app_id=tenant.app_id,
            participant_ids=[ada.id],
        ).data
        assert [p.id for p in kicked.participants] == [ada.id]

        refused = send(ada.token, _event("peer.metadata", peer, sdk_name="z"))
        assert refused.status_code == 401, refused.text
        forbidden = send(tenant.token, _event("peer.metadata", peer, sdk_name="z"))
        assert forbidden.status_code == 403, forbidden.text
        assert "kicked" in forbidden.text
        live = kit.active_session.get_active_session(
            meeting.id, account_id=tenant.account_id, app_id=tenant.app_id
        ).data
        assert live.live_participants == 0
    finally:
        stop_all(servers)
