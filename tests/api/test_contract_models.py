"""What the routes send is what the contract models document: real answers (a real recording
ingested, a meeting with a participant, chat and a transcript) validate against the response
model of their route, and carry no key the served OpenAPI document does not name."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import BaseModel

from rtk_sessions import migrations
from rtk_sessions.app import create_app
from rtk_sessions.config import Settings
from rtk_sessions.contract import active_session as a
from rtk_sessions.contract import meetings as m
from rtk_sessions.contract import presets as p
from rtk_sessions.contract import sessions as s
from rtk_sessions.contract.ingest import IngestResponse
from rtk_sessions.domain import accounts
from rtk_sessions.importers import load_recording, to_ingest_events
from tests.api.test_openapi import resolve
from tests.conftest import REAL_STATS

K = "/client/v4/accounts/{account_id}/realtime/kit"
RECORDING = REAL_STATS / "jitsi-rtcstats_google-standard-stats-sfu.rtcstats.jsonl"


def _undocumented(
    document: dict[str, Any], schema: dict[str, Any], value: Any, at: str
) -> list[str]:
    schema = resolve(document, schema)
    if isinstance(value, list) and "items" in schema:
        return [
            p
            for i, item in enumerate(value)
            for p in _undocumented(document, schema["items"], item, f"{at}[{i}]")
        ]
    if not isinstance(value, dict) or "properties" not in schema:
        return []
    out = []
    for key, item in value.items():
        if key not in schema["properties"]:
            out.append(f"{at}.{key}")
        else:
            out += _undocumented(document, schema["properties"][key], item, f"{at}.{key}")
    return out


@pytest.fixture(scope="module")
def answers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Each route's answer on real data: {(method, path template): (model, body, schema)}."""
    tmp = tmp_path_factory.mktemp("models")
    url = f"sqlite:///{tmp / 'rtk.db'}"
    migrations.upgrade(url)
    app = create_app(Settings(data_dir=Path(tmp), database_url=url), background=False)
    with TestClient(app) as client:
        account = uuid.uuid4().hex
        with app.state.db.unit_of_work() as db:
            app_id = accounts.create_app(db, account, "models").id
            token = accounts.create_token(db, account)
        kit = f"/client/v4/accounts/{account}/realtime/kit"
        base = f"{kit}/{app_id}"
        headers = {"Authorization": f"Bearer {token}"}
        document = client.get("/openapi.json").json()
        results: dict[str, tuple[type[BaseModel], Any, dict[str, Any]]] = {}

        def call(name: str, model: type[BaseModel], method: str, path: str, **kw: Any) -> Any:
            response = client.request(method, path, headers=headers, **kw)
            assert response.status_code == 200, (name, response.text)
            template = name.split(" ", 1)[1]
            schema = document["paths"][template][method.lower()]["responses"]["200"]
            results[name] = (model, response.json(), schema["content"]["application/json"])
            return response.json()

        meeting = call(
            "POST " + K + "/{app_id}/meetings",
            m.MeetingResponse,
            "POST",
            f"{base}/meetings",
            json={"title": "Real", "ai_config": {"x": 1}},
        )["data"]
        mid = meeting["id"]
        person = call(
            "POST " + K + "/{app_id}/meetings/{meeting_id}/participants",
            m.MeetingParticipantResponse,
            "POST",
            f"{base}/meetings/{mid}/participants",
            json={"custom_participant_id": "c1", "preset_name": "host", "name": "Ada"},
        )["data"]
        recording = load_recording(RECORDING)
        events = to_ingest_events(
            recording.clients[0],
            peer_id="peer-1",
            meeting_id=mid,
            session_id="sess-1",
            meeting_title="Real",
            id_prefix="r",
            display_name="Ada",
        )
        for event in events:
            if event["type"] == "peer.joined":  # the peer is the meeting participant c1
                event["participant"].update(user_id=person["id"], custom_participant_id="c1")
        start = events[0]["timestamp"]
        events += [
            {
                "id": "chat-1",
                "type": "chat.message",
                "timestamp": start,
                "session_id": "sess-1",
                "peer_id": "peer-1",
                "payload_type": "TEXT_MESSAGE",
                "payload": "hello",
            },
            {
                "id": "tr-1",
                "type": "transcript.segment",
                "timestamp": start,
                "session_id": "sess-1",
                "peer_id": "peer-1",
                "start": start,
                "end": start,
                "text": "hello",
            },
        ]
        for i in range(0, len(events), 200):
            call(
                "POST " + K + "/{app_id}/ingest",
                IngestResponse,
                "POST",
                f"{base}/ingest",
                json={"events": events[i : i + 200]},
            )
        q = "?include_peer_events=true"
        sessions = K + "/{app_id}/sessions"
        call("GET " + sessions, s.SessionsResponse, "GET", f"{base}/sessions")
        call(
            "GET " + sessions + "/{session_id}",
            s.SessionResponse,
            "GET",
            f"{base}/sessions/sess-1?include_breakout_rooms=true",
        )
        call(
            "GET " + sessions + "/{session_id}/participants",
            s.SessionParticipantsResponse,
            "GET",
            f"{base}/sessions/sess-1/participants{q}",
        )
        call(
            "GET " + sessions + "/{session_id}/participants/{participant_id}",
            s.SessionParticipantResponse,
            "GET",
            f"{base}/sessions/sess-1/participants/peer-1{q}",
        )
        call(
            "GET " + sessions + "/peer-report/{peer_id}",
            s.PeerReportResponse,
            "GET",
            f"{base}/sessions/peer-report/peer-1{q}",
        )
        call(
            "GET " + sessions + "/{session_id}/chat",
            s.ChatResponse,
            "GET",
            f"{base}/sessions/sess-1/chat",
        )
        call(
            "GET " + sessions + "/{session_id}/transcript",
            s.TranscriptResponse,
            "GET",
            f"{base}/sessions/sess-1/transcript",
        )
        call(
            "POST " + sessions + "/{session_id}/summary",
            s.SummaryJobResponse,
            "POST",
            f"{base}/sessions/sess-1/summary",
        )
        meetings = K + "/{app_id}/meetings"
        call("GET " + meetings, m.MeetingsResponse, "GET", f"{base}/meetings")
        call(
            "GET " + meetings + "/{meeting_id}", m.MeetingResponse, "GET", f"{base}/meetings/{mid}"
        )
        call(
            "PATCH " + meetings + "/{meeting_id}",
            m.MeetingResponse,
            "PATCH",
            f"{base}/meetings/{mid}",
            json={"persist_chat": True},
        )
        call(
            "PUT " + meetings + "/{meeting_id}",
            m.MeetingResponse,
            "PUT",
            f"{base}/meetings/{mid}",
            json={"title": "Again"},
        )
        pid = person["id"]
        parts = meetings + "/{meeting_id}/participants"
        call(
            "GET " + parts,
            m.MeetingParticipantsResponse,
            "GET",
            f"{base}/meetings/{mid}/participants",
        )
        call(
            "GET " + parts + "/{participant_id}",
            m.MeetingParticipantResponse,
            "GET",
            f"{base}/meetings/{mid}/participants/{pid}",
        )
        call(
            "PATCH " + parts + "/{participant_id}",
            m.MeetingParticipantResponse,
            "PATCH",
            f"{base}/meetings/{mid}/participants/{pid}",
            json={"name": "Ada L."},
        )
        call(
            "POST " + parts + "/{participant_id}/token",
            m.ParticipantTokenResponse,
            "POST",
            f"{base}/meetings/{mid}/participants/{pid}/token",
        )
        active = meetings + "/{meeting_id}/active-session"
        call(
            "GET " + active, a.ActiveSessionResponse, "GET", f"{base}/meetings/{mid}/active-session"
        )
        call(
            "POST " + active + "/kick",
            a.KickResponse,
            "POST",
            f"{base}/meetings/{mid}/active-session/kick",
            json={"custom_participant_ids": ["c1"]},
        )
        call(
            "POST " + active + "/kick-all",
            a.KickAllResponse,
            "POST",
            f"{base}/meetings/{mid}/active-session/kick-all",
        )
        created = call("GET " + sessions, s.SessionsResponse, "GET", f"{base}/sessions")
        day = created["data"]["sessions"][0]["created_at"][:10]
        call(
            "GET " + K + "/{app_id}/analytics/daywise",
            a.OrgAnalyticsResponse,
            "GET",
            f"{base}/analytics/daywise?start_date={day}&end_date={day}",
        )
        presets = K + "/{app_id}/presets"
        document_ = {"view_type": "GROUP_CALL", "max_screenshare_count": 1}
        preset = call(
            "POST " + presets,
            p.PresetResponse,
            "POST",
            f"{base}/presets",
            json={"name": "host", "config": document_, "permissions": {}, "ui": {"x": 1}},
        )["data"]
        one = presets + "/{preset_id}"
        call("GET " + presets, p.PresetsResponse, "GET", f"{base}/presets")
        call("GET " + one, p.PresetResponse, "GET", f"{base}/presets/{preset['id']}")
        call(
            "PATCH " + one,
            p.PresetResponse,
            "PATCH",
            f"{base}/presets/{preset['id']}",
            json={"ui": {"y": 2}},
        )
        call(
            "PUT " + one,
            p.PresetResponse,
            "PUT",
            f"{base}/presets/{preset['id']}",
            json={"name": "host", "config": document_, "permissions": {}, "ui": {}},
        )
        call("DELETE " + one, p.PresetResponse, "DELETE", f"{base}/presets/{preset['id']}")
        call(
            "DELETE " + parts + "/{participant_id}",
            m.DeletedParticipantResponse,
            "DELETE",
            f"{base}/meetings/{mid}/participants/{pid}",
        )
        call("GET " + K + "/apps", m.AppsResponse, "GET", f"{kit}/apps")
        call("POST " + K + "/apps", m.AppResponse, "POST", f"{kit}/apps", json={"name": "b"})
        yield {"document": document, "results": results}


def test_real_answers_validate_against_their_models(answers: dict[str, Any]) -> None:
    results = answers["results"]
    assert len(results) == 32
    for model, body, _ in results.values():
        model.model_validate(body)  # raises on a wrong type or a missing key
    report = results[
        "GET /client/v4/accounts/{account_id}/realtime/kit/{app_id}/sessions/peer-report/{peer_id}"
    ][1]["data"]["participant"]["peer_report"]
    assert report["quality"]["audio_producer"] and report["metadata"]["candidate_pairs"]
    assert report["quality"]["audio_producer_cumulative"]["quality_mos"]["measured_rows"] > 0
    active = "GET " + K + "/{app_id}/meetings/{meeting_id}/active-session"
    assert results[active][1]["data"]["status"] == "LIVE"
    kicked = results["POST " + K + "/{app_id}/meetings/{meeting_id}/active-session/kick"][1]
    assert [k["custom_participant_id"] for k in kicked["data"]["participants"]] == ["c1"]
    daywise = results["GET " + K + "/{app_id}/analytics/daywise"][1]["data"]
    assert daywise["session_stats"]["sessions_count"] == 1


def test_real_answers_carry_only_documented_keys(answers: dict[str, Any]) -> None:
    document = answers["document"]
    problems = []
    for name, (_, body, content) in answers["results"].items():
        problems += [f"{name}: {p}" for p in _undocumented(document, content["schema"], body, "")]
    assert not problems, "\n".join(problems)
