"""Issue 9, defect 10: the meeting handlers that write to the database never block the event loop.

They used to be ``async def`` running synchronous database writes on the loop thread, so every
other request of the process waited for them. Now they run in the thread pool: the domain call
is made off the loop thread, and a request arriving while one of them is stuck is still served.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from rtk_sessions.domain import meetings as domain
from tests.api.conftest import Kit


def _on_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _meeting_and_participant(kit: Kit) -> tuple[str, str]:
    meeting = kit.call("POST", "/meetings", {"title": "t"}).json()["data"]["id"]
    body = {"custom_participant_id": "c", "preset_name": "p"}
    participant = kit.call("POST", f"/meetings/{meeting}/participants", body).json()["data"]["id"]
    return meeting, participant


CALLS: list[tuple[str, str, str, dict[str, Any]]] = [
    ("create_meeting", "POST", "/meetings", {"title": "new"}),
    ("update_meeting", "PATCH", "/meetings/{m}", {"title": "patched"}),
    ("update_meeting", "PUT", "/meetings/{m}", {"title": "replaced"}),
    (
        "add_participant",
        "POST",
        "/meetings/{m}/participants",
        {
            "custom_participant_id": "d",
            "preset_name": "p",
        },
    ),
    ("edit_participant", "PATCH", "/meetings/{m}/participants/{p}", {"name": "Ada"}),
]


@pytest.mark.parametrize(("function", "method", "path", "body"), CALLS)
def test_meeting_writes_run_off_the_event_loop(
    kit: Kit,
    monkeypatch: pytest.MonkeyPatch,
    function: str,
    method: str,
    path: str,
    body: dict[str, Any],
) -> None:
    meeting, participant = _meeting_and_participant(kit)
    original: Callable[..., Any] = getattr(domain, function)
    seen: list[bool] = []

    def spy(*args: Any, **kwargs: Any) -> Any:
        seen.append(_on_event_loop())
        return original(*args, **kwargs)

    monkeypatch.setattr(domain, function, spy)
    response = kit.call(method, path.format(m=meeting, p=participant), body)
    assert response.status_code == 200, response.text
    assert seen == [False], f"{function} ran on the event loop thread"


def test_a_stuck_meeting_write_does_not_stop_other_requests(
    kit: Kit, monkeypatch: pytest.MonkeyPatch
) -> None:
    entered, release = threading.Event(), threading.Event()
    released: list[bool] = []
    original = domain.create_meeting

    def stuck(*args: Any, **kwargs: Any) -> Any:
        entered.set()
        # Released only once the other request below was answered; on a blocked loop it can't be,
        # and this gives up after the timeout.
        released.append(release.wait(timeout=20))
        return original(*args, **kwargs)

    monkeypatch.setattr(domain, "create_meeting", stuck)
    answers: list[httpx.Response] = []
    writer = threading.Thread(target=lambda: answers.append(kit.call("POST", "/meetings", {})))
    writer.start()
    assert entered.wait(timeout=30)
    other = kit.client.get("/healthz")
    release.set()
    writer.join(timeout=60)
    assert other.status_code == 200
    assert released == [True], "the other request waited for the stuck meeting write"
    assert answers and answers[0].status_code == 200
