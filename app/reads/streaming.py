"""The live stream's engine: one read of the log per append for every stream with the same
filter, and a bound in bytes on what any one stream holds for a client that stops reading.

A stream (``follow``) is in one of two modes:

- **catching up**: it reads the log itself, from the last position it sent, a page at a time;
  a page is cut to ``buffer_bytes`` of messages once read (at least one event), so a client
  that stops reading pins at most that much while the stream waits for it to take them;
- **live**: once it has read up to where its filter's ``_Feed`` has, it joins the feed. The feed
  is ONE task per filter (conflict, types) in the process: woken by the ``AppendNotifier``, it
  reads what was appended once, renders each event's message once, and hands the same strings
  to every member's queue. A member whose queue passes ``buffer_bytes`` (its client is not
  reading) leaves the feed, drops its queue and catches up from the log again, from the last
  message it sent: it loses nothing, and holds no more than the bound.

Positions commit in order (``events.log.store``), so "everything after the last position sent"
is the whole truth in both modes. The head is looked at on the primary, whose notifications
wake the feeds; events are read where the log has reached that head (``events.log.routing``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

from events.log.notifications import AppendNotifier
from events.log.routing import ReadDatabase, ReadRouter
from events.log.store import read_events
from events.model.envelope import Recorded

__all__ = ["StreamHub", "render"]

#: Events asked of the log per read (then cut to the byte budget).
PAGE = 500

log = logging.getLogger("ceasefire.stream")

#: The conflicts a stream follows: one, several (a page showing them), or all (None).
Conflicts = str | tuple[str, ...] | None
_FilterKey = tuple[Conflicts, tuple[str, ...] | None]


def render(event: Recorded) -> str:
    """One event as a Server-Sent Events message."""
    return f"id: {event.position}\nevent: {event.type}\ndata: {event.model_dump_json()}\n\n"


def _cut(page: list[Recorded], budget: int) -> list[tuple[int, str]]:
    """The page's messages, as many as fit in ``budget`` bytes (one at least)."""
    messages: list[tuple[int, str]] = []
    size = 0
    for event in page:
        message = render(event)
        size += len(message)
        if messages and size > budget:
            break
        messages.append((event.position, message))
    return messages


class _Sizes:
    """The largest message a reader has met: how many events its next read may ask for."""

    def __init__(self) -> None:
        self.largest = 4096  # a guess until it has read some

    def limit(self, budget: int) -> int:
        return max(1, min(PAGE, budget // self.largest))

    def saw(self, messages: Sequence[tuple[int, str]]) -> None:
        if messages:
            self.largest = max(256, max(len(message) for _, message in messages))


@dataclass(eq=False)
class _Member:
    """A live stream's place in a feed: the messages after ``after`` not yet taken."""

    after: int
    budget: int
    queue: deque[tuple[int, str]] = field(default_factory=deque)
    size: int = 0
    overflowed: bool = False
    woken: asyncio.Event = field(default_factory=asyncio.Event)

    def push(self, messages: Sequence[tuple[int, str]]) -> bool:
        """Queue the messages it has not seen; False when that passes its budget (then its
        queue is dropped: it catches up from the log instead)."""
        for position, message in messages:
            if position <= self.after:
                continue
            self.queue.append((position, message))
            self.size += len(message)
            self.after = position
        self.woken.set()
        if self.size > self.budget:
            self.queue.clear()
            self.size = 0
            self.overflowed = True
            return False
        return True


class _Feed:
    """One read per append for every live member with this filter."""

    def __init__(self, hub: StreamHub, key: _FilterKey, scanned: int) -> None:
        self.hub = hub
        self.key = key
        self.scanned = scanned  # every event up to here was handed to the members
        self.members: set[_Member] = set()
        self.sizes = _Sizes()
        self.task: asyncio.Task[None] | None = None

    async def run(self) -> None:
        hub = self.hub
        try:
            await self._follow_the_log()
        except Exception as error:  # the database went away: members read for themselves
            log.warning("stream feed %s stopped: %r", self.key, error)
        finally:
            if hub.feeds.get(self.key) is self:
                del hub.feeds[self.key]
            for member in self.members:  # woken to see the feed gone: they read for themselves
                member.overflowed = True
                member.woken.set()

    async def _follow_the_log(self) -> None:
        hub = self.hub
        conflict, types = self.key
        while self.members and not hub.notifier.closed:
            # Several conflicts: woken by any append, and the read filters them.
            channel = conflict if isinstance(conflict, str) else None
            with hub.notifier.subscribe(channel, self.scanned) as subscription:
                head = await hub.router.primary.heads.log()
                if head > self.scanned:
                    messages, full = await hub._read(
                        self.scanned, head, conflict, types, self.sizes
                    )
                    for member in list(self.members):
                        if not member.push(messages):
                            self.members.discard(member)
                    if full:
                        self.scanned = messages[-1][0]
                        continue
                    self.scanned = head
                await subscription.wait(60)


class StreamHub:
    """Every live stream of one process, grouped by filter."""

    def __init__(self, router: ReadRouter, notifier: AppendNotifier, *, buffer_bytes: int) -> None:
        self.router = router
        self.notifier = notifier
        self.buffer_bytes = buffer_bytes
        self.feeds: dict[_FilterKey, _Feed] = {}

    async def _read(
        self,
        after: int,
        head: int,
        conflict: Conflicts,
        types: Sequence[str] | None,
        sizes: _Sizes,
    ) -> tuple[list[tuple[int, str]], bool]:
        """The messages of the events after ``after`` up to ``head``, as many as fit the
        budget, and whether more may follow. As many events are asked as the sizes seen so
        far say fit, so what a read holds for a moment stays near the budget too; the events
        read are let go here: only the messages are held while a client takes them."""
        if head <= after:
            return [], False
        limit = sizes.limit(self.buffer_bytes)

        async def read(database: ReadDatabase) -> list[Recorded]:
            return await read_events(
                database.engine,
                after=after,
                until=head,
                limit=limit,
                conflict=conflict,
                types=types,
            )

        # Where the log has reached ``head``: a hot standby that has replayed it, or the primary.
        page = await self.router.read(head, read)
        messages = _cut(page, self.buffer_bytes)
        sizes.saw(messages)
        return messages, len(messages) < len(page) or len(page) == limit

    def _join(self, key: _FilterKey, scanned: int) -> _Member | None:
        """A member of the filter's feed from ``scanned`` on; None when the feed has handed
        out events after ``scanned`` already (the stream must read those itself first)."""
        feed = self.feeds.get(key)
        if feed is None:
            feed = self.feeds[key] = _Feed(self, key, scanned)
        if feed.scanned > scanned:
            return None
        member = _Member(scanned, self.buffer_bytes)
        feed.members.add(member)
        if feed.task is None:
            feed.task = asyncio.create_task(feed.run(), name=f"ceasefire-feed-{key}")
        return member

    def _leave(self, key: _FilterKey, member: _Member) -> None:
        feed = self.feeds.get(key)
        if feed is not None:
            feed.members.discard(member)

    async def follow(
        self,
        after: int,
        conflict: Conflicts,
        types: Sequence[str] | None,
        heartbeat: float,
    ) -> AsyncIterator[str]:
        """The messages of every event after ``after``, then of each new one as it commits,
        and a heartbeat comment when idle for ``heartbeat`` seconds."""
        key: _FilterKey = (conflict, tuple(sorted(types)) if types else None)
        sent = after  # every event up to here was sent (or filtered out)
        last_sent = time.monotonic()
        member: _Member | None = None
        sizes = _Sizes()
        try:
            while not self.notifier.closed:
                if member is None:
                    head = await self.router.primary.heads.log()
                    messages, full = await self._read(sent, head, conflict, types, sizes)
                    for position, message in messages:
                        yield message
                        sent = position
                    if messages:
                        last_sent = time.monotonic()
                    if full:
                        continue
                    sent = max(sent, head)
                    member = self._join(key, sent)
                    continue
                idle = heartbeat - (time.monotonic() - last_sent)
                if idle <= 0:
                    yield ": heartbeat\n\n"
                    last_sent = time.monotonic()
                    continue
                if not member.queue and not member.overflowed:
                    member.woken.clear()
                    try:
                        await asyncio.wait_for(member.woken.wait(), idle)
                    except TimeoutError:
                        continue
                while member.queue:
                    position, message = member.queue.popleft()
                    member.size -= len(message)
                    yield message
                    sent = position
                    last_sent = time.monotonic()
                if member.overflowed:
                    self._leave(key, member)
                    member = None  # catch up from ``sent``: what was dropped is still in the log
        finally:
            if member is not None:
                self._leave(key, member)
