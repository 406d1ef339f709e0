"""The append service: what may be appended, decided on the conflict's state, written to the log.

How an append works, on both databases:

1. Take the conflict's state (cached in-process, keyed by the stream version it reflects).
2. ``decide``: check the domain rules and fold the new events into row changes, in Python,
   one pure function of the state, the events and the time.
3. Write the events and the projection rows in one transaction (``EventStore.write``) that
   first compare-and-sets the stream's version from the version the state reflects. If another
   writer got there first nothing is written, the state is reloaded and the append tried again
   (or, when the writer gave ``expected_version``, answered with ``ConcurrencyError``).

Idempotency: an append whose events are all stored already with the same content answers them
again (``created`` False); an id stored with other content is ``DuplicateEventError``.

The API, ``load`` and ``import`` append through this one service.
"""

from __future__ import annotations

import asyncio
import random
import weakref
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Container, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Unpack
from uuid import UUID

from events.log.store import EventStore, WriteBatch, event_row, storage_errors
from events.log.writers import Append, IdTakenError, Written
from events.model.canonical import as_sent
from events.model.decision import Placing
from events.model.decision import decide as domain_decide
from events.model.envelope import Recorded, with_position
from events.model.errors import ConcurrencyError, DomainRuleError, DuplicateEventError
from events.model.state import ConflictState, references
from events.model.types import Event, data_of
from projections.changes import Changes
from projections.fold import rows_into
from projections.inline import load_state
from projections.writer import ProjectionRows

__all__ = ["AppendResult", "Appender", "Decision", "Ingesting", "decide", "same_content"]

_MAX_ATTEMPTS = 50


@dataclass(frozen=True, slots=True)
class AppendResult:
    events: list[Recorded]
    #: False when every event was already stored with the same content (an idempotent retry).
    created: bool


@dataclass(frozen=True, slots=True)
class Decision:
    """What appending some events to a state decides: the events as they will be recorded
    (position 0 until the write places them), their row changes, and the state after them."""

    recorded: list[Recorded]
    changes: Changes
    state: ConflictState

    def append(
        self, before: ConflictState, rows: list[dict[str, Any]], keep_recorded_at: bool
    ) -> Append:
        """The write of this decision over ``before`` (its stream at ``before.version``):
        ``rows``, the recorded events' rows, and the projection rows in the same transaction.
        ``keep_recorded_at``: the recording times were chosen (an import)."""
        return Append(
            before.conflict, before.version, rows, ProjectionRows(self.changes), keep_recorded_at
        )


def decide(
    state: ConflictState, events: Sequence[Event], *, now: datetime, **placing: Unpack[Placing]
) -> Decision:
    """The domain's decision (``events.model.decision.decide``: the names made canonical unless
    the events are a log's ``history``, the rules checked, the events placed in their stream
    and folded) with the projection rows each transition makes: pure, so the live append,
    ``load``'s and ``import``'s dry runs decide alike."""
    changes = Changes()
    decided = domain_decide(state, events, now=now, observe=rows_into(changes), **placing)
    return Decision(decided.recorded, changes, decided.state)


def same_content(stored: Recorded, event: Event) -> bool:
    """Whether ``event`` is the stored event sent again: the test idempotency rests on. The
    stored event holds its actors' canonical names where the writer may have sent other
    spellings (``events.model.canonical``): compared as the writer sent them too."""
    if not (
        stored.type == event.type
        and stored.conflict == event.conflict
        and stored.occurred_at == event.occurred_at
        and stored.source == event.source
    ):
        return False
    kept, sent = data_of(stored), data_of(event)
    return kept == sent or as_sent(stored.type, kept) == as_sent(event.type, sent)


def _now() -> datetime:
    return datetime.now(UTC)


def _placed(recorded: Sequence[Recorded], written: Written) -> list[Recorded]:
    """The decided events as the write stored them: at their positions, and at the database's
    recording time where it chose one (PostgreSQL, as a role other than the log's owner; the
    projection rows it wrote carry that time too, and no state keeps a recording time)."""
    return [
        with_position(e, written.first + i, written.recorded_at) for i, e in enumerate(recorded)
    ]


class Appender:
    """Appends to the log through ``store``, keeping each conflict's state cached between
    appends (at most ``state_cache_size`` conflicts)."""

    def __init__(
        self,
        store: EventStore,
        *,
        clock: Callable[[], datetime] = _now,
        state_cache_size: int = 4096,
    ) -> None:
        self.store = store
        self._clock = clock
        self._states: OrderedDict[str, ConflictState] = OrderedDict()
        self._state_cache_size = state_cache_size
        # Appends to one conflict from this process queue here instead of racing each other's
        # compare-and-set (and retrying). One lock per conflict with an append under way, held
        # weakly: it lives while a task holds or waits for it, so the memory is that of the
        # appends in flight. (Locks striped by hash made two conflicts whose hashes met queue
        # behind each other: the later one missed its group's commit, and with eight writers a
        # third of runs wrote 2 transactions per 7 appends instead of 1 per 8.)
        self._conflict_locks: weakref.WeakValueDictionary[str, asyncio.Lock] = (
            weakref.WeakValueDictionary()
        )

    def now(self) -> datetime:
        """This process's clock, as it records appends (injected in tests)."""
        return self._clock()

    async def append(
        self,
        events: Sequence[Event],
        *,
        expected_version: int | None = None,
        recorded_at: Sequence[datetime] | None = None,
        key_id: str | None = None,
    ) -> AppendResult:
        """Append events to one conflict's stream, atomically: all of them or none.

        ``expected_version`` is the version the writer last saw (0 for a new conflict); when
        given and the stream has moved on, ``ConcurrencyError``. ``recorded_at`` keeps the
        recording times of a log the events come from: only the database role that owns the
        log may (``RecordingTimeRefusedError``); without it, the events are recorded now, by
        this process's clock or, on PostgreSQL as any other role, by the database's.
        ``key_id``: the id of the API key appending (``events.log.audit``), recorded with every
        event.
        """
        if not events:
            raise ValueError("append needs at least one event")
        conflict = events[0].conflict
        if any(e.conflict != conflict for e in events):
            raise DomainRuleError(
                "one-conflict-per-append", "all events of one append must share a conflict"
            )
        if len({e.id for e in events}) != len(events):
            raise DomainRuleError("duplicate-id-in-batch", "event ids in one append must differ")
        if recorded_at is not None and len(recorded_at) != len(events):
            raise ValueError("recorded_at must give one time per event")

        lock = self._conflict_locks.get(conflict)
        if lock is None:
            lock = self._conflict_locks[conflict] = asyncio.Lock()
        async with lock:
            return await self._append(conflict, events, expected_version, recorded_at, key_id)

    async def _append(
        self,
        conflict: str,
        events: Sequence[Event],
        expected_version: int | None,
        recorded_at: Sequence[datetime] | None,
        key_id: str | None,
    ) -> AppendResult:
        state: ConflictState | None = None
        with storage_errors():
            for attempt in range(_MAX_ATTEMPTS):
                fresh = attempt > 0
                state = await self._state(conflict, fresh=fresh)
                if expected_version is not None and expected_version != state.version:
                    if not fresh:
                        continue  # the cache may be stale: look again before refusing
                    replay = await self.replayed(events)
                    if replay is not None:
                        return replay
                    raise ConcurrencyError(conflict, expected_version, state.version)
                try:
                    decision = decide(
                        state,
                        events,
                        now=self._clock(),
                        recorded_at=recorded_at,
                        referenced=await self.referenced(state, events),
                    )
                except DomainRuleError:
                    replay = await self.replayed(events)
                    if replay is not None:
                        return replay
                    if not fresh:
                        continue
                    raise
                rows = [event_row(e, key_id) for e in decision.recorded]
                try:
                    written = await self.store.write(
                        decision.append(state, rows, recorded_at is not None)
                    )
                except IdTakenError:
                    replay = await self.replayed(events)
                    if replay is not None:
                        return replay
                    # Another writer stored one of these ids between our look and our write.
                    self._forget(conflict)
                    continue
                if written is None:
                    self._forget(conflict)
                    if attempt > 2:
                        await asyncio.sleep(random.uniform(0, 0.002 * attempt))
                    continue
                self._remember(decision.state)
                return AppendResult(_placed(decision.recorded, written), True)
        # Other processes kept winning the compare-and-set for this conflict.
        current = state.version if state is not None else 0
        raise ConcurrencyError(conflict, current, current + 1)

    async def referenced(
        self, state: ConflictState, events: Sequence[Event]
    ) -> dict[UUID, Recorded]:
        """The stored events that retractions and corrections in ``events`` name (and their
        latest corrections), in one query; none for an append of other events."""
        ids = {i for e in events for i in references(state, e)} - {e.id for e in events}
        return await self.store.stored_events(ids) if ids else {}

    async def replayed(self, events: Sequence[Event]) -> AppendResult | None:
        """The stored events when every one of ``events`` is stored already with the same
        content (an idempotent retry); ``DuplicateEventError`` when any id is stored with other
        content; None when none is stored."""
        stored = await self.store.stored_events([e.id for e in events])
        if not stored:
            return None
        for event in events:
            previous = stored.get(event.id)
            if previous is None or not same_content(previous, event):
                first_stored = min(stored.values(), key=lambda e: e.position)
                raise DuplicateEventError(str(event.id if previous else first_stored.id))
        return AppendResult([stored[e.id] for e in events], False)

    @asynccontextmanager
    async def ingesting(
        self, keep: Container[UUID] = (), *, history: bool = False
    ) -> AsyncIterator[Ingesting]:
        """Appends (``Ingesting.append``) in one transaction (``EventStore.batch``): all of them
        or none, whatever other writers do meanwhile. ``keep``: the ids of events of the batch
        that later ones of it may name (a retraction, a correction), the only ones it keeps.
        ``history``: the events are a log's history, recorded as they are (see ``decide``)."""
        ingesting = Ingesting(self, keep, history=history)
        try:
            async with self.store.batch() as batch:
                ingesting.batch = batch
                yield ingesting
        finally:
            for conflict in ingesting.states:
                self._forget(conflict)

    # -- the state cache ---------------------------------------------------------------------

    async def current_state(self, conflict: str) -> ConflictState:
        """The conflict's state as stored now (for dry runs; appends use the cache)."""
        with storage_errors():
            return await self._state(conflict, fresh=True)

    async def _state(self, conflict: str, *, fresh: bool) -> ConflictState:
        if not fresh and conflict in self._states:
            self._states.move_to_end(conflict)
            return self._states[conflict]
        async with self.store.engine.connect() as conn:
            state = await load_state(conn, conflict)
        self._remember(state)
        return state

    def _remember(self, state: ConflictState) -> None:
        self._states[state.conflict] = state
        self._states.move_to_end(state.conflict)
        while len(self._states) > self._state_cache_size:
            self._states.popitem(last=False)

    def _forget(self, conflict: str) -> None:
        self._states.pop(conflict, None)

    def forget_all(self) -> None:
        """Drop every cached state; after a projection swap, say."""
        self._states.clear()


class Ingesting:
    """The appends of ``Appender.ingesting``, each decided on the state the ones before it left
    (the states are read once per conflict, under the batch's write lock)."""

    def __init__(self, appender: Appender, keep: Container[UUID], *, history: bool = False) -> None:
        self.appender = appender
        self.history = history
        self.batch: WriteBatch | None = None
        self.states: dict[str, ConflictState] = {}
        self._keep = keep
        self._kept: dict[UUID, Recorded] = {}

    async def append(
        self,
        events: Sequence[Event],
        recorded_at: Sequence[datetime] | None,
        key_ids: Sequence[str | None],
    ) -> list[Recorded]:
        """Append events of one conflict, each recorded with its ``key_ids`` entry (the key
        that appends it, or for an import the one its export records); ``DomainRuleError`` for
        a rule broken, and ``ConcurrencyError`` when another writer moved the stream first:
        either way the batch writes nothing."""
        assert self.batch is not None
        if len(key_ids) != len(events):
            raise ValueError("key_ids must give one key id per event")
        conflict = events[0].conflict
        if any(e.conflict != conflict for e in events):
            raise DomainRuleError(
                "one-conflict-per-append", "all events of one append must share a conflict"
            )
        state = self.states.get(conflict) or await self.appender.current_state(conflict)
        named = {i for e in events for i in references(state, e)} - {e.id for e in events}
        referenced = {i: self._kept[i] for i in named if i in self._kept}
        if len(referenced) < len(named):
            referenced.update(await self.appender.store.stored_events(named - referenced.keys()))
        decision = decide(
            state,
            events,
            now=self.appender._clock(),
            recorded_at=recorded_at,
            referenced=referenced,
            history=self.history,
        )
        rows = [event_row(e, k) for e, k in zip(decision.recorded, key_ids, strict=True)]
        written = await self.batch.write(decision.append(state, rows, recorded_at is not None))
        if written is None:
            raise ConcurrencyError(conflict, state.version, state.version + 1)
        self.states[conflict] = decision.state
        stored = _placed(decision.recorded, written)
        self._kept.update((e.id, e) for e in stored if e.id in self._keep)
        return stored
