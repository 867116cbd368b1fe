"""The official TypeScript SDK (tests/sdk-ts, npm ``cloudflare`` 7.x) calls every
``realtimeKit.webhooks`` method against a live server (SQLite and PostgreSQL), and node's crypto
verifies a webhook this test's receiver got with the published key."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.api.test_sdk_typescript import SDK_TS, _ensure_node_modules
from tests.conftest import LiveServer, make_tenant
from tests.conversation.util import Person
from tests.helpers import post_events
from tests.webhooks.conftest import Receiver
from tests.webhooks.test_events import _join, subscribe

pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")


def test_typescript_sdk_webhooks(
    hook_server: LiveServer, receiver: Receiver, tmp_path: Path
) -> None:
    _ensure_node_modules()
    tenant = make_tenant(hook_server, "ts-webhooks")
    subscribe(tenant, receiver.url + "/ts", ["meeting.started"])
    post_events(
        tenant,
        [_join(str(uuid.uuid4()), Person(f"peer-{uuid.uuid4()}", None, "A"), datetime.now(UTC))],
    )
    got = receiver.wait_for("/ts", lambda r: len(r) >= 1)[0]
    expectations = {
        "server_url": hook_server.url,
        "received": {
            "body_base64": base64.b64encode(got.body).decode(),
            "signature": got.headers["rtk-signature"],
            "event": "meeting.started",
        },
    }
    path = tmp_path / "expectations.json"
    path.write_text(json.dumps(expectations))
    env = {
        **os.environ,
        "BASE_URL": hook_server.base_url,
        "ACCOUNT_ID": tenant.account_id,
        "APP_ID": tenant.app_id,
        "TOKEN": tenant.token,
        "EXPECTATIONS": str(path),
        "NO_COLOR": "1",
    }
    env.pop("CLOUDFLARE_BASE_URL", None)
    env.pop("CLOUDFLARE_API_TOKEN", None)
    done = subprocess.run(
        ["node", "--test", "--test-reporter=spec", str(SDK_TS / "webhooks.test.mjs")],
        cwd=SDK_TS,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, f"node --test failed:\n{done.stdout}\n{done.stderr}"
    assert "fail 0" in done.stdout, done.stdout
