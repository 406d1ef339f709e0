"""The writers behind ``EventStore.write``.

On both databases: a write is all or nothing with the work it carries (the projection rows), a
stale expected version or a stored id writes nothing, positions are contiguous. On SQLite, too:
appends run on the caller's thread, yet never block it on a lock, and the WAL is still
checkpointed (the inline connection has SQLite's automatic checkpoint off)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from app.services.appending import Appender, decide
from events.log.database import WAL_SIZE_LIMIT, create_engine
from events.log.sqlite_writer import SqliteWriter
from events.log.store import EventStore, event_row
from events.log.tables import projection_checkpoints
from events.log.writers import Append, IdTakenError
from events.model.envelope import to_recorded
from events.model.state import ConflictState
from projections.changes import Changes
from projections.inline import CHECKPOINT
from projections.tables import agreements as proj_agreements
from projections.writer import ProjectionRows
from tests.conftest import make_database
from tests.factories import alleged, signed
from tests.webhooks.receiver import eventually


@pytest.fixture
def sqlite_url(tmp_path: Path) -> Iterator[str]:
    yield from make_database("sqlite", tmp_path)


NOW = datetime(2022, 10, 1, 12, 0, tzinfo=UTC)


def _path(url: str) -> str:
    return url.split("///", 1)[1]


def _size(url: str) -> int:
    return os.path.getsize(_path(url))


def _wal_size(url: str) -> int:
    return os.path.getsize(_path(url) + "-wal")


async def test_a_write_waits_for_another_connections_lock_in_the_thread_not_on_the_loop(
    sqlite_url: str,
) -> None:
    """Another connection holds SQLite's write lock: the write is handed to the writer thread
    and waits there, the loop stays free, and code on the loop (this test) releases the lock.
    Had the write waited for the lock on the loop's thread, nothing could have released it:
    it would have failed at its busy timeout (``database is locked``), or never ended. (One
    that waited there a while and then went to the thread would pass, only late: telling the
    two apart takes a clock, which this test does not read.)"""
    writer = SqliteWriter(_path(sqlite_url), synchronous="NORMAL")
    conflict = f"test-{uuid.uuid4().hex[:12]}"
    try:
        assert await writer.write(Append(conflict, 0, _rows(conflict, 1), NOTHING_MORE)) is not None
        other = sqlite3.connect(_path(sqlite_url), isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # another process's writer, say
        try:
            write = asyncio.ensure_future(
                writer.write(Append(conflict, 1, _rows(conflict, 2), NOTHING_MORE))
            )
            await eventually(lambda: writer.queued or write.done())
            # In the thread, waiting: neither failed (busy) nor done, while this coroutine runs.
            assert writer.queued == 1 and not write.done()
        finally:
            other.execute("COMMIT")
            other.close()
        assert await write is not None
        assert writer.queued == 0  # the thread's queue is empty again: the next write goes on
        assert await writer.write(Append(conflict, 2, _rows(conflict, 3), NOTHING_MORE)) is not None
        with contextlib.closing(sqlite3.connect(_path(sqlite_url))) as reader:
            versions = reader.execute(
                "SELECT version FROM events WHERE conflict = ? ORDER BY position", (conflict,)
            ).fetchall()
        assert versions == [(1,), (2,), (3,)]
    finally:
        await writer.close()


async def test_the_writer_thread_checkpoints_the_wal(sqlite_url: str) -> None:
    appends = 50
    nothing_more = ProjectionRows(Changes())
    # An append of one event and no projection rows counts 1 + 0 + 3 rows (the event, the
    # stream, the head, the checkpoint): exactly one checkpoint starts, after the last append,
    # so it runs beside no write and copies every frame the WAL holds by then. (A threshold
    # reached earlier would start it mid-way, and a check of the file then depends on timing.)
    writer = SqliteWriter(_path(sqlite_url), synchronous="NORMAL", checkpoint_rows=4 * appends)
    conflict = f"test-{uuid.uuid4().hex[:12]}"
    try:
        for version in range(1, appends + 1):
            event = to_recorded(
                alleged(conflict), version=version, position=0, recorded_at=NOW, schema_version=1
            )
            assert await writer.write(
                Append(conflict, version - 1, [event_row(event)], nothing_more)
            )
        for _ in range(3000):  # the thread runs it after the appends: wait for it
            if writer.checkpoints:
                break
            await asyncio.sleep(0.01)
        assert writer.checkpoints == 1
        # It copied the appended pages from the WAL into the database file: read the file
        # alone (immutable: SQLite looks at no WAL), before any connection closes (the last
        # one to close would checkpoint by itself).
        with contextlib.closing(
            sqlite3.connect(f"file:{_path(sqlite_url)}?immutable=1", uri=True)
        ) as alone:
            (in_file,) = alone.execute(
                "SELECT count(*) FROM events WHERE conflict = ?", (conflict,)
            ).fetchone()
        assert in_file == appends
    finally:
        await writer.close()


async def test_a_burst_of_appends_does_not_grow_the_wal(sqlite_url: str) -> None:
    """SQLite writes its WAL from the start again only after a checkpoint has copied all of
    it. Appends committed beside every checkpoint kept it from ever doing so: the WAL grew by
    every append (here to 40 MB; 1 GB after 16,000 appends of the service). Once the WAL holds
    half of ``wal_size_limit``, appends wait behind the checkpoint's closing pass instead, so
    the WAL holds about that half, what was written between two checkpoints and what was
    written beside the first pass of one, and it does not grow with the burst."""
    appends, limit = 1000, 4 * 1024 * 1024
    writer = SqliteWriter(
        _path(sqlite_url), synchronous="NORMAL", checkpoint_rows=4 * 25, wal_size_limit=limit
    )
    conflict = f"test-{uuid.uuid4().hex[:12]}"
    largest = 0
    try:
        for version in range(1, appends + 1):
            rows = _rows(conflict, version)
            assert await writer.write(Append(conflict, version - 1, rows, NOTHING_MORE))
            largest = max(largest, _wal_size(sqlite_url))
        # A first pass every 25 appends while none is running: 45-52; 32-39 with work beside it.
        assert writer.checkpoints >= appends // 100
        # 3.6-3.8 MB; 3.9-6.0 MB with busy loops beside it (the first pass takes longer,
        # more appends land beside it); before, 40 MB.
        assert largest < 2 * limit, largest
    finally:
        await writer.close()


async def test_the_wal_a_long_transaction_grew_is_cut_back(sqlite_url: str) -> None:
    """A WAL file keeps its size when SQLite starts it over; ``journal_size_limit`` cuts it
    back then, so the space one long transaction (a bulk load's) took is given back."""
    writer = SqliteWriter(
        _path(sqlite_url), synchronous="NORMAL", checkpoint_rows=4 * 5, wal_size_limit=64 * 1024
    )
    conflict = f"test-{uuid.uuid4().hex[:12]}"
    try:
        assert await writer.write(Append(conflict, 0, _rows(conflict, 1, 3000), NOTHING_MORE))
        grown = _wal_size(sqlite_url)
        for version in range(3000, 3100):
            rows = _rows(conflict, version + 1)
            assert await writer.write(Append(conflict, version, rows, NOTHING_MORE))
        assert _wal_size(sqlite_url) < grown / 2, (_wal_size(sqlite_url), grown)  # 148 kB of 1.4 MB
    finally:
        await writer.close()


async def test_the_engines_connections_cut_the_wal_back_too(sqlite_url: str) -> None:
    """Any connection that writes may be the one SQLite starts the WAL over on (webhook
    bookkeeping, a replay's rows): the engine's connections carry the same limit."""
    engine = create_engine(sqlite_url)
    try:
        async with engine.connect() as conn:
            limit = (await conn.exec_driver_sql("PRAGMA journal_size_limit")).scalar()
        assert limit == WAL_SIZE_LIMIT
    finally:
        await engine.dispose()


@pytest.mark.parametrize("synchronous", ["NORMAL", "FULL"])
async def test_appends_with_either_durability_setting(sqlite_url: str, synchronous: str) -> None:
    store = EventStore(
        create_engine(sqlite_url, sqlite_synchronous=synchronous), sqlite_synchronous=synchronous
    )
    appender = Appender(store)
    try:
        conflict = f"test-{uuid.uuid4().hex[:12]}"
        await appender.append([signed(conflict)])
        results = [await appender.append([alleged(conflict)]) for _ in range(5)]
        assert [r.events[0].version for r in results] == [2, 3, 4, 5, 6]
        positions = [r.events[0].position for r in results]
        assert positions == list(range(positions[0], positions[0] + 5))
    finally:
        await store.close()


# The writer contract, on both databases (``store``: each database's writer behind
# ``EventStore.write``).


def _rows(conflict: str, version: int, count: int = 1) -> list[dict[str, Any]]:
    return [
        event_row(
            to_recorded(
                alleged(conflict),
                version=version + i,
                position=0,
                recorded_at=NOW,
                schema_version=1,
            )
        )
        for i in range(count)
    ]


NOTHING_MORE = ProjectionRows(Changes())


async def test_a_stale_expected_version_writes_nothing(store: EventStore, conflict: str) -> None:
    assert await store.write(Append(conflict, 0, _rows(conflict, 1), NOTHING_MORE)) is not None
    assert (
        await store.write(Append(conflict, 0, _rows(conflict, 1), NOTHING_MORE)) is None
    )  # new? no
    assert await store.write(Append(conflict, 2, _rows(conflict, 3), NOTHING_MORE)) is None  # ahead
    assert await store.write(Append(conflict, 1, _rows(conflict, 2), NOTHING_MORE)) is not None
    assert [e.version for e in await store.read_stream(conflict)] == [1, 2]
    head = await store.stream_head(conflict)
    assert head is not None and head[0] == 2


async def test_a_write_takes_contiguous_positions_and_moves_the_heads(
    store: EventStore, conflict: str
) -> None:
    written = await store.write(Append(conflict, 0, _rows(conflict, 1, count=3), NOTHING_MORE))
    assert written is not None
    first = written.first
    stored = await store.read_stream(conflict)
    assert [(e.version, e.position) for e in stored] == [(1, first), (2, first + 1), (3, first + 2)]
    assert await store.stream_head(conflict) == (3, first + 2)
    assert await store.head() >= first + 2


async def test_the_work_commits_with_the_events_or_not_at_all(
    store: EventStore, conflict: str
) -> None:
    decided = decide(ConflictState(conflict), [signed(conflict)], now=NOW)
    rows = [event_row(e) for e in decided.recorded]
    written = await store.write(Append(conflict, 0, rows, ProjectionRows(decided.changes)))
    assert written is not None
    other = decide(ConflictState(conflict), [signed(conflict, "cf-2")], now=NOW)
    lost = await store.write(
        Append(conflict, 0, [event_row(e) for e in other.recorded], ProjectionRows(other.changes))
    )
    assert lost is None  # the compare-and-set lost: its projection rows are not written either
    async with store.engine.connect() as conn:
        agreements = (
            await conn.execute(
                select(proj_agreements.c.agreement_id).where(proj_agreements.c.conflict == conflict)
            )
        ).scalars()
        checkpoint = (
            await conn.execute(
                select(projection_checkpoints.c.position).where(
                    projection_checkpoints.c.name == CHECKPOINT
                )
            )
        ).scalar_one()
    assert list(agreements) == [decided.recorded[0].data.agreement_id]
    assert checkpoint >= written.first


async def test_an_id_stored_already_is_refused_and_nothing_written(
    store: EventStore, conflict: str
) -> None:
    rows = _rows(conflict, 1)
    assert await store.write(Append(conflict, 0, rows, NOTHING_MORE)) is not None
    with pytest.raises(IdTakenError):
        await store.write(Append(f"{conflict}-again", 0, rows, NOTHING_MORE))
    assert await store.stream_head(f"{conflict}-again") is None
    assert [e.id for e in await store.read_stream(conflict)] == [rows[0]["id"]]
