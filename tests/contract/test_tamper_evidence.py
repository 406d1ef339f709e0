"""Tamper evidence on every database: the database refuses to change the log, the hash chain
names the event someone changed anyway, and projections are checked against a rebuild."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import delete, insert, select, text, update
from sqlalchemy.exc import DBAPIError

from app.services.appending import Appender
from events.log.chain import stored_content_hash, verify_chain
from events.log.store import EventStore
from events.log.tables import events
from events.model.envelope import GENESIS_HASH, chain_hash
from projections.tables import allegations
from projections.verify import verify_projections
from tests.factories import alleged, seed_events
from tests.logtools import scratch_tables, tamper


async def _seed(store: EventStore, conflict: str = "tamper") -> None:
    appender = Appender(store)
    for event in seed_events(conflict):
        await appender.append([event])
    await appender.append([alleged(conflict, occurred_at="2022-09-24T00:00:00Z")])


async def test_the_database_refuses_to_update_or_delete_events(
    store: EventStore, conflict: str
) -> None:
    await _seed(store, conflict)
    statements = [
        update(events).where(events.c.conflict == conflict).values(data="{}"),
        delete(events).where(events.c.conflict == conflict),
    ]
    if store.dialect == "postgresql":
        statements.append(text("TRUNCATE events"))
    for statement in statements:
        with pytest.raises(DBAPIError, match="append-only"):
            async with store.engine.begin() as conn:
                await conn.execute(statement)
    async with store.engine.connect() as conn:
        count = (await conn.execute(select(events.c.id).where(events.c.conflict == conflict))).all()
    assert len(count) == 7


async def test_the_chain_the_database_computed_is_the_one_python_recomputes(
    fresh_store: EventStore,
) -> None:
    """On PostgreSQL ``ceasefire_append`` chains the hashes in SQL; on SQLite the store does
    it in Python. Either way the stored chain is what ``events.model.envelope`` recomputes."""
    await _seed(fresh_store)
    previous = GENESIS_HASH
    async for rows in fresh_store.iter_rows(batch_size=3):
        for row in rows:
            previous = chain_hash(previous, stored_content_hash(row))
            assert bytes(row.hash) == previous, row.position
    report = await verify_chain(fresh_store, batch_size=2)
    assert report.ok and report.events == 7
    assert report.head_hash == previous.hex()


async def test_verify_names_the_position_whose_payload_changed(fresh_store: EventStore) -> None:
    await _seed(fresh_store)
    await tamper(fresh_store.engine, 4)
    report = await verify_chain(fresh_store, batch_size=3)
    assert not report.ok
    assert report.first_broken == 4
    assert report.broken == [4]  # one changed event is one finding, not every later link


async def test_verify_names_a_removed_event(fresh_store: EventStore) -> None:
    await _seed(fresh_store)
    async with fresh_store.engine.begin() as conn:
        if fresh_store.dialect == "postgresql":
            await conn.execute(text("ALTER TABLE events DISABLE TRIGGER events_append_only"))
        else:
            await conn.execute(text("DROP TRIGGER events_refuse_delete"))
        await conn.execute(delete(events).where(events.c.position == 3))
    report = await verify_chain(fresh_store)
    assert report.gaps == [(2, 4)]
    assert report.first_broken == 4


async def test_verify_projections_finds_a_changed_projection_row(
    fresh_store: EventStore,
) -> None:
    await _seed(fresh_store)
    assert await verify_projections(fresh_store) == []
    async with fresh_store.engine.begin() as conn:
        await conn.execute(update(allegations).values(incidents=99))
    differences = await verify_projections(fresh_store, batch_size=2)
    assert [d.projection for d in differences] == ["allegations"]
    assert differences[0].only_live == 3 and differences[0].only_rebuilt == 3
    assert await scratch_tables(fresh_store.engine) == []


async def test_verify_reports_an_event_that_no_longer_decodes(fresh_store: EventStore) -> None:
    await _seed(fresh_store)
    await tamper(fresh_store.engine, 5, new_data={"alleged_by": "Armenia"})
    report = await verify_chain(fresh_store)
    assert report.first_broken == 5
    assert [position for position, _ in report.undecodable] == [5]


async def test_verify_names_events_stored_past_the_head(fresh_store: EventStore) -> None:
    """A row inserted behind the append's back, past ``log_head``: the chain up to the head
    still holds, but the next append would collide with it. The service's role cannot insert
    one on PostgreSQL (test_append_only); whoever owns the database can, and verify says so."""
    await _seed(fresh_store)
    async with fresh_store.engine.begin() as conn:
        last = (await conn.execute(select(events).order_by(events.c.position.desc()))).first()
        assert last is not None
        stray = {**last._asdict(), "position": last.position + 1, "id": uuid.uuid4()}
        stray["version"] = last.version + 1
        stray["hash"] = chain_hash(bytes(last.hash), bytes(32))
        await conn.execute(insert(events).values(**stray))
    report = await verify_chain(fresh_store, batch_size=3)
    assert not report.ok
    assert report.past_head_count == 1 and report.past_head == [last.position + 1]
    assert report.head_position == last.position
    assert report.broken_count == 0 and not report.gaps and report.head_problem is None
