"""History cannot be rewritten through SQL: on SQLite not even by REPLACE or an upsert (their
deletes fire no DELETE trigger), on PostgreSQL not by the role the service runs as, by any
route (migrations 0006 and 0008): that role appends only through ``ceasefire_append``, which
records its events at the database's time, whatever time it sends."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy import select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from app.services.api_keys import create_key, revoke_key
from app.services.appending import Appender, decide
from app.services.schema_migrations import upgrade
from events.log.chain import LogHead, read_log_head, verify_chain
from events.log.database import create_engine
from events.log.store import EventStore, event_row
from events.log.tables import events, log_head, streams
from events.log.writers import POSTGRESQL_APPEND, Append, postgresql_append_args
from events.model.errors import RecordingTimeRefusedError
from events.model.state import ConflictState
from projections.changes import Changes
from projections.runner import replay
from projections.tables import agreements, allegations
from projections.verify import verify_projections
from projections.writer import ProjectionRows
from tests.conftest import ADMIN_URL, _admin, _require_postgres
from tests.e2e.conftest import Keys, make_keys, start_server
from tests.e2e.test_polling import agreement, allegation
from tests.factories import alleged, collapsed, seed_events, signed


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


def _roles_database(db_kind: str, revision: str) -> Iterator[tuple[str, str]]:
    """A database migrated to ``revision`` by the owner (the test cluster's superuser) for a
    service role of its own, unique to this test (roles are cluster-wide); yields (owner URL,
    service URL)."""
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
        upgrade(owner_url, revision, service_role=role)
        upgrade(owner_url, revision, service_role=role)  # idempotent: every upgrade grants again
        yield owner_url, service_url
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        asyncio.run(_admin(f'DROP ROLE IF EXISTS "{role}"'))


@pytest.fixture
def two_roles(db_kind: str) -> Iterator[tuple[str, str]]:
    """A database at the newest revision, with its owner and a service role: their URLs."""
    yield from _roles_database(db_kind, "head")


@pytest.fixture
def two_roles_before_0008(db_kind: str) -> Iterator[tuple[str, str]]:
    """The same at the revision before the database took recording times over (0008)."""
    yield from _roles_database(db_kind, "0005")


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
    "CREATE OR REPLACE FUNCTION ceasefire_record(text, integer, jsonb, boolean, "
    "OUT first_position bigint, OUT assigned_recorded_at timestamptz) "
    "LANGUAGE sql AS $$ SELECT 1::bigint, now() $$",
    "ALTER FUNCTION ceasefire_record(text, integer, jsonb, boolean) SECURITY INVOKER",
    "ALTER FUNCTION ceasefire_record(text, integer, jsonb, boolean) SET search_path = public",
    "ALTER FUNCTION ceasefire_record(text, integer, jsonb, boolean) OWNER TO CURRENT_USER",
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


# -- PostgreSQL: who decides when an event was recorded ----------------------------------------

LONG_AGO = datetime(2022, 1, 1, tzinfo=UTC)


def _raw(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def _database_clock(store: EventStore) -> datetime:
    async with store.engine.connect() as conn:
        now: datetime = (await conn.execute(text("SELECT clock_timestamp()"))).scalar_one()
    return now


async def _recorded_at(store: EventStore, conflict: str) -> list[datetime]:
    return [e.recorded_at for e in await store.read_stream(conflict)]


async def test_the_database_records_the_service_roles_appends_at_its_own_time(
    two_roles: tuple[str, str],
) -> None:
    """The service's clock says 2022: the events are recorded at the database's time, the
    projection rows are known from it, and the content hashes computed in SQL are the ones
    Python recomputes (text that JSON escapes, a key id, none)."""
    owner_url, service_url = two_roles
    service = EventStore(create_engine(service_url))
    owner = EventStore(create_engine(owner_url))
    try:
        noted = await verify_chain(owner)
        before = await _database_clock(owner)
        appender = Appender(service, clock=lambda: LONG_AGO)
        first = await appender.append(
            [
                signed("when"),
                alleged("when", description='a "quote", a back\\slash, a\nline, é ∞ 😀'),
            ],
            key_id="key-1",
        )
        second = await appender.append([collapsed("when")])  # closes a projection row
        after = await _database_clock(owner)

        stored = await _recorded_at(owner, "when")
        answered = [e.recorded_at for e in [*first.events, *second.events]]
        assert stored == answered  # the append answers the stored times
        assert all(before <= at <= after for at in stored), (before, stored, after)
        assert stored[0] == stored[1] < stored[2]  # one time per append, in append order
        async with owner.engine.connect() as conn:
            known = (
                await conn.execute(
                    select(agreements.c.known_from, agreements.c.known_until)
                    .where(agreements.c.conflict == "when")
                    .order_by(agreements.c.known_from)
                )
            ).all()
            alleged_from = (
                await conn.execute(
                    select(allegations.c.known_from).where(allegations.c.conflict == "when")
                )
            ).scalar_one()
        assert [tuple(k) for k in known] == [(stored[0], stored[2]), (stored[2], None)]
        assert alleged_from == stored[1]
        async with owner.engine.connect() as conn:
            earlier = (
                await conn.execute(select(events.c.position).where(events.c.recorded_at < before))
            ).all()
        assert len(earlier) == noted.events  # what the log said before is what it says now
        assert (await verify_chain(owner)).ok
        assert await verify_projections(owner) == []
    finally:
        await service.close()
        await owner.close()


async def test_the_service_roles_times_never_go_back_before_the_previous_event(
    two_roles: tuple[str, str],
) -> None:
    """The owner recorded an event a day ahead of the clock (an import may): the service's next
    append is recorded then too, not before it."""
    owner_url, service_url = two_roles
    service = EventStore(create_engine(service_url))
    owner = EventStore(create_engine(owner_url))
    try:
        ahead = datetime.now(UTC) + timedelta(days=1)
        await Appender(owner).append([signed("ahead")], recorded_at=[ahead])
        await Appender(service).append([alleged("ahead")])
        assert await _recorded_at(owner, "ahead") == [ahead, ahead]
        assert (await verify_chain(owner)).ok
    finally:
        await service.close()
        await owner.close()


async def test_only_the_owner_keeps_chosen_recording_times(two_roles: tuple[str, str]) -> None:
    """``import`` keeps its file's recording times: as the owner it can, as the service's role
    it is refused and writes nothing."""
    owner_url, service_url = two_roles
    service = EventStore(create_engine(service_url))
    owner = EventStore(create_engine(owner_url))
    try:
        await Appender(owner).append([signed("chosen")], recorded_at=[LONG_AGO])
        assert await _recorded_at(owner, "chosen") == [LONG_AGO]
        with pytest.raises(RecordingTimeRefusedError):
            await Appender(service).append([alleged("chosen")], recorded_at=[LONG_AGO])
        appender = Appender(service)
        with pytest.raises(RecordingTimeRefusedError):
            async with appender.ingesting() as ingesting:
                await ingesting.append([alleged("chosen")], [LONG_AGO], [None])
        assert await _recorded_at(owner, "chosen") == [LONG_AGO]
        assert (await verify_chain(owner)).ok
    finally:
        await service.close()
        await owner.close()


async def test_the_append_function_called_directly_by_the_service_role(
    two_roles: tuple[str, str],
) -> None:
    """With its own credentials and a hand-made call: the recording time and the content hash
    it sends are not the ones stored, choosing the time is refused, an empty append too."""
    owner_url, service_url = two_roles
    owner = EventStore(create_engine(owner_url))
    connection = await asyncpg.connect(_raw(service_url))
    try:
        decided = decide(ConflictState("direct"), [signed("direct")], now=LONG_AGO)
        args = list(
            postgresql_append_args(
                Append(
                    "direct",
                    0,
                    [event_row(e) for e in decided.recorded],
                    ProjectionRows(decided.changes),
                )
            )
        )
        sent = json.loads(args[2])
        sent[0]["content_hash"] = "00" * 32
        args[2] = json.dumps(sent)

        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="recorded_at"):
            await connection.fetchrow(POSTGRESQL_APPEND, *args[:5], True)
        with pytest.raises(asyncpg.InvalidParameterValueError, match="at least one event"):
            await connection.fetchrow(POSTGRESQL_APPEND, "direct", 0, "[]", "{}", args[4], False)
        assert await _recorded_at(owner, "direct") == []

        before = await _database_clock(owner)
        first, recorded_at = await connection.fetchrow(POSTGRESQL_APPEND, *args[:5], False)
        assert first == 1 and recorded_at >= before
        assert await _recorded_at(owner, "direct") == [recorded_at]
        assert (await verify_chain(owner)).ok  # the hash stored is the content's, not the sent
    finally:
        await connection.close()
        await owner.close()


async def test_the_service_role_cannot_write_the_log_tables_directly(
    two_roles: tuple[str, str],
) -> None:
    """Not a row past the head (verify would have skipped it and every later append would
    have collided with it), not a stream's version, not the head; and only the service's
    role, not every role, may call the append function."""
    owner_url, service_url = two_roles
    service = EventStore(create_engine(service_url))
    owner = EventStore(create_engine(owner_url))
    try:
        await Appender(service).append([signed("direct-writes")])
        refused = [
            "INSERT INTO events (position, id, conflict, version, type, schema_version, "
            "occurred_at, recorded_at, source, data, hash) SELECT position + 1, "
            f"'{uuid.uuid4()}', 'direct-writes', 2, 'agreement.signed', 1, now(), "
            "'2022-01-01', '{}', '{}', hash FROM log_head",
            "UPDATE streams SET version = version + 1",
            "UPDATE streams SET position = 0",
            "INSERT INTO streams (conflict, version, position) VALUES ('other', 1, 0)",
            "DELETE FROM streams",
            "UPDATE log_head SET position = position + 1",
            "UPDATE log_head SET hash = sha256(hash)",
        ]
        before = await _log(owner)
        async with owner.engine.connect() as conn:
            streams_before = (await conn.execute(select(streams))).all()
        connection = await asyncpg.connect(_raw(service_url))
        try:
            for statement in refused:
                with pytest.raises(asyncpg.InsufficientPrivilegeError):
                    await connection.execute(statement)
        finally:
            await connection.close()
        async with owner.engine.connect() as conn:
            assert (await conn.execute(select(streams))).all() == streams_before
            execute_grantees = (
                await conn.execute(
                    text(
                        "SELECT p.proname, coalesce(r.rolname, 'PUBLIC') FROM pg_proc p, "
                        "aclexplode(p.proacl) a LEFT JOIN pg_roles r ON r.oid = a.grantee "
                        "WHERE p.proname IN ('ceasefire_append', 'ceasefire_record') "
                        "AND a.privilege_type = 'EXECUTE'"
                    )
                )
            ).all()
            owner_role = (await conn.execute(text("SELECT current_user"))).scalar_one()
        service_role = make_url(service_url).username
        assert {tuple(g) for g in execute_grantees} == {
            (function, role)
            for function in ("ceasefire_append", "ceasefire_record")
            for role in (owner_role, service_role)
        }
        assert await _log(owner) == before
        assert (await verify_chain(owner)).ok
        # and the service still appends after all that
        await Appender(service).append([alleged("direct-writes")])
        async with owner.engine.connect() as conn:
            assert (await read_log_head(conn)).position == 2
    finally:
        await service.close()
        await owner.close()


def _ceasefire(*args: str, **settings: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CEASEFIRE_")}
    env.update({f"CEASEFIRE_{name.upper()}": value for name, value in settings.items()})
    command = [str(Path(sys.executable).with_name("ceasefire")), *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)


async def test_import_runs_as_the_owner_which_alone_keeps_recording_times(
    two_roles: tuple[str, str], tmp_path: Path
) -> None:
    """``ceasefire import`` keeps the export's recording times: given only the service's URL
    it is refused with one line naming the owner's setting; given both, it runs as the owner
    and the log is the source's, head for head."""
    owner_url, service_url = two_roles
    source_url = f"sqlite+aiosqlite:///{tmp_path / 'source.db'}"
    await asyncio.to_thread(upgrade, source_url)  # alembic runs a loop of its own
    source = EventStore(create_engine(source_url))
    try:
        await _seed(source, "imported")
        source_head = (await verify_chain(source)).head_hash
        source_times = await _recorded_at(source, "imported")
    finally:
        await source.close()
    exported = _ceasefire("export", database_url=source_url)
    assert exported.returncode == 0, exported.stderr
    dump = tmp_path / "log.ndjson"
    dump.write_text(exported.stdout)

    refused = _ceasefire("import", str(dump), database_url=service_url)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "CEASEFIRE_MIGRATION_DATABASE_URL" in refused.stderr
    assert "Traceback" not in refused.stderr
    owner = EventStore(create_engine(owner_url))
    try:
        assert await _recorded_at(owner, "imported") == []
        imported = _ceasefire(
            "import", str(dump), database_url=service_url, migration_database_url=owner_url
        )
        assert imported.returncode == 0, imported.stderr
        assert await _recorded_at(owner, "imported") == source_times
        report = await verify_chain(owner)
        assert report.ok and report.head_hash == source_head
    finally:
        await owner.close()


SERVICE_TRAPS = [
    "CREATE TABLE witness (who text)",
    "CREATE FUNCTION witness() RETURNS trigger LANGUAGE plpgsql AS "
    "$$ BEGIN INSERT INTO witness VALUES (current_user); RETURN NEW; END $$",
    # The service's role owns the projection tables, so it may put triggers on them.
    "CREATE TRIGGER witness BEFORE INSERT ON proj_allegations "
    "FOR EACH ROW EXECUTE FUNCTION witness()",
    # A better match than pg_catalog's to_jsonb(anyelement), in a schema it may create in.
    "CREATE FUNCTION to_jsonb(text) RETURNS jsonb LANGUAGE plpgsql AS "
    "$$ BEGIN INSERT INTO witness VALUES (current_user); RETURN pg_catalog.to_jsonb($1::text); "
    "END $$",
]


async def test_nothing_the_service_role_creates_runs_as_the_owner(
    two_roles: tuple[str, str],
) -> None:
    """The append runs partly as the owner: what the service's role can plant (a trigger on a
    projection table it owns, a function shadowing a built-in) must still run as the service's
    role, or never, when the service appends."""
    owner_url, service_url = two_roles
    service = EventStore(create_engine(service_url))
    owner = EventStore(create_engine(owner_url))
    try:
        connection = await asyncpg.connect(_raw(service_url))
        try:
            for statement in SERVICE_TRAPS:
                await connection.execute(statement)
        finally:
            await connection.close()
        await Appender(service).append([signed("traps"), alleged("traps")])
        async with owner.engine.connect() as conn:
            who = (await conn.execute(text("SELECT who FROM witness"))).scalars().all()
        assert set(who) == {make_url(service_url).username}
        assert (await verify_chain(owner)).ok
    finally:
        await service.close()
        await owner.close()


async def test_a_log_the_service_role_wrote_before_0008_still_verifies_and_grows(
    two_roles_before_0008: tuple[str, str],
) -> None:
    """Events appended with the service's own times and hashes (the old function), then the
    upgrade, then appends at the database's time: one chain, projections as a rebuild makes
    them."""
    owner_url, service_url = two_roles_before_0008
    role = make_url(service_url).username
    decided = decide(ConflictState("old"), [signed("old")], now=LONG_AGO)
    rows = [event_row(e, "key-1") for e in decided.recorded]
    # That release had no proj_actors (0009 builds it from the log).
    changes = Changes(
        closes=decided.changes.closes,
        inserts=[(t, r) for t, r in decided.changes.inserts if t != "proj_actors"],
    )
    old_release = await asyncpg.connect(_raw(service_url))
    try:  # as the release before 0008 appended: its own times and hashes, five arguments
        await old_release.fetchval(
            "SELECT ceasefire_append($1, $2, $3::jsonb, $4::jsonb, $5)",
            *postgresql_append_args(Append("old", 0, rows, ProjectionRows(changes)))[:5],
        )
    finally:
        await old_release.close()
    await asyncio.to_thread(upgrade, owner_url, service_role=role)
    service = EventStore(create_engine(service_url))
    owner = EventStore(create_engine(owner_url))
    try:
        assert await _recorded_at(owner, "old") == [LONG_AGO]  # what 0008 stops
        noted = await verify_chain(owner)
        before = await _database_clock(owner)
        await Appender(service, clock=lambda: LONG_AGO).append([alleged("old")])
        assert (await _recorded_at(owner, "old"))[1] >= before
        expect = LogHead(noted.head_position, bytes.fromhex(noted.head_hash))
        assert (await verify_chain(owner, expect=expect)).ok
        assert await verify_projections(owner) == []
    finally:
        await service.close()
        await owner.close()


async def test_a_server_running_as_the_service_role(two_roles: tuple[str, str]) -> None:
    """Through a real server connected as the service's role: an append answers the time the
    database recorded, and a projection rebuild (which locks log_head) still runs."""
    owner_url, service_url = two_roles
    keys = await make_keys(owner_url)
    owner = EventStore(create_engine(owner_url))
    try:
        before = await _database_clock(owner)
        with start_server(service_url) as server:
            async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as http:
                answers = [
                    await http.post("/v1/events", json=body, headers=Keys.header(keys.writer))
                    for body in (agreement("served"), allegation("served"))
                ]
                assert [a.status_code for a in answers] == [201, 201], answers[-1].text
                rebuild = await http.post(
                    "/v1/admin/projections/allegations/rebuild", headers=Keys.header(keys.admin)
                )
                assert rebuild.status_code == 202, rebuild.text
                job = rebuild.json()
                for _ in range(1200):  # at most a minute, on a loaded machine
                    if job["state"] != "running":
                        break
                    await asyncio.sleep(0.05)
                    job = (
                        await http.get(rebuild.headers["location"], headers=Keys.header(keys.admin))
                    ).json()
                assert job["state"] == "succeeded", job
        answered = [datetime.fromisoformat(a.json()["recorded_at"]) for a in answers]
        stored = await _recorded_at(owner, "served")
        assert stored == answered and before <= stored[0] <= stored[1]
        assert (await verify_chain(owner)).ok
        assert await verify_projections(owner) == []
    finally:
        await owner.close()
