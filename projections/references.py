"""Folding a batch of recorded events, fetching the earlier events they name first.

A retraction or a correction names an earlier event, and the fold reads it (with its latest
correction) through a lookup. ``fold_batch`` is what every caller that folds stored events in
batches uses (the replay and verification, through ``projections.runner.Replayer``): it asks
``fetch`` once per batch for the named events that are not in the batch itself, then folds the
batch in order, each event able to see the ones before it. Batching never changes the result:
whatever the split, each event is folded over the same state with the same lookups.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Mapping, MutableMapping, Sequence
from uuid import UUID

from events.log.gc_pause import gc_paused
from events.model.envelope import Recorded
from events.model.state import NAMING_TYPES, ConflictState, references
from projections.changes import Changes
from projections.fold import apply

__all__ = ["Fetch", "fold_batch"]

#: Fetches stored events by id (missing ids are simply absent from the answer).
Fetch = Callable[[Collection[UUID]], Awaitable[Mapping[UUID, Recorded]]]


async def fold_batch(
    states: MutableMapping[str, ConflictState], batch: Sequence[Recorded], fetch: Fetch
) -> Changes:
    """Fold ``batch`` (in position order) over ``states``, updated in place; the row changes.

    Every event is folded straight into the batch's changes (``apply(into=)``) rather than into
    changes of its own that are then merged: the same result, without two objects per event.
    The synchronous stretches run with the cyclic collector paused (``gc_paused`` says why)."""
    wanted: set[UUID] = set()
    with gc_paused(promote=True):
        for event in batch:
            if event.type in NAMING_TYPES:  # the others name nothing
                state = states.get(event.conflict) or ConflictState(event.conflict)
                wanted.update(references(state, event))
        wanted.difference_update(event.id for event in batch)
    seen: dict[UUID, Recorded] = dict(await fetch(wanted)) if wanted else {}
    changes = Changes()
    with gc_paused(promote=True):
        lookup = seen.get
        for event in batch:
            conflict = event.conflict
            state = states.get(conflict) or ConflictState(conflict)
            states[conflict], _ = apply(state, event, lookup, into=changes)
            seen[event.id] = event
    return changes
