"""ORM tables. The migrations in ``rtk_sessions/migrations`` create exactly these.

Sizes to plan for: sample rows arrive at one per RTP stream per stats interval (a 4-stream peer
reporting every 2 s makes 7,200 an hour). They are stored compressed, many rows to a
``sample_blocks`` row (about 17 bytes a sample), and the state a report needs is kept per peer
connection (``peer_connection_states``), so nothing re-reads samples to aggregate them. Everything
else is per session or per peer.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, ClassVar, Protocol, TypeVar

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from rtk_sessions.storage.types import BigId, JSONDocument, UTCDateTime

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

ID = String(64)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    # Every model here is mapped to a Table (SQLAlchemy types it as the wider FromClause).
    __table__: ClassVar[Table]


class ApiToken(Base):
    """An API token of an account; only its SHA-256 is stored."""

    __tablename__ = "api_tokens"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    account_id: Mapped[str] = mapped_column(String(32), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class App(Base):
    """A RealtimeKit app (``organization_id`` of its sessions)."""

    __tablename__ = "apps"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    account_id: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_apps_account_created", "account_id", "created_at"),)


class Meeting(Base):
    """A meeting: the thing sessions are instances of (``associated_id``)."""

    __tablename__ = "meetings"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    app_id: Mapped[str] = mapped_column(ID, ForeignKey("apps.id", ondelete="CASCADE"))
    title: Mapped[str | None] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(16), default="ACTIVE")
    record_on_start: Mapped[bool] = mapped_column(Boolean, default=False)
    live_stream_on_start: Mapped[bool] = mapped_column(Boolean, default=False)
    persist_chat: Mapped[bool] = mapped_column(Boolean, default=False)
    summarize_on_end: Mapped[bool] = mapped_column(Boolean, default=False)
    transcribe_on_end: Mapped[bool] = mapped_column(Boolean, default=False)
    session_keep_alive_time_in_secs: Mapped[int] = mapped_column(Integer, default=60)
    ai_config: Mapped[dict[str, Any] | None] = mapped_column(JSONDocument)
    recording_config: Mapped[dict[str, Any] | None] = mapped_column(JSONDocument)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_meetings_app_created", "app_id", "created_at"),)


class MeetingParticipant(Base):
    """A participant added to a meeting (``user_id`` of the session participants it becomes)."""

    __tablename__ = "meeting_participants"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    meeting_id: Mapped[str] = mapped_column(ID, ForeignKey("meetings.id", ondelete="CASCADE"))
    custom_participant_id: Mapped[str] = mapped_column(String(200))
    preset_name: Mapped[str] = mapped_column(String(200))
    name: Mapped[str | None] = mapped_column(String(500))
    picture: Mapped[str | None] = mapped_column(Text)
    token_version: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_meeting_participants_meeting_created", "meeting_id", "created_at"),)


class Session(Base):
    """A live instance of a meeting (the Sessions API ``Session``)."""

    __tablename__ = "sessions"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    app_id: Mapped[str] = mapped_column(ID, ForeignKey("apps.id", ondelete="CASCADE"))
    meeting_id: Mapped[str] = mapped_column(ID)
    parent_session_id: Mapped[str | None] = mapped_column(ID, index=True)
    meeting_display_name: Mapped[str] = mapped_column(String(500), default="")
    type: Mapped[str] = mapped_column(String(16), default="meeting")
    status: Mapped[str] = mapped_column(String(8))
    live_participants: Mapped[int] = mapped_column(Integer, default=0)
    max_concurrent_participants: Mapped[int] = mapped_column(Integer, default=0)
    # Participant-seconds of peers that have left (D28 in docs/decisions.md; minutes_consumed =
    # this / 60).
    consumed_secs: Mapped[float] = mapped_column(Float, default=0.0)
    last_left_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    keep_alive_secs: Mapped[int] = mapped_column(Integer, default=60)
    # lower(meeting_display_name || ' ' || meeting_id || ' ' || id): one column to search (D16).
    search_text: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("ix_sessions_meeting_created", "meeting_id", "created_at"),
        Index("ix_sessions_status_last_left", "status", "last_left_at"),
    )


def _list_index(name: str, *columns: Any) -> Index:
    """A partial index over top-level sessions (the only ones lists show, D13), ending with
    ``parent_session_id`` so SQLite can check the partial condition from the index alone."""
    top = Session.parent_session_id.is_(None)
    return Index(name, *columns, Session.parent_session_id, sqlite_where=top, postgresql_where=top)


# The session list sorts by (key, id ASC); each index has the tie-breaker after the key so the
# first page is a range scan and a deep page skips index entries only (migration 0003). The
# created_at ones are ascending with id descending: (created_at DESC, id ASC) is their backward
# scan, and new sessions are appended at the end of the range (densely packed, migration 0006r).
_list_index("ix_sessions_list_created", Session.app_id, Session.created_at, Session.id.desc())
_list_index("ix_sessions_list_consumed", Session.app_id, Session.consumed_secs.desc(), Session.id)
_list_index("ix_sessions_list_consumed_asc", Session.app_id, Session.consumed_secs, Session.id)
_list_index(
    "ix_sessions_list_status_created",
    Session.app_id,
    Session.status,
    Session.created_at,
    Session.id.desc(),
)
_list_index(
    "ix_sessions_list_status_consumed",
    Session.app_id,
    Session.status,
    Session.consumed_secs.desc(),
    Session.id,
)


class SessionCount(Base):
    """Top-level sessions of an app in one status: ``sum(n)`` of its rows, kept by triggers on
    ``sessions``.

    Written only by the triggers of migrations 0003 and 0007l (also for rows inserted with plain
    SQL) and by ``domain.lifecycle.fold_session_counts``; read as the ``total_count`` of
    unfiltered and status-only session lists. ``tx`` 0 is the folded base; on PostgreSQL each
    writing transaction adds its changes to rows of its own (``tx`` = its ``txid_current()``)
    until a fold moves them into the base, so that concurrent writers never wait for each other
    here. Rows may hold 0 or a negative delta.
    """

    __tablename__ = "session_counts"
    app_id: Mapped[str] = mapped_column(ID, primary_key=True)
    status: Mapped[str] = mapped_column(String(8), primary_key=True)
    tx: Mapped[int] = mapped_column(BigInteger, primary_key=True, default=0, server_default="0")
    n: Mapped[int] = mapped_column(BigInteger)


class SessionDayCount(Base):
    """Top-level sessions of an app in one status created on one UTC day: ``sum(n)`` of its
    rows, kept by triggers on ``sessions`` (migration 0008d), as ``SessionCount`` is (``tx``: the
    same per-transaction rows on PostgreSQL, folded by
    ``domain.lifecycle.fold_session_day_counts``).

    Read by a deep page of an unfiltered or status-only list by ``created_at``, to find the day
    of its first entry without walking the entries of the days before it. ``day``: a ``date`` on
    PostgreSQL, the ``YYYY-MM-DD`` text of the stored ``created_at`` on SQLite.
    """

    __tablename__ = "session_day_counts"
    app_id: Mapped[str] = mapped_column(ID, primary_key=True)
    status: Mapped[str] = mapped_column(String(8), primary_key=True)
    day: Mapped[date | str] = mapped_column(
        String(10).with_variant(Date(), "postgresql"), primary_key=True
    )
    tx: Mapped[int] = mapped_column(BigInteger, primary_key=True, default=0, server_default="0")
    n: Mapped[int] = mapped_column(BigInteger)


class Peer(Base):
    """One join of one participant: the session participant ``id`` and the peer report's peer."""

    __tablename__ = "peers"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    session_id: Mapped[str] = mapped_column(ID, ForeignKey("sessions.id", ondelete="CASCADE"))
    app_id: Mapped[str] = mapped_column(ID)
    user_id: Mapped[str | None] = mapped_column(ID)
    custom_participant_id: Mapped[str | None] = mapped_column(String(200))
    display_name: Mapped[str | None] = mapped_column(String(500))
    preset_name: Mapped[str | None] = mapped_column(String(200))
    preset_view_type: Mapped[str | None] = mapped_column(String(16))
    socket_session_id: Mapped[str | None] = mapped_column(String(200))
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime)
    left_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)  # client time of its last event
    # server time of that event, moved on by at least ingest.RECEIVED_QUANTUM (1 s)
    last_received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", JSONDocument, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Never loaded (lazy="raise"): declared so that one flush inserts sessions before their peers.
    session: Mapped[Session] = relationship(lazy="raise")

    __table_args__ = (
        Index("ix_peers_session_joined", "session_id", "joined_at"),
        Index("ix_peers_open_received", "left_at", "last_received_at"),
        # PostgreSQL (migration 0006b): room in each page for the versions batches write.
        {"postgresql_with": {"fillfactor": 80}},
    )


class PeerFields(Protocol):
    """The columns of a peer that the lifecycle, webhooks and conversation code read and write:
    an ORM ``Peer`` or a ``PeerRow``."""

    id: str
    session_id: str
    app_id: str
    user_id: str | None
    custom_participant_id: str | None
    display_name: str | None
    preset_name: str | None
    joined_at: datetime
    left_at: datetime | None
    updated_at: datetime


class PeerRow:
    """A row of ``peers`` as a plain object: every column, by ``Peer``'s attribute names, without
    the ORM's instrumentation (its attribute reads and writes cost more than the rest of a
    lifecycle event). An ingestion batch keeps the peers it reads and joins as these and writes
    them itself (``domain.ingest``); the lifecycle, webhook and conversation code it calls take
    them as ``PeerFields``. The ORM session never holds one."""

    id: str
    session_id: str
    app_id: str
    user_id: str | None
    custom_participant_id: str | None
    display_name: str | None
    preset_name: str | None
    preset_view_type: str | None
    socket_session_id: str | None
    joined_at: datetime
    left_at: datetime | None
    last_seen_at: datetime
    last_received_at: datetime
    meta: dict[str, Any]
    created_at: datetime
    updated_at: datetime

    def __init__(self, values: dict[str, Any]) -> None:
        """values: every column, by attribute name."""
        self.__dict__.update(values)


class PeerEvent(Base):
    """PEER_CREATED / PEER_JOINING / PEER_LEAVING of a peer."""

    __tablename__ = "peer_events"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    peer_id: Mapped[str] = mapped_column(ID, ForeignKey("peers.id", ondelete="CASCADE"))
    session_id: Mapped[str] = mapped_column(ID)
    event_name: Mapped[str] = mapped_column(String(16))
    minutes_consumed: Mapped[float] = mapped_column(Float, default=0.0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    peer: Mapped[Peer] = relationship(lazy="raise")  # flush order only, as Peer.session

    __table_args__ = (Index("ix_peer_events_peer_created", "peer_id", "created_at"),)


class ClientEventBlock(Base):
    """The client events (``peer.event``) of one peer that one ingestion batch applied: the peer
    report's ``metadata.events``.

    ``events`` is ``storage.blocks.encode_events`` bytes, entries in the order applied, each with
    the id of the event it came from (None for events applied before migration 0006b, whose ids
    are in ``ingested_events``): a replay is recognised by these ids. ``seq`` numbers a peer's
    blocks from 0 in the order written; a batch writes the next one, so two concurrent batches of
    one peer collide on the primary key and one is applied again (seeing the other's ids). One
    row a batch instead of a row and an index entry an event (migration 0010c); the batch that
    would write a peer's ``domain.client_events.MERGE_AT``-th block writes one of all the peer's
    events instead and deletes the others.
    """

    __tablename__ = "client_event_blocks"
    app_id: Mapped[str] = mapped_column(ID, primary_key=True)
    peer_id: Mapped[str] = mapped_column(ID, primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    events: Mapped[bytes] = mapped_column(LargeBinary)

    # PostgreSQL: a block stays in its row up to a page (zlib already: TOAST would not compress
    # it, only add its chunks and their index).
    __table_args__ = ({"postgresql_with": {"toast_tuple_target": 8160}},)


class PeerConnectionState(Base):
    """Everything ingestion keeps between batches for one peer connection, in one row.

    ``state`` is ``storage.blocks.encode_state`` bytes: the compacted last getStats report (to take
    deltas against), the client's stream labels, the selected candidate pairs, the running
    cumulative block of each stream kind (``stats.KindAccumulator``) and the small sample blocks not
    yet compacted. A batch reads it once (``FOR UPDATE``) and writes it once.
    """

    __tablename__ = "peer_connection_states"
    app_id: Mapped[str] = mapped_column(ID, primary_key=True)
    peer_id: Mapped[str] = mapped_column(ID, primary_key=True)
    connection_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    timestamp_ms: Mapped[float] = mapped_column(Float)  # the last applied report (W3C timestamp)
    state: Mapped[bytes] = mapped_column(LargeBinary)

    # PostgreSQL (migration 0006b): the state stays in the row up to a page, not in TOAST, where
    # every rewrite left a dead copy until VACUUM (a dead row version is pruned from its page);
    # (0009b) inserts left room in each page for the version the next batch writes (fillfactor
    # 70), which (0012a) the sweeper's vacuum made a loss: pages are filled whole again.
    __table_args__ = ({"postgresql_with": {"toast_tuple_target": 8160}},)


class SampleBlock(Base):
    """Sample rows of one stream kind of one peer connection over a time range. Append-only.

    ``rows`` is ``storage.blocks.encode_rows`` bytes: the rows' public JSON objects, comma-joined
    and zlib-compressed (about 17 bytes a row). Rows are in timestamp order within a block;
    ``start_ms``/``end_ms`` are the first and last row's epoch milliseconds (floor; ``start_ms`` is
    moved on by a millisecond when needed to stay unique). ``received_day`` is the server's UTC day
    (days since 1970-01-01) the block was written: retention counts from it, so a recording of an
    old call is kept as long as a live one. On PostgreSQL the table is partitioned by
    ``received_day`` (one partition a day), so retention drops whole partitions; a partition
    keeps a block in its row up to a page (``storage.partitions.PARTITION_OPTIONS``).
    """

    __tablename__ = "sample_blocks"
    app_id: Mapped[str] = mapped_column(ID, primary_key=True)
    peer_id: Mapped[str] = mapped_column(ID, primary_key=True)
    kind: Mapped[int] = mapped_column(SmallInteger, primary_key=True)  # index in stats.KINDS
    connection_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    start_ms: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    received_day: Mapped[int] = mapped_column(Integer, primary_key=True)  # the partition key
    end_ms: Mapped[int] = mapped_column(BigInteger)
    row_count: Mapped[int] = mapped_column(Integer)
    rows: Mapped[bytes] = mapped_column(LargeBinary)

    # The received_day index is SQLite's only (migration 0011a): there retention deletes
    # through it; PostgreSQL drops a day's partition instead.
    __table_args__ = (
        Index("ix_sample_blocks_received_day", "received_day").ddl_if(dialect="sqlite"),
        {"postgresql_partition_by": "RANGE (received_day)"},
    )


class IngestedEvent(Base):
    """Ids of applied ingestion events: a replayed event is recognised and skipped. Not those of
    ``peer.stats`` (recognised by their connection's cursor) nor, since migration 0006b, of
    ``peer.event`` (by the ids in their peer's ``ClientEventBlock`` rows)."""

    __tablename__ = "ingested_events"
    app_id: Mapped[str] = mapped_column(ID, primary_key=True)
    event_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)

    # SQLite (migration 0006b): rows stored once, in the primary key's b-tree.
    __table_args__ = ({"sqlite_with_rowid": False},)


class ChatMessageRow(Base):
    """A chat message of a session; a later ``chat.message`` with the same id edits it in place."""

    __tablename__ = "chat_messages"
    session_id: Mapped[str] = mapped_column(
        ID, ForeignKey("sessions.id", ondelete="CASCADE"), primary_key=True
    )
    id: Mapped[str] = mapped_column(String(128), primary_key=True)  # the chat message id
    app_id: Mapped[str] = mapped_column(ID)
    meeting_id: Mapped[str] = mapped_column(ID)
    peer_id: Mapped[str | None] = mapped_column(ID)
    user_id: Mapped[str | None] = mapped_column(ID)
    custom_participant_id: Mapped[str | None] = mapped_column(String(500))
    display_name: Mapped[str | None] = mapped_column(String(500))
    payload_type: Mapped[str] = mapped_column(String(16))
    payload: Mapped[str] = mapped_column(Text)
    pinned: Mapped[bool] = mapped_column(Boolean, default=False)
    is_edited: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)  # client time it was first sent
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)  # client time of the applied version
    session: Mapped[Session] = relationship(lazy="raise")  # flush order only, as Peer.session

    __table_args__ = (Index("ix_chat_messages_session_created", "session_id", "created_at"),)


class TranscriptSegmentRow(Base):
    """One transcript segment (one utterance of one speaker). Only final ones are exported."""

    __tablename__ = "transcript_segments"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    session_id: Mapped[str] = mapped_column(ID, ForeignKey("sessions.id", ondelete="CASCADE"))
    app_id: Mapped[str] = mapped_column(ID)
    event_id: Mapped[str] = mapped_column(String(128))
    peer_id: Mapped[str | None] = mapped_column(ID)
    user_id: Mapped[str | None] = mapped_column(ID)
    custom_participant_id: Mapped[str | None] = mapped_column(String(500))
    display_name: Mapped[str | None] = mapped_column(String(500))
    start_at: Mapped[datetime] = mapped_column(UTCDateTime)
    end_at: Mapped[datetime] = mapped_column(UTCDateTime)
    text: Mapped[str] = mapped_column(Text)
    is_final: Mapped[bool] = mapped_column(Boolean, default=True)
    language: Mapped[str | None] = mapped_column(String(35))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    session: Mapped[Session] = relationship(lazy="raise")  # flush order only, as Peer.session

    __table_args__ = (
        Index("ix_transcript_segments_session_final_start", "session_id", "is_final", "start_at"),
    )


class SummaryRow(Base):
    """The summary of a session's transcript (at most one per session)."""

    __tablename__ = "summaries"
    session_id: Mapped[str] = mapped_column(
        ID, ForeignKey("sessions.id", ondelete="CASCADE"), primary_key=True
    )
    app_id: Mapped[str] = mapped_column(ID)
    content: Mapped[str] = mapped_column(Text)
    text_format: Mapped[str] = mapped_column(String(16))
    summary_type: Mapped[str] = mapped_column(String(64))
    word_limit: Mapped[int] = mapped_column(Integer)
    summarizer: Mapped[str] = mapped_column(String(200))
    segments: Mapped[int] = mapped_column(Integer)  # final segments it was made from
    job_id: Mapped[str | None] = mapped_column(ID)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class JobRow(Base):
    """A durable background job (``rtk_sessions.jobs``).

    ``active_key`` is ``kind:key`` while the job is queued or running and NULL after: its unique
    constraint allows one active job per key (NULLs never collide, on SQLite and PostgreSQL).
    """

    __tablename__ = "jobs"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    key: Mapped[str] = mapped_column(String(200))
    app_id: Mapped[str | None] = mapped_column(ID)
    active_key: Mapped[str | None] = mapped_column(String(240), unique=True)
    status: Mapped[str] = mapped_column(String(16))  # queued | running | done | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer)
    run_after: Mapped[datetime] = mapped_column(UTCDateTime)
    locked_by: Mapped[str | None] = mapped_column(String(100))
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSONDocument)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("ix_jobs_status_run_after", "status", "run_after"),
        Index("ix_jobs_kind_key_created", "kind", "key", "created_at"),
    )


class Preset(Base):
    """A RealtimeKit preset of an app (``realtime_kit.presets``): a named role whose ``config``,
    ``permissions`` and ``ui`` documents are stored as the SDK sends them. Meeting participants
    name one by ``preset_name``; its ``config.view_type`` fills ``preset_view_type`` in peer
    events. Names are unique within an app (migration 0005p)."""

    __tablename__ = "presets"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    app_id: Mapped[str] = mapped_column(ID, ForeignKey("apps.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    view_type: Mapped[str] = mapped_column(String(16))  # config.view_type, kept for joins
    config: Mapped[dict[str, Any]] = mapped_column(JSONDocument)
    permissions: Mapped[dict[str, Any]] = mapped_column(JSONDocument)
    ui: Mapped[dict[str, Any]] = mapped_column(JSONDocument)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("uq_presets_app_name", "app_id", "name", unique=True),
        Index("ix_presets_app_created", "app_id", "created_at"),
    )


class WebhookRow(Base):
    """A webhook of an app (``realtime_kit.webhooks``): where to POST which events."""

    __tablename__ = "webhooks"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    app_id: Mapped[str] = mapped_column(ID, ForeignKey("apps.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    url: Mapped[str] = mapped_column(Text)
    events: Mapped[list[str]] = mapped_column(JSONDocument)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # Failed delivery attempts since the last success; the webhook is disabled at the limit.
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_webhooks_app_created", "app_id", "created_at"),)


class WebhookDeliveryRow(Base):
    """The outbox: one event for one webhook, written in the transaction of the change it reports.

    ``seq`` orders deliveries; those of one webhook with the same ``order_key`` (the session id) are
    sent one after the other in ``seq`` order. ``body`` is the exact JSON that is signed and sent.
    """

    __tablename__ = "webhook_deliveries"
    seq: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(ID, unique=True)  # the delivery id (rtk-delivery-id header)
    event_id: Mapped[str] = mapped_column(ID)  # shared by the deliveries of one event
    webhook_id: Mapped[str] = mapped_column(ID, ForeignKey("webhooks.id", ondelete="CASCADE"))
    app_id: Mapped[str] = mapped_column(ID)
    event: Mapped[str] = mapped_column(String(64))
    order_key: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))  # pending | delivered
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("ix_webhook_deliveries_status_seq", "status", "seq"),
        Index("ix_webhook_deliveries_webhook_seq", "webhook_id", "seq"),
    )


class WebhookAttemptRow(Base):
    """One POST of a delivery: written before it is sent, completed with its outcome."""

    __tablename__ = "webhook_attempts"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    delivery_seq: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("webhook_deliveries.seq", ondelete="CASCADE")
    )
    attempt: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    worker: Mapped[str] = mapped_column(String(100))

    __table_args__ = (Index("ix_webhook_attempts_delivery", "delivery_seq", "attempt"),)


_Model = TypeVar("_Model", bound=Base)


def transient(model: type[_Model], values: dict[str, Any]) -> _Model:
    """A transient ``model`` object with ``values`` (by attribute name), made as the ORM's loader
    makes objects: its constructor would write them one by one through the attribute
    instrumentation. For objects their maker inserts itself, from their ``vars``
    (``domain.ingest``); later writes to them go through the instrumentation as usual."""
    obj: _Model = model.__mapper__.class_manager.new_instance()
    obj.__dict__.update(values)
    return obj
