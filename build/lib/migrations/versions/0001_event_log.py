"""The event log, its projections and API keys.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# The PostgreSQL append: one call, one implicit transaction, one round trip.
#   1. compare-and-set the stream's version (the row lock orders writers of one conflict);
#   2. lock log_head, the single row every append passes through, so positions are taken and
#      committed in order (a reader of the global order can never see N+1 before N);
#   3. insert the events, chaining their hashes;
#   4. apply the projections' row changes and advance their checkpoint;
#   5. notify listeners (long-poll and streams in other processes).
# Returns the first position written, or -1 - current_version when the stream has moved on.
APPEND_FUNCTION = r"""
CREATE OR REPLACE FUNCTION ceasefire_append(
    p_conflict text, p_expected integer, p_events jsonb, p_changes jsonb, p_checkpoint text
) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    n integer := jsonb_array_length(p_events);
    current_version integer;
    head_position bigint;
    h bytea;
    e jsonb;
    i integer := 0;
    tbl text;
    ch jsonb;
    cond text;
BEGIN
    IF p_expected = 0 THEN
        INSERT INTO streams (conflict, version, position) VALUES (p_conflict, n, 0)
        ON CONFLICT (conflict) DO NOTHING;
    ELSE
        UPDATE streams SET version = p_expected + n
        WHERE conflict = p_conflict AND version = p_expected;
    END IF;
    IF NOT FOUND THEN
        SELECT version INTO current_version FROM streams WHERE conflict = p_conflict;
        RETURN -1 - coalesce(current_version, 0);
    END IF;

    SELECT position, hash INTO head_position, h FROM log_head WHERE id = 1 FOR UPDATE;
    FOR e IN SELECT value FROM jsonb_array_elements(p_events) LOOP
        i := i + 1;
        h := sha256(h || decode(e->>'content_hash', 'hex'));
        INSERT INTO events (position, id, conflict, version, type, schema_version,
                            occurred_at, recorded_at, source, data, hash)
        VALUES (head_position + i, (e->>'id')::uuid, p_conflict, p_expected + i, e->>'type',
                (e->>'schema_version')::smallint, (e->>'occurred_at')::timestamptz,
                (e->>'recorded_at')::timestamptz, e->>'source', e->>'data', h);
    END LOOP;
    UPDATE log_head SET position = head_position + n, hash = h WHERE id = 1;
    UPDATE streams SET position = head_position + n WHERE conflict = p_conflict;

    FOR tbl, ch IN SELECT key, value FROM jsonb_each(p_changes) LOOP
        IF left(tbl, 5) <> 'proj_' THEN
            RAISE EXCEPTION 'not a projection table: %', tbl;
        END IF;
        -- The most frequent change, a new allegation, as static SQL: its plan is cached,
        -- where the dynamic statements below are planned on every call.
        IF tbl = 'proj_allegations' AND NOT ch ? 'close' THEN
            INSERT INTO proj_allegations
            SELECT * FROM jsonb_populate_recordset(NULL::proj_allegations, ch->'insert');
            CONTINUE;
        END IF;
        IF ch ? 'close' THEN
            SELECT string_agg(format('t.%1$I = c.%1$I', k), ' AND ') INTO cond
            FROM jsonb_array_elements_text(ch->'key') AS k;
            EXECUTE format(
                'UPDATE %1$I t SET known_until = c.known_until '
                'FROM jsonb_populate_recordset(NULL::%1$I, $1) c '
                'WHERE t.known_until IS NULL AND %2$s', tbl, cond)
            USING ch->'close';
        END IF;
        IF ch ? 'insert' THEN
            EXECUTE format(
                'INSERT INTO %1$I SELECT * FROM jsonb_populate_recordset(NULL::%1$I, $1)', tbl)
            USING ch->'insert';
        END IF;
    END LOOP;

    UPDATE projection_checkpoints SET position = head_position + n WHERE name = p_checkpoint;
    PERFORM pg_notify('ceasefire_events', p_conflict || ' ' || (head_position + n)::text);
    RETURN head_position + 1;
END
$$;
"""


def _bitemporal() -> list[sa.Column[object]]:
    return [
        sa.Column("known_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("known_until", sa.DateTime(timezone=True), nullable=True),
    ]


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("position", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("id", sa.Uuid, nullable=False),
        sa.Column("conflict", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("schema_version", sa.SmallInteger, nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("data", sa.Text, nullable=False),
        sa.Column("hash", sa.LargeBinary(32), nullable=False),
        sa.UniqueConstraint("id", name="uq_events_id"),
        sa.UniqueConstraint("conflict", "version", name="uq_events_conflict_version"),
    )
    op.create_index("ix_events_conflict_recorded", "events", ["conflict", "recorded_at"])
    op.create_table(
        "streams",
        sa.Column("conflict", sa.String(64), primary_key=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("position", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "log_head",
        sa.Column("id", sa.SmallInteger, primary_key=True),
        sa.Column("position", sa.BigInteger, nullable=False),
        sa.Column("hash", sa.LargeBinary(32), nullable=False),
    )
    op.execute(
        sa.text("INSERT INTO log_head (id, position, hash) VALUES (1, 0, :h)").bindparams(
            sa.bindparam("h", bytes(32), type_=sa.LargeBinary)
        )
    )
    op.create_table(
        "projection_checkpoints",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("position", sa.BigInteger, nullable=False),
        sa.Column("rebuilt_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.execute("INSERT INTO projection_checkpoints (name, position) VALUES ('ceasefire', 0)")

    op.create_table(
        "proj_agreements",
        sa.Column("conflict", sa.String(64), nullable=False),
        sa.Column("agreement_id", sa.String(64), nullable=False),
        sa.Column("parties", sa.Text, nullable=False),
        sa.Column("mediators", sa.Text, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("terms", sa.Text, nullable=True),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("effective_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("collapsed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("collapse_reason", sa.Text, nullable=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("event_id", sa.Uuid, nullable=False),
        *_bitemporal(),
    )
    op.create_index("ix_proj_agreements_key", "proj_agreements", ["conflict", "agreement_id"])
    op.create_table(
        "proj_allegations",
        sa.Column("event_id", sa.Uuid, nullable=False),
        sa.Column("conflict", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("agreement_id", sa.String(64), nullable=False),
        sa.Column("agreement_implicit", sa.Boolean, nullable=False),
        sa.Column("alleged_by", sa.String(200), nullable=False),
        sa.Column("accused", sa.String(200), nullable=False),
        sa.Column("incidents", sa.Integer, nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("location", sa.Text, nullable=True),
        sa.Column("description", sa.Text, nullable=True),
        sa.Column("casualties_claimed", sa.Text, nullable=True),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("retracted", sa.Boolean, nullable=False),
        *_bitemporal(),
    )
    op.create_index("ix_proj_allegations_key", "proj_allegations", ["event_id"])
    op.create_index(
        "ix_proj_allegations_agreement",
        "proj_allegations",
        ["conflict", "agreement_id", "occurred_at"],
    )
    op.create_table(
        "proj_missions",
        sa.Column("conflict", sa.String(64), nullable=False),
        sa.Column("mission_id", sa.String(64), nullable=False),
        sa.Column("organization", sa.String(200), nullable=False),
        sa.Column("head", sa.String(200), nullable=True),
        sa.Column("purpose", sa.Text, nullable=True),
        sa.Column("expected_arrival", sa.DateTime(timezone=True), nullable=True),
        sa.Column("dispatched_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        *_bitemporal(),
    )
    op.create_index("ix_proj_missions_key", "proj_missions", ["conflict", "mission_id"])

    op.create_table(
        "api_keys",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("hash", sa.LargeBinary(32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("hash", name="uq_api_keys_hash"),
    )

    if op.get_bind().dialect.name == "postgresql":
        op.execute(APPEND_FUNCTION)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS ceasefire_append(text, integer, jsonb, jsonb, text)")
    for table in (
        "api_keys",
        "proj_missions",
        "proj_allegations",
        "proj_agreements",
        "projection_checkpoints",
        "log_head",
        "streams",
        "events",
    ):
        op.drop_table(table)
