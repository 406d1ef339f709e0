"""The representations of recent reads, by what was asked: a cache bounded in bytes
(``CEASEFIRE_REPRESENTATION_CACHE_BYTES``), checked against the head on every request, so a
body it hands out is never older than the head the request saw; equal computations in flight
are shared."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from datetime import datetime

from app.reads.entity_tags import Representation

__all__ = ["RepresentationCache"]


class RepresentationCache:
    """Recent representations by what was asked, at most ``max_bytes`` of bodies in all (the
    least recently used go first; a body larger than the whole budget is not kept); equal
    computations in flight shared."""

    def __init__(self, max_bytes: int) -> None:
        self._max_bytes = max_bytes
        self._bytes = 0
        self._entries: OrderedDict[Hashable, Representation] = OrderedDict()
        self._flights: dict[Hashable, asyncio.Future[Representation]] = {}

    @property
    def bytes(self) -> int:
        """The size of the bodies kept."""
        return self._bytes

    async def get(
        self,
        key: Hashable,
        head: int,
        now: datetime,
        compute: Callable[[], Awaitable[Representation]],
    ) -> Representation:
        """A representation reflecting ``head`` or later, current at ``now``."""
        entry = self._entries.get(key)
        if entry is not None and _fresh(entry, head, now):
            self._entries.move_to_end(key)
            return entry
        flight = self._flights.get(key)
        if flight is not None:
            shared = await asyncio.shield(flight)
            if _fresh(shared, head, now):
                return shared
        return await self._compute(key, compute)

    async def _compute(
        self, key: Hashable, compute: Callable[[], Awaitable[Representation]]
    ) -> Representation:
        flight: asyncio.Future[Representation] = asyncio.get_running_loop().create_future()
        self._flights[key] = flight
        try:
            representation = await compute()
        except BaseException as error:
            flight.set_exception(error)
            flight.exception()  # retrieved: joiners re-raise it; nobody else must log it
            raise
        finally:
            if self._flights.get(key) is flight:
                del self._flights[key]
        flight.set_result(representation)
        self._keep(key, representation)
        return representation

    def _keep(self, key: Hashable, representation: Representation) -> None:
        old = self._entries.pop(key, None)
        if old is not None:
            self._bytes -= len(old.body)
        size = len(representation.body)
        if size > self._max_bytes:
            return
        self._entries[key] = representation
        self._bytes += size
        while self._bytes > self._max_bytes:
            _, dropped = self._entries.popitem(last=False)
            self._bytes -= len(dropped.body)


def _fresh(representation: Representation, head: int, now: datetime) -> bool:
    validator = representation.validator
    return validator.position >= head and (validator.until is None or now < validator.until)
