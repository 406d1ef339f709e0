"""Ceasefires in time: fixed terms and extensions, scope, unilateral declarations, denials,
missions linked to an agreement and ended, and allegations filed when a view is read.

- ``proj_agreements``: ``expires_at`` (the end as signed), ``scope_level``/``scope_area``,
  ``unilateral`` and ``declared_by`` (a ``ceasefire.declared``).
- ``proj_extensions`` (new): each ``agreement.extended``, in force from its own occurred_at.
- ``proj_allegations``: ``agreement_id`` is now the agreement the writer *named* (NULL when
  none): which agreement an allegation naming none belongs to is decided when a view is read,
  so the order in which events were recorded cannot change it. ``accused_key`` (the accused,
  casefolded, matched against parties), ``retracted_at`` and ``denied_at``/``denied_by`` (when
  the retraction and the denial occurred, so a view of an earlier time does not see them).
- ``proj_missions``: ``agreement_id``; ``proj_mission_ends`` (new): each ``mission.ended``.

Existing rows are brought to the new meaning here (the log is not touched): implicit filings
lose their agreement id, ``accused_key`` is filled in with Python's casefold, and each retracted
allegation gets the occurred_at of its retraction, read from the log.

Revision ID: 0005
Revises: 0007
Create Date: 2026-11-28
"""

from __future__ import annotations

import json
from uuid import UUID

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("proj_agreements") as batch:
        batch.add_column(sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(
            sa.Column("scope_level", sa.String(16), nullable=False, server_default="national")
        )
        batch.add_column(sa.Column("scope_area", sa.String(200), nullable=True))
        batch.add_column(
            sa.Column("unilateral", sa.Boolean, nullable=False, server_default=sa.false())
        )
        batch.add_column(sa.Column("declared_by", sa.String(200), nullable=True))

    op.create_table(
        "proj_extensions",
        sa.Column("event_id", sa.Uuid, nullable=False),
        sa.Column("conflict", sa.String(64), nullable=False),
        sa.Column("agreement_id", sa.String(64), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("known_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("known_until", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_proj_extensions_key", "proj_extensions", ["event_id"])
    op.create_index("ix_proj_extensions_conflict", "proj_extensions", ["conflict", "agreement_id"])

    with op.batch_alter_table("proj_allegations") as batch:
        batch.alter_column("agreement_id", existing_type=sa.String(64), nullable=True)
        batch.add_column(
            sa.Column("accused_key", sa.String(200), nullable=False, server_default="")
        )
        batch.add_column(sa.Column("retracted_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("denied_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("denied_by", sa.String(200), nullable=True))
    op.create_index("ix_proj_allegations_time", "proj_allegations", ["conflict", "occurred_at"])

    with op.batch_alter_table("proj_missions") as batch:
        batch.add_column(sa.Column("agreement_id", sa.String(64), nullable=True))
    op.create_table(
        "proj_mission_ends",
        sa.Column("event_id", sa.Uuid, nullable=False),
        sa.Column("conflict", sa.String(64), nullable=False),
        sa.Column("mission_id", sa.String(64), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("known_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("known_until", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_proj_mission_ends_key", "proj_mission_ends", ["event_id"])
    op.create_index(
        "ix_proj_mission_ends_conflict", "proj_mission_ends", ["conflict", "mission_id"]
    )

    _existing_rows()


def _existing_rows() -> None:
    bind = op.get_bind()
    bind.execute(
        sa.text("UPDATE proj_allegations SET agreement_id = NULL WHERE agreement_implicit")
    )
    for (accused,) in bind.execute(sa.text("SELECT DISTINCT accused FROM proj_allegations")).all():
        bind.execute(
            sa.text("UPDATE proj_allegations SET accused_key = :key WHERE accused = :accused"),
            {"key": accused.casefold(), "accused": accused},
        )
    retractions = bind.execute(
        sa.text("SELECT occurred_at, data FROM events WHERE type = 'allegation.retracted'")
    ).all()
    for occurred_at, data in retractions:
        # occurred_at is passed through as the driver gave it: both columns store instants
        # alike on each database (text on SQLite, timestamptz on PostgreSQL).
        bind.execute(
            sa.text(
                "UPDATE proj_allegations SET retracted_at = :at WHERE event_id = :id AND retracted"
            ).bindparams(sa.bindparam("id", type_=sa.Uuid)),
            {"at": occurred_at, "id": UUID(json.loads(data)["allegation_id"])},
        )


def downgrade() -> None:
    op.drop_table("proj_mission_ends")
    with op.batch_alter_table("proj_missions") as batch:
        batch.drop_column("agreement_id")
    op.drop_index("ix_proj_allegations_time", "proj_allegations")
    with op.batch_alter_table("proj_allegations") as batch:
        batch.drop_column("denied_by")
        batch.drop_column("denied_at")
        batch.drop_column("retracted_at")
        batch.drop_column("accused_key")
    op.drop_table("proj_extensions")
    with op.batch_alter_table("proj_agreements") as batch:
        batch.drop_column("declared_by")
        batch.drop_column("unilateral")
        batch.drop_column("scope_area")
        batch.drop_column("scope_level")
        batch.drop_column("expires_at")
