"""A reader of the global order never skips an event, even while writers commit concurrently.

Positions are contiguous and commit in order, so the strongest check a reader can make is that
every page starts exactly one after the last position it saw: a gap, ever, would be an event
committed later at a lower position, which a reader that moved on would have skipped.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime

import asyncpg
import pytest

from app.services.appending import Appender, decide
from events.log.store import EventStore, event_row
from events.log.writers import POSTGRESQL_APPEND, Append, postgresql_append_args
from projections.writer import ProjectionRows
from tests.factories import alleged, signed
from tests.webhooks.receiver import eventually


async def _read_until(
    store: EventStore, stop: asyncio.Event, seen: list[int], gaps: list[tuple[int, int]]
) -> None:
    after = seen[-1] if seen else await store.head()
    while True:
        done = stop.is_set()
        page = await store.read_all(after=after, limit=50)
        for event in page:
            if event.position != after + 1:
                gaps.append((after, event.position))
            seen.append(event.position)
            after = event.position
        if done and not page:
            return
        if not page:
            await asyncio.sleep(0.001)


async def test_concurrent_writers_never_leave_a_reader_a_gap(
    store: EventStore, database_url: str, appender: Appender
) -> None:
    conflicts = [f"order-{uuid.uuid4().hex[:8]}" for _ in range(4)]
    for conflict in conflicts:
        await appender.append([signed(conflict)])
    start = await store.head()
    stop = asyncio.Event()
    seen: list[int] = [start]
    gaps: list[tuple[int, int]] = []
    reader = asyncio.create_task(_read_until(store, stop, seen, gaps))

    from events.log.database import create_engine

    writers = [Appender(EventStore(create_engine(database_url))) for _ in range(8)]
    acknowledged: list[int] = []

    async def write(writer: Appender, n: int) -> None:
        for i in range(n):
            result = await writer.append([alleged(conflicts[i % len(conflicts)])])
            acknowledged.append(result.events[0].position)

    try:
        await asyncio.gather(*(write(w, 40) for w in writers))
    finally:
        stop.set()
        await reader
        for writer in writers:
            await writer.store.close()
    assert gaps == []
    assert len(seen) == len(set(seen)), "an event was seen twice"
    assert set(acknowledged) <= set(seen), "an acknowledged event was never seen"
    for conflict in conflicts:
        versions = [e.version for e in await store.read_stream(conflict)]
        assert versions == list(range(1, len(versions) + 1))


async def test_a_transaction_held_open_holds_back_every_later_position(
    store: EventStore, db_kind: str, database_url: str, conflict: str, appender: Appender
) -> None:
    """The known PostgreSQL trap: a writer that takes its position early and commits late.
    Here a raw connection runs the append function inside a transaction it keeps open; writers
    after it must wait, and a reader must see nothing past it until it commits."""
    if db_kind != "postgresql":
        pytest.skip("SQLite has one writer at a time by construction; this is PostgreSQL's trap")
    await appender.append([signed(conflict)])
    state = await appender.current_state(conflict)
    decision = decide(state, [alleged(conflict)], now=datetime.now(UTC))
    args = postgresql_append_args(
        Append(
            conflict,
            state.version,
            [event_row(e) for e in decision.recorded],
            ProjectionRows(decision.changes),
        )
    )

    raw_url = database_url.replace("postgresql+asyncpg://", "postgresql://", 1)
    held = await asyncpg.connect(raw_url)
    try:
        transaction = held.transaction()
        await transaction.start()
        first = await held.fetchval(POSTGRESQL_APPEND, *args)
        before = await store.head()
        assert first == before + 1

        other = f"{conflict}-b"
        later = asyncio.create_task(appender.append([signed(other)]))
        # Until the later writer waits on a lock the open transaction holds (or has finished,
        # which the assertion after refuses): from then on it cannot have committed early.
        watcher = await asyncpg.connect(raw_url)
        try:

            async def blocked() -> bool:
                waiting = await watcher.fetchval(
                    "SELECT count(*) FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))",
                    held.get_server_pid(),
                )
                return later.done() or waiting > 0

            await eventually(blocked)
        finally:
            await watcher.close()
        assert not later.done(), "a later writer committed while an earlier position was open"
        assert [e.position for e in await store.read_all(after=before - 1)] == [before]

        await transaction.commit()
        result = await asyncio.wait_for(later, 10)
        assert result.events[0].position == first + 1
        page = await store.read_all(after=before)
        assert [e.position for e in page] == [first, first + 1]
        assert json.loads(args[2])[0]["id"] == str(page[0].id)
    finally:
        await held.close()
