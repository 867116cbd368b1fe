"""Initial schema: apps, tokens, meetings, sessions, peers, their events and stats samples.

The stats_samples table is the one that grows (a row per RTP stream per stats interval):
append-only, 64-bit keys, one composite index that serves the peer report. On PostgreSQL, session
search (a case-insensitive substring, D16 in docs/decisions.md) is served by a pg_trgm GIN index
instead of a scan.

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import rtk_sessions.storage.types

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.String(length=32), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column(
            "created_at", rtk_sessions.storage.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_tokens_token_hash")),
    )
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_api_tokens_account_id"), ["account_id"], unique=False)

    op.create_table(
        "apps",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column(
            "created_at", rtk_sessions.storage.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_apps")),
    )
    with op.batch_alter_table("apps", schema=None) as batch_op:
        batch_op.create_index("ix_apps_account_created", ["account_id", "created_at"], unique=False)

    op.create_table(
        "candidate_pairs",
        sa.Column("peer_id", sa.String(length=64), nullable=False),
        sa.Column("connection_id", sa.String(length=200), nullable=False),
        sa.Column("pair_id", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("first_seen_ms", sa.Float(), nullable=False),
        sa.Column(
            "data",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint(
            "peer_id", "connection_id", "pair_id", "role", name=op.f("pk_candidate_pairs")
        ),
    )
    op.create_table(
        "client_events",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("peer_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column(
            "timestamp", rtk_sessions.storage.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "metadata",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_client_events")),
    )
    with op.batch_alter_table("client_events", schema=None) as batch_op:
        batch_op.create_index("ix_client_events_peer_ts", ["peer_id", "timestamp"], unique=False)

    op.create_table(
        "ingested_events",
        sa.Column("app_id", sa.String(length=64), nullable=False),
        sa.Column("event_id", sa.String(length=128), nullable=False),
        sa.Column(
            "received_at", rtk_sessions.storage.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.PrimaryKeyConstraint("app_id", "event_id", name=op.f("pk_ingested_events")),
    )
    op.create_table(
        "stats_cursors",
        sa.Column("peer_id", sa.String(length=64), nullable=False),
        sa.Column("connection_id", sa.String(length=200), nullable=False),
        sa.Column("timestamp_ms", sa.Float(), nullable=False),
        sa.Column(
            "report",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("peer_id", "connection_id", name=op.f("pk_stats_cursors")),
    )
    op.create_table(
        "stats_samples",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("peer_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("stream_key", sa.String(length=300), nullable=False),
        sa.Column("timestamp_ms", sa.Float(), nullable=False),
        sa.Column(
            "row",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stats_samples")),
    )
    with op.batch_alter_table("stats_samples", schema=None) as batch_op:
        batch_op.create_index(
            "ix_stats_samples_peer_kind_ts", ["peer_id", "kind", "timestamp_ms"], unique=False
        )

    op.create_table(
        "meetings",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("app_id", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("record_on_start", sa.Boolean(), nullable=False),
        sa.Column("live_stream_on_start", sa.Boolean(), nullable=False),
        sa.Column("persist_chat", sa.Boolean(), nullable=False),
        sa.Column("summarize_on_end", sa.Boolean(), nullable=False),
        sa.Column("transcribe_on_end", sa.Boolean(), nullable=False),
        sa.Column("session_keep_alive_time_in_secs", sa.Integer(), nullable=False),
        sa.Column(
            "ai_config",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "recording_config",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "created_at", rtk_sessions.storage.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "updated_at", rtk_sessions.storage.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["app_id"], ["apps.id"], name=op.f("fk_meetings_app_id_apps"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meetings")),
    )
    with op.batch_alter_table("meetings", schema=None) as batch_op:
        batch_op.create_index("ix_meetings_app_created", ["app_id", "created_at"], unique=False)

    op.create_table(
        "sessions",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("app_id", sa.String(length=64), nullable=False),
        sa.Column("meeting_id", sa.String(length=64), nullable=False),
        sa.Column("parent_session_id", sa.String(length=64), nullable=True),
        sa.Column("meeting_display_name", sa.String(length=500), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("live_participants", sa.Integer(), nullable=False),
        sa.Column("max_concurrent_participants", sa.Integer(), nullable=False),
        sa.Column("consumed_secs", sa.Float(), nullable=False),
        sa.Column(
            "last_left_at", rtk_sessions.storage.types.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column("keep_alive_secs", sa.Integer(), nullable=False),
        sa.Column("search_text", sa.Text(), nullable=False),
        sa.Column(
            "created_at", rtk_sessions.storage.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "started_at", rtk_sessions.storage.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column("ended_at", rtk_sessions.storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "updated_at", rtk_sessions.storage.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["app_id"], ["apps.id"], name=op.f("fk_sessions_app_id_apps"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sessions")),
    )
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.create_index("ix_sessions_app_consumed", ["app_id", "consumed_secs"], unique=False)
        batch_op.create_index("ix_sessions_app_created", ["app_id", "created_at"], unique=False)
        batch_op.create_index(
            "ix_sessions_app_status_created", ["app_id", "status", "created_at"], unique=False
        )
        batch_op.create_index(
            "ix_sessions_meeting_created", ["meeting_id", "created_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_sessions_parent_session_id"), ["parent_session_id"], unique=False
        )
        batch_op.create_index(
            "ix_sessions_status_last_left", ["status", "last_left_at"], unique=False
        )

    op.create_table(
        "meeting_participants",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("meeting_id", sa.String(length=64), nullable=False),
        sa.Column("custom_participant_id", sa.String(length=200), nullable=False),
        sa.Column("preset_name", sa.String(length=200), nullable=False),
        sa.Column("name", sa.String(length=500), nullable=True),
        sa.Column("picture", sa.Text(), nullable=True),
        sa.Column("token_version", sa.Integer(), nullable=False),
        sa.Column(
            "created_at", rtk_sessions.storage.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "updated_at", rtk_sessions.storage.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["meeting_id"],
            ["meetings.id"],
            name=op.f("fk_meeting_participants_meeting_id_meetings"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meeting_participants")),
    )
    with op.batch_alter_table("meeting_participants", schema=None) as batch_op:
        batch_op.create_index(
            "ix_meeting_participants_meeting_created", ["meeting_id", "created_at"], unique=False
        )

    op.create_table(
        "peers",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("session_id", sa.String(length=64), nullable=False),
        sa.Column("app_id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=True),
        sa.Column("custom_participant_id", sa.String(length=200), nullable=True),
        sa.Column("display_name", sa.String(length=500), nullable=True),
        sa.Column("preset_name", sa.String(length=200), nullable=True),
        sa.Column("preset_view_type", sa.String(length=16), nullable=True),
        sa.Column("socket_session_id", sa.String(length=200), nullable=True),
        sa.Column(
            "joined_at", rtk_sessions.storage.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column("left_at", rtk_sessions.storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "last_seen_at", rtk_sessions.storage.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "last_received_at",
            rtk_sessions.storage.types.UTCDateTime(timezone=True),
            nullable=False,
        ),
        sa.Column(
            "metadata",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "created_at", rtk_sessions.storage.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "updated_at", rtk_sessions.storage.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["sessions.id"],
            name=op.f("fk_peers_session_id_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_peers")),
    )
    with op.batch_alter_table("peers", schema=None) as batch_op:
        batch_op.create_index(
            "ix_peers_open_received", ["left_at", "last_received_at"], unique=False
        )
        batch_op.create_index("ix_peers_session_joined", ["session_id", "joined_at"], unique=False)

    op.create_table(
        "peer_events",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("peer_id", sa.String(length=64), nullable=False),
        sa.Column("session_id", sa.String(length=64), nullable=False),
        sa.Column("event_name", sa.String(length=16), nullable=False),
        sa.Column("minutes_consumed", sa.Float(), nullable=False),
        sa.Column(
            "created_at", rtk_sessions.storage.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "updated_at", rtk_sessions.storage.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["peer_id"], ["peers.id"], name=op.f("fk_peer_events_peer_id_peers"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_peer_events")),
    )
    with op.batch_alter_table("peer_events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_peer_events_peer_created", ["peer_id", "created_at"], unique=False
        )

    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.execute(
            "CREATE INDEX ix_sessions_search_trgm ON sessions USING gin (search_text gin_trgm_ops)"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_sessions_search_trgm")
    with op.batch_alter_table("peer_events", schema=None) as batch_op:
        batch_op.drop_index("ix_peer_events_peer_created")

    op.drop_table("peer_events")
    with op.batch_alter_table("peers", schema=None) as batch_op:
        batch_op.drop_index("ix_peers_session_joined")
        batch_op.drop_index("ix_peers_open_received")

    op.drop_table("peers")
    with op.batch_alter_table("meeting_participants", schema=None) as batch_op:
        batch_op.drop_index("ix_meeting_participants_meeting_created")

    op.drop_table("meeting_participants")
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.drop_index("ix_sessions_status_last_left")
        batch_op.drop_index(batch_op.f("ix_sessions_parent_session_id"))
        batch_op.drop_index("ix_sessions_meeting_created")
        batch_op.drop_index("ix_sessions_app_status_created")
        batch_op.drop_index("ix_sessions_app_created")
        batch_op.drop_index("ix_sessions_app_consumed")

    op.drop_table("sessions")
    with op.batch_alter_table("meetings", schema=None) as batch_op:
        batch_op.drop_index("ix_meetings_app_created")

    op.drop_table("meetings")
    with op.batch_alter_table("stats_samples", schema=None) as batch_op:
        batch_op.drop_index("ix_stats_samples_peer_kind_ts")

    op.drop_table("stats_samples")
    op.drop_table("stats_cursors")
    op.drop_table("ingested_events")
    with op.batch_alter_table("client_events", schema=None) as batch_op:
        batch_op.drop_index("ix_client_events_peer_ts")

    op.drop_table("client_events")
    op.drop_table("candidate_pairs")
    with op.batch_alter_table("apps", schema=None) as batch_op:
        batch_op.drop_index("ix_apps_account_created")

    op.drop_table("apps")
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_tokens_account_id"))

    op.drop_table("api_tokens")
