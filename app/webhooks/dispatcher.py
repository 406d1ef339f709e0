"""The dispatcher: turns the log, in order, into deliveries. Never skips an event.

Why a checkpointed dispatcher and not an outbox written by the append: the append stays one
round trip that knows nothing of webhooks (on PostgreSQL one call of ``ceasefire_append``), and
nothing is lost when the process dies right after an append commits, because the dispatcher
does not rely on being told. It pages the global feed from its own checkpoint, which never
skips an event (positions commit in order), and in ONE transaction inserts the deliveries of a
page and moves the checkpoint past it. Die before that commit and the page is done again; die
after and it is done. The checkpoint moves only with the deliveries.

Several dispatchers (``ceasefire serve`` and each ``ceasefire worker``) may run at once: the
transaction compares-and-sets the checkpoint, so exactly one of them does each page. With no
subscription at all the dispatcher reads nothing and writes nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import datetime

from app.webhooks.queue import dispatch_batch, first_wanted, read_checkpoint
from app.webhooks.subscriptions import write_transaction
from events.log.store import EventStore, storage_errors

__all__ = ["dispatch_once", "dispatch_pending"]


async def dispatch_once(
    store: EventStore, *, batch: int, now: datetime, lock: asyncio.Lock | None = None
) -> tuple[int, int]:
    """Dispatch one page of the log after the checkpoint: ``(events, deliveries)`` done, or
    ``(0, 0)`` when caught up or when another dispatcher took this page. ``lock`` is held
    around the write (the worker's one-writer lock)."""
    with storage_errors():
        async with store.engine.connect() as conn:
            after = await read_checkpoint(conn)
            start = await first_wanted(conn, after)
    if start is None:
        return 0, 0
    page = await store.read_all(after=start, limit=batch)
    if not page:
        return 0, 0
    with storage_errors():
        async with lock or contextlib.nullcontext(), write_transaction(store.engine) as conn:
            made = await dispatch_batch(conn, page, after=after, now=now)
    if made is None:
        return 0, 0
    return len(page), made


async def dispatch_pending(
    store: EventStore,
    *,
    batch: int,
    clock: Callable[[], datetime],
    lock: asyncio.Lock | None = None,
) -> tuple[int, int]:
    """Dispatch until caught up with the log: ``(events, deliveries)`` in all."""
    events = deliveries = 0
    while True:
        done, made = await dispatch_once(store, batch=batch, now=clock(), lock=lock)
        if not done:
            return events, deliveries
        events += done
        deliveries += made
