"""Request bodies through the contract models keep the contract's answers: 400 with the envelope
and the rule's message (never 422), credentials checked before the body, any content type read
as JSON, an empty body standing for ``{}`` and ``null`` refused."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import Kit


def _error(response: Any, status: int) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["success"] is False and body["errors"] == [body["error"]]
    assert body["error"]["code"] == status and response.headers["x-should-retry"] == "false"
    message: str = body["error"]["message"]
    return message


def _post(kit: Kit, path: str, raw: bytes, content_type: str | None = "application/json") -> Any:
    headers = dict(kit.headers)
    if content_type:
        headers["content-type"] = content_type
    return kit.client.post(kit.base + path, content=raw, headers=headers)


def test_malformed_json_is_400_after_the_credentials(kit: Kit) -> None:
    message = _error(_post(kit, "/meetings", b'{"title": '), 400)
    assert message.startswith("Malformed JSON: ")
    anonymous = kit.client.post(
        kit.base + "/meetings", content=b"{", headers={"content-type": "application/json"}
    )
    assert "Authorization" in _error(anonymous, 401)


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        (b"null", "body must be a JSON object"),
        (b"[1]", "body must be a JSON object"),
        (b'{"title": 5}', "title must be a string of at most 500 characters"),
        (b'{"persist_chat": "yes"}', "persist_chat must be a boolean"),
        (b'{"session_keep_alive_time_in_secs": 1e9}', "from 0 to 86400"),
        (b'{"status": "PAUSED"}', "status must be one of ACTIVE, INACTIVE, got 'PAUSED'"),
        (b'{"ai_config": [1]}', "ai_config must be an object"),
    ],
)
def test_bad_meeting_bodies_are_400_with_the_rule(kit: Kit, raw: bytes, fragment: str) -> None:
    assert fragment in _error(_post(kit, "/meetings", raw), 400)


def test_any_content_type_is_read_as_json_and_an_empty_body_is_an_empty_object(kit: Kit) -> None:
    for content_type in ("text/plain", None):
        created = _post(kit, "/meetings", b'{"title": "plain"}', content_type)
        assert created.status_code == 200 and created.json()["data"]["title"] == "plain"
    empty = _post(kit, "/meetings", b"")
    assert empty.status_code == 200 and empty.json()["data"]["record_on_start"] is False
    meeting = empty.json()["data"]["id"]
    message = _error(_post(kit, f"/meetings/{meeting}/participants", b""), 400)
    assert message == "custom_participant_id is required"
    missing = _post(kit, f"/meetings/{meeting}/participants", b'{"custom_participant_id": "c"}')
    assert _error(missing, 400) == "preset_name is required"


def test_patch_changes_only_what_it_carries(kit: Kit) -> None:
    created = kit.call("POST", "/meetings", {"title": "t", "persist_chat": True}).json()["data"]
    patched = kit.call("PATCH", f"/meetings/{created['id']}", {"record_on_start": True})
    data = patched.json()["data"]
    assert data["title"] == "t" and data["persist_chat"] is True and data["record_on_start"]
    replaced = kit.call("PUT", f"/meetings/{created['id']}", {"title": "u"}).json()["data"]
    assert replaced["persist_chat"] is False and replaced["record_on_start"] is False


@pytest.mark.parametrize(
    ("path", "raw", "fragment"),
    [
        ("/presets", b'{"name": ', "Malformed JSON: "),
        ("/presets", b"null", "body must be a JSON object"),
        ("/presets", b'{"name": "a\\u0000"}', "Invalid body: "),
        ("/presets", b'{"name": "a", "config": {}, "permissions": {}, "ui": {}}', "view_type"),
        ("/meetings/{meeting}/active-session/kick", b"{", "Malformed JSON: "),
        ("/meetings/{meeting}/active-session/kick", b"[]", "body must be a JSON object"),
        ("/meetings/{meeting}/active-session/kick", b'{"participant_ids": 5}', "participant_ids"),
    ],
)
def test_bad_preset_and_kick_bodies_are_400_after_the_credentials(
    kit: Kit, path: str, raw: bytes, fragment: str
) -> None:
    """The routes of the rtkrest merge read bodies as the meeting routes do (ContractRoute)."""
    meeting = kit.call("POST", "/meetings", {"title": "k"}).json()["data"]["id"]
    path = path.format(meeting=meeting)
    assert fragment in _error(_post(kit, path, raw, "text/plain"), 400)
    anonymous = kit.client.post(kit.base + path, content=raw)
    assert "Authorization" in _error(anonymous, 401)


def test_null_for_an_optional_string_is_no_value_not_a_500(kit: Kit) -> None:
    """Found by tests/reliability/test_fuzz.py: a length limit applied to ``None`` raised inside
    pydantic (TypeError, a 500) for ``"title": null`` and a participant's ``"name": null``."""
    created = _post(kit, "/meetings", b'{"title": null}')
    assert created.status_code == 200, created.text
    meeting = created.json()["data"]["id"]
    patched = kit.call("PATCH", f"/meetings/{meeting}", {"title": None})
    assert patched.status_code == 200, patched.text
    body = b'{"custom_participant_id": "c", "preset_name": "p", "name": null, "picture": null}'
    added = _post(kit, f"/meetings/{meeting}/participants", body)
    assert added.status_code == 200, added.text
    participant = added.json()["data"]["id"]
    edited = kit.call(
        "PATCH", f"/meetings/{meeting}/participants/{participant}", {"name": None, "picture": None}
    )
    assert edited.status_code == 200, edited.text


def test_numbers_beyond_64_bits_in_meeting_objects_are_400(kit: Kit) -> None:
    """Found by tests/reliability/test_fuzz.py on PostgreSQL: an ``ai_config`` holding 5.7e33
    was stored (jsonb keeps it as an exact numeric, read back as a 112-bit integer) and every
    later list of meetings answered 500: no JSON answer with 64-bit integers can hold it."""
    for number in (b"5750095684063872913381206769270784", b"1e30", b"-1e19"):
        big = b'{"ai_config": {"x": [' + number + b"]}}"
        assert "within ±2^63" in _error(_post(kit, "/meetings", big), 400)
    fine = _post(kit, "/meetings", b'{"ai_config": {"x": [-9223372036854775808, 1.5e18, 0.25]}}')
    assert fine.status_code == 200, fine.text
    assert kit.call("GET", "/meetings", None).status_code == 200
