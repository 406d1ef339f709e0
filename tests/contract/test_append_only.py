"""History cannot be rewritten through SQL: on SQLite not even by REPLACE or an upsert (their
deletes fire no DELETE trigger), on PostgreSQL not by the role the service runs as, by any
route (migration 0006)."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from sqlalchemy import select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from app.appending import Appender
from app.keys import create_key, revoke_key
from app.migrate import upgrade
from events.chain import verify_chain
from events.database import create_engine
from events.store import EventStore
from events.tables import events, log_head
from projections.runner import replay
from tests.conftest import ADMIN_URL, _admin, _require_postgres
from tests.factories import alleged, seed_events


async def _seed(store: EventStore, conflict: str) -> None:
    appender = Appender(store)
    for event in seed_events(conflict):
        await appender.append([event])
    await appender.append([alleged(conflict, occurred_at="2022-09-24T00:00:00Z")])


async def _log(store: EventStore) -> list[Any]:
    async with store.engine.connect() as conn:
        rows = (await conn.execute(select(events).order_by(events.c.position))).all()
        head = (await conn.execute(select(log_head))).all()
    return [tuple(r) for r in rows] + [tuple(r) for r in head]


def _insert(position: str, event_id: str, conflict: str, version: int, verb: str) -> str:
    """An insert of a row that collides with a stored event."""
    return (
        f"{verb} INTO events (position, id, conflict, version, type, schema_version, "
        "occurred_at, recorded_at, source, data, hash) VALUES "
        f"({position}, '{event_id}', '{conflict}', {version}, 'agreement.signed', 1, "
        "'2022-09-01 00:00:00', '2022-09-01 00:00:00', '{}', '{}', X'00')"
    )


async def test_sqlite_refuses_replace_and_upserts_on_the_log(
    store: EventStore, conflict: str
) -> None:
    if store.dialect != "sqlite":
        pytest.skip("SQLite's REPLACE; PostgreSQL is tested as the service role below")
    await _seed(store, conflict)
    async with store.engine.connect() as conn:
        first = (
            await conn.execute(
                select(events.c.position, events.c.id).where(
                    events.c.conflict == conflict, events.c.version == 1
                )
            )
        ).one()
    taken_id = first.id.hex
    fresh_id = uuid.uuid4().hex
    position = str(first.position)
    new = "(SELECT position + 1 FROM log_head)"
    other = f"other-{conflict}"
    attempts = [
        # one per unique key a REPLACE deletes by: position, id, (conflict, version)
        _insert(position, fresh_id, other, 1, "INSERT OR REPLACE"),
        _insert(new, taken_id, other, 1, "INSERT OR REPLACE"),
        _insert(new, fresh_id, conflict, 1, "INSERT OR REPLACE"),
        _insert(position, fresh_id, other, 1, "REPLACE"),
        _insert(new, taken_id, other, 1, "REPLACE"),
        _insert(new, fresh_id, conflict, 1, "REPLACE"),
        _insert(position, fresh_id, other, 1, "INSERT")
        + " ON CONFLICT (position) DO UPDATE SET data = excluded.data",
        _insert(new, taken_id, other, 1, "INSERT")
        + " ON CONFLICT (id) DO UPDATE SET data = excluded.data",
        f"UPDATE OR REPLACE events SET data = '{{}}' WHERE position = {position}",
        "REPLACE INTO log_head (id, position, hash) VALUES (1, 0, X'00')",
        "INSERT INTO log_head (id, position, hash) VALUES (2, 0, X'00')",
        "INSERT INTO log_head (id, position, hash) VALUES (1, 0, X'00') "
        "ON CONFLICT (id) DO UPDATE SET position = 0",
        "UPDATE log_head SET position = position - 1",
        "DELETE FROM log_head",
    ]
    before = await _log(store)
    for statement in attempts:
        with pytest.raises(DBAPIError, match="append-only"):
            async with store.engine.begin() as conn:
                await conn.execute(text(statement))
    assert await _log(store) == before
    assert (await verify_chain(store)).ok


# -- PostgreSQL: the service's role ------------------------------------------------------------


@pytest.fixture
def two_roles(db_kind: str) -> Iterator[tuple[str, str]]:
    """A database migrated by the owner (the test cluster's superuser) for a service role of its
    own, unique to this test (roles are cluster-wide); yields (owner URL, service URL)."""
    if db_kind != "postgresql":
        pytest.skip("database roles are PostgreSQL's")
    _require_postgres()
    tag = f"{os.getpid()}_{uuid.uuid4().hex[:8]}"
    name, role = f"ceasefire_roles_{tag}", f"ceasefire_svc_{tag}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    owner = make_url(ADMIN_URL).set(drivername="postgresql+asyncpg", database=name)
    owner_url = owner.render_as_string(hide_password=False)
    service_url = owner.set(username=role, password=None).render_as_string(hide_password=False)
    try:
        upgrade(owner_url, service_role=role)
        upgrade(owner_url, service_role=role)  # idempotent: every upgrade grants again
        yield owner_url, service_url
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        asyncio.run(_admin(f'DROP ROLE IF EXISTS "{role}"'))


REWRITES = [
    "UPDATE events SET data = '{}'",
    "DELETE FROM events",
    "TRUNCATE events",
    "TRUNCATE events, streams, log_head CASCADE",
    "ALTER TABLE events DISABLE TRIGGER events_append_only",
    "ALTER TABLE events DISABLE TRIGGER ALL",
    "DROP TRIGGER events_append_only ON events",
    "DROP TABLE events CASCADE",
    "ALTER TABLE events RENAME TO events_old",
    "CREATE TRIGGER mine BEFORE INSERT ON events FOR EACH ROW "
    "EXECUTE FUNCTION ceasefire_refuse_change()",
    "SET session_replication_role = replica",
    "INSERT INTO events SELECT * FROM events ORDER BY position LIMIT 1 "
    "ON CONFLICT (position) DO UPDATE SET data = '{}'",
    "INSERT INTO events SELECT * FROM events ORDER BY position LIMIT 1",
    "CREATE OR REPLACE FUNCTION ceasefire_refuse_change() RETURNS trigger "
    "LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$",
    "CREATE OR REPLACE FUNCTION ceasefire_append(text, integer, jsonb, jsonb, text, boolean, "
    "OUT first_position bigint, OUT assigned_recorded_at timestamptz) "
    "LANGUAGE sql AS $$ SELECT 1::bigint, now() $$",
    "ALTER FUNCTION ceasefire_append(text, integer, jsonb, jsonb, text, boolean) SECURITY INVOKER",
    "ALTER FUNCTION ceasefire_append(text, integer, jsonb, jsonb, text, boolean) "
    "SET search_path = pg_temp",
    "SELECT ceasefire_refuse_change()",
    "SELECT ceasefire_grant_service(current_user)",
    "UPDATE log_head SET position = 0, hash = '\\x00'",
    "DELETE FROM log_head",
    "INSERT INTO log_head VALUES (2, 0, '\\x00')",
    "DELETE FROM streams",
    "ALTER ROLE CURRENT_USER SUPERUSER",
    "REASSIGN OWNED BY CURRENT_USER TO postgres",
]


async def test_the_service_role_can_append_but_not_rewrite(
    two_roles: tuple[str, str], tmp_path: Path
) -> None:
    owner_url, service_url = two_roles
    service = EventStore(create_engine(service_url))
    owner = EventStore(create_engine(owner_url))
    try:
        # What the service does, it can: append, rebuild a projection, manage keys.
        await _seed(service, "roles")
        await replay(service, ["allegations"])
        async with service.engine.begin() as conn:
            key, _secret = await create_key(conn, name="t", role="writer")
            assert await revoke_key(conn, key.id)
        await Appender(service).append([alleged("roles", occurred_at="2022-09-25T00:00:00Z")])

        before = await _log(owner)
        connection = await asyncpg.connect(
            make_url(service_url).set(drivername="postgresql").render_as_string(False)
        )
        refused: dict[str, str] = {}
        try:
            for statement in REWRITES:
                try:
                    async with connection.transaction():
                        await connection.execute(statement)
                except asyncpg.PostgresError as error:
                    refused[statement] = type(error).__name__
        finally:
            await connection.close()
        assert set(refused) == set(REWRITES), set(REWRITES) - set(refused)
        assert await _log(owner) == before
        assert (await verify_chain(owner)).ok
    finally:
        await service.close()
        await owner.close()
