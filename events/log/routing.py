"""Where a read goes: the primary, or a hot standby that has replayed the log far enough.

With ``CEASEFIRE_READ_DATABASE_URL`` naming PostgreSQL hot standbys, views, the feed, streams
and long-polls read from a standby (in turn, one after the other); appends, admin, webhook
bookkeeping and key lookups stay on the primary (they never come here).

A standby replays the primary's WAL in commit order, so a snapshot on it sees a prefix of the
log: a reader that pages the feed on a standby may see less than the primary, never a gap.
What a standby does not give is read-your-writes, so a read that names the log position it
needs (``min_position``, the position an append answered, or the position of the ETag a client
holds, or of the notification that woke a long-poll) goes to a database whose log head has
reached it: the standby, polled briefly (``catch_up``) while it replays, else the primary. A
position the primary has not reached either (after the same brief wait) is
``PositionNotReachedError``, never an answer that does not reflect it.

A standby that fails (stopped, unreachable) is left alone for ``retry`` seconds: its reads go
to the primary meanwhile, then it is tried again.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncEngine

from events.log.heads import Heads
from events.model.errors import PositionNotReachedError, StorageUnavailableError

__all__ = ["ReadDatabase", "ReadRouter"]

T = TypeVar("T")

#: How often a database's log head is looked at while a read waits for it to reach a position.
POLL_SECONDS = 0.005


@dataclass(eq=False)
class ReadDatabase:
    """One database reads can go to, with its own head lookups."""

    engine: AsyncEngine
    heads: Heads
    is_primary: bool
    #: A failed standby is not tried again before this (``time.monotonic()``).
    down_until: float = field(default=0.0)

    async def close(self) -> None:
        await self.heads.close()
        if not self.is_primary:  # the primary's engine belongs to the store
            await self.engine.dispose()


class ReadRouter:
    def __init__(
        self,
        primary: ReadDatabase,
        replicas: Sequence[ReadDatabase] = (),
        *,
        catch_up: float = 1.0,
        retry: float = 5.0,
    ) -> None:
        self.primary = primary
        self.replicas = list(replicas)
        self._catch_up = catch_up
        self._retry = retry
        self._turn = 0

    async def choose(
        self, position: int | None = None, *, strict: bool = True
    ) -> tuple[ReadDatabase, int | None]:
        """A database whose log has reached ``position`` (any database when None), with the
        log head seen there (None when no position was asked). A standby first; when none is
        up or none gets there within ``catch_up``, the primary. ``strict``: when the primary has
        not reached it either, ``PositionNotReachedError``; otherwise the primary as it is."""
        replica = self._next_replica()
        if replica is not None:
            if position is None:
                return replica, None
            try:
                head = await self._reached(replica, position)
            except StorageUnavailableError:
                self.failed(replica)
            else:
                if head is not None:
                    return replica, head
        if position is None:
            return self.primary, None
        head = await self._reached(self.primary, position)
        if head is not None:
            return self.primary, head
        if strict:
            raise PositionNotReachedError(position, await self.primary.heads.log())
        return self.primary, None

    async def read(self, position: int | None, read: Callable[[ReadDatabase], Awaitable[T]]) -> T:
        """``read`` on a database chosen as ``choose`` does; when a standby fails under it, again
        on the primary."""
        database, _ = await self.choose(position)
        try:
            return await read(database)
        except StorageUnavailableError:
            if database.is_primary:
                raise
            self.failed(database)
        return await read(self.primary)

    def failed(self, database: ReadDatabase) -> None:
        """A standby could not be read: leave it alone for a while."""
        if not database.is_primary:
            database.down_until = time.monotonic() + self._retry

    def _next_replica(self) -> ReadDatabase | None:
        now = time.monotonic()
        for _ in range(len(self.replicas)):
            replica = self.replicas[self._turn % len(self.replicas)]
            self._turn += 1
            if replica.down_until <= now:
                return replica
        return None

    async def _reached(self, database: ReadDatabase, position: int) -> int | None:
        """The database's log head once it is at ``position`` or later, looked at until
        ``catch_up`` has passed; None if it did not get there."""
        deadline = time.monotonic() + self._catch_up
        while True:
            head = await database.heads.log()
            if head >= position:
                return head
            if time.monotonic() >= deadline:
                return None
            await asyncio.sleep(POLL_SECONDS)

    async def close(self) -> None:
        for database in (self.primary, *self.replicas):
            await database.close()
