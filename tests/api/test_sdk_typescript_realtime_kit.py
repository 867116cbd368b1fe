"""Presets, the active session, org analytics and the 501 routes through the official TypeScript SDK
(npm ``cloudflare`` 7.x, ``tests/sdk-ts/realtime_kit.test.mjs``) against a live server, over SQLite
and PostgreSQL.

Python prepares a meeting whose participants joined with their participant tokens, and sessions on
known days for the analytics; the expectations go to the test through a JSON file.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.api.test_sdk_typescript import SDK_TS, _ensure_node_modules
from tests.conftest import LiveServer, make_tenant
from tests.helpers import ingest_url, post_events

pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")


def _ms(t: datetime) -> float:
    return t.timestamp() * 1000


def test_typescript_sdk_realtime_kit(live_server: LiveServer, tmp_path: Path) -> None:
    _ensure_node_modules()
    tenant = make_tenant(live_server, "ts-rtk")
    sdk = tenant.sdk()
    a, app = tenant.account_id, tenant.app_id
    meeting = sdk.realtime_kit.meetings.create(app, account_id=a, title="TS kicks").data
    now = datetime.now(UTC)
    people: list[dict[str, Any]] = []
    for name in ("ada", "bob", "cy"):
        added = sdk.realtime_kit.meetings.add_participant(
            meeting.id,
            account_id=a,
            app_id=app,
            custom_participant_id=f"c-{name}",
            preset_name="p",
            name=name.title(),
        ).data
        peer_id = f"ts-{uuid.uuid4().hex[:10]}"
        post_events(
            tenant,
            [
                {
                    "id": f"j-{peer_id}",
                    "type": "peer.joined",
                    "timestamp": _ms(now - timedelta(minutes=1)),
                    "peer_id": peer_id,
                }
            ],
            token=added.token,
        )
        people.append(
            {
                "id": added.id,
                "custom_participant_id": f"c-{name}",
                "token": added.token,
                "peer_id": peer_id,
            }
        )

    day = datetime(2026, 2, 10, 8, 0, tzinfo=UTC)
    events: list[dict[str, Any]] = []
    for i, (start, minutes) in enumerate([(day, 4.0), (day + timedelta(days=1), 1.5)]):
        peer = f"ts-an-{uuid.uuid4().hex[:8]}"
        events += [
            {
                "id": f"aj-{peer}",
                "type": "peer.joined",
                "timestamp": _ms(start),
                "peer_id": peer,
                "meeting_id": f"ts-an-{app}-{i}",
            },
            {
                "id": f"al-{peer}",
                "type": "peer.left",
                "timestamp": _ms(start + timedelta(minutes=minutes)),
                "peer_id": peer,
            },
        ]
    post_events(tenant, events)

    expectations = {
        "account_id": a,
        "app_id": app,
        "token": tenant.token,
        "meeting_id": meeting.id,
        "people": people,
        "ingest_url": ingest_url(tenant),
        "analytics": {
            "start_date": "2026-02-10",
            "end_date": "2026-02-12",
            "sessions_count": 2,
            "minutes": 5.5,
            "day_stats": [
                {"day": "2026-02-10", "total_sessions": 1, "total_session_minutes": 4.0},
                {"day": "2026-02-11", "total_sessions": 1, "total_session_minutes": 1.5},
                {"day": "2026-02-12", "total_sessions": 0, "total_session_minutes": 0.0},
            ],
        },
    }
    path = tmp_path / "expectations.json"
    path.write_text(json.dumps(expectations, indent=1))
    env = {
        **os.environ,
        "BASE_URL": live_server.base_url,
        "EXPECTATIONS": str(path),
        "NO_COLOR": "1",
    }
    env.pop("CLOUDFLARE_BASE_URL", None)
    env.pop("CLOUDFLARE_API_TOKEN", None)
    done = subprocess.run(
        ["node", "--test", "--test-reporter=spec", str(SDK_TS / "realtime_kit.test.mjs")],
        cwd=SDK_TS,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, f"node --test failed:\n{done.stdout}\n{done.stderr}"
    print(done.stdout)
    assert "fail 0" in done.stdout, done.stdout
