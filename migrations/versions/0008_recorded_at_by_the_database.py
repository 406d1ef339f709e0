"""The database records when an event was recorded: the service's role cannot choose it.

Until now ``ceasefire_append`` stored the ``recorded_at`` and content hash the caller sent, and
ran with the caller's privileges, so the service's role had INSERT on ``events`` and UPDATE on
``streams`` and ``log_head``. With those, the service's role could append an event recorded "in
2022" (changing what the log said at a past ``known_at`` while the chain, and a head noted
before, still verified), insert rows past ``log_head`` (which ``verify`` skipped and which
made every later append collide) or move a stream's version.

PostgreSQL, from this revision, an append is two functions, still one call:

- ``ceasefire_record`` writes the log's own tables (``streams``, ``events``, ``log_head``) and
  notifies. It runs as the role that owns the log (SECURITY DEFINER), with ``search_path`` set
  to ``pg_catalog, pg_temp`` and every table named with its schema, so no function, operator or
  table the caller can create is ever picked instead of the built-in ones. Only roles granted
  EXECUTE may call it (``ceasefire_grant_service`` grants the service's). The service's role
  keeps SELECT on those three tables and loses every write: this is its one way to append.
  (It may still lock ``log_head``, as a rebuild's swap does: UPDATE of its ``id`` column
  alone, which 0006's trigger keeps from changing.)
- ``ceasefire_append``, the one the store calls (same arguments as before, plus
  ``p_keep_recorded_at``), calls it and then writes the projection rows and their checkpoint
  with the caller's own privileges, as before. The service's role owns the projection tables
  and so could put triggers on them: code running as the owner must not write them.
- For a caller that is not the owner (not a member of it), ``ceasefire_record`` assigns the
  append's ``recorded_at`` itself, after taking the log's lock: ``greatest(clock_timestamp(),
  the previous event's recorded_at)``, one time for every event of the append, so recording
  times never go backwards in position order and never run ahead of the database's clock. It
  computes each event's content hash in SQL with that time (the same canonical bytes as
  ``events.model.envelope.content_hash``) and returns the time beside the first position;
  ``ceasefire_append`` sets the projection rows' ``known_from``/``known_until`` to it (each of
  them is the recording time of one of the append's events).
- Choosing ``recorded_at`` (``import``, a load that keeps recording times) is the owner's:
  ``p_keep_recorded_at`` from any other role is refused (insufficient_privilege). The owner's
  calls keep the times and hashes they send, as before, with or without it: one URL for
  both (the embedded and dev default) behaves as it did.
- An append of no events is refused (it would create a stream at version 0 that no later
  append could take).

SQLite has no roles: whoever can write the file can write anything in it, so nothing changes
there (the file's owner is the only writer; see docs/design.md).

Revision ID: 0008
Revises: 0005
Create Date: 2026-12-04
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0005"
branch_labels = None
depends_on = None

SIGNATURE = "ceasefire_append(text, integer, jsonb, jsonb, text, boolean)"
RECORD_SIGNATURE = "ceasefire_record(text, integer, jsonb, boolean)"
OLD_SIGNATURE = "ceasefire_append(text, integer, jsonb, jsonb, text)"

# Steps 1-3 and 5 of 0001's ceasefire_append. @log@ is the log's schema (quoted), put in when
# the function is created: with search_path pg_catalog only, every table is named with it.
RECORD_FUNCTION = r"""
CREATE FUNCTION ceasefire_record(
    p_conflict text, p_expected integer, p_events jsonb, p_keep_recorded_at boolean,
    OUT first_position bigint, OUT assigned_recorded_at timestamptz
) LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    n integer := jsonb_array_length(p_events);
    current_version integer;
    head_position bigint;
    h bytea;
    e jsonb;
    i integer := 0;
    -- current_user is the owner here (SECURITY DEFINER); session_user is who connected.
    by_owner boolean := pg_has_role(session_user, current_user, 'MEMBER');
    v_recorded_at timestamptz;
    v_recorded_text text;
    v_content bytea;
BEGIN
    IF n IS NULL OR n < 1 THEN
        RAISE EXCEPTION 'an append needs at least one event'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_keep_recorded_at AND NOT by_owner THEN
        RAISE EXCEPTION 'only the role that owns the log may choose recorded_at, not %',
            session_user USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF p_expected = 0 THEN
        INSERT INTO @log@.streams (conflict, version, position) VALUES (p_conflict, n, 0)
        ON CONFLICT (conflict) DO NOTHING;
    ELSE
        UPDATE @log@.streams SET version = p_expected + n
        WHERE conflict = p_conflict AND version = p_expected;
    END IF;
    IF NOT FOUND THEN
        SELECT version INTO current_version FROM @log@.streams WHERE conflict = p_conflict;
        first_position := -1 - coalesce(current_version, 0);
        RETURN;
    END IF;

    SELECT position, hash INTO head_position, h FROM @log@.log_head WHERE id = 1 FOR UPDATE;
    IF NOT by_owner THEN
        -- Under the log's lock: the next append's time is taken after this one's.
        SELECT greatest(clock_timestamp(), max(recorded_at)) INTO v_recorded_at
        FROM @log@.events WHERE position = head_position;
        v_recorded_text := to_char(
            v_recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"');
        assigned_recorded_at := v_recorded_at;
    END IF;
    FOR e IN SELECT value FROM jsonb_array_elements(p_events) LOOP
        i := i + 1;
        IF by_owner THEN
            v_recorded_at := (e->>'recorded_at')::timestamptz;
            v_content := decode(e->>'content_hash', 'hex');
        ELSE
            -- events.model.envelope.content_hash: the canonical JSON of the row as stored.
            v_content := sha256(convert_to(
                '{"conflict":' || to_jsonb(p_conflict)::text
                || ',"data":' || to_jsonb(e->>'data')::text
                || ',"id":' || to_jsonb((e->>'id')::uuid::text)::text || ','
                || CASE WHEN e->>'key_id' IS NULL THEN ''
                        ELSE '"key_id":' || to_jsonb(e->>'key_id')::text || ',' END
                || '"occurred_at":"' || to_char((e->>'occurred_at')::timestamptz
                                                AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
                || '","recorded_at":"' || v_recorded_text
                || '","schema_version":' || (e->>'schema_version')::smallint::text
                || ',"source":' || to_jsonb(e->>'source')::text
                || ',"type":' || to_jsonb(e->>'type')::text
                || ',"version":' || (p_expected + i)::text || '}', 'UTF8'));
        END IF;
        h := sha256(h || v_content);
        INSERT INTO @log@.events (position, id, conflict, version, type, schema_version,
                                  occurred_at, recorded_at, source, data, hash, key_id)
        VALUES (head_position + i, (e->>'id')::uuid, p_conflict, p_expected + i, e->>'type',
                (e->>'schema_version')::smallint, (e->>'occurred_at')::timestamptz,
                v_recorded_at, e->>'source', e->>'data', h, e->>'key_id');
    END LOOP;
    UPDATE @log@.log_head SET position = head_position + n, hash = h WHERE id = 1;
    UPDATE @log@.streams SET position = head_position + n WHERE conflict = p_conflict;
    PERFORM pg_notify('ceasefire_events', p_conflict || ' ' || (head_position + n)::text);
    first_position := head_position + 1;
END
$$
"""

# Step 4 of 0001's, with the caller's privileges, after ceasefire_record; see there for the
# static and dynamic statements.
APPEND_FUNCTION = r"""
CREATE FUNCTION ceasefire_append(
    p_conflict text, p_expected integer, p_events jsonb, p_changes jsonb, p_checkpoint text,
    p_keep_recorded_at boolean DEFAULT false,
    OUT first_position bigint, OUT assigned_recorded_at timestamptz
) LANGUAGE plpgsql AS $$
DECLARE
    tbl text;
    ch jsonb;
    cond text;
BEGIN
    SELECT r.first_position, r.assigned_recorded_at INTO first_position, assigned_recorded_at
    FROM ceasefire_record(p_conflict, p_expected, p_events, p_keep_recorded_at) AS r;
    IF first_position < 1 THEN
        RETURN;  -- the stream moved on: nothing written
    END IF;

    FOR tbl, ch IN SELECT key, value FROM jsonb_each(p_changes) LOOP
        IF left(tbl, 5) <> 'proj_' THEN
            RAISE EXCEPTION 'not a projection table: %', tbl;
        END IF;
        IF assigned_recorded_at IS NOT NULL THEN
            -- Every time in an append's row changes is the recording time of one of its events.
            IF ch ? 'insert' THEN
                ch := jsonb_set(ch, '{insert}', (
                    SELECT jsonb_agg(
                        r || jsonb_build_object('known_from', assigned_recorded_at)
                          || CASE WHEN coalesce(jsonb_typeof(r->'known_until'), 'null') = 'null'
                                  THEN '{}'::jsonb
                                  ELSE jsonb_build_object('known_until', assigned_recorded_at)
                             END
                        ORDER BY o)
                    FROM jsonb_array_elements(ch->'insert') WITH ORDINALITY AS x(r, o)));
            END IF;
            IF ch ? 'close' THEN
                ch := jsonb_set(ch, '{close}', (
                    SELECT jsonb_agg(r || jsonb_build_object('known_until', assigned_recorded_at)
                                     ORDER BY o)
                    FROM jsonb_array_elements(ch->'close') WITH ORDINALITY AS x(r, o)));
            END IF;
        END IF;
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

    UPDATE projection_checkpoints
    SET position = first_position + jsonb_array_length(p_events) - 1 WHERE name = p_checkpoint;
END
$$
"""

# 0006's, but the service's role only reads the log's own tables (it appends through
# ceasefire_append, which it may execute) and can lock log_head.
GRANT_FUNCTION = r"""
CREATE OR REPLACE FUNCTION ceasefire_grant_service(p_role text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    t record;
    s name := current_schema();
BEGIN
    IF p_role = current_user THEN
        RAISE EXCEPTION 'the service role must not be the role that owns the log (%)', p_role;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = p_role) THEN
        -- No password: give it one (ALTER ROLE … PASSWORD) or let pg_hba decide.
        EXECUTE format('CREATE ROLE %I LOGIN', p_role);
    END IF;
    IF NOT pg_has_role(current_user, p_role, 'MEMBER') THEN
        EXECUTE format('GRANT %I TO %I', p_role, current_user);
    END IF;
    -- CREATE: a rebuild makes its scratch tables beside the live ones.
    EXECUTE format('GRANT USAGE, CREATE ON SCHEMA %I TO %I', s, p_role);
    FOR t IN SELECT tablename, tableowner FROM pg_tables WHERE schemaname = s LOOP
        IF t.tablename LIKE 'proj\_%' THEN
            IF t.tableowner <> p_role THEN
                EXECUTE format('ALTER TABLE %I.%I OWNER TO %I', s, t.tablename, p_role);
            END IF;
            CONTINUE;
        END IF;
        IF t.tableowner = p_role THEN
            CONTINUE;  -- made by the service itself (a rebuild's scratch table)
        END IF;
        EXECUTE format('REVOKE ALL ON %I.%I FROM %I', s, t.tablename, p_role);
        EXECUTE format(
            'GRANT %s ON %I.%I TO %I',
            CASE
                WHEN t.tablename IN ('events', 'streams', 'alembic_version') THEN 'SELECT'
                -- UPDATE of the id alone: what SELECT … FOR UPDATE needs (a rebuild's swap
                -- holds the append lock that way); the id cannot change (0006's trigger).
                WHEN t.tablename = 'log_head' THEN 'SELECT, UPDATE (id)'
                ELSE 'SELECT, INSERT, UPDATE, DELETE'
            END,
            s, t.tablename, p_role);
    END LOOP;
    EXECUTE format('GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA %I TO %I', s, p_role);
    EXECUTE format(
        'GRANT EXECUTE ON FUNCTION %1$I.ceasefire_append(text, integer, jsonb, jsonb, text, '
        'boolean), %1$I.ceasefire_record(text, integer, jsonb, boolean) TO %2$I', s, p_role);
END
$$
"""


def _migration(filename: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        filename.removesuffix(".py"), Path(__file__).with_name(filename)
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    schema = str(bind.execute(sa.text("SELECT quote_ident(current_schema())")).scalar_one())
    op.execute(f"DROP FUNCTION {OLD_SIGNATURE}")
    op.execute(RECORD_FUNCTION.replace("@log@", schema))
    op.execute(APPEND_FUNCTION)
    for signature in (RECORD_SIGNATURE, SIGNATURE):
        op.execute(f"REVOKE EXECUTE ON FUNCTION {signature} FROM PUBLIC")
    op.execute(GRANT_FUNCTION)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    previous = _migration("0006_history_cannot_be_rewritten.py")
    op.execute(f"DROP FUNCTION {SIGNATURE}")
    op.execute(f"DROP FUNCTION {RECORD_SIGNATURE}")
    op.execute(previous._append_function_with_key_id())
    (grant,) = [s for s in previous.POSTGRESQL if "ceasefire_grant_service(p_role" in s]
    op.execute(grant)
