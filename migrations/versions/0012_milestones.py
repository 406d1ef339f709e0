"""Deadlines inside agreements (issue 18): ``proj_milestones``, each milestone an agreement or a
declaration was signed with, and ``proj_milestone_updates``, each ``milestone.extended`` and
``milestone.met``; both bitemporal like every projection table.

A log written before milestones existed has none: both tables start empty, and replaying such a
log builds them empty too, so old logs load, replay and verify unchanged.

Revision ID: 0012
Revises: 0010
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "proj_milestones",
        sa.Column("conflict", sa.String(64), nullable=False),
        sa.Column("agreement_id", sa.String(64), nullable=False),
        sa.Column("milestone_id", sa.String(64), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("event_id", sa.Uuid, nullable=False),
        sa.Column("known_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("known_until", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_proj_milestones_key", "proj_milestones", ["conflict", "agreement_id"])
    op.create_table(
        "proj_milestone_updates",
        sa.Column("event_id", sa.Uuid, nullable=False),
        sa.Column("conflict", sa.String(64), nullable=False),
        sa.Column("agreement_id", sa.String(64), nullable=False),
        sa.Column("milestone_id", sa.String(64), nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("statement", sa.Text, nullable=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("known_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("known_until", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_proj_milestone_updates_key", "proj_milestone_updates", ["event_id"])
    op.create_index("ix_proj_milestone_updates_conflict", "proj_milestone_updates", ["conflict"])


def downgrade() -> None:
    op.drop_table("proj_milestone_updates")
    op.drop_table("proj_milestones")
