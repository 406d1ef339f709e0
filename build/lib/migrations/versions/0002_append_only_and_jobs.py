"""The append-only promise enforced by the database, and the table of projection jobs.

Also: projection rows of ``violation.alleged`` schema version 1 get the casualty range that
version 2 folds to (see the end of ``upgrade``).

Triggers on ``events`` refuse UPDATE and DELETE (and TRUNCATE on PostgreSQL): the log can only
grow, whatever code or person holds a connection. ``projection_jobs`` records every rebuild and
verification of the projections (who polls a job may be another process than the one running
it); a partial unique index lets only one run at a time.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

POSTGRESQL_TRIGGERS = [
    r"""
CREATE OR REPLACE FUNCTION ceasefire_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the events table is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$
""",
    "CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON events "
    "FOR EACH ROW EXECUTE FUNCTION ceasefire_refuse_change()",
    "CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events "
    "FOR EACH STATEMENT EXECUTE FUNCTION ceasefire_refuse_change()",
]

SQLITE_TRIGGERS = [
    "CREATE TRIGGER events_refuse_update BEFORE UPDATE ON events "
    "BEGIN SELECT RAISE(ABORT, 'the events table is append-only: UPDATE refused'); END",
    "CREATE TRIGGER events_refuse_delete BEFORE DELETE ON events "
    "BEGIN SELECT RAISE(ABORT, 'the events table is append-only: DELETE refused'); END",
]


def upgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    for statement in POSTGRESQL_TRIGGERS if postgresql else SQLITE_TRIGGERS:
        op.execute(statement)

    op.create_table(
        "projection_jobs",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("projections", sa.Text, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("done", sa.BigInteger, nullable=False),
        sa.Column("total", sa.BigInteger, nullable=False),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index(
        "ux_projection_jobs_one_running",
        "projection_jobs",
        ["state"],
        unique=True,
        sqlite_where=sa.text("state = 'running'"),
        postgresql_where=sa.text("state = 'running'"),
    )
    op.create_index("ix_projection_jobs_created", "projection_jobs", ["created_at"])

    # violation.alleged schema version 2 claims casualties as {low, best, high}. Projection rows
    # folded from version-1 events hold a bare number: give them the range a replay writes
    # now (the events themselves are never rewritten; they are upcast on read).
    op.execute(
        "UPDATE proj_allegations SET casualties_claimed = "
        "'{\"low\":' || casualties_claimed || ',\"best\":' || casualties_claimed "
        "|| ',\"high\":' || casualties_claimed || '}' "
        "WHERE casualties_claimed IS NOT NULL AND casualties_claimed NOT LIKE '{%'"
    )


def downgrade() -> None:
    op.drop_index("ix_projection_jobs_created", "projection_jobs")
    op.drop_index("ux_projection_jobs_one_running", "projection_jobs")
    op.drop_table("projection_jobs")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS events_no_truncate ON events")
        op.execute("DROP TRIGGER IF EXISTS events_append_only ON events")
        op.execute("DROP FUNCTION IF EXISTS ceasefire_refuse_change()")
    else:
        op.execute("DROP TRIGGER IF EXISTS events_refuse_update")
        op.execute("DROP TRIGGER IF EXISTS events_refuse_delete")
