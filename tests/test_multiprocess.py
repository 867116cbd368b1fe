"""Several server processes on one database (docs/deployment.md): two ``rtk-sessions serve`` on one
PostgreSQL database, and one ``serve --workers 2`` on one SQLite file.

Real recordings (tests/fixtures/real-stats) are replayed as peers through the ingestion API, by
several threads, alternately through the servers, and every acknowledged batch is replayed to the
other server. Checked through the API and the database against a reference ingestion of the same
events by one in-process server: every event applied once (peer events, participants, minutes,
the peer reports' sample rows and cumulative blocks), every session ended once and by one process
(the sweeper's log lines), every summary job run once. Then the sweeping process is killed with
SIGKILL in the middle of a second round; the survivor takes over sweeping and the second round
ends the same way.
"""

from __future__ import annotations

import os
import re
import signal
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from rtk_sessions.config import Settings, normalize_database_url
from rtk_sessions.domain import client_events
from rtk_sessions.importers import load_recording
from rtk_sessions.importers.ingest import to_ingest_events
from rtk_sessions.storage.engine import Database
from rtk_sessions.storage.tables import (
    ClientEventBlock,
    IngestedEvent,
    JobRow,
    PeerEvent,
    Session,
    SummaryRow,
)
from tests.conftest import REAL_STATS, _drop_postgres_database, _postgres_database, start_server
from tests.servers import Server, Tenant, make_tenant, start_serve, stop_all, wait_until

RECORDINGS = (
    "jitsi-rtcstats_chrome-relay.rtcstats.jsonl",
    "jitsi-rtcstats_google-standard-stats-sfu.rtcstats.jsonl",
)
PEERS_PER_SESSION = 2
SESSIONS_PER_ROUND = 4  # every other one with summarize_on_end
BATCH = 8
KEEP_ALIVE_SECS = 1
TRANSIENT = (httpx.TransportError,)


# ---- the calls ------------------------------------------------------------------------------


@dataclass
class Call:
    """One session to replay: its meeting (created through the API), peers and their events."""

    meeting_id: str
    session_id: str
    summarize: bool
    join_ms: float
    leave_ms: float
    joins: list[dict[str, Any]]  # one peer.joined per peer
    bodies: dict[str, list[dict[str, Any]]]  # peer id -> events between join and leave
    lefts: list[dict[str, Any]]  # one peer.left per peer

    @property
    def peer_ids(self) -> list[str]:
        return list(self.bodies)

    def events_of(self, peer_id: str) -> list[dict[str, Any]]:
        join = [e for e in self.joins if e["peer_id"] == peer_id]
        left = [e for e in self.lefts if e["peer_id"] == peer_id]
        return join + self.bodies[peer_id] + left

    def all_events(self) -> list[dict[str, Any]]:
        return [e for p in self.peer_ids for e in self.events_of(p)]


def make_call(index: int, tag: str, *, summarize: bool) -> Call:
    """The recording ``RECORDINGS[index % 2]`` replayed as ``PEERS_PER_SESSION`` peers of one
    session (same timeline, so the session stays LIVE until the last of them leaves); peer 0 also
    says a few transcript segments when the meeting wants a summary."""
    client = load_recording(REAL_STATS / RECORDINGS[index % len(RECORDINGS)]).clients[0]
    meeting_id, session_id = str(uuid.uuid4()), str(uuid.uuid4())
    joins: list[dict[str, Any]] = []
    lefts: list[dict[str, Any]] = []
    bodies: dict[str, list[dict[str, Any]]] = {}
    for p in range(PEERS_PER_SESSION):
        peer_id = f"{tag}-{index}-peer{p}-{uuid.uuid4().hex[:8]}"
        events = to_ingest_events(
            client,
            peer_id=peer_id,
            meeting_id=meeting_id,
            session_id=session_id,
            meeting_title=None,
            id_prefix=f"{peer_id}:ev",
            display_name=f"Person {p}",
        )
        assert events[0]["type"] == "peer.joined" and events[-1]["type"] == "peer.left"
        body = events[1:-1]
        if summarize and p == 0:
            span = client.leave_ms - client.join_ms
            for k, text in enumerate(
                (
                    "We agreed to ship the importer for rtcstats dumps this week.",
                    "The relay candidate showed higher round trip times than the direct one.",
                    "Next step is to compare packet loss between the two browsers tomorrow.",
                )
            ):
                start = client.join_ms + span * (k + 1) / 5
                body.append(
                    {
                        "id": f"{peer_id}:seg{k}",
                        "type": "transcript.segment",
                        "timestamp": start + 1000,
                        "session_id": session_id,
                        "peer_id": peer_id,
                        "start": start,
                        "end": start + 1000,
                        "text": text,
                    }
                )
            body.sort(key=lambda e: e["timestamp"])
        joins.append(events[0])
        lefts.append(events[-1])
        bodies[peer_id] = body
    return Call(
        meeting_id, session_id, summarize, client.join_ms, client.leave_ms, joins, bodies, lefts
    )


@dataclass
class Client:
    """Ingestion through several servers: alternates between them, fails over to the next when
    one is unreachable, and replays every acknowledged batch to another live server."""

    tenant: Tenant
    urls: list[str]
    dead: set[str] = field(default_factory=set)
    acked: int = 0
    replays: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def post(self, url: str, events: list[dict[str, Any]]) -> dict[str, int]:
        response = httpx.post(
            self.tenant.base(url) + "/ingest",
            json={"events": events},
            headers=self.tenant.headers(),
            timeout=60,
        )
        assert response.status_code == 200, response.text
        data: dict[str, int] = response.json()["data"]
        assert data["accepted"] + data["duplicates"] == len(events), data
        return data

    def send(self, events: list[dict[str, Any]], turn: int) -> None:
        """Deliver ``events`` (acknowledged by one server), then replay them to another."""
        order = self.urls[turn % len(self.urls) :] + self.urls[: turn % len(self.urls)]
        for i, url in enumerate(order):
            if url in self.dead and len(self.urls) > 1:
                continue
            try:
                self.post(url, events)
            except TRANSIENT:
                if len(self.urls) > 1:
                    self.dead.add(url)
                    continue
                # one URL (several workers behind it): a worker died under us; try once more
                self.post(url, events)
            with self.lock:
                self.acked += 1
            for other in order[i + 1 :] + order[:i]:
                if other in self.dead:
                    continue
                try:
                    again = self.post(other, events)
                except TRANSIENT:
                    continue
                assert again == {"accepted": 0, "duplicates": len(events)}, again
                with self.lock:
                    self.replays += 1
                break
            if len(self.urls) == 1:  # replay to the same port: may reach the other worker
                assert self.post(url, events) == {"accepted": 0, "duplicates": len(events)}
            return
        raise AssertionError("no server left")

    def api(self, method: str, path: str, **kwargs: Any) -> Any:
        for url in self.urls:
            if url in self.dead:
                continue
            response = httpx.request(
                method,
                self.tenant.base(url) + path,
                headers=self.tenant.headers(),
                timeout=30,
                **kwargs,
            )
            assert response.status_code == 200, response.text
            return response.json()["data"]
        raise AssertionError("no server left")


def create_meetings(client: Client, calls: list[Call]) -> None:
    for call in calls:
        created = client.api(
            "POST",
            "/meetings",
            json={
                "title": f"Multiprocess {call.session_id[:8]}",
                "session_keep_alive_time_in_secs": KEEP_ALIVE_SECS,
                "summarize_on_end": call.summarize,
            },
        )
        for e in call.joins:
            e["meeting_id"] = created["id"]
        call.meeting_id = created["id"]


def ingest_round(
    client: Client, calls: list[Call], *, before_leaving: Callable[[], None] = lambda: None
) -> None:
    """Joins first (each session's joins as one batch), then every peer's events in batches from
    its own thread, then (after ``before_leaving``) the leaves, one peer at a time."""
    for n, call in enumerate(calls):
        client.send(call.joins, n)
    with ThreadPoolExecutor(max_workers=len(calls) * PEERS_PER_SESSION) as pool:
        futures = []
        for n, call in enumerate(calls):
            for p, peer_id in enumerate(call.peer_ids):
                body = call.bodies[peer_id]

                def stream(body: list[dict[str, Any]] = body, start: int = n + p) -> None:
                    for k in range(0, len(body), BATCH):
                        client.send(body[k : k + BATCH], start + k // BATCH)

                futures.append(pool.submit(stream))
        for f in futures:
            f.result(timeout=300)
    before_leaving()
    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = [
            pool.submit(client.send, [left], n)
            for n, left in enumerate(left for call in calls for left in call.lefts)
        ]
        for f in futures:
            f.result(timeout=300)


# ---- the reference --------------------------------------------------------------------------


def reference_reports(tmp: Path, calls: list[Call]) -> dict[str, dict[str, Any]]:
    """Peer reports of the same events ingested by one in-process server (SQLite), each peer's
    events as one batch: ``{peer_id: peer_report}``."""
    from rtk_sessions import migrations

    url = f"sqlite:///{tmp / 'reference.db'}"
    migrations.upgrade(url)
    settings = Settings(data_dir=tmp / "reference", database_url=url)
    live, server, thread = start_server(settings, background=False)
    try:
        tenant = make_tenant(url)
        client = Client(tenant, [live.url])
        reports = {}
        for call in calls:
            for peer_id in call.peer_ids:
                assert client.post(live.url, call.events_of(peer_id))["duplicates"] == 0
                reports[peer_id] = peer_report(client, peer_id)
        return reports
    finally:
        server.should_exit = True
        thread.join(timeout=15)


def peer_report(client: Client, peer_id: str) -> dict[str, Any]:
    report: dict[str, Any] = client.api("GET", f"/sessions/peer-report/{peer_id}")["participant"][
        "peer_report"
    ]
    return report


# ---- checks ---------------------------------------------------------------------------------


def wait_round_done(database_url: str, calls: list[Call]) -> None:
    """Until every session of ``calls`` has ended and every summary job has finished."""
    db = Database(normalize_database_url(database_url))
    ids = [c.session_id for c in calls]
    summarized = [c.session_id for c in calls if c.summarize]

    def done() -> bool:
        with db.unit_of_work(write=False) as s:
            ended = s.scalar(
                select(func.count()).where(Session.id.in_(ids), Session.status == "ENDED")
            )
            finished = s.scalar(
                select(func.count()).where(
                    JobRow.key.in_(summarized), JobRow.status.in_(("done", "failed"))
                )
            )
        return ended == len(ids) and finished == len(summarized)

    try:
        wait_until("the sessions to end and their summaries to be written", done, timeout=90)
    finally:
        db.dispose()


def check_round(
    database_url: str,
    client: Client,
    calls: list[Call],
    reference: dict[str, dict[str, Any]],
) -> None:
    """Every event applied once; each session ended at the right instant; one summary each."""
    db = Database(normalize_database_url(database_url))
    try:
        with db.unit_of_work(write=False) as s:
            for call in calls:
                session = s.get(Session, call.session_id)
                assert session is not None and session.status == "ENDED"
                assert session.ended_at is not None
                expected_end = (call.leave_ms + KEEP_ALIVE_SECS * 1000) / 1000
                assert abs(session.ended_at.timestamp() - expected_end) < 0.002
                assert session.live_participants == 0
                assert session.max_concurrent_participants == PEERS_PER_SESSION
                expected_secs = PEERS_PER_SESSION * (call.leave_ms - call.join_ms) / 1000
                assert session.consumed_secs == pytest.approx(expected_secs, abs=1e-6)
                names = Counter(
                    s.scalars(
                        select(PeerEvent.event_name).where(PeerEvent.session_id == call.session_id)
                    )
                )
                assert names == {
                    "PEER_CREATED": PEERS_PER_SESSION,
                    "PEER_JOINING": PEERS_PER_SESSION,
                    "PEER_LEAVING": PEERS_PER_SESSION,
                }
                # peer.stats replays are recognised by the connection's cursor, peer.event ones
                # by the ids in their peer's client-event blocks: neither is logged by id
                unlogged = ("peer.stats", "peer.event")
                ids = [e["id"] for e in call.all_events() if e["type"] not in unlogged]
                assert len(set(ids)) == len(ids)
                stored = s.scalar(
                    select(func.count()).where(
                        IngestedEvent.app_id == client.tenant.app_id,
                        IngestedEvent.event_id.in_(ids),
                    )
                )
                assert stored == len(ids)
                client_ids = [e["id"] for e in call.all_events() if e["type"] == "peer.event"]
                kept = [
                    e.event_id
                    for raw in s.scalars(
                        select(ClientEventBlock.events).where(
                            ClientEventBlock.peer_id.in_(call.peer_ids)
                        )
                    )
                    for e in client_events.decode(bytes(raw))
                ]
                assert sorted(k or "" for k in kept) == sorted(client_ids)
                jobs = list(s.scalars(select(JobRow).where(JobRow.key == call.session_id)))
                summaries = s.scalar(
                    select(func.count()).where(SummaryRow.session_id == call.session_id)
                )
                if call.summarize:
                    assert [(j.kind, j.status, j.attempts) for j in jobs] == [
                        ("summary", "done", 1)
                    ]
                    assert summaries == 1
                else:
                    assert jobs == [] and summaries == 0
        for call in calls:
            participants = client.api("GET", f"/sessions/{call.session_id}/participants")[
                "participants"
            ]
            assert sorted(p["id"] for p in participants) == sorted(call.peer_ids)
            for peer_id in call.peer_ids:
                got = peer_report(client, peer_id)["quality"]
                want = reference[peer_id]["quality"]
                for kind, rows in want.items():
                    if isinstance(rows, list):
                        assert len(got[kind]) == len(rows), (peer_id, kind)
                assert got == want, peer_id
                assert sum(len(v) for v in got.values() if isinstance(v, list)) > 0
            if call.summarize:  # the file behind the signed URL is the one summary stored
                link = client.api("GET", f"/sessions/{call.session_id}/summary")
                text = httpx.get(link["summaryDownloadUrl"], timeout=30).text
                with db.unit_of_work(write=False) as s:
                    row = s.get(SummaryRow, call.session_id)
                    assert row is not None and row.segments == 3
                    assert text == row.content and text.strip()
    finally:
        db.dispose()


def ended_lines(servers: list[Server]) -> Counter[str]:
    return Counter(sid for server in servers for _, sid in server.ended())


# ---- the tests ------------------------------------------------------------------------------


@pytest.fixture
def postgres_url() -> Iterator[str]:
    name = f"rtk_mp_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    url = _postgres_database(name)
    yield url
    _drop_postgres_database(name)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A new, empty database (no server uses it), as a SQLAlchemy URL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'locks.db'}"
        return
    name = f"rtk_lock_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    yield normalize_database_url(_postgres_database(name))
    _drop_postgres_database(name)


def test_sweeper_lock_has_one_holder_and_passes_on(empty_database: str) -> None:
    from rtk_sessions.leader import sweeper_lock

    first = sweeper_lock(empty_database, interval_secs=0.2)
    second = sweeper_lock(empty_database, interval_secs=0.2)
    try:
        assert first.acquire() and first.held
        assert not second.acquire() and not second.held
        assert first.acquire()  # the holder keeps it
        assert not second.acquire()
        first.release()
        assert not first.held
        assert second.acquire()
        assert not first.acquire()
    finally:
        first.dispose()
        second.dispose()


@pytest.mark.postgres
def test_advisory_lock_lost_with_its_connection(postgres_url: str) -> None:
    """The server ends the leader's lock session (as when its host dies): the holder notices at
    its next acquire() and another process takes the lock."""
    import psycopg

    from rtk_sessions.leader import SWEEPER_KEY, AdvisoryLock

    url = normalize_database_url(postgres_url)
    first, second = AdvisoryLock(url, SWEEPER_KEY), AdvisoryLock(url, SWEEPER_KEY)
    try:
        assert first.acquire() and not second.acquire()
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            [[killed]] = admin.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_locks"
                " WHERE locktype = 'advisory' AND granted"
                " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            ).fetchall()
        assert killed == 1
        wait_until("the lock to be free", second.acquire, timeout=10)
        assert not first.acquire() and not first.held
        assert not first.acquire()  # reconnected, and the lock is taken
    finally:
        first.dispose()
        second.dispose()


@pytest.mark.postgres
def test_two_servers_on_one_postgres_database(postgres_url: str, tmp_path: Path) -> None:
    # both start at once on an empty database: the migration lock lets one migrate
    servers = [start_serve(postgres_url, tmp_path, name) for name in ("a", "b")]
    try:
        for server in servers:
            wait_until(f"{server.url} to serve", server.up, timeout=90)
            assert server.proc.poll() is None, server.text()
        tenant = make_tenant(postgres_url)
        client = Client(tenant, [s.url for s in servers])
        leaders = wait_until(
            "a sweeper leader",
            lambda: [s for s in servers if s.leader_pids()],
        )
        assert len(leaders) == 1, [s.text() for s in servers]
        leader = leaders[0]
        assert leader.leader_pids() == [leader.proc.pid]
        survivor = next(s for s in servers if s is not leader)

        first = [make_call(i, "r1", summarize=i % 2 == 0) for i in range(SESSIONS_PER_ROUND)]
        second = [make_call(i, "r2", summarize=i % 2 == 0) for i in range(SESSIONS_PER_ROUND)]
        reference = reference_reports(tmp_path, first + second)

        # round 1: both servers up
        create_meetings(client, first)
        ingest_round(client, first)
        wait_round_done(postgres_url, first)
        check_round(postgres_url, client, first, reference)
        assert client.replays == client.acked  # every batch also went to the other server
        assert ended_lines(servers) == Counter({c.session_id: 1 for c in first})
        assert {sid for _, sid in leader.ended()} == {c.session_id for c in first}
        assert survivor.ended() == [] and survivor.leader_pids() == []

        # round 2: the leader is killed (SIGKILL) halfway through the ingestion
        create_meetings(client, second)
        body_batches = sum(-(-len(b) // BATCH) for c in second for b in c.bodies.values()) + len(
            second
        )
        acked_before = client.acked

        def kill_when_halfway() -> None:
            wait_until("half of round 2", lambda: client.acked - acked_before >= body_batches // 2)
            leader.proc.send_signal(signal.SIGKILL)
            leader.proc.wait(timeout=10)

        killer = threading.Thread(target=kill_when_halfway, daemon=True)
        killer.start()
        ingest_round(client, second, before_leaving=lambda: killer.join(timeout=120))
        assert leader.proc.returncode == -signal.SIGKILL
        assert client.dead == {leader.url}
        wait_until("the survivor to lead", survivor.leader_pids, timeout=30)
        assert survivor.leader_pids() == [survivor.proc.pid]
        wait_round_done(postgres_url, second)
        check_round(postgres_url, client, second, reference)
        counts = ended_lines(servers)
        assert counts == Counter({c.session_id: 1 for c in first + second})
        assert {sid for _, sid in survivor.ended()} == {c.session_id for c in second}
    finally:
        stop_all(servers)


def test_two_workers_on_one_sqlite_file(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'rtk.db'}"
    server = start_serve(url, tmp_path, "w", "--workers", "2")
    try:
        wait_until(f"{server.url} to serve", server.up, timeout=90)
        tenant = make_tenant(url)
        client = Client(tenant, [server.url])
        [leader] = wait_until("a sweeper leader", server.leader_pids)

        def started() -> set[int]:
            return set(map(int, re.findall(r"Started server process \[(\d+)\]", server.text())))

        # up() answers as soon as one worker serves; the other may not have logged yet
        workers = wait_until("both workers to start", lambda: len(started()) >= 2 and started())
        assert len(workers) == 2 and leader in workers

        first = [make_call(i, "w1", summarize=i % 2 == 0) for i in range(SESSIONS_PER_ROUND)]
        second = [make_call(i, "w2", summarize=i % 2 == 0) for i in range(SESSIONS_PER_ROUND)]
        reference = reference_reports(tmp_path, first + second)

        create_meetings(client, first)
        ingest_round(client, first)
        wait_round_done(url, first)
        check_round(url, client, first, reference)
        assert sorted(server.ended()) == sorted((leader, c.session_id) for c in first)

        # the leading worker dies; another worker (or its replacement) takes over
        os.kill(leader, signal.SIGKILL)
        new_leader = wait_until(
            "another worker to lead", lambda: [p for p in server.leader_pids() if p != leader]
        )
        create_meetings(client, second)
        ingest_round(client, second)
        wait_round_done(url, second)
        check_round(url, client, second, reference)
        ended = server.ended()
        assert Counter(sid for _, sid in ended) == Counter(
            {c.session_id: 1 for c in first + second}
        )
        assert {pid for pid, sid in ended if sid in {c.session_id for c in second}} == {
            new_leader[0]
        }
    finally:
        stop_all([server])
