"""Lulls and freshness (issue 18).

- ``proj_lulls`` (new): one row version per lull of a conflict (``lull.observed``, closed and
  inserted again by its ``lull.ended`` or a correction), bitemporal like the other projection
  tables. No log older than this migration holds a lull event, so it starts empty; a replay
  builds the same.
- ``ix_events_conflict_occurred`` (new): ``events (conflict, occurred_at)``, so a conflict's
  latest event occurred by a time (``last_report_at``) is one index probe, and the next one
  dated later (when a view of now changes by itself) another. The log's rows are not touched:
  old logs load, replay and verify unchanged.

Revision ID: 0014
Revises: 0010
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "proj_lulls",
        sa.Column("conflict", sa.String(64), nullable=False),
        sa.Column("lull_id", sa.String(64), nullable=False),
        sa.Column("parties", sa.Text, nullable=False),
        sa.Column("observed_by", sa.String(200), nullable=False),
        sa.Column("statement", sa.Text, nullable=True),
        sa.Column("observed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("end_reason", sa.Text, nullable=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("event_id", sa.Uuid, nullable=False),
        sa.Column("known_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("known_until", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_proj_lulls_key", "proj_lulls", ["conflict", "lull_id"])
    op.create_index("ix_events_conflict_occurred", "events", ["conflict", "occurred_at"])


def downgrade() -> None:
    op.drop_index("ix_events_conflict_occurred", table_name="events")
    op.drop_index("ix_proj_lulls_key", table_name="proj_lulls")
    op.drop_table("proj_lulls")
