"""Presets of an app (``realtime_kit.presets``).

One row per preset: its name (unique in the app), its ``config.view_type`` as a column, and the
``config``, ``permissions`` and ``ui`` documents as sent. Nothing existing is changed; participants
added before presets existed keep their ``preset_name`` strings.

Revision ID: 0005p
Revises: 0004
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import rtk_sessions.storage.types

revision = "0005p"
down_revision = "0004"
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
_TIME = rtk_sessions.storage.types.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "presets",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("app_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("view_type", sa.String(length=16), nullable=False),
        sa.Column("config", _JSON, nullable=False),
        sa.Column("permissions", _JSON, nullable=False),
        sa.Column("ui", _JSON, nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("updated_at", _TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["app_id"], ["apps.id"], name=op.f("fk_presets_app_id_apps"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_presets")),
    )
    op.create_index("uq_presets_app_name", "presets", ["app_id", "name"], unique=True)
    op.create_index("ix_presets_app_created", "presets", ["app_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_presets_app_created", table_name="presets")
    op.drop_index("uq_presets_app_name", table_name="presets")
    op.drop_table("presets")
