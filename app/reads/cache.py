"""The representations of recent reads, by what was asked: a cache bounded in bytes
(``CEASEFIRE_REPRESENTATION_CACHE_BYTES``), checked against the head on every request, so a
body it hands out is never older than the head the request saw; equal computations in flight
are shared.

The bound is on what an entry really holds, not on its body alone (a 2-byte body costs about
half a kilobyte once its key, validator and slot are counted, so a cap on bodies alone let a
32 MiB cache hold gigabytes of tiny entries): ``footprint`` sizes the key, the body, the
headers and the objects around them with ``sys.getsizeof`` and adds ``ENTRY_OVERHEAD`` for the
slot in the cache's table. Objects shared between entries (a literal in the key, ``None``) are
counted in each, so the estimate errs high.

Why not ``cachetools.LRUCache(getsizeof=…)`` (issue 20): measured against this one on the
same path by ``bench/lru.py`` (a hit through ``get``; a put that evicts, ``footprint``
included in both; CPython 3.11, cachetools 8.0.2, best of 15 rounds of 100,000 on the shared
2-core machine), it was slower on both: 770-829 ns against 662-667 ns per get, 3.8-5.8 µs
against 3.4-3.7 µs per put; and it keeps three tables per entry to our one.
"""

from __future__ import annotations

import asyncio
import sys
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from datetime import datetime

from app.reads.entity_tags import Representation

__all__ = ["ENTRY_OVERHEAD", "RepresentationCache", "footprint"]

#: What keeping an entry costs besides the objects ``footprint`` sizes: its slot in the
#: ``OrderedDict`` (hash table entry and index, the order's link node) and the pair that holds
#: the representation with its footprint. Measured once with ``tracemalloc`` on CPython 3.11,
#: 64-bit: the slot 75 to 116 bytes depending on where the table is in its growth, the pair 88
#: (a 2-tuple and an int); counted as 224 to cover the allocator's rounding besides.
ENTRY_OVERHEAD = 224


def footprint(key: Hashable, representation: Representation) -> int:
    """The bytes an entry holds, estimated from above: the key (a tuple and its items), the
    representation, its body, validator, media type and headers, and ``ENTRY_OVERHEAD``."""
    size = ENTRY_OVERHEAD + _sizeof(key)
    size += sys.getsizeof(representation) + sys.getsizeof(representation.body)
    size += sys.getsizeof(representation.media_type) + _sizeof(representation.headers)
    validator = representation.validator
    size += sys.getsizeof(validator) + sys.getsizeof(validator.until)
    return size


def _sizeof(value: object) -> int:
    """``value`` with the items of a tuple, and of tuples in it (keys and headers are tuples
    of strings, numbers, instants and ``None``)."""
    if isinstance(value, tuple):
        return sys.getsizeof(value) + sum(_sizeof(item) for item in value)
    return sys.getsizeof(value)


class RepresentationCache:
    """Recent representations by what was asked, at most ``max_bytes`` in all as
    ``footprint`` counts them (the least recently used go first; an entry larger than the
    whole budget is not kept); equal computations in flight shared."""

    def __init__(self, max_bytes: int) -> None:
        self._max_bytes = max_bytes
        self._bytes = 0
        #: Each entry with its footprint, counted once when kept.
        self._entries: OrderedDict[Hashable, tuple[Representation, int]] = OrderedDict()
        self._flights: dict[Hashable, asyncio.Future[Representation]] = {}

    @property
    def bytes(self) -> int:
        """What the entries kept hold, as ``footprint`` counts it."""
        return self._bytes

    def __len__(self) -> int:
        return len(self._entries)

    async def get(
        self,
        key: Hashable,
        head: int,
        now: datetime,
        compute: Callable[[], Awaitable[Representation]],
    ) -> Representation:
        """A representation reflecting ``head`` or later, current at ``now``."""
        entry = self._entries.get(key)
        if entry is not None and _fresh(entry[0], head, now):
            self._entries.move_to_end(key)
            return entry[0]
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
            self._bytes -= old[1]
        size = footprint(key, representation)
        if size > self._max_bytes:
            return
        self._entries[key] = (representation, size)
        self._bytes += size
        while self._bytes > self._max_bytes:
            _, (_dropped, dropped_size) = self._entries.popitem(last=False)
            self._bytes -= dropped_size


def _fresh(representation: Representation, head: int, now: datetime) -> bool:
    validator = representation.validator
    return validator.position >= head and (validator.until is None or now < validator.until)
