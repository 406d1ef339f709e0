"""Corrections: which correction each corrected event carries, as a bitemporal projection.

``proj_corrections`` has one row version per correction of an event: the current one names the
latest correction, whose data the event carries now. The fold's state is loaded from it, and it
keeps, like every projection table, what the log said at any earlier moment.

Retractions need no table of their own: a retraction closes the allegation's row version and
inserts the next one with ``retracted`` true (a column 0001 already has).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "proj_corrections",
        sa.Column("event_id", sa.Uuid, nullable=False),
        sa.Column("conflict", sa.String(64), nullable=False),
        sa.Column("correction_id", sa.Uuid, nullable=False),
        sa.Column("event_type", sa.String(64), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("known_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("known_until", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_proj_corrections_key", "proj_corrections", ["event_id"])
    op.create_index("ix_proj_corrections_conflict", "proj_corrections", ["conflict"])


def downgrade() -> None:
    op.drop_index("ix_proj_corrections_conflict", "proj_corrections")
    op.drop_index("ix_proj_corrections_key", "proj_corrections")
    op.drop_table("proj_corrections")
