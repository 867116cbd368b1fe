"""Sessions API shapes (docs/openapi.md): sessions, their participants, peer reports, and the
chat, transcript and summary links, as the official SDK models (``cloudflare`` 5.9.0,
``cloudflare.types.realtime_kit.session_*``) name and type them.

Times are ISO 8601 strings in UTC with milliseconds (``2023-02-01T10:51:08.039Z``), durations and
``minutes_consumed`` are minutes (4 decimals). The routes build these bodies with the functions of
``contract.views`` and ``domain.sessions`` and send them with orjson; the models document them
(``tests/api/test_openapi.py`` compares them with the SDK's).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from rtk_sessions.contract.common import Paging, Shape, Success
from rtk_sessions.stats.issues import IssueType

# ---- sessions -------------------------------------------------------------------------------


class Session(Shape):
    id: str
    associated_id: str
    """The meeting id."""
    created_at: str
    live_participants: int
    max_concurrent_participants: int
    meeting_display_name: str | None
    minutes_consumed: float
    organization_id: str
    """The app id."""
    started_at: str
    status: Literal["LIVE", "ENDED"]
    type: Literal["meeting", "livestream", "participant"]
    updated_at: str
    ended_at: str | None = None
    """Only once ended."""
    breakout_rooms: list[Session] | None = None
    """Only with ``include_breakout_rooms=true``: the child sessions."""


class SessionsData(Shape):
    sessions: list[Session]


class SessionsResponse(Success):
    """``GET .../sessions`` (SDK ``SessionGetSessionsResponse``)."""

    data: SessionsData
    paging: Paging


class SessionResponse(Success):
    """``GET .../sessions/{session_id}`` (SDK ``SessionGetSessionDetailsResponse``)."""

    data: Session


# ---- participants ---------------------------------------------------------------------------


class PeerEvent(Shape):
    id: str
    created_at: str
    event_name: Literal["PEER_CREATED", "PEER_JOINING", "PEER_LEAVING"]
    minutes_consumed: float
    participant_id: str | None
    peer_id: str
    preset_view_type: Literal["GROUP_CALL", "WEBINAR", "AUDIO_ROOM", "LIVESTREAM", "CHAT"] | None
    session_id: str
    socket_session_id: str | None
    updated_at: str


class _Participant(Shape):
    id: str
    """The peer id."""
    user_id: str | None = None
    """The meeting participant's id."""
    custom_participant_id: str | None = None
    display_name: str | None = None
    joined_at: str
    left_at: str | None = None
    duration: float
    """Minutes, (left_at or now) - joined_at."""
    created_at: str
    updated_at: str
    peer_events: list[PeerEvent] | None = None
    """Only with ``include_peer_events=true``."""


class SessionParticipant(_Participant):
    preset_name: str | None = None


class SessionParticipantsData(Shape):
    participants: list[SessionParticipant]
    paging: Paging | None = None
    """The same as the top-level ``paging`` (older clients read it here)."""


class SessionParticipantsResponse(Success):
    """``GET .../sessions/{session_id}/participants``
    (SDK ``SessionGetSessionParticipantsResponse``)."""

    data: SessionParticipantsData
    paging: Paging


class SessionParticipantData(Shape):
    participant: SessionParticipant


class SessionParticipantResponse(Success):
    """``GET .../sessions/{session_id}/participants/{participant_id}``
    (SDK ``SessionGetSessionParticipantDetailsResponse``)."""

    data: SessionParticipantData


# ---- peer report ----------------------------------------------------------------------------


class ReportedDevice(Shape):
    device_id: str | None = None
    kind: str | None = None
    label: str | None = None


class DevicesUpdate(Shape):
    added: list[ReportedDevice] | None = None
    removed: list[ReportedDevice] | None = None
    timestamp: str | None = None


class BrowserMetadata(Shape):
    browser: str | None = None
    browser_version: str | None = None
    engine: str | None = None
    user_agent: str | None = None
    webgl_support: bool | None = None


class CandidatePair(Shape):
    available_incoming_bitrate: float | None = None
    available_outgoing_bitrate: float | None = None
    bytes_discarded_on_send: float | None = None
    bytes_received: float | None = None
    bytes_sent: float | None = None
    current_round_trip_time: float | None = None
    last_packet_received_timestamp: float | None = None
    last_packet_sent_timestamp: float | None = None
    local_candidate_address: str | None = None
    local_candidate_id: str | None = None
    local_candidate_network_type: str | None = None
    local_candidate_port: float | None = None
    local_candidate_protocol: str | None = None
    local_candidate_related_address: str | None = None
    local_candidate_related_port: float | None = None
    local_candidate_type: str | None = None
    local_candidate_url: str | None = None
    nominated: bool | None = None
    packets_discarded_on_send: float | None = None
    packets_received: float | None = None
    packets_sent: float | None = None
    remote_candidate_address: str | None = None
    remote_candidate_id: str | None = None
    remote_candidate_port: float | None = None
    remote_candidate_protocol: str | None = None
    remote_candidate_type: str | None = None
    remote_candidate_url: str | None = None
    total_round_trip_time: float | None = None


class CandidatePairs(Shape):
    consuming_transport: list[CandidatePair] | None = None
    producing_transport: list[CandidatePair] | None = None


class DeviceInfo(Shape):
    cpus: float | None = None
    is_mobile: bool | None = None
    os: str | None = None
    os_version: str | None = None


class ClientEvent(Shape):
    metadata: dict[str, str | float | bool | None] | None = None
    name: str | None = None
    timestamp: str | None = None


class IpAsn(Shape):
    asn: str | None = None
    domain: str | None = None
    name: str | None = None
    route: str | None = None
    type: str | None = None


class IpInformation(Shape):
    asn: IpAsn | None = None
    city: str | None = None
    country: str | None = None
    ipv4: str | None = None
    org: str | None = None
    region: str | None = None
    timezone: str | None = None


class NativeMetadata(Shape):
    audio_encoder: str | None = None
    video_encoder: str | None = None


class PcMetadata(Shape):
    effective_network_type: str | None = None
    reflexive_connectivity: bool | None = None
    relay_connectivity: bool | None = None
    sdp: list[str] | None = None
    timestamp: str | None = None
    turn_connectivity: bool | None = None


class SelectedDeviceUpdate(Shape):
    device: ReportedDevice | None = None
    timestamp: str | None = None


class PeerReportMetadata(Shape):
    audio_devices_updates: list[DevicesUpdate] | None = None
    browser_metadata: BrowserMetadata | None = None
    candidate_pairs: CandidatePairs | None = None
    device_info: DeviceInfo | None = None
    events: list[ClientEvent] | None = None
    ip_information: IpInformation | None = None
    native_metadata: NativeMetadata | None = None
    pc_metadata: list[PcMetadata] | None = None
    room_view_type: str | None = None
    sdk_name: str | None = None
    sdk_type: str | None = None
    sdk_version: str | None = None
    selected_device_updates: list[SelectedDeviceUpdate] | None = None
    speaker_devices_updates: list[DevicesUpdate] | None = None
    video_devices_updates: list[DevicesUpdate] | None = None


class AudioConsumerSample(Shape):
    bytes_received: float | None = None
    concealment_events: float | None = None
    consumer_id: str | None = None
    jitter: float | None = None
    jitter_buffer_delay: float | None = None
    jitter_buffer_emitted_count: float | None = None
    mid: str | None = None
    mos_quality: float | None = None
    packets_lost: float | None = None
    packets_received: float | None = None
    peer_id: str | None = None
    producer_id: str | None = None
    ssrc: float | None = None
    timestamp: str | None = None


class Measured(Shape):
    """Q11 extension fields (docs/quality-metrics.md section 6) of every cumulative block that is
    present: a metric no row measured has no block at all."""

    measured_rows: int | None = None
    """Rows of the kind that had a measurement of this metric."""
    measured_avg: float | None = None
    """The mean over those rows (4 dp); ``avg`` keeps RealtimeKit's meaning (Q5)."""


class DelayFractions(Measured):
    api_100ms_or_greater_event_fraction: float | None = Field(
        None, alias="100ms_or_greater_event_fraction"
    )
    api_250ms_or_greater_event_fraction: float | None = Field(
        None, alias="250ms_or_greater_event_fraction"
    )
    api_500ms_or_greater_event_fraction: float | None = Field(
        None, alias="500ms_or_greater_event_fraction"
    )
    avg: float | None = None


class LossFractions(Measured):
    api_10_or_greater_event_fraction: float | None = Field(
        None, alias="10_or_greater_event_fraction"
    )
    api_25_or_greater_event_fraction: float | None = Field(
        None, alias="25_or_greater_event_fraction"
    )
    api_5_or_greater_event_fraction: float | None = Field(None, alias="5_or_greater_event_fraction")
    api_50_or_greater_event_fraction: float | None = Field(
        None, alias="50_or_greater_event_fraction"
    )
    avg: float | None = None


class Percentiles(Measured):
    avg: float | None = None
    p50: float | None = None
    p75: float | None = None
    p90: float | None = None


class AudioConsumerCumulative(Shape):
    jitter_buffer_delay: DelayFractions | None = None
    packet_loss: LossFractions | None = None
    quality_mos: Percentiles | None = None


class AudioProducerSample(Shape):
    bytes_sent: float | None = None
    jitter: float | None = None
    mid: str | None = None
    mos_quality: float | None = None
    packets_lost: float | None = None
    packets_sent: float | None = None
    producer_id: str | None = None
    rtt: float | None = None
    ssrc: float | None = None
    timestamp: str | None = None


class AudioProducerCumulative(Shape):
    packet_loss: LossFractions | None = None
    quality_mos: Percentiles | None = None
    rtt: DelayFractions | None = None


class VideoConsumerSample(Shape):
    bytes_received: float | None = None
    consumer_id: str | None = None
    fir_count: float | None = None
    frame_height: float | None = None
    frame_width: float | None = None
    frames_decoded: float | None = None
    frames_dropped: float | None = None
    frames_per_second: float | None = None
    jitter: float | None = None
    jitter_buffer_delay: float | None = None
    jitter_buffer_emitted_count: float | None = None
    key_frames_decoded: float | None = None
    mid: str | None = None
    mos_quality: float | None = None
    packets_lost: float | None = None
    packets_received: float | None = None
    peer_id: str | None = None
    producer_id: str | None = None
    ssrc: float | None = None
    timestamp: str | None = None


class VideoConsumerIssues(Shape):
    lag_fraction: float | None = None
    no_video_fraction: float | None = None
    poor_resolution_fraction: float | None = None


class VideoConsumerCumulative(Shape):
    frame_per_second: Percentiles | None = None
    frame_width: Percentiles | None = None
    issues: VideoConsumerIssues | None = None
    jitter_buffer_delay: DelayFractions | None = None
    key_frames_decoded_fraction: float | None = None
    packet_loss: LossFractions | None = None
    quality_mos: Percentiles | None = None


class QualityLimitationDurations(Shape):
    bandwidth: float | None = None
    cpu: float | None = None
    none: float | None = None
    other: float | None = None


class VideoProducerSample(Shape):
    bytes_sent: float | None = None
    fir_count: float | None = None
    frame_height: float | None = None
    frame_width: float | None = None
    frames_encoded: float | None = None
    frames_per_second: float | None = None
    jitter: float | None = None
    key_frames_encoded: float | None = None
    mid: str | None = None
    mos_quality: float | None = None
    packets_lost: float | None = None
    packets_sent: float | None = None
    pli_count: float | None = None
    producer_id: str | None = None
    quality_limitation_durations: QualityLimitationDurations | None = None
    quality_limitation_reason: Literal["cpu", "bandwidth", "none", "other"] | None = None
    quality_limitation_resolution_changes: float | None = None
    rtt: float | None = None
    ssrc: float | None = None
    timestamp: str | None = None


class VideoProducerIssues(Shape):
    bandwidth_quality_limitation_fraction: float | None = None
    cpu_quality_limitation_fraction: float | None = None
    no_video_fraction: float | None = None
    poor_resolution_fraction: float | None = None
    quality_limitation_fraction: float | None = None


class VideoProducerCumulative(Shape):
    frame_per_second: Percentiles | None = None
    frame_width: Percentiles | None = None
    high_negative_feedback_fraction: float | None = None
    issues: VideoProducerIssues | None = None
    key_frames_encoded_fraction: float | None = None
    packet_loss: LossFractions | None = None
    quality_mos: Percentiles | None = None
    rtt: DelayFractions | None = None


class Quality(Shape):
    audio_consumer: list[AudioConsumerSample] | None = None
    audio_consumer_cumulative: AudioConsumerCumulative | None = None
    audio_producer: list[AudioProducerSample] | None = None
    audio_producer_cumulative: AudioProducerCumulative | None = None
    screenshare_audio_consumer: list[AudioConsumerSample] | None = None
    screenshare_audio_consumer_cumulative: AudioConsumerCumulative | None = None
    screenshare_audio_producer: list[AudioProducerSample] | None = None
    screenshare_audio_producer_cumulative: AudioProducerCumulative | None = None
    screenshare_video_consumer: list[VideoConsumerSample] | None = None
    screenshare_video_consumer_cumulative: VideoConsumerCumulative | None = None
    screenshare_video_producer: list[VideoProducerSample] | None = None
    screenshare_video_producer_cumulative: VideoProducerCumulative | None = None
    video_consumer: list[VideoConsumerSample] | None = None
    video_consumer_cumulative: VideoConsumerCumulative | None = None
    video_producer: list[VideoProducerSample] | None = None
    video_producer_cumulative: VideoProducerCumulative | None = None


class DetectedIssue(Shape):
    """One problem of the peer with its time range (``stats.issues``; docs/quality-metrics.md,
    "Detected issues"). An extension: the SDK's peer report has no such list."""

    type: IssueType
    kind: str | None
    """The stream kind (``audio_producer``, ...) of a stream issue; null for a peer issue."""
    stream_id: str | None
    """The stream's producer/consumer id (else its ssrc); null for a peer issue."""
    start: str
    """ISO 8601 UTC, ms."""
    end: str | None
    """ISO 8601 UTC, ms; null while the state was still on at the last thing heard; equal to
    ``start`` for an instant (a device change)."""
    severity: Literal["info", "warning", "critical"]
    detail: str
    """One sentence with the worst value and the threshold."""


class PeerReport(Shape):
    """``metadata`` and ``quality`` (docs/quality-metrics.md); ``quality`` is ``{}`` for a peer
    without telemetry. ``detected_issues`` is an extension."""

    metadata: PeerReportMetadata | None = None
    quality: Quality | None = None
    detected_issues: list[DetectedIssue] | None = None


class PeerReportParticipant(_Participant):
    role: str | None = None
    """The preset name."""
    session_id: str
    peer_report: PeerReport


class PeerReportData(Shape):
    participant: PeerReportParticipant


class PeerReportResponse(Success):
    """``GET .../sessions/peer-report/{peer_id}``
    (SDK ``SessionGetParticipantDataFromPeerIDResponse``)."""

    data: PeerReportData


# ---- chat, transcript, summary ----------------------------------------------------------------


class ChatData(Shape):
    chat_download_url: str
    """A signed URL to the chat as CSV."""
    chat_download_url_expiry: str


class ChatResponse(Success):
    """``GET .../sessions/{session_id}/chat`` (SDK ``SessionGetSessionChatResponse``)."""

    data: ChatData


class TranscriptData(Shape):
    session_id: str = Field(alias="sessionId")
    transcript_download_url: str
    transcript_download_url_expiry: str


class TranscriptResponse(Success):
    """``GET .../sessions/{session_id}/transcript``
    (SDK ``SessionGetSessionTranscriptsResponse``)."""

    data: TranscriptData


class SummaryData(Shape):
    session_id: str = Field(alias="sessionId")
    summary_download_url: str = Field(alias="summaryDownloadUrl")
    summary_download_url_expiry: str = Field(alias="summaryDownloadUrlExpiry")


class SummaryResponse(Success):
    """``GET .../sessions/{session_id}/summary`` (SDK ``SessionGetSessionSummaryResponse``)."""

    data: SummaryData


class SummaryJobData(Shape):
    session_id: str
    status: Literal["IN_PROGRESS", "COMPLETED"]


class SummaryJobResponse(Success):
    """``POST .../sessions/{session_id}/summary``
    (SDK ``SessionGenerateSummaryOfTranscriptsResponse``)."""

    data: SummaryJobData
