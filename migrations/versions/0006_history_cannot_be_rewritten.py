"""History that cannot be rewritten: by SQL on SQLite, by the service's own role on PostgreSQL.

SQLite: ``INSERT OR REPLACE`` / ``REPLACE INTO`` deletes the rows a new one conflicts with and
fires no DELETE trigger for them (unless recursive triggers are on), so 0002's triggers let it
through. A BEFORE INSERT trigger now refuses any insert into ``events`` whose position, id or
(conflict, version) is taken: a plain insert would fail on the unique index anyway, REPLACE is
refused before it deletes anything, and ``ON CONFLICT DO UPDATE`` never reaches its update.
``log_head``, the one row that pins the chain, refuses the same (a second row, REPLACE, DELETE,
a position that moves back). ``streams`` rows are no history: they are the compare-and-set
target; a stream version set back only makes the next append collide with a stored event.

PostgreSQL: triggers stop nobody who owns the table (``ALTER TABLE … DISABLE TRIGGER``). The
tables are owned by the role that runs the migrations; ``ceasefire_grant_service(role)`` gives
the role the service runs as what it needs and no more: it reads and appends to ``events`` but
cannot update, delete, truncate, alter or trigger it, and only updates ``log_head`` forwards.
It owns the projection tables, which a rebuild replaces (rename and drop need the owner); the
migration role is made a member of it so later migrations can alter them. Called after every
upgrade when a service role is configured (``migrations/env.py``), so tables added by later
migrations are granted too.

Audit: ``events.key_id``, the id of the API key that appended the event (``cli`` for the
operator's commands without one), covered by its content hash when present; NULL for events
recorded before, whose hashes stay as they were. ``ceasefire_append`` stores it from each
event's JSON.

Revision ID: 0006
Revises: 0004
Create Date: 2026-11-28
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0004"
branch_labels = None
depends_on = None

_REFUSE = "SELECT RAISE(ABORT, 'the {table} table is append-only: {what} refused')"

SQLITE_TRIGGERS = [
    # Three lookups by unique index: a plain append pays a few microseconds.
    "CREATE TRIGGER events_refuse_replace BEFORE INSERT ON events "
    "WHEN EXISTS (SELECT 1 FROM events WHERE position = NEW.position) "
    "OR EXISTS (SELECT 1 FROM events WHERE id = NEW.id) "
    "OR EXISTS (SELECT 1 FROM events WHERE conflict = NEW.conflict AND version = NEW.version) "
    f"BEGIN {_REFUSE.format(table='events', what='replacing a stored event')}; END",
    "CREATE TRIGGER log_head_refuse_replace BEFORE INSERT ON log_head "
    "WHEN EXISTS (SELECT 1 FROM log_head) "
    f"BEGIN {_REFUSE.format(table='log_head', what='a second head')}; END",
    "CREATE TRIGGER log_head_refuse_delete BEFORE DELETE ON log_head "
    f"BEGIN {_REFUSE.format(table='log_head', what='DELETE')}; END",
    "CREATE TRIGGER log_head_refuse_rewind BEFORE UPDATE ON log_head "
    "WHEN NEW.position < OLD.position OR NEW.id <> OLD.id "
    f"BEGIN {_REFUSE.format(table='log_head', what='moving the head back')}; END",
]

POSTGRESQL = [
    r"""
CREATE OR REPLACE FUNCTION ceasefire_refuse_rewind() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'log_head only moves forwards: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$
""",
    # WHEN is evaluated without calling the function: an append pays a comparison.
    "CREATE TRIGGER log_head_forwards_only BEFORE UPDATE ON log_head FOR EACH ROW "
    "WHEN (NEW.position < OLD.position OR NEW.id <> OLD.id) "
    "EXECUTE FUNCTION ceasefire_refuse_rewind()",
    "CREATE TRIGGER log_head_no_delete BEFORE DELETE ON log_head FOR EACH ROW "
    "EXECUTE FUNCTION ceasefire_refuse_rewind()",
    "CREATE TRIGGER log_head_no_truncate BEFORE TRUNCATE ON log_head "
    "FOR EACH STATEMENT EXECUTE FUNCTION ceasefire_refuse_rewind()",
    r"""
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
            CASE t.tablename
                WHEN 'events' THEN 'SELECT, INSERT'
                WHEN 'streams' THEN 'SELECT, INSERT, UPDATE'
                WHEN 'log_head' THEN 'SELECT, UPDATE'
                WHEN 'alembic_version' THEN 'SELECT'
                ELSE 'SELECT, INSERT, UPDATE, DELETE'
            END,
            s, t.tablename, p_role);
    END LOOP;
    EXECUTE format('GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA %I TO %I', s, p_role);
END
$$
""",
    "REVOKE EXECUTE ON FUNCTION ceasefire_grant_service(text) FROM PUBLIC",
]


def _append_function_of_0001() -> str:
    spec = importlib.util.spec_from_file_location(
        "migration_0001", Path(__file__).with_name("0001_event_log.py")
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return str(module.APPEND_FUNCTION)


def _append_function_with_key_id() -> str:
    """0001's ``ceasefire_append``, storing each event's ``key_id`` too."""
    function = _append_function_of_0001()
    for old, new in (
        (
            "occurred_at, recorded_at, source, data, hash)",
            "occurred_at, recorded_at, source, data, hash, key_id)",
        ),
        ("e->>'source', e->>'data', h);", "e->>'source', e->>'data', h, e->>'key_id');"),
    ):
        assert function.count(old) == 1, old
        function = function.replace(old, new)
    return function


def upgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    op.add_column("events", sa.Column("key_id", sa.String(64), nullable=True))
    for statement in POSTGRESQL if postgresql else SQLITE_TRIGGERS:
        op.execute(statement)
    if postgresql:
        op.execute(_append_function_with_key_id())


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_append_function_of_0001())
        op.execute("DROP FUNCTION IF EXISTS ceasefire_grant_service(text)")
        for trigger in ("log_head_no_truncate", "log_head_no_delete", "log_head_forwards_only"):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger} ON log_head")
        op.execute("DROP FUNCTION IF EXISTS ceasefire_refuse_rewind()")
    else:
        for trigger in (
            "log_head_refuse_rewind",
            "log_head_refuse_delete",
            "log_head_refuse_replace",
            "events_refuse_replace",
        ):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
    op.drop_column("events", "key_id")  # SQLite 3.35+: in place, the triggers kept
