"""Ongoing violations and aggregate reports (issue 18).

``proj_allegations`` gets ``ended_at`` (an ongoing violation's end: it contests its agreement
until the contested window after it) and ``ended_later`` (the end came from an
``incident.ended``, so the fold's state is loaded back from here). ``proj_reports`` holds each
``violations.reported`` as a row version. Old logs have no such events: their rows get NULL and
false, which is what replaying them builds, and they load, replay and verify unchanged.

Revision ID: 0013
Revises: 0010
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "proj_allegations", sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column(
        "proj_allegations",
        sa.Column("ended_later", sa.Boolean, nullable=False, server_default=sa.false()),
    )
    op.create_table(
        "proj_reports",
        sa.Column("event_id", sa.Uuid, nullable=False),
        sa.Column("conflict", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("reported_by", sa.String(200), nullable=False),
        sa.Column("period_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("period_to", sa.DateTime(timezone=True), nullable=False),
        sa.Column("count", sa.Integer, nullable=False),
        sa.Column("by_party", sa.Text, nullable=True),
        sa.Column("agreement_id", sa.String(64), nullable=True),
        sa.Column("statement", sa.Text, nullable=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("known_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("known_until", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_proj_reports_key", "proj_reports", ["event_id"])
    op.create_index("ix_proj_reports_time", "proj_reports", ["conflict", "period_to"])


def downgrade() -> None:
    op.drop_index("ix_proj_reports_time", table_name="proj_reports")
    op.drop_index("ix_proj_reports_key", table_name="proj_reports")
    op.drop_table("proj_reports")
    with op.batch_alter_table("proj_allegations") as batch:
        batch.drop_column("ended_later")
        batch.drop_column("ended_at")
