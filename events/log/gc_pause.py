"""Pausing the cyclic garbage collector over CPU-bound stretches: a replay's, and the decoding
of a page of events (``events.log.store.decode_rows``).

Folding a batch allocates tens of thousands of small containers (event models, their data,
row dicts) that live until the batch is written. Each allocation counts towards the cyclic
collector's next run, and what survives is promoted and traversed again by the older
generations: measured on a 100k-event replay, the collector took about a third of the time.
None of these objects is part of a cycle (reference counting frees them), so the collector
finds nothing to collect in them.

``gc_paused`` turns the collector off for one synchronous stretch (no ``await`` inside, so no
other task of the process runs while it is off) and back on after, if it was on before.

Turned back on, the collector finds the young generation far over its threshold and traverses
everything the stretch left alive (the batch's events, rows or statements, still to be
written): once in the youngest generation, again in the middle one, about a tenth of a
replay's time in all. So a replay's stretches (``promote=True``) end by moving every tracked
object to the oldest generation, with the ``gc`` module's public ``freeze`` and ``unfreeze``
(together: frozen, then straight back into the oldest generation; nothing stays frozen). The
young generations start empty, and what the batch made is traversed only by the next full
collection. bench/replay.py, 100k events on SQLite, runs interleaved: 19,919 -> 21,705 events/s
(1.09x), peak RSS the same (170 MB).

Only a replay promotes, because a replay ends. What is moved that way does not count towards
the next full collection (only survivors of the middle generation do), and it is everything
young in the process, other requests' cyclic garbage included (an exception caught with its
traceback, say). Page reads (``events.log.store.decode_rows``) come as often as clients ask:
promoting at each one lifted that garbage past the young collections that would have freed it,
to wait for a full collection that nothing then hastens. In the worst case, a pause every 50
allocations, 300,000 cycles were made and all kept, with no full collection; with a plain
pause, at most a few hundred. (A real server, 6,000 rounds of a feed page and two refused
requests, kept its RSS flat either way.) So page reads pause without promoting: 20,000 SQLite
events read in pages, 58k events/s promoting, 56k plain, 47k not paused.

Process-wide, as the collector is: a host that froze objects of its own with ``gc.freeze``
(before forking workers) would see them unfrozen by a replay; ``ceasefire serve`` and
``ceasefire replay`` freeze nothing.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["gc_paused"]


@contextmanager
def gc_paused(*, promote: bool = False) -> Iterator[None]:
    """The cyclic collector off inside the block (reference counting goes on as always).
    ``promote``: what the block leaves alive is moved to the oldest generation after it; only
    for a stretch of something that ends, a replay's (see the module)."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        if promote:
            gc.freeze()
            gc.unfreeze()
        gc.enable()
