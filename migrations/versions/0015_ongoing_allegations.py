"""Allegations recorded while the violation still goes on (issue 18).

``proj_allegations`` gets ``ongoing``: the ``violation.alleged`` said the violation was still
going on, its end not known yet (a hostage still held). While its row version has no
``ended_at`` it contests its agreement through every as_of; an ``incident.ended`` closes that
version and inserts one with the end, as for any allegation. Old logs have no such allegation:
their rows get false, which is what replaying them builds, and they load, replay and verify
unchanged.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "proj_allegations",
        sa.Column("ongoing", sa.Boolean, nullable=False, server_default=sa.false()),
    )


def downgrade() -> None:
    with op.batch_alter_table("proj_allegations") as batch:
        batch.drop_column("ongoing")
