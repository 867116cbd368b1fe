"""Every ``realtime_kit.webhooks`` method of the official Python SDK 5.9.0 against a live server
(SQLite and PostgreSQL), and the contract's error envelope for bad input."""

from __future__ import annotations

from typing import Any

import cloudflare
import httpx
import pytest

from rtk_sessions.domain.webhooks import EVENTS, target_problem
from tests.conftest import LiveServer, Tenant, make_tenant


@pytest.fixture
def hook_tenant(hook_server: LiveServer) -> Tenant:
    return make_tenant(hook_server, "webhooks")


def _kw(t: Tenant) -> dict[str, str]:
    return {"account_id": t.account_id, "app_id": t.app_id}


def test_every_sdk_method(hook_tenant: Tenant) -> None:
    t = hook_tenant
    hooks = t.sdk().realtime_kit.webhooks
    assert hooks.get_webhooks(t.app_id, account_id=t.account_id).data == []

    created = hooks.create_webhook(
        t.app_id,
        account_id=t.account_id,
        name="backend",
        url="https://example.com/rtk",
        events=["meeting.started", "meeting.ended"],
    )
    assert created.success is True
    hook = created.data
    assert (hook.name, hook.url, hook.enabled) == ("backend", "https://example.com/rtk", True)
    assert hook.events == ["meeting.started", "meeting.ended"]
    assert hook.created_at == hook.updated_at

    second = hooks.create_webhook(
        t.app_id,
        account_id=t.account_id,
        name="all",
        url="http://example.org/hook",
        events=list(EVENTS),  # the recording/livestream events are accepted too
        enabled=False,
    ).data
    assert second.enabled is False and second.events == list(EVENTS)

    listed = hooks.get_webhooks(t.app_id, account_id=t.account_id).data
    assert [h.id for h in listed] == [hook.id, second.id]

    got = hooks.get_webhook_by_id(hook.id, **_kw(t)).data
    assert got.model_dump() == hook.model_dump()

    edited = hooks.edit_webhook(hook.id, **_kw(t), name="renamed", enabled=False).data
    assert (edited.name, edited.enabled, edited.url, edited.events) == (
        "renamed",
        False,
        hook.url,
        hook.events,
    )
    assert edited.updated_at >= hook.updated_at

    replaced = hooks.replace_webhook(
        hook.id,
        **_kw(t),
        name="replaced",
        url="https://example.net/x",
        events=["meeting.participantJoined"],
    ).data
    assert (replaced.name, replaced.url, replaced.events, replaced.enabled) == (
        "replaced",
        "https://example.net/x",
        ["meeting.participantJoined"],
        True,  # PUT: enabled defaults to true
    )

    deleted = hooks.delete_webhook(hook.id, **_kw(t)).data
    assert deleted.id == hook.id and deleted.name == "replaced"
    with pytest.raises(cloudflare.NotFoundError):
        hooks.get_webhook_by_id(hook.id, **_kw(t))
    with pytest.raises(cloudflare.NotFoundError):
        hooks.delete_webhook(hook.id, **_kw(t))
    assert [h.id for h in hooks.get_webhooks(t.app_id, account_id=t.account_id).data] == [second.id]


def test_tenants_are_isolated(hook_server: LiveServer, hook_tenant: Tenant) -> None:
    other = make_tenant(hook_server, "other")
    hook = (
        hook_tenant.sdk()
        .realtime_kit.webhooks.create_webhook(
            hook_tenant.app_id,
            account_id=hook_tenant.account_id,
            name="mine",
            url="https://example.com/",
            events=["meeting.started"],
        )
        .data
    )
    theirs = other.sdk().realtime_kit.webhooks
    assert theirs.get_webhooks(other.app_id, account_id=other.account_id).data == []
    for call in (theirs.get_webhook_by_id, theirs.delete_webhook):
        with pytest.raises(cloudflare.NotFoundError):
            call(hook.id, **_kw(other))
    with pytest.raises(cloudflare.NotFoundError):
        theirs.edit_webhook(hook.id, **_kw(other), name="stolen")
    # another account's app through one's own token: refused
    with pytest.raises(cloudflare.APIStatusError) as err:
        theirs.get_webhooks(hook_tenant.app_id, account_id=other.account_id)
    assert err.value.status_code in (403, 404)


BAD_BODIES: list[tuple[str, dict[str, Any], str]] = [
    ("no name", {"url": "https://example.com/", "events": ["meeting.started"]}, "name"),
    ("no url", {"name": "x", "events": ["meeting.started"]}, "url"),
    ("no events", {"name": "x", "url": "https://example.com/"}, "events"),
    ("empty events", {"name": "x", "url": "https://example.com/", "events": []}, "events"),
    (
        "unknown event",
        {"name": "x", "url": "https://example.com/", "events": ["meeting.exploded"]},
        "meeting.exploded",
    ),
    ("ftp", {"name": "x", "url": "ftp://example.com/", "events": ["meeting.started"]}, "http"),
    ("no host", {"name": "x", "url": "https://", "events": ["meeting.started"]}, "host"),
    (
        "number name",
        {"name": 5, "url": "https://example.com/", "events": ["meeting.started"]},
        "name",
    ),
    (
        "events not a list",
        {"name": "x", "url": "https://e.com/", "events": "meeting.started"},
        "events",
    ),
    (
        "credentials in url",
        {"name": "x", "url": "https://u:p@example.com/", "events": ["meeting.started"]},
        "credentials",
    ),
]


@pytest.mark.parametrize(("case", "body", "word"), BAD_BODIES, ids=[c for c, _, _ in BAD_BODIES])
def test_bad_bodies_answer_400_with_the_envelope(
    hook_tenant: Tenant, case: str, body: dict[str, Any], word: str
) -> None:
    t = hook_tenant
    url = f"{t.server.base_url}/accounts/{t.account_id}/realtime/kit/{t.app_id}/webhooks"
    headers = {"Authorization": f"Bearer {t.token}"}
    response = httpx.post(url, json=body, headers=headers, timeout=10)
    assert response.status_code == 400, response.text
    doc = response.json()
    assert doc["success"] is False and doc["errors"][0]["code"] == 400
    assert word in doc["errors"][0]["message"]
    hook = httpx.post(
        url,
        json={"name": "ok", "url": "https://example.com/", "events": ["meeting.ended"]},
        headers=headers,
        timeout=10,
    ).json()["data"]
    for method in ("PATCH", "PUT"):
        response = httpx.request(
            method, f"{url}/{hook['id']}", json=body, headers=headers, timeout=10
        )
        if method == "PATCH" and case in ("no name", "no url", "no events"):
            assert response.status_code == 200  # PATCH: a missing field stays as it was
            continue
        assert response.status_code == 400, (method, response.text)
    raw = httpx.post(url, content=b"{not json", headers=headers, timeout=10)
    assert raw.status_code == 400 and raw.json()["success"] is False


def test_private_targets_refused_unless_allowed(
    hook_server: LiveServer, hook_tenant: Tenant
) -> None:
    for url in (
        "http://127.0.0.1:8080/x",
        "http://localhost/x",
        "http://10.1.2.3/",
        "http://192.168.0.10/",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://0.0.0.0/",
    ):
        assert target_problem(url, allow_private=False) is not None, url
        assert target_problem(url, allow_private=True) is None, url
    assert target_problem("https://93.184.215.14/", allow_private=False) is None
    settings: Any = hook_server.settings
    settings.webhooks_allow_private_targets = False
    try:
        with pytest.raises(cloudflare.BadRequestError) as err:
            hook_tenant.sdk().realtime_kit.webhooks.create_webhook(
                hook_tenant.app_id,
                account_id=hook_tenant.account_id,
                name="inside",
                url="http://127.0.0.1:9/",
                events=["meeting.started"],
            )
        assert "RTK_WEBHOOKS_ALLOW_PRIVATE_TARGETS" in str(err.value)
    finally:
        settings.webhooks_allow_private_targets = True


def test_public_key_is_published(hook_server: LiveServer) -> None:
    response = httpx.get(hook_server.url + "/.well-known/webhooks.json", timeout=10)
    assert response.status_code == 200
    doc = response.json()
    assert list(doc) == ["public_key"]
    assert doc["public_key"].startswith("-----BEGIN PUBLIC KEY-----\n")
    assert doc["public_key"].rstrip().endswith("-----END PUBLIC KEY-----")
    settings: Any = hook_server.settings
    key_file = settings.data_dir / "webhooks.key"
    assert key_file.stat().st_mode & 0o777 == 0o600
