"""Peer event ids are the UUIDv5 the service has always written (stable across releases)."""

from __future__ import annotations

import uuid

import pytest

from rtk_sessions.domain.lifecycle import _event_id

NAMES = ("PEER_CREATED", "PEER_JOINING", "PEER_LEAVING")
PEER_IDS = (
    "",
    "p",
    "life-1-2-3",
    "9b2f3c1e-5a4d-4e6f-8a7b-0c1d2e3f4a5b",
    "pér-日本-\U0001f600",
    "x" * 64,
    ":colons:and spaces ",
)


@pytest.mark.parametrize("peer_id", PEER_IDS)
@pytest.mark.parametrize("name", NAMES)
def test_event_id_is_uuid5_of_the_url_namespace(peer_id: str, name: str) -> None:
    expected = uuid.uuid5(uuid.NAMESPACE_URL, f"rtk-sessions:peer-event:{peer_id}:{name}")
    assert _event_id(peer_id, name) == str(expected)


def test_event_id_refuses_what_uuid5_refuses() -> None:
    lone_surrogate = "\ud800"
    with pytest.raises(UnicodeEncodeError):
        uuid.uuid5(uuid.NAMESPACE_URL, lone_surrogate)
    with pytest.raises(UnicodeEncodeError):
        _event_id(lone_surrogate, "PEER_CREATED")
