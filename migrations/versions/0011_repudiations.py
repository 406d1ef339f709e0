"""Agreements a party left: ``proj_agreements.departures``, each ``agreement.repudiated``.

A repudiation closes the agreement's current row version and inserts the next, carrying every
departure so far as JSON (party, never_agreed, occurred_at, statement): ``known_at`` before its
recording reads the agreement as it was, as for a correction, and a withdrawal's own
occurred_at decides what a view of an earlier ``as_of`` sees. ``departed_at`` holds the latest
departure's occurred_at, so that the instants a view of now changes at by itself are found in
SQL. Rows of agreements no party left keep NULL in both, so a log without repudiations loads,
replays and verifies exactly as before.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("proj_agreements") as batch:
        batch.add_column(sa.Column("departures", sa.Text, nullable=True))
        batch.add_column(sa.Column("departed_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("proj_agreements") as batch:
        batch.drop_column("departed_at")
        batch.drop_column("departures")
