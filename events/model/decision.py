"""The append decision: what an append asks of the domain.

``decide`` checks each event (``events.model.rules.check``) against the state the ones before
it leave, given its place in the stream, and folds it (``events.model.evolve.evolve``). What
the read models derive from each transition (the projection rows) is not the domain's: a caller
that wants it passes an ``Observer``, which ``decide`` calls with the state before and after
each event. Apart from ``evolve`` because the transition is pure folding, while deciding also
checks, canonicalises names and places each event in the stream.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TypedDict
from uuid import UUID

from events.model.canonical import canonical
from events.model.envelope import Recorded, to_recorded
from events.model.errors import UnknownActorError
from events.model.evolve import evolve
from events.model.rules import check
from events.model.state import ConflictState, Lookup
from events.model.types import SCHEMA_VERSIONS, Event

__all__ = [
    "Decided",
    "Observer",
    "Placing",
    "decide",
]


class Placing(TypedDict, total=False):
    """What ``decide`` is told of the events besides the time, as a caller that adds to it
    passes it through (``app.services.appending.decide``); each as ``decide`` says."""

    recorded_at: Sequence[datetime] | None
    referenced: Mapping[UUID, Recorded] | None
    history: bool


#: Told of each transition ``decide`` makes: (state before, the event, state after, lookup).
Observer = Callable[[ConflictState, Recorded, ConflictState, Lookup], None]


@dataclass(frozen=True, slots=True)
class Decided:
    """The events as they will be recorded (position 0 until the write places them) and the
    state after them."""

    recorded: list[Recorded]
    state: ConflictState


def decide(
    state: ConflictState,
    events: Sequence[Event],
    *,
    now: datetime,
    recorded_at: Sequence[datetime] | None = None,
    referenced: Mapping[UUID, Recorded] | None = None,
    observe: Observer | None = None,
    history: bool = False,
) -> Decided:
    """Check each event against the state the ones before it leave, and fold it: pure, so the
    live append, ``load``'s and ``import``'s dry runs decide alike. ``referenced`` must hold
    what ``references`` names for these events (stored events they retract or correct);
    ``DomainRuleError`` names the first rule broken.

    New events first have every name they give made their actor's canonical name
    (``events.model.canonical``). ``history``: the events are a log's history (an import),
    recorded as they were: not canonicalised, so their hashes hold and old events naming no
    actor still go in."""
    recorded: list[Recorded] = []
    # What the fold may look up: the stored events this append names, then each event of
    # the append once it is recorded (never a later one: a target must come first).
    seen = dict(referenced or {})
    lookup = seen.get
    for i, event in enumerate(events):
        if not history:
            try:
                event = canonical(state, event)
            except UnknownActorError:
                check(state, event, lookup)  # a rule broken whatever the name says first
                raise
        check(state, event, lookup)
        record = to_recorded(
            event,
            version=state.version + 1,
            position=0,  # known only once the write has taken its place in the log
            recorded_at=recorded_at[i] if recorded_at is not None else now,
            schema_version=SCHEMA_VERSIONS[event.type],
        )
        after = evolve(state, record, lookup)
        if observe is not None:
            observe(state, record, after, lookup)
        state = after
        recorded.append(record)
        seen[record.id] = record
    return Decided(recorded, state)
