"""Head lookups, coalesced or not, never answer a caller with a head older than its arrival.

``Heads`` shares one lookup among concurrent callers (PostgreSQL). The danger is a caller
answered from a lookup that started before it arrived: that lookup may have read the head
before an append the caller had already seen acknowledged. These tests hold a real lookup, on
the real database, after it has read the head and before it answers, append in between, and
check what a caller arriving then is told.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from app.services.appending import Appender
from events.log.heads import Heads
from events.log.store import EventStore
from events.model.errors import StorageUnavailableError
from tests.factories import alleged, signed


class HeldHeads(Heads):
    """Heads whose every lookup, once it has read the database, waits for ``release``."""

    def __init__(self, store: EventStore) -> None:
        super().__init__(store.engine)
        self.read = asyncio.Event()
        self.release = asyncio.Event()
        self.lookups = 0

    async def _one(self, sql: str, args: tuple[Any, ...]) -> Any:
        found = await super()._one(sql, args)
        self.lookups += 1
        self.read.set()
        await self.release.wait()
        return found


async def _settle() -> None:
    """Let every ready task run until it waits on something."""
    for _ in range(20):
        await asyncio.sleep(0)


async def test_a_caller_arriving_after_an_append_sees_it(
    store: EventStore, conflict: str, appender: Appender
) -> None:
    await appender.append([signed(conflict)])
    heads = HeldHeads(store)
    try:
        early = asyncio.ensure_future(heads.stream(conflict))
        await heads.read.wait()  # the early lookup has read the head, and is held

        await appender.append([alleged(conflict)])  # acknowledged: later reads must see it
        late = asyncio.ensure_future(heads.stream(conflict))
        await _settle()
        heads.release.set()

        early_head, late_head = await early, await late
    finally:
        await heads.close()
    assert late_head is not None and early_head is not None
    assert late_head > early_head, "answered from a lookup that started before the append"


async def test_callers_arriving_during_a_lookup_share_the_next_one(
    store: EventStore, conflict: str, appender: Appender
) -> None:
    await appender.append([signed(conflict)])
    heads = HeldHeads(store)
    try:
        first = asyncio.ensure_future(heads.stream(conflict))
        await heads.read.wait()
        await appender.append([alleged(conflict)])
        waiting = [asyncio.ensure_future(heads.stream(conflict)) for _ in range(5)]
        await _settle()
        heads.release.set()
        answers = await asyncio.gather(first, *waiting)
    finally:
        await heads.close()
    assert len(set(answers[1:])) == 1 and answers[1] is not None and answers[0] is not None
    assert answers[1] > answers[0]
    if store.engine.dialect.name == "postgresql":
        assert heads.lookups == 2  # one for the first caller, one shared by the five after it
    else:
        assert heads.lookups == 6  # SQLite looks up in microseconds: nothing to share


class FailingHeads(Heads):
    """Heads whose next lookup, once it has read the database, fails as a lost server would."""

    def __init__(self, store: EventStore) -> None:
        super().__init__(store.engine)
        self.fail = True
        self.read = asyncio.Event()
        self.release = asyncio.Event()

    async def _one(self, sql: str, args: tuple[Any, ...]) -> Any:
        found = await super()._one(sql, args)
        if self.fail:
            self.fail = False
            self.read.set()
            await self.release.wait()
            raise StorageUnavailableError("the database is not reachable")
        return found


async def test_a_failed_lookup_fails_its_callers_and_not_the_next(
    store: EventStore, conflict: str, appender: Appender
) -> None:
    await appender.append([signed(conflict)])
    heads = FailingHeads(store)
    try:
        failing = asyncio.ensure_future(heads.stream(conflict))
        await heads.read.wait()
        later = [asyncio.ensure_future(heads.stream(conflict)) for _ in range(3)]
        await _settle()
        heads.release.set()
        with pytest.raises(StorageUnavailableError):
            await failing
        answers = await asyncio.gather(*later)
    finally:
        await heads.close()
    assert len(set(answers)) == 1 and answers[0] is not None
