"""Real two-Chromium calls against a live rtk-sessions server, read back through the official SDK.

The flow a RealtimeKit developer knows: their backend creates a meeting and participants with the
official SDK (getting participant tokens), the browsers join with the collector, and afterwards the
Sessions API says what happened. Network conditions are injected (tests/live, tests/support/netem)
and the peer reports must show them.
"""

from __future__ import annotations

import contextlib
import threading
import time
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import func, select

from rtk_sessions.livecall import CallResult, run_call
from tests.conftest import LiveServer, Tenant, make_tenant, start_server
from tests.support.netem import Impairment

pytestmark = pytest.mark.browser


class Server:
    """A live server on 0.0.0.0 (browsers in namespaces reach it over their control links), which
    a test can stop and start again on the same port and database."""

    def __init__(self, database_url: str, data_dir: Any) -> None:
        from rtk_sessions.config import Settings

        self.settings = Settings(
            data_dir=data_dir, database_url=database_url, sweep_interval_secs=0.3
        )
        self.port = 0
        self.live: LiveServer | None = None
        self.start()

    def start(self) -> None:
        self.live, self._server, self._thread = start_server(
            self.settings, host="0.0.0.0", port=self.port
        )
        self.port = int(self.live.url.rsplit(":", 1)[1])

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=20)


@pytest.fixture
def server(database_url: str, tmp_path: Any) -> Any:
    srv = Server(database_url, tmp_path)
    yield srv
    srv.stop()


#: detected-issue types that only the network path causes (loss, delay, capacity, routing)
_PATH_ISSUES = frozenset(
    {
        "packet_loss",
        "high_rtt",
        "bandwidth_limited",
        "turn_relay",
        "ice_restart",
        "no_media_received",
    }
)


def _iso_to_epoch(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def setup_meeting(tenant: Tenant, title: str, keep_alive: int = 3) -> tuple[Any, Any, Any]:
    meetings = tenant.sdk().realtime_kit.meetings
    meeting = meetings.create(
        tenant.app_id,
        account_id=tenant.account_id,
        title=title,
        session_keep_alive_time_in_secs=keep_alive,
    ).data
    add = meetings.add_participant
    a = add(
        meeting.id,
        account_id=tenant.account_id,
        app_id=tenant.app_id,
        custom_participant_id="alice",
        preset_name="group_call_host",
        name="Alice",
    ).data
    b = add(
        meeting.id,
        account_id=tenant.account_id,
        app_id=tenant.app_id,
        custom_participant_id="bob",
        preset_name="group_call_participant",
        name="Bob",
    ).data
    return meeting, a, b


def call(
    tenant: Tenant, server: Server, meeting: Any, a: Any, b: Any, chromium: str, **kwargs: Any
) -> CallResult:
    endpoint = f"http://127.0.0.1:{server.port}/client/v4/accounts/{tenant.account_id}/realtime/kit/{tenant.app_id}/ingest"
    result = run_call(
        endpoint=endpoint,
        tokens=(a.token, b.token),
        meeting_id=meeting.id,
        participants=({"display_name": "Alice"}, {"display_name": "Bob"}),
        chromium=chromium,
        **kwargs,
    )
    assert result.ok, [(p.role, p.error, p.logs[-10:]) for p in result.peers]
    return result


def wait_ended(tenant: Tenant, session_id: str, timeout: float = 30) -> Any:
    sessions = tenant.sdk().realtime_kit.sessions
    deadline = time.monotonic() + timeout
    while True:
        details = sessions.get_session_details(
            session_id, account_id=tenant.account_id, app_id=tenant.app_id
        ).data
        if details.status == "ENDED" or time.monotonic() > deadline:
            return details
        time.sleep(0.5)


def peer_reports(tenant: Tenant, session_id: str) -> dict[str, Any]:
    sessions = tenant.sdk().realtime_kit.sessions
    people = sessions.get_session_participants(
        session_id, account_id=tenant.account_id, app_id=tenant.app_id
    ).data.participants
    return {
        p.custom_participant_id: sessions.get_participant_data_from_peer_id(
            p.id, account_id=tenant.account_id, app_id=tenant.app_id, include_peer_events=True
        ).data.participant
        for p in people
    }


def test_live_call_read_back_through_the_sdk(server: Server, need_chromium: str) -> None:
    """LIVE during the call, ENDED after the keep-alive; durations within 2 s of the wall clock;
    peer events, producer and consumer rows, candidate pairs and browser metadata. The server is
    restarted mid-call: the collector retries, and nothing it had acknowledged is lost."""
    assert server.live is not None
    tenant = make_tenant(server.live, "live")
    meeting, a, b = setup_meeting(tenant, "Live call")
    sessions = tenant.sdk().realtime_kit.sessions
    seen: list[Any] = []
    stop = threading.Event()

    def watch_and_restart() -> None:
        restarted = False
        started = time.monotonic()
        while not stop.is_set():
            with contextlib.suppress(Exception):  # the server is down for a moment on purpose
                seen.extend(
                    sessions.get_sessions(
                        tenant.app_id, account_id=tenant.account_id, associated_id=meeting.id
                    ).data.sessions
                )
            if not restarted and time.monotonic() - started > 9:
                server.stop()
                time.sleep(3)
                server.start()
                restarted = True
            time.sleep(1)

    watcher = threading.Thread(target=watch_and_restart)
    watcher.start()
    try:
        result = call(tenant, server, meeting, a, b, need_chromium, duration_s=20)
    finally:
        stop.set()
        watcher.join()

    live = [s for s in seen if s.status == "LIVE"]
    assert live and max(s.live_participants for s in live) == 2
    session_id = live[0].id
    ended = wait_ended(tenant, session_id)
    assert (
        ended.status == "ENDED"
        and ended.live_participants == 0
        and ended.max_concurrent_participants == 2
    )
    assert ended.meeting_display_name == "Live call" and ended.associated_id == meeting.id

    # Durations within 2 s of the browsers' own wall-clock join and leave.
    people = {
        p.custom_participant_id: p
        for p in sessions.get_session_participants(
            session_id, account_id=tenant.account_id, app_id=tenant.app_id, include_peer_events=True
        ).data.participants
    }
    assert set(people) == {"alice", "bob"}
    for peer, participant, who in ((result.peers[0], a, "alice"), (result.peers[1], b, "bob")):
        got = people[who]
        assert (
            peer.joined_at is not None and peer.left_at is not None and peer.collector is not None
        )
        assert (
            got.id == peer.peer_id
            and got.user_id == participant.id
            and got.preset_name == participant.preset_name
        )
        assert abs(_iso_to_epoch(got.joined_at) - peer.joined_at) < 2
        # The peer.left event is stamped by the page between the start of collector.leave() and
        # its acknowledged return; on a loaded machine that span alone can take seconds.
        assert peer.leave_started_at is not None
        left = _iso_to_epoch(got.left_at)
        assert peer.leave_started_at - 0.5 <= left <= peer.left_at + 0.5, (
            left,
            peer.leave_started_at,
            peer.left_at,
        )
        assert (
            peer.leave_started_at - peer.joined_at - 2
            <= got.duration * 60
            <= peer.left_at - peer.joined_at + 2
        )
        assert [e.event_name for e in got.peer_events] == [
            "PEER_CREATED",
            "PEER_JOINING",
            "PEER_LEAVING",
        ]
        assert peer.acked is True, "every event the collector sent was acknowledged"
        assert peer.collector["counters"]["failedRequests"] >= 1, (
            "the restart was noticed and retried"
        )
    assert ended.minutes_consumed == pytest.approx(
        sum(p.duration for p in people.values()), abs=2e-4
    )

    # Nothing acknowledged was lost: the server holds every event the collectors sent.
    from rtk_sessions.domain import client_events
    from rtk_sessions.storage.tables import ClientEventBlock, IngestedEvent

    assert server.live is not None
    with server.live.database().unit_of_work(write=False) as db:
        stored = (
            db.scalar(
                select(func.count())
                .select_from(IngestedEvent)
                .where(IngestedEvent.app_id == tenant.app_id)
            )
            or 0
        )
        stored += sum(  # peer.event ids are kept with their client events (0006b, 0010c)
            1
            for raw in db.scalars(
                select(ClientEventBlock.events).where(ClientEventBlock.app_id == tenant.app_id)
            )
            for e in client_events.decode(bytes(raw))
            if e.event_id is not None
        )
    # (peer.stats replays are recognised by their connection's cursor: no ingested_events row)
    counters = [p.collector["counters"] for p in result.peers if p.collector is not None]
    assert stored == sum(c["acked"] - c["ackedStats"] for c in counters)
    assert all(c["ackedStats"] >= 5 for c in counters)

    reports = peer_reports(tenant, session_id)
    for who, other in (("alice", "bob"), ("bob", "alice")):
        report = reports[who]
        assert report.role == people[who].preset_name
        quality = report.peer_report.quality
        for kind in ("audio_producer", "video_producer", "audio_consumer", "video_consumer"):
            assert len(getattr(quality, kind)) >= 5, kind
        assert {row.peer_id for row in quality.audio_consumer} == {people[other].id}
        assert sum(row.jitter_buffer_emitted_count or 0 for row in quality.audio_consumer) > 0, (
            "remote audio was played out"
        )
        meta = report.peer_report.metadata
        assert meta.browser_metadata.engine == "Blink" and "Chrom" in meta.browser_metadata.browser
        assert meta.device_info.os == "Linux" and meta.device_info.cpus >= 1
        pairs = meta.candidate_pairs.producing_transport + meta.candidate_pairs.consuming_transport
        # Every pair the browser selected is listed, each as the last report that selected it
        # said: a pair selected for a moment before ICE settled on another may never have been
        # nominated (CI saw one on a PostgreSQL run), while the pair a transport ends on is.
        described = [
            (
                p.nominated,
                p.local_candidate_address,
                p.remote_candidate_address,
                p.local_candidate_type,
                p.total_round_trip_time,
            )
            for p in pairs
        ]
        for listed in (meta.candidate_pairs.producing_transport,
                       meta.candidate_pairs.consuming_transport):  # fmt: skip
            assert not listed or any(p.nominated for p in listed), described
        assert pairs, described
        names = {e.name for e in meta.events}
        assert {"ice_connection_state", "connection_state"} <= names
        assert meta.audio_devices_updates or meta.video_devices_updates


SCENARIOS: dict[str, dict[str, Any]] = {
    "clean": {"impairment": {"delay_ms": 0, "loss_pct": 0, "seed": 1}, "duration_s": 15},
    "50ms-5pct": {"impairment": {"delay_ms": 50, "loss_pct": 5, "seed": 3}, "duration_s": 30},
    "400kbit": {
        "impairment": {"rate_kbit": 400, "seed": 5},
        "duration_s": 25,
        "video_size": (1280, 720),
    },
}


OPUS = "111"  # Chromium's payload type for Opus


def truth(forwarder: dict[str, Any]) -> dict[str, float]:
    """What the forwarder really did (tests/support/netem/forwarder.py, measured on the packets it
    forwarded). An RTT sample is a sender report one way plus the report on it coming back, so
    the RTT of a stream is the mean delay A→B plus B→A of that kind's RTCP (the RTCP sent by its
    audio or video SSRCs; ms); the loss is that of each direction's audio (Opus) packets (%)."""
    applied = forwarder["applied"]
    rtp = applied["ab"]["loss"]["rtp_pt"]
    # the video stream: of the payload types whose SSRC sent reports both ways (not Opus), the
    # one with the most RTP packets (RTX and FEC streams send no reports of their own)
    reporting = set(applied["ab"]["delay_ms"]["rtcp_pt"]) & set(
        applied["ba"]["delay_ms"]["rtcp_pt"]
    )
    video_pt = max(reporting - {OPUS}, key=lambda pt: rtp.get(pt, {"received": 0})["received"])

    def rtt(pt: str) -> float:
        return float(sum(applied[d]["delay_ms"]["rtcp_pt"][pt]["mean"] for d in ("ab", "ba")))

    audio = {d: applied[d]["loss"]["rtp_pt"][OPUS]["loss_pct"] for d in ("ab", "ba")}
    # alice is peer A: her inbound audio came B→A; bob's A→B.
    return {
        "audio_rtt_ms": rtt(OPUS),
        "video_rtt_ms": rtt(video_pt),
        "alice_audio_loss_pct": audio["ba"],
        "bob_audio_loss_pct": audio["ab"],
    }


def _measured_mean_ms(rows: Any) -> float:
    """Mean rtt in ms over the rows that carry a measurement (rtt > 0); 0.0 when none does."""
    measured = [r.rtt * 1000 for r in rows if r.rtt]
    return sum(measured) / len(measured) if measured else 0.0


@pytest.mark.netns
@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_impaired_network_shows_in_peer_reports(
    scenario: str, need_chromium: str, need_netns: None, tmp_path: Any
) -> None:
    """Injected delay, loss and a bandwidth cap, read through the official SDK and compared with
    what the forwarder measured it actually applied (so a loaded machine, whose userspace
    forwarder runs late, cannot fail it): RTT within ±10 %, audio loss within ±1.5 points."""
    from rtk_sessions import migrations

    url = f"sqlite:///{tmp_path / 'live.db'}"
    migrations.upgrade(url)
    server = Server(url, tmp_path)
    spec = dict(SCENARIOS[scenario])
    # The browsers run before the machine's other work (nice -10) and the forwarder at real-time
    # priority: the endpoints' own CPU starvation is not what this test is about, and whatever
    # delay the link still gets under load is measured by the forwarder and compared with.
    impairment = Impairment(**spec.pop("impairment"), peer_nice=-10)
    try:
        assert server.live is not None
        tenant = make_tenant(server.live, scenario)
        meeting, a, b = setup_meeting(tenant, f"Impaired {scenario}")
        with impairment:
            call(tenant, server, meeting, a, b, need_chromium, network=impairment, **spec)
        session = (
            tenant.sdk()
            .realtime_kit.sessions.get_sessions(
                tenant.app_id, account_id=tenant.account_id, associated_id=meeting.id
            )
            .data.sessions[0]
        )
        reports = peer_reports(tenant, session.id)
    finally:
        server.stop()
    assert impairment.forwarder_stats is not None
    real = truth(impairment.forwarder_stats)
    print(
        f"{scenario} injected {impairment.describe()}; forwarder applied {real}, "
        f"RTCP delay ms {[impairment.forwarder_stats['applied'][d]['delay_ms']['rtcp_pt'] for d in ('ab', 'ba')]}"
    )
    for who, report in reports.items():
        q = report.peer_report.quality
        # Rows before a producer's first RTCP receiver report have rtt 0, which the cumulative
        # average counts (decision Q5 in docs/decisions.md, as in the reference report). Video
        # gets a report about every second and audio every few seconds, but on a loaded machine
        # the first video row can come before it too (CI saw 8 measured rows and one 0: 89 ms
        # against 100). So the network RTT is read from the rows that carry a measurement, and
        # the cumulative block is checked separately against the mean of all its rows.
        video_rtt = _measured_mean_ms(q.video_producer)
        audio_rtt = _measured_mean_ms(q.audio_producer)
        for rows, block in (
            (q.video_producer, q.video_producer_cumulative),
            (q.audio_producer, q.audio_producer_cumulative),
        ):
            all_rows_ms = [(r.rtt or 0.0) * 1000 for r in rows]
            q5_avg = sum(all_rows_ms) / len(all_rows_ms)
            assert block.rtt.avg == pytest.approx(q5_avg, abs=0.01), (block.rtt, all_rows_ms)
        loss = q.audio_consumer_cumulative.packet_loss.avg
        real_loss = real[f"{who}_audio_loss_pct"]
        print(
            f"{scenario} {who}: measured video RTT {video_rtt:.1f} ms (cumulative"
            f" {q.video_producer_cumulative.rtt.avg} ms), measured audio RTT {audio_rtt:.1f} ms"
            f" (cumulative {q.audio_producer_cumulative.rtt.avg} ms), audio inbound loss avg {loss} %"
            f" (video {q.video_consumer_cumulative.packet_loss.avg} %); forwarder: RTT audio"
            f" {real['audio_rtt_ms']:.1f} ms, video {real['video_rtt_ms']:.1f} ms, audio loss {real_loss} %"
        )
        assert loss == pytest.approx(real_loss, abs=1.5), (loss, real_loss)
        if scenario == "clean":
            # ~0 ms injected: a relative bound means nothing; the browsers' own handling is
            # all that is added to what the forwarder applied.
            assert video_rtt <= real["video_rtt_ms"] + 20 and audio_rtt <= real["audio_rtt_ms"] + 20
        elif scenario == "50ms-5pct":
            assert video_rtt == pytest.approx(real["video_rtt_ms"], rel=0.10), (video_rtt, real)
            assert audio_rtt == pytest.approx(real["audio_rtt_ms"], rel=0.10), (audio_rtt, real)
        else:
            reasons = [row.quality_limitation_reason for row in q.video_producer]
            assert reasons.count("bandwidth") >= len(reasons) / 2, reasons
            assert q.video_producer_cumulative.issues.bandwidth_quality_limitation_fraction >= 0.3

    # --- detected issues (issue 10 point 3; helper "metrics") -------------------------------
    # The peer report's extension list `detected_issues` (docs/quality-metrics.md "Detected
    # issues"): the injected loss shows as packet_loss, the bandwidth cap as bandwidth_limited,
    # and the clean call shows nothing.
    for who, report in reports.items():
        detected = (report.peer_report.model_extra or {}).get("detected_issues")
        assert isinstance(detected, list), "the peer report carries detected_issues"
        print(
            f"{scenario} {who}: detected issues",
            [
                (i["type"], i["kind"], i["start"], i["end"], i["severity"], i["detail"])
                for i in detected
            ],
        )
        types = {issue["type"] for issue in detected}
        if scenario == "clean":
            # An unimpaired path: nothing the network causes. What the browsers' own scheduling
            # does on a loaded machine (jitter, a growing jitter buffer, concealment, freezes) is
            # real on the receiving host and may show; the forwarder's truth is about the path.
            assert not types & _PATH_ISSUES, detected
        elif scenario == "50ms-5pct":
            assert "packet_loss" in types, detected
        else:
            assert "bandwidth_limited" in types, detected
    # --- end of detected issues ----------------------------------------------------------------
