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

Turned back on, the collector would find the young generation far over its threshold and
traverse everything the stretch left alive (the batch's events, rows or statements, still to
be written): once in the youngest generation, again in the middle one, about a tenth of a
replay's time in all. So the stretch ends by moving every tracked object to the oldest
generation, with the ``gc`` module's public ``freeze`` and ``unfreeze`` (together: frozen, then
straight back into the oldest generation; nothing stays frozen). The young generations start
empty, and what the batch made is traversed only by the next full collection, by which time
reference counting has freed nearly all of it. Anything cyclic made meanwhile is collected
then too. bench/replay.py, 100k events on SQLite, runs interleaved: 19,919 -> 21,705 events/s
(1.09x), peak RSS the same (170 MB). Process-wide, as the collector is: a host that froze
objects of its own with ``gc.freeze`` (before forking workers) would see them unfrozen;
``ceasefire serve`` and ``ceasefire replay`` freeze nothing.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["gc_paused"]


@contextmanager
def gc_paused() -> Iterator[None]:
    """The cyclic collector off inside the block (reference counting goes on as always); what
    the block leaves alive moved to the oldest generation after it."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.unfreeze()
        gc.enable()
