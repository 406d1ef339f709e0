"""Folding a batch of recorded events, fetching the earlier events they name first.

A retraction or a correction names an earlier event, and the fold reads it (with its latest
correction) through a lookup. ``fold_batch`` is what every caller that folds stored events in
batches uses (the replay, a rebuild into scratch tables): it asks ``fetch`` once per batch for
the named events that are not in the batch itself, then folds the batch in order, each event
able to see the ones before it. Batching never changes the result: whatever the split, each
event is folded over the same state with the same lookups.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Mapping, MutableMapping, Sequence
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from events.envelope import Recorded
from events.state import ConflictState, references
from events.tables import events as events_table
from projections.changes import Changes
from projections.fold import apply

__all__ = ["Fetch", "fold_batch", "stored_events"]

#: Fetches stored events by id (missing ids are simply absent from the answer).
Fetch = Callable[[Collection[UUID]], Awaitable[Mapping[UUID, Recorded]]]


async def fold_batch(
    states: MutableMapping[str, ConflictState], batch: Sequence[Recorded], fetch: Fetch
) -> Changes:
    """Fold ``batch`` (in position order) over ``states``, updated in place; the row changes."""
    in_batch = {event.id for event in batch}
    wanted: set[UUID] = set()
    for event in batch:
        state = states.get(event.conflict) or ConflictState(event.conflict)
        wanted.update(references(state, event))
    wanted -= in_batch
    seen: dict[UUID, Recorded] = dict(await fetch(wanted)) if wanted else {}
    changes = Changes()
    for event in batch:
        state = states.get(event.conflict) or ConflictState(event.conflict)
        states[event.conflict], more = apply(state, event, seen.get)
        changes.merge(more)
        seen[event.id] = event
    return changes


async def stored_events(conn: AsyncConnection, ids: Collection[UUID]) -> dict[UUID, Recorded]:
    """The events with these ids, from the log (one query)."""
    from events.store import decode_row  # the store imports the fold: import it late

    rows = await conn.execute(select(events_table).where(events_table.c.id.in_(list(ids))))
    return {row.id: decode_row(row) for row in rows}
