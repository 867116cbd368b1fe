"""The sweeper survives a corrupt row (issue 9, defect 1): each peer and session is swept in its own
savepoint; the one that cannot be processed is logged, counted and skipped, the others end."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from rtk_sessions.clock import iso
from rtk_sessions.storage.tables import Peer, Session
from tests.conftest import LiveServer, Tenant, make_tenant
from tests.helpers import post_events

FAR = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)  # what ingestion accepted before the fix


def _call(tenant: Tenant, *, leave: bool, at: datetime) -> tuple[str, str]:
    """A session of its own meeting with one peer that joined at ``at`` (and left 10 min later)."""
    meeting, session, peer = (f"{k}-{uuid.uuid4()}" for k in ("m", "s", "p"))
    events = [
        {
            "id": f"j-{peer}",
            "type": "peer.joined",
            "timestamp": iso(at),
            "peer_id": peer,
            "meeting_id": meeting,
            "session_id": session,
        }
    ]
    if leave:
        left = {
            "id": f"l-{peer}",
            "type": "peer.left",
            "timestamp": iso(at + timedelta(minutes=10)),
        }
        events.append({**left, "peer_id": peer})
    post_events(tenant, events)
    return session, peer


def _status(server: LiveServer, session_id: str) -> str:
    with server.database().unit_of_work(write=False) as s:
        status = s.scalar(select(Session.status).where(Session.id == session_id))
        assert status is not None
        return status


def test_one_corrupt_row_does_not_stop_the_sweep(
    quiet_server: LiveServer, caplog: pytest.LogCaptureFixture
) -> None:
    tenant = make_tenant(quiet_server)
    at = datetime.now(UTC) - timedelta(minutes=30)
    good1, _ = _call(tenant, leave=True, at=at)
    bad, _ = _call(tenant, leave=True, at=at)
    good2, _ = _call(tenant, leave=True, at=at)
    stale, stale_peer = _call(tenant, leave=False, at=at)
    stale_bad, stale_bad_peer = _call(tenant, leave=False, at=at)
    long_ago = datetime.now(UTC) - timedelta(hours=1)
    with quiet_server.database().unit_of_work() as s:
        session, stale_row, peer = (
            s.get(Session, bad),
            s.get(Peer, stale_peer),
            s.get(Peer, stale_bad_peer),
        )
        assert session is not None and stale_row is not None and peer is not None
        session.last_left_at = FAR  # a leave dated 9999-12-31, stored before the fix
        stale_row.last_received_at = long_ago
        peer.last_received_at, peer.last_seen_at = long_ago, FAR  # its last event said 9999
    sweeper = quiet_server.app.state.sweeper
    with caplog.at_level(logging.ERROR, logger="rtk_sessions.sweeper"):
        ended = quiet_server.sweep()
    assert sorted(ended) == sorted([good1, good2, stale])
    for session_id in (good1, good2, stale):
        assert _status(quiet_server, session_id) == "ENDED"
    assert _status(quiet_server, bad) == _status(quiet_server, stale_bad) == "LIVE"
    assert sweeper.failures == 2
    logged = " ".join(r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR)
    assert bad in logged and stale_bad in logged
    with quiet_server.database().unit_of_work(write=False) as s:
        stale_row, peer = s.get(Peer, stale_peer), s.get(Peer, stale_bad_peer)
        assert stale_row is not None and peer is not None
        assert stale_row.left_at is not None  # the stale peer was taken as left
        assert peer.left_at == FAR
    # the next sweep skips the same two again, and still raises nothing
    assert quiet_server.sweep() == []
    assert sweeper.failures == 4
    # a session that goes idle after them still ends
    late, _ = _call(tenant, leave=True, at=at)
    assert quiet_server.sweep() == [late]
