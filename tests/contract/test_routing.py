"""The read router on the primary alone (both databases): a position the log has reached is
answered there, with the head it saw; one it has not is refused after the brief wait. With a
hot standby: tests/e2e/test_replica.py."""

from __future__ import annotations

import pytest

from app.services.appending import Appender
from events.log.heads import Heads
from events.log.routing import ReadDatabase, ReadRouter
from events.log.store import EventStore
from events.model.errors import PositionNotReachedError
from tests.factories import signed


async def test_a_position_is_answered_where_the_log_has_reached_it(
    store: EventStore, conflict: str, appender: Appender
) -> None:
    position = (await appender.append([signed(conflict)])).events[-1].position
    primary = ReadDatabase(store.engine, Heads(store.engine), is_primary=True)
    router = ReadRouter(primary, catch_up=0.05)
    try:
        assert await router.choose() == (primary, None)
        database, head = await router.choose(position)
        assert database is primary and head is not None and head >= position
        with pytest.raises(PositionNotReachedError) as refused:
            await router.choose(head + 1000)
        assert refused.value.position == head + 1000 and refused.value.head >= head
        assert await router.choose(head + 1000, strict=False) == (primary, None)
    finally:
        await primary.heads.close()
