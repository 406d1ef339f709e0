"""One read of the log per append serves every live stream with the same filter (issue 10,
case 5), on both databases: the streams' own reads are counted on the real store."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from app.reads.streaming import StreamHub
from app.services.appending import Appender
from events.log.database import create_engine
from events.log.heads import Heads
from events.log.notifications import AppendNotifier
from events.log.routing import ReadDatabase, ReadRouter
from events.log.store import EventStore
from tests.factories import alleged, signed

STREAMS = 50
T = TypeVar("T")


class CountingRouter(ReadRouter):
    """The real read router (the primary only), counting the reads of the log."""

    reads = 0

    async def read(self, position: int | None, read: Callable[[ReadDatabase], Awaitable[T]]) -> T:
        self.reads += 1
        return await super().read(position, read)


async def test_one_append_is_read_once_for_every_stream_of_a_filter(
    database_url: str, conflict: str
) -> None:
    store = EventStore(create_engine(database_url))
    heads = Heads(store.engine)
    router = CountingRouter(ReadDatabase(store.engine, heads, is_primary=True))
    notifier = AppendNotifier()
    store.on_append.append(notifier.publish)
    hub = StreamHub(router, notifier, buffer_bytes=256 * 1024)
    try:
        await Appender(store).append([signed(conflict)])
        start = await heads.log()
        received: list[asyncio.Queue[str]] = [asyncio.Queue() for _ in range(STREAMS)]

        async def follow(into: asyncio.Queue[str]) -> None:
            async for message in hub.follow(start, conflict, None, heartbeat=60):
                await into.put(message)

        tasks = [asyncio.create_task(follow(q)) for q in received]
        key: tuple[str | None, Sequence[str] | None] = (conflict, None)
        for _ in range(6000):  # until each has caught up (nothing to read) and joined the feed
            if key in hub.feeds and len(hub.feeds[key].members) == STREAMS:
                break
            await asyncio.sleep(0.01)
        else:
            raise AssertionError("the streams did not all join their feed in 60 s")
        before = router.reads
        written = await Appender(store).append([alleged(conflict)])
        messages = await asyncio.wait_for(asyncio.gather(*(q.get() for q in received)), 60)
        assert router.reads - before == 1
        position = written.events[0].position
        assert all(m.startswith(f"id: {position}\nevent: violation.alleged\n") for m in messages)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    finally:
        notifier.close()
        await heads.close()
        await store.close()
