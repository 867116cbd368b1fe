"""The official TypeScript SDK (npm ``cloudflare``, pinned in ``tests/sdk-ts/package.json``) against a
live server, over SQLite and PostgreSQL.

Python prepares the data (real recordings through the import CLI, chat and transcript through the
ingestion API) and writes what the answers must be -- computed by ``tests/oracle.py`` from the raw
files, or known from what was ingested -- to a JSON file; ``tests/sdk-ts/sdk.test.mjs`` (node's
built-in test runner) calls every Sessions, Meetings and Apps method of the SDK and compares.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from rtk_sessions.clock import iso
from rtk_sessions.exports import CHAT_CSV_COLUMNS, TRANSCRIPT_CSV_COLUMNS
from tests.conftest import REAL_STATS, LiveServer, Tenant, make_tenant
from tests.helpers import post_events
from tests.oracle import expected_peer

SDK_TS = Path(__file__).resolve().parents[1] / "sdk-ts"
RELAY = REAL_STATS / "jitsi-rtcstats_chrome-relay.rtcstats.jsonl"
FIREFOX = REAL_STATS / "jitsi-rtcstats_firefox-standard-stats-sfu.rtcstats.jsonl"
P2P = REAL_STATS / "jitsi-rtcstats_google-standard-stats-p2p.rtcstats.jsonl"
SFU = REAL_STATS / "jitsi-rtcstats_google-standard-stats-sfu.rtcstats.jsonl"
T0 = datetime(2024, 6, 3, 9, 0, tzinfo=UTC)

pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")


def _ensure_node_modules() -> None:
    if (SDK_TS / "node_modules" / "cloudflare" / "package.json").exists():
        return
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("npm is not installed and tests/sdk-ts/node_modules is missing")
    done = subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund"],
        cwd=SDK_TS,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, f"npm ci failed:\n{done.stdout}\n{done.stderr}"


def _import(tenant: Tenant, *paths: Path, title: str) -> dict[str, Any]:
    """Import real recordings with the console script, as an operator would; its JSON answer."""
    args = [sys.executable, "-m", "rtk_sessions", "import", *map(str, paths)]
    args += ["--account", tenant.account_id, "--app", tenant.app_id, "--meeting-title", title]
    args += ["--json", "--database-url", tenant.server.database_url]
    done = subprocess.run(args, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def _tenant_json(t: Tenant) -> dict[str, str]:
    return {"account_id": t.account_id, "app_id": t.app_id, "token": t.token}


def _iso_ms(ms: int) -> str:
    return (
        datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"
    )


def _peer(path: Path) -> dict[str, Any]:
    e = expected_peer(path)
    return {
        "duration": e["duration_minutes"],
        "joined_at": _iso_ms(e["join_ms"]),
        "join_ms": e["join_ms"],
        "leave_ms": e["leave_ms"],
        "quality": {
            k: {"rows": e[k]["rows"], "packet_loss": e[k]["packet_loss"], "rtt": e[k].get("rtt")}
            for k in ("audio_producer", "video_producer", "audio_consumer", "video_consumer")
        },
    }


def _conversation(tenant: Tenant) -> dict[str, Any]:
    """A session with two people, chat (unicode, commas, quotes, newlines, an edit, a pin, an image)
    and final + interim transcript segments, all through the ingestion API."""
    suffix = uuid.uuid4().hex[:8]
    meeting_id, session_id = str(uuid.uuid4()), str(uuid.uuid4())
    ada = {
        "peer_id": f"ts-ada-{suffix}",
        "user_id": "user-ada",
        "display_name": 'Ada, "the" Countess',
        "custom_participant_id": "ada@example.com",
    }
    bob = {"peer_id": f"ts-bob-{suffix}", "user_id": "user-bob", "display_name": "Bob Ångström"}

    def at(s: float) -> str:
        return iso(T0 + timedelta(seconds=s))

    events: list[dict[str, Any]] = [
        {
            "id": f"j-{p['peer_id']}",
            "type": "peer.joined",
            "timestamp": at(0),
            "peer_id": p["peer_id"],
            "meeting_id": meeting_id,
            "meeting_title": "TS conversation",
            "session_id": session_id,
            "participant": {k: v for k, v in p.items() if k != "peer_id"}
            | {"preset_name": "group_call_host"},
        }
        for p in (ada, bob)
    ]
    chat = [
        ("m1", ada, "Hello, world", "TEXT_MESSAGE", False),
        ("m2", bob, 'Zoë said: "naïve" café 🎉\nsecond line', "TEXT_MESSAGE", False),
        ("m3", ada, "https://example.com/cat.png", "IMAGE_MESSAGE", False),
        ("m4", bob, "=1+2, not a formula", "TEXT_MESSAGE", True),
    ]
    for i, (mid, who, payload, kind, pinned) in enumerate(chat):
        events.append(
            {
                "id": f"c-{mid}-{suffix}",
                "type": "chat.message",
                "timestamp": at(10 + i),
                "session_id": session_id,
                "message_id": mid,
                "peer_id": who["peer_id"],
                "payload_type": kind,
                "payload": payload,
                "pinned": pinned,
            }
        )
    # m1 edited afterwards
    events.append(
        {
            "id": f"c-m1-edit-{suffix}",
            "type": "chat.message",
            "timestamp": at(20),
            "session_id": session_id,
            "message_id": "m1",
            "peer_id": ada["peer_id"],
            "payload_type": "TEXT_MESSAGE",
            "payload": "Hello, world (edited)",
        }
    )
    segments = [
        (ada, 30, 33, "Good morning everyone, let us review the quarterly numbers.", "en-US"),
        (bob, 34, 38, "Revenue grew by twelve percent, mostly from the new product line.", None),
        (ada, 39, 41, "INTERIM never exported", None),
        (ada, 42, 46, "Great, then we keep the budget and hire two engineers.", "en-US"),
    ]
    for i, (who, start, end, text, lang) in enumerate(segments):
        event = {
            "id": f"t{i}-{suffix}",
            "type": "transcript.segment",
            "timestamp": at(end),
            "session_id": session_id,
            "peer_id": who["peer_id"],
            "start": at(start),
            "end": at(end),
            "text": text,
            "is_final": not text.startswith("INTERIM"),
        }
        if lang:
            event["language"] = lang
        events.append(event)
    events += [
        {
            "id": f"l-{p['peer_id']}",
            "type": "peer.left",
            "timestamp": at(60),
            "peer_id": p["peer_id"],
        }
        for p in (ada, bob)
    ]
    post_events(tenant, events)
    final = [s for s in segments if not s[3].startswith("INTERIM")]
    return {
        "session_id": session_id,
        "meeting_id": meeting_id,
        "chat_columns": list(CHAT_CSV_COLUMNS),
        "chat": [
            {
                "id": mid,
                "participantId": who["peer_id"],
                "displayName": who["display_name"],
                "payloadType": kind,
                "pinned": "true" if pinned else "false",
                "isEdited": "true" if mid == "m1" else "false",
                "payload": "Hello, world (edited)" if mid == "m1" else payload,
                "createdAt": at(10 + i),
                "sessionId": session_id,
                "meetingId": meeting_id,
            }
            for i, (mid, who, payload, kind, pinned) in enumerate(chat)
        ],
        "transcript_columns": list(TRANSCRIPT_CSV_COLUMNS),
        "transcript": [
            {
                "text": text,
                "participantId": who["peer_id"],
                "userId": who["user_id"],
                "name": who["display_name"],
                "startTime": at(start),
                "startOffsetMs": start * 1000,
                "endOffsetMs": end * 1000,
                "language": lang,
            }
            for who, start, end, text, lang in final
        ],
        "session_start": at(0),
    }


def test_typescript_sdk(live_server: LiveServer, tmp_path: Path) -> None:
    _ensure_node_modules()
    tenant = make_tenant(live_server, "ts-sdk")
    relay = _import(tenant, RELAY, title="Recorded chrome relay")
    firefox = _import(tenant, FIREFOX, title="Recorded firefox sfu")
    pair = _import(tenant, P2P, SFU, title="Two recorded clients")
    conversation = _conversation(tenant)
    live_server.sweep()

    pair_peers = dict.fromkeys(pair["peer_ids"])
    expected_pair = [_peer(P2P), _peer(SFU)]
    spans = [(e["join_ms"], e["leave_ms"]) for e in expected_pair]
    overlap = spans[0][0] < spans[1][1] and spans[1][0] < spans[0][1]
    aux = make_tenant(live_server, "ts-aux")

    expectations = {
        "server_url": live_server.url,
        "aux": _tenant_json(aux),
        "total_sessions": 4,
        "relay": {
            "session_id": relay["session_id"],
            "meeting_id": relay["meeting_id"],
            "peer_id": relay["peer_ids"][0],
            "title": "Recorded chrome relay",
            **_peer(RELAY),
        },
        "firefox": {
            "session_id": firefox["session_id"],
            "peer_id": firefox["peer_ids"][0],
            **_peer(FIREFOX),
        },
        "pair": {
            "session_id": pair["session_id"],
            "meeting_id": pair["meeting_id"],
            "peer_ids": list(pair_peers),
            "title": "Two recorded clients",
            "durations_desc": sorted((e["duration"] for e in expected_pair), reverse=True),
            "minutes_consumed": round(sum(e["duration"] for e in expected_pair), 4),
            "max_concurrent": 2 if overlap else 1,
        },
        "conversation": conversation,
    }
    path = tmp_path / "expectations.json"
    path.write_text(json.dumps(expectations, indent=1))

    env = {
        **os.environ,
        "BASE_URL": live_server.base_url,
        "ACCOUNT_ID": tenant.account_id,
        "APP_ID": tenant.app_id,
        "TOKEN": tenant.token,
        "EXPECTATIONS": str(path),
        "NO_COLOR": "1",
    }
    env.pop("CLOUDFLARE_BASE_URL", None)
    env.pop("CLOUDFLARE_API_TOKEN", None)
    done = subprocess.run(
        ["node", "--test", "--test-reporter=spec", str(SDK_TS / "sdk.test.mjs")],
        cwd=SDK_TS,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, (
        f"node --test failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
    )
    print(done.stdout)
    assert "# fail 0" in done.stdout or "ℹ fail 0" in done.stdout, done.stdout
