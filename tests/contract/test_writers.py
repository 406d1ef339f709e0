"""SQLite's writer: appends run on the caller's thread, yet never block it on a lock, and the
WAL is still checkpointed (the inline connection has SQLite's automatic checkpoint off)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from events.database import create_engine
from events.envelope import to_recorded
from events.store import EventStore, event_row
from events.writers import SqliteWriter
from projections.changes import Changes
from projections.inline import CHECKPOINT
from tests.conftest import make_database
from tests.factories import alleged, signed


@pytest.fixture
def sqlite_url(tmp_path: Path) -> Iterator[str]:
    yield from make_database("sqlite", tmp_path)


@pytest.fixture
async def sqlite_store(sqlite_url: str) -> AsyncIterator[EventStore]:
    store = EventStore(create_engine(sqlite_url))
    yield store
    await store.close()


NOW = datetime(2022, 10, 1, 12, 0, tzinfo=UTC)


def _path(url: str) -> str:
    return url.split("///", 1)[1]


def _size(url: str) -> int:
    return os.path.getsize(_path(url))


async def test_an_append_waits_for_another_connections_lock_without_blocking_the_loop(
    sqlite_store: EventStore, sqlite_url: str
) -> None:
    conflict = f"test-{uuid.uuid4().hex[:12]}"
    await sqlite_store.append([signed(conflict)])
    other = sqlite3.connect(_path(sqlite_url), isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process's writer, say
    try:
        append = asyncio.ensure_future(sqlite_store.append([alleged(conflict)]))
        ticks = 0
        for _ in range(20):  # the loop keeps turning while the append waits for the lock
            await asyncio.sleep(0.01)
            ticks += 1
        assert ticks == 20 and not append.done()
    finally:
        other.execute("COMMIT")
        other.close()
    result = await append
    assert result.created and result.events[0].version == 2
    # The writer thread has the queue while it works; once it is empty, appends run inline.
    again = await sqlite_store.append([alleged(conflict)])
    assert again.events[0].version == 3
    assert [e.version for e in await sqlite_store.read_stream(conflict)] == [1, 2, 3]


async def test_the_writer_thread_checkpoints_the_wal(sqlite_url: str) -> None:
    writer = SqliteWriter(
        _path(sqlite_url), synchronous="NORMAL", checkpoint=CHECKPOINT, checkpoint_rows=10
    )
    size_before = _size(sqlite_url)
    conflict = f"test-{uuid.uuid4().hex[:12]}"
    try:
        for version in range(1, 51):
            event = to_recorded(
                alleged(conflict), version=version, position=0, recorded_at=NOW, schema_version=1
            )
            assert await writer.write(conflict, version - 1, [event_row(event)], Changes())
        for _ in range(3000):  # the thread runs them beside the appends: wait for one
            if writer.checkpoints:
                break
            await asyncio.sleep(0.01)
        assert writer.checkpoints >= 1
        # It copied the appended pages from the WAL into the database file.
        assert _size(sqlite_url) > size_before
    finally:
        await writer.close()


@pytest.mark.parametrize("synchronous", ["NORMAL", "FULL"])
async def test_appends_with_either_durability_setting(sqlite_url: str, synchronous: str) -> None:
    store = EventStore(
        create_engine(sqlite_url, sqlite_synchronous=synchronous), sqlite_synchronous=synchronous
    )
    try:
        conflict = f"test-{uuid.uuid4().hex[:12]}"
        await store.append([signed(conflict)])
        results = [await store.append([alleged(conflict)]) for _ in range(5)]
        assert [r.events[0].version for r in results] == [2, 3, 4, 5, 6]
        positions = [r.events[0].position for r in results]
        assert positions == list(range(positions[0], positions[0] + 5))
    finally:
        await store.close()


async def test_a_stale_expected_version_writes_nothing(sqlite_url: str) -> None:
    writer = SqliteWriter(_path(sqlite_url), synchronous="NORMAL", checkpoint=CHECKPOINT)
    conflict = f"test-{uuid.uuid4().hex[:12]}"

    def rows(version: int) -> list[dict[str, object]]:
        event = to_recorded(
            alleged(conflict), version=version, position=0, recorded_at=NOW, schema_version=1
        )
        return [event_row(event)]

    try:
        assert await writer.write(conflict, 0, rows(1), Changes()) is not None
        assert await writer.write(conflict, 0, rows(1), Changes()) is None  # a new stream? no
        assert await writer.write(conflict, 2, rows(3), Changes()) is None  # ahead of it
        assert await writer.write(conflict, 1, rows(2), Changes()) is not None
    finally:
        await writer.close()
    with contextlib.closing(sqlite3.connect(_path(sqlite_url))) as conn:
        assert conn.execute(
            "SELECT version FROM streams WHERE conflict = ?", (conflict,)
        ).fetchall() == [(2,)]
        assert conn.execute(
            "SELECT version FROM events WHERE conflict = ? ORDER BY version", (conflict,)
        ).fetchall() == [(1,), (2,)]
