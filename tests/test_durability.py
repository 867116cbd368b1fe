"""Ingestion survives ``kill -9`` (docs/ingest.md: acknowledged means durable, idempotent by event
id, ``peer.stats`` replays recognised by their connection's cursor).

A real ``rtk-sessions serve`` process is SIGKILLed several times at random moments while client
threads replay real recordings (tests/fixtures/real-stats) through ``POST .../ingest`` in batches
of mixed sizes, and restarted on the same port each time. Like the collector (docs/collector.md),
a client resends a batch (same event ids) until it is acknowledged; some clients also resend
acknowledged batches on purpose. At the end every event was acknowledged and applied exactly once:
the peer reports, participants, peer events, client events, transcript and chat rows, stored
sample rows and ``ingested_events`` equal those of the same events ingested once into a fresh
database by an in-process server.

Every answer is checked on the way: a batch is new as a whole, or (committed just before a kill
that swallowed the answer) a duplicate as a whole; an acknowledged batch sent again is all
duplicates. Seen to fail (then restored) with: ``peer.stats`` applied without the cursor check
(a resent batch is accepted again; without resends the sample rows differ at the end), event ids
not looked up (the batch fails with 5xx again and again), the answer sent 0.5 s before the
commit (an acknowledged ``peer.joined`` is lost: later batches are refused), and a batch applied
in two transactions (a retry is accepted in part; caught in most runs, as it takes a kill between
the two commits).

The seed is printed; ``RTK_DURABILITY_SEED=N`` replays a run's batching and kill moments (not the
scheduling).
"""

from __future__ import annotations

import os
import random
import signal
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import func, select

from rtk_sessions.config import Settings, normalize_database_url
from rtk_sessions.domain import client_events
from rtk_sessions.importers import load_recording
from rtk_sessions.importers.ingest import to_ingest_events
from rtk_sessions.storage.engine import Database
from rtk_sessions.storage.tables import (
    ChatMessageRow,
    ClientEventBlock,
    IngestedEvent,
    PeerConnectionState,
    PeerEvent,
    SampleBlock,
    TranscriptSegmentRow,
)
from tests.conftest import REAL_STATS, _drop_postgres_database, _postgres_database, start_server
from tests.reliability import figures as summary
from tests.servers import (
    Server,
    Tenant,
    make_tenant,
    restartable_port,
    start_serve,
    stop_all,
    wait_until,
)

#: One client (peer, meeting, session) per recording; the last two have 2 and 7 peer connections.
RECORDINGS = (
    "jitsi-rtcstats_chrome-relay.rtcstats.jsonl",
    "jitsi-rtcstats_google-standard-stats-sfu.rtcstats.jsonl",
    "jitsi-rtcstats_firefox-standard-stats-sfu.rtcstats.jsonl",
    "jitsi-rtcstats_google-standard-stats-p2p.rtcstats.jsonl",
    "jitsi-rtcstats_chrome-standard-multiple-p2p.rtcstats.jsonl",
)
KILLS = 8
#: Batch sizes and their weights (mean 5.4 events): mostly small, as a collector flushing every
#: few seconds sends them, and now and then a large one, as after a reconnection.
BATCH_SIZES = (1, 2, 3, 5, 8, 13, 20, 50)
BATCH_WEIGHTS = (5, 5, 4, 3, 2, 1, 1, 0.5)
RESEND_PROBABILITY = 0.35  # clients 0 and 2, after each acknowledged batch
MAX_5XX = 20  # answers of one batch (a kill costs connection errors, seldom a 5xx)
PAUSE_SECS = 0.4  # at most, before each batch
DEADLINE_SECS = 240.0  # for the whole ingestion; generous: the test must not hang, never fail slow


# ---- the clients ----------------------------------------------------------------------------


@dataclass
class Replay:
    """One recording replayed as one peer: its events, cut into batches."""

    peer_id: str
    session_id: str
    events: list[dict[str, Any]]
    batches: list[list[dict[str, Any]]]
    connections: int

    @property
    def logged_ids(self) -> set[str]:
        """Ids that ``ingested_events`` keeps: every event but ``peer.stats`` and ``peer.event``
        (whose ids are in their peer's ``client_event_blocks``, ``client_ids``)."""
        return {e["id"] for e in self.events if e["type"] not in ("peer.stats", "peer.event")}

    @property
    def client_ids(self) -> set[str]:
        """Ids that ``client_event_blocks`` keep."""
        return {e["id"] for e in self.events if e["type"] == "peer.event"}


def _client_ids(s: Any, peer_ids: list[str]) -> list[str | None]:
    """The ids of the client events stored for ``peer_ids``, one per event."""
    blocks = s.scalars(
        select(ClientEventBlock.events).where(ClientEventBlock.peer_id.in_(peer_ids))
    )
    return [e.event_id for raw in blocks for e in client_events.decode(bytes(raw))]


def make_replay(index: int, rng: random.Random) -> Replay:
    """``RECORDINGS[index]`` as a peer of its own meeting and session, plus two transcript
    segments and a chat message, cut into batches of ``BATCH_SIZES``."""
    client = load_recording(REAL_STATS / RECORDINGS[index]).clients[0]
    peer_id = f"dur{index}-{uuid.uuid4().hex[:10]}"
    session_id = str(uuid.uuid4())
    events = to_ingest_events(
        client,
        peer_id=peer_id,
        meeting_id=str(uuid.uuid4()),
        session_id=session_id,
        meeting_title=f"Durability {index}",
        id_prefix=f"{peer_id}:ev",
        display_name=f"Person {index}",
    )
    assert events[0]["type"] == "peer.joined" and events[-1]["type"] == "peer.left"
    span = client.leave_ms - client.join_ms
    extra: list[dict[str, Any]] = []
    for k in range(2):
        start = client.join_ms + span * (k + 1) / 4
        extra.append(
            {
                "id": f"{peer_id}:seg{k}",
                "type": "transcript.segment",
                "timestamp": start + 1000,
                "session_id": session_id,
                "peer_id": peer_id,
                "start": start,
                "end": start + 1000,
                "text": f"Segment {k} of person {index}.",
            }
        )
    extra.append(
        {
            "id": f"{peer_id}:chat0",
            "type": "chat.message",
            "timestamp": client.join_ms + span / 2,
            "session_id": session_id,
            "peer_id": peer_id,
            "payload_type": "TEXT_MESSAGE",
            "payload": f"hello from person {index}",
        }
    )
    body = sorted(events[1:-1] + extra, key=lambda e: e["timestamp"])  # stable
    events = [events[0], *body, events[-1]]
    batches = []
    k = 0
    while k < len(events):
        [size] = rng.choices(BATCH_SIZES, BATCH_WEIGHTS)
        batches.append(events[k : k + size])
        k += size
    connections = len({e["connection_id"] for e in events if e["type"] == "peer.stats"})
    return Replay(peer_id, session_id, events, batches, connections)


@dataclass
class Figures:
    """What happened, for the report line."""

    acked: int = 0  # batches acknowledged (first deliveries)
    resent: int = 0  # acknowledged batches resent on purpose (all duplicates)
    retries: int = 0  # attempts that failed (connection error, 5xx) and were repeated
    committed_unacked: int = 0  # batches applied before a kill but acknowledged only on a retry
    committed_unacked_events: int = 0
    accepted: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, **counts: int) -> None:
        with self.lock:
            for name, n in counts.items():
                setattr(self, name, getattr(self, name) + n)


class Killer(threading.Thread):
    """SIGKILLs the server ``KILLS`` times, 0.3-1.5 s after it last came up and preferably while a
    batch is in flight, and restarts it on the same port each time (waiting until it answers)."""

    def __init__(
        self, server: Server, database_url: str, tmp: Path, port: int, rng: random.Random
    ) -> None:
        super().__init__(daemon=True)
        self.server = server
        self.database_url = database_url
        self.tmp = tmp
        self.port = port
        self.rng = rng
        self.kills = 0
        self.kills_in_flight = 0  # kills while at least one batch was being sent
        self.in_flight = 0
        self.lock = threading.Lock()
        self.error: BaseException | None = None
        self.finished = threading.Event()
        self.stop = threading.Event()  # set by the test when it ends early
        self.clients = 0  # running clients, set by the test
        self.waiting = 0  # clients waiting for the next kill (or done)

    def run(self) -> None:
        try:
            for _ in range(KILLS):
                if self.stop.wait(self.rng.uniform(0.3, 1.5)):
                    return
                # then, preferably, while a batch is being sent (polled; at most 3 s more)
                until = time.monotonic() + 3
                while (
                    not self.in_flight and self.waiting < self.clients and time.monotonic() < until
                ):
                    time.sleep(0.002)
                if self.in_flight:  # at some point of its handling: parsing, applying, answering
                    time.sleep(self.rng.uniform(0, 0.02))
                with self.lock:
                    busy = self.in_flight > 0
                self.server.proc.send_signal(signal.SIGKILL)
                self.server.proc.wait(timeout=30)
                assert self.server.proc.returncode == -signal.SIGKILL
                self.kills += 1
                self.kills_in_flight += busy
                self.server = start_serve(self.database_url, self.tmp, "server", port=self.port)
                wait_until("the restarted server to serve", self.server.up, timeout=90)
        except BaseException as exc:  # reported by the clients and the test
            self.error = exc
        finally:
            self.finished.set()

    def reached(self, kills: int) -> bool:
        if self.error is not None:
            raise AssertionError("the killer failed") from self.error
        return self.kills >= kills or self.finished.is_set()

    def wait_for(self, kills: int) -> None:
        """Until the ``kills``-th kill is done (or the killer has finished)."""
        with self.lock:
            self.waiting += 1
        try:
            wait_until("the killer", lambda: self.reached(kills), timeout=180)
        finally:
            with self.lock:
                self.waiting -= 1

    def done(self) -> None:
        """A client has sent everything."""
        with self.lock:
            self.waiting += 1


def deliver(
    http: httpx.Client,
    url: str,
    tenant: Tenant,
    batch: list[dict[str, Any]],
    killer: Killer,
    figures: Figures,
    rng: random.Random,
    deadline: float,
) -> tuple[dict[str, int], int]:
    """POST ``batch`` until it is acknowledged, as the collector does: connection errors and 5xx
    are retried after a short pause with the same event ids (AssertionError after ``MAX_5XX`` 5xx
    answers, or at ``deadline``). Returns (the answer, failed attempts)."""
    failed = errors = 0
    while True:
        assert time.monotonic() < deadline, "ingestion did not finish in time"
        with killer.lock:
            killer.in_flight += 1
        try:
            response = http.post(
                tenant.base(url) + "/ingest",
                json={"events": batch},
                headers=tenant.headers(),
                timeout=60,
            )
        except httpx.TransportError:
            response = None
        finally:
            with killer.lock:
                killer.in_flight -= 1
        if response is not None and response.status_code >= 500:
            errors += 1  # a server that answers 5xx to a batch again and again will not heal
            assert errors <= MAX_5XX, (response.status_code, response.text[:2000])
        if response is None or response.status_code >= 500:
            failed += 1
            figures.add(retries=1)
            time.sleep(rng.uniform(0.05, 0.25))
            continue
        assert response.status_code == 200, response.text
        data: dict[str, int] = response.json()["data"]
        assert data["accepted"] + data["duplicates"] == len(batch), data
        return data, failed


def replay_client(
    url: str,
    tenant: Tenant,
    replay: Replay,
    resend: bool,
    killer: Killer,
    figures: Figures,
    rng: random.Random,
    deadline: float,
) -> None:
    """Send ``replay``'s batches in order, each until acknowledged. Batch k of n waits for kill
    ``k * (KILLS + 1) // n - 1``: the batches spread over the kills whatever the load, and a client
    is a window ahead of the killer, so that it has batches to send when the killer strikes."""
    with httpx.Client() as http:
        acked: list[list[dict[str, Any]]] = []
        n = len(replay.batches)
        for k, batch in enumerate(replay.batches):
            killer.wait_for(k * (KILLS + 1) // n - 1)
            time.sleep(rng.uniform(0, PAUSE_SECS))  # spread the batches over the kill window
            data, failed = deliver(http, url, tenant, batch, killer, figures, rng, deadline)
            # all or nothing: a batch is fully new, or (committed before a kill) fully duplicate
            if failed and data["accepted"] == 0:
                figures.add(committed_unacked=1, committed_unacked_events=len(batch))
            else:
                assert data == {"accepted": len(batch), "duplicates": 0}, (replay.peer_id, k)
            figures.add(acked=1, accepted=data["accepted"])
            acked.append(batch)
            if resend and rng.random() < RESEND_PROBABILITY:
                again, _ = deliver(
                    http, url, tenant, rng.choice(acked), killer, figures, rng, deadline
                )
                assert again["accepted"] == 0, (replay.peer_id, again)
                figures.add(resent=1)


#: Session fields that differ from the reference by nature: the reference server has no sweeper
#: (the session stays LIVE there), and the account differs.
_SWEPT_OR_TENANT = {"status", "ended_at", "updated_at", "organization_id"}


# ---- the reference --------------------------------------------------------------------------


@dataclass
class Expected:
    """What one peer's events, ingested once, give."""

    report: dict[str, Any] = field(repr=False)
    participants: list[dict[str, Any]] = field(repr=False)  # with their peer events
    session: dict[str, Any] = field(repr=False)  # without what the sweeper or tenant changes
    peer_events: Counter[str]
    client_events: int
    transcript: int
    chats: int
    sample_rows: int
    connection_states: int


def api(http: httpx.Client, url: str, tenant: Tenant, path: str) -> Any:
    response = http.get(tenant.base(url) + path, headers=tenant.headers(), timeout=60)
    assert response.status_code == 200, response.text
    return response.json()["data"]


def observe(
    http: httpx.Client, url: str, database_url: str, tenant: Tenant, replay: Replay
) -> Expected:
    """The peer's report and participants through the API, and its rows in the database."""
    report = api(http, url, tenant, f"/sessions/peer-report/{replay.peer_id}")
    path = f"/sessions/{replay.session_id}"
    participants = api(http, url, tenant, path + "/participants?include_peer_events=true")
    session = api(http, url, tenant, path)
    db = Database(normalize_database_url(database_url))
    try:
        with db.unit_of_work(write=False) as s:

            def count(*where: Any) -> int:
                return int(s.scalar(select(func.count()).where(*where)) or 0)

            return Expected(
                report=report["participant"]["peer_report"],
                participants=participants["participants"],
                session={k: v for k, v in session.items() if k not in _SWEPT_OR_TENANT},
                peer_events=Counter(
                    s.scalars(
                        select(PeerEvent.event_name).where(PeerEvent.peer_id == replay.peer_id)
                    )
                ),
                client_events=len(_client_ids(s, [replay.peer_id])),
                transcript=count(TranscriptSegmentRow.session_id == replay.session_id),
                chats=count(ChatMessageRow.session_id == replay.session_id),
                sample_rows=int(
                    s.scalar(
                        select(func.coalesce(func.sum(SampleBlock.row_count), 0)).where(
                            SampleBlock.peer_id == replay.peer_id
                        )
                    )
                    or 0
                ),
                connection_states=count(PeerConnectionState.peer_id == replay.peer_id),
            )
    finally:
        db.dispose()


def reference(tmp: Path, replays: list[Replay]) -> dict[str, Expected]:
    """Each peer's events as one batch into a fresh SQLite database served in-process."""
    from rtk_sessions import migrations

    url = f"sqlite:///{tmp / 'reference.db'}"
    migrations.upgrade(url)
    settings = Settings(data_dir=tmp / "reference", database_url=url)
    live, server, thread = start_server(settings, background=False)
    try:
        tenant = make_tenant(url, "durability-reference")
        out = {}
        with httpx.Client() as http:
            for replay in replays:
                response = http.post(
                    tenant.base(live.url) + "/ingest",
                    json={"events": replay.events},
                    headers=tenant.headers(),
                    timeout=120,
                )
                assert response.status_code == 200, response.text
                assert response.json()["data"] == {"accepted": len(replay.events), "duplicates": 0}
                out[replay.peer_id] = observe(http, live.url, url, tenant, replay)
        return out
    finally:
        server.should_exit = True
        thread.join(timeout=15)


def canonical(report: dict[str, Any], connections: int) -> dict[str, Any]:
    """The report with, for a peer of several connections, each kind's rows sorted (rows of
    overlapping connections with equal timestamps have no defined order)."""
    if connections < 2:
        return report
    quality = {
        kind: sorted(rows, key=orjson.dumps) if isinstance(rows, list) else rows
        for kind, rows in report["quality"].items()
    }
    return {**report, "quality": quality}


# ---- the test -------------------------------------------------------------------------------


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def fresh_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A new, empty database that the server will migrate, as a URL for the CLI."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'rtk.db'}"
        return
    name = f"rtk_dur_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    yield _postgres_database(name)
    _drop_postgres_database(name)


def test_ingestion_survives_kill_9(
    fresh_database: str, tmp_path: Path, record_property: Callable[[str, object], None]
) -> None:
    seed = int(os.environ.get("RTK_DURABILITY_SEED", random.randrange(1 << 31)))
    rng = random.Random(seed)
    replays = [make_replay(i, rng) for i in range(len(RECORDINGS))]
    expected = reference(tmp_path, replays)

    port = restartable_port()
    server = start_serve(fresh_database, tmp_path, "server", port=port)
    killer = Killer(server, fresh_database, tmp_path, port, random.Random(rng.random()))
    try:
        wait_until("the server to serve", server.up, timeout=90)
        tenant = make_tenant(fresh_database, "durability")
        figures = Figures()
        deadline = time.monotonic() + DEADLINE_SECS
        errors: list[BaseException] = []

        def run(index: int, client_rng: random.Random) -> None:
            try:
                replay_client(
                    server.url,
                    tenant,
                    replays[index],
                    index % 2 == 0,
                    killer,
                    figures,
                    client_rng,
                    deadline,
                )
            except BaseException as exc:
                errors.append(exc)
            finally:
                killer.done()

        clients = [
            threading.Thread(target=run, args=(i, random.Random(rng.random())), daemon=True)
            for i in range(len(replays))
        ]
        killer.clients = len(clients)
        started = time.monotonic()
        killer.start()
        for thread in clients:
            thread.start()
        for thread in clients:
            thread.join(timeout=DEADLINE_SECS + 60)
            assert not thread.is_alive(), "a client hung"
        killer.join(timeout=180)
        assert not killer.is_alive(), "the killer hung"
        if errors:
            raise errors[0]
        if killer.error is not None:
            raise killer.error
        ingestion = time.monotonic() - started
        server = killer.server
        assert killer.kills == KILLS
        wait_until("the server to serve", server.up, timeout=90)

        total = sum(len(r.events) for r in replays)
        batches = sum(len(r.batches) for r in replays)
        assert figures.acked == batches
        # each event accepted by exactly one answer, or by a commit whose answer a kill swallowed
        assert figures.accepted + figures.committed_unacked_events == total

        # every event applied exactly once
        with httpx.Client() as http:
            for replay in replays:
                got = observe(http, server.url, fresh_database, tenant, replay)
                want = expected[replay.peer_id]
                assert got.peer_events == Counter(
                    {"PEER_CREATED": 1, "PEER_JOINING": 1, "PEER_LEAVING": 1}
                ), replay.peer_id
                assert got.peer_events == want.peer_events
                assert got.client_events == want.client_events > 0, replay.peer_id
                assert (got.transcript, got.chats) == (want.transcript, want.chats) == (2, 1)
                assert got.connection_states == want.connection_states == replay.connections
                assert got.sample_rows == want.sample_rows > 0, replay.peer_id
                rows = sum(len(v) for v in got.report["quality"].values() if isinstance(v, list))
                assert rows == want.sample_rows, replay.peer_id
                assert canonical(got.report, replay.connections) == canonical(
                    want.report, replay.connections
                ), (replay.peer_id, seed)
                assert got.participants == want.participants, replay.peer_id
                [participant] = got.participants
                assert participant["id"] == replay.peer_id
                assert participant["duration"] > 0 and len(participant["peer_events"]) == 3
                assert got.session == want.session, replay.peer_id
        db = Database(normalize_database_url(fresh_database))
        try:
            with db.unit_of_work(write=False) as s:
                logged = Counter(
                    s.scalars(
                        select(IngestedEvent.event_id).where(IngestedEvent.app_id == tenant.app_id)
                    )
                )
                client_ids = Counter(_client_ids(s, [r.peer_id for r in replays]))
        finally:
            db.dispose()
        want_logged = set().union(*(r.logged_ids for r in replays))
        lost = len(want_logged - set(logged))
        assert set(logged) == want_logged and max(logged.values()) == 1
        assert set(client_ids) == set().union(*(r.client_ids for r in replays))
        assert max(client_ids.values()) == 1
        line = (
            f"durability [{fresh_database.split(':')[0]}] seed={seed}: "
            f"kills survived {killer.kills} ({killer.kills_in_flight} with batches in flight), "
            f"events {total}, batches acknowledged {figures.acked}, "
            f"committed before a kill and acknowledged on retry {figures.committed_unacked}, "
            f"acknowledged batches resent {figures.resent}, retries {figures.retries}, "
            f"events lost {lost}, applied twice 0; ingestion {ingestion:.1f} s"
        )
        print("\n" + line)
        summary.report(line)  # in the end-of-run summary, so that CI logs show it
        record_property("kills_survived", killer.kills)
        record_property("events_lost", lost)
    finally:
        killer.stop.set()
        if killer.is_alive():
            killer.join(timeout=120)
        stop_all([killer.server])
