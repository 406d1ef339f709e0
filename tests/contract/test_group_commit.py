"""Group commit (``events.log.group_commit``), on both databases: concurrent appends to their
own conflicts share transactions, each keeps its own compare-and-set and idempotency, and one
refused append never fails the others."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

from app.services.appending import Appender
from events.log.group_commit import PROBE_EVERY
from events.log.store import EventStore, event_row
from events.log.writers import Append, IdTakenError, Written
from events.model.envelope import to_recorded
from projections.changes import Changes
from projections.writer import ProjectionRows
from tests.factories import alleged, signed

NOW = datetime(2022, 10, 1, 12, 0, tzinfo=UTC)
NOTHING_MORE = ProjectionRows(Changes())


def _rows(conflict: str, version: int) -> list[dict[str, Any]]:
    recorded = to_recorded(
        alleged(conflict), version=version, position=0, recorded_at=NOW, schema_version=1
    )
    return [event_row(recorded)]


def _conflicts(n: int) -> list[str]:
    return [f"group-{uuid.uuid4().hex[:10]}" for _ in range(n)]


async def test_eight_concurrent_appends_commit_in_fewer_than_eight_transactions(
    store: EventStore,
) -> None:
    conflicts = _conflicts(8)
    appends = [Append(c, 0, _rows(c, 1), NOTHING_MORE) for c in conflicts]
    before = store.transactions
    written = await asyncio.gather(*(store.write(a) for a in appends))
    transactions = store.transactions - before
    assert transactions < 8, f"{transactions} transactions for 8 concurrent appends"
    assert all(isinstance(w, Written) for w in written)
    positions = sorted(w.first for w in written if w is not None)
    assert positions == list(range(positions[0], positions[0] + 8))  # contiguous, none twice
    for conflict, append in zip(conflicts, appends, strict=True):
        stored = await store.read_stream(conflict)
        assert [(e.id, e.version) for e in stored] == [(append.rows[0]["id"], 1)]


async def test_concurrent_appends_find_company_after_a_run_of_lone_appends(
    store: EventStore,
) -> None:
    """A task appending alone stops looking for company before every append (on SQLite it
    looks once in ``PROBE_EVERY``); appends from other tasks look every time, so eight of them
    arriving right after such a run still share transactions, whatever the run's length."""
    lone = _conflicts(1)[0]
    for version in range(1, PROBE_EVERY + 2):  # not a multiple of PROBE_EVERY: no probe due
        assert await store.write(Append(lone, version - 1, _rows(lone, version), NOTHING_MORE))
    conflicts = _conflicts(8)
    before = store.transactions
    written = await asyncio.gather(
        *(store.write(Append(c, 0, _rows(c, 1), NOTHING_MORE)) for c in conflicts)
    )
    transactions = store.transactions - before
    assert transactions < 8, f"{transactions} transactions for 8 concurrent appends"
    assert all(isinstance(w, Written) for w in written)


async def test_appends_to_other_conflicts_never_queue_behind_each_other(
    appender: Appender,
) -> None:
    """The append service's lock is per conflict: eight concurrent appends to eight conflicts
    reach the store together and share its transactions. The names are chosen so their hashes
    agree modulo 64: under the striped locks this replaced, all eight queued on one lock and
    wrote eight transactions one after another."""
    first = f"stripe-{uuid.uuid4().hex[:10]}"
    conflicts = [first]
    while len(conflicts) < 8:
        name = f"stripe-{uuid.uuid4().hex[:10]}"
        if hash(name) % 64 == hash(first) % 64:
            conflicts.append(name)
    for conflict in conflicts:  # their states cached: nothing but the write waits
        await appender.append([signed(conflict)])
    store = appender.store
    before = store.transactions
    results = await asyncio.gather(*(appender.append([alleged(c)]) for c in conflicts))
    transactions = store.transactions - before
    assert transactions < 8, f"{transactions} transactions for 8 concurrent appends"
    assert all(r.created for r in results)
    assert [(await store.stream_head(c) or (0, 0))[0] for c in conflicts] == [2] * 8


async def test_a_refused_append_in_a_group_fails_none_of_the_others(store: EventStore) -> None:
    conflicts = _conflicts(8)
    taken = _rows(conflicts[0], 1)
    assert await store.write(Append(conflicts[0], 0, taken, NOTHING_MORE)) is not None
    appends = [
        # a stale expected version: refused (None), nothing written
        Append(conflicts[0], 0, _rows(conflicts[0], 1), NOTHING_MORE),
        # an id stored already: IdTakenError, nothing written
        Append(conflicts[1], 0, taken, NOTHING_MORE),
        *(Append(c, 0, _rows(c, 1), NOTHING_MORE) for c in conflicts[2:]),
    ]
    outcomes = await asyncio.gather(*(store.write(a) for a in appends), return_exceptions=True)
    assert outcomes[0] is None
    assert isinstance(outcomes[1], IdTakenError)
    assert all(isinstance(o, Written) for o in outcomes[2:]), outcomes
    assert [e.id for e in await store.read_stream(conflicts[0])] == [taken[0]["id"]]
    assert await store.stream_head(conflicts[1]) is None
    for conflict, append in zip(conflicts[2:], appends[2:], strict=True):
        assert [e.id for e in await store.read_stream(conflict)] == [append.rows[0]["id"]]


async def test_a_reader_paging_the_feed_beside_grouped_appends_skips_nothing(
    store: EventStore,
) -> None:
    """Eight writers on their own conflicts, through one store (their appends grouped), and a
    reader paging the global feed: every position once, in order, and every acknowledged one."""
    conflicts, rounds = _conflicts(8), 5
    start = await store.head()
    stop = asyncio.Event()
    seen: list[int] = []

    async def read() -> None:
        after = start
        while True:
            done = stop.is_set()
            page = await store.read_all(after=after, limit=50)
            for event in page:
                assert event.position == after + 1, f"skipped from {after} to {event.position}"
                seen.append(event.position)
                after = event.position
            if done and not page:
                return
            if not page:
                await asyncio.sleep(0.001)

    acknowledged: list[int] = []

    async def write(conflict: str) -> None:
        for version in range(rounds):
            written = await store.write(
                Append(conflict, version, _rows(conflict, version + 1), NOTHING_MORE)
            )
            assert written is not None
            acknowledged.append(written.first)

    reader = asyncio.create_task(read())
    try:
        await asyncio.gather(*(write(c) for c in conflicts))
    finally:
        stop.set()
        await reader
    assert len(seen) == len(set(seen)), "an event was seen twice"
    assert len(acknowledged) == 8 * rounds and set(acknowledged) <= set(seen)
