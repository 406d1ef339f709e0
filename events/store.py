"""The event store: append with optimistic concurrency and idempotency, read in global order.

How an append works, on both databases:

1. Take the conflict's state (cached in-process, keyed by the stream version it reflects).
2. Check the domain rules and fold the new events into row changes, in Python.
3. Write everything in one transaction that first compare-and-sets the stream's version from
   the version the state reflects. If another writer got there first nothing is written, the
   state is reloaded and the append tried again (or, when the writer gave ``expected_version``,
   answered with ``ConcurrencyError``).

Global order: every append locks the single ``log_head`` row, takes its positions from it and
releases it only at commit, so positions commit in position order. A reader paging
``after=position`` therefore never sees position N+1 before N is visible: nothing is skipped.
On PostgreSQL the whole write is one call of the ``ceasefire_append`` function (one round trip,
one implicit transaction); on SQLite it is one ``BEGIN IMMEDIATE`` transaction on a raw
``sqlite3`` connection (``events.writers``).
"""

from __future__ import annotations

import asyncio
import functools
import json
import random
import sqlite3
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Row, select
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from events.database import dialect_of
from events.envelope import (
    Recorded,
    canonical_json,
    content_hash,
    recorded_adapter,
    to_recorded,
    with_position,
)
from events.errors import (
    ConcurrencyError,
    DomainRuleError,
    DuplicateEventError,
    StorageUnavailableError,
)
from events.rules import check
from events.state import ConflictState, references
from events.tables import events as events_table
from events.tables import log_head, streams
from events.types import SCHEMA_VERSIONS, Event, Source, data_of
from events.upcasting import upcast
from events.writers import IdTakenError, PostgresWriter, SqliteWriter, Writer
from projections.changes import Changes
from projections.fold import apply
from projections.inline import CHECKPOINT, load_state

__all__ = ["AppendResult", "EventStore", "decode_row", "read_events", "storage_errors"]

_MAX_ATTEMPTS = 50


@dataclass(frozen=True, slots=True)
class AppendResult:
    events: list[Recorded]
    #: False when every event was already stored with the same content (an idempotent retry).
    created: bool


def _now() -> datetime:
    return datetime.now(UTC)


def decode_row(row: Row[Any] | Any) -> Recorded:
    """One ``events`` row as the current event model, upcast from its stored schema version."""
    return recorded_adapter.validate_python(
        {
            "id": row.id,
            "type": row.type,
            "conflict": row.conflict,
            "occurred_at": row.occurred_at,
            "source": json.loads(row.source),
            "data": upcast(row.type, row.schema_version, json.loads(row.data)),
            "version": row.version,
            "position": row.position,
            "recorded_at": row.recorded_at,
            "schema_version": SCHEMA_VERSIONS.get(row.type, row.schema_version),
        }
    )


async def read_events(
    engine: AsyncEngine,
    *,
    after: int = 0,
    limit: int = 1000,
    conflict: str | None = None,
    types: Sequence[str] | None = None,
    until: int | None = None,
) -> list[Recorded]:
    """``EventStore.read_all`` on any database holding the log: the primary or a hot standby
    (``events.routing``)."""
    statement = select(events_table).where(events_table.c.position > after)
    if until is not None:
        statement = statement.where(events_table.c.position <= until)
    if conflict is not None:
        statement = statement.where(events_table.c.conflict == conflict)
    if types:
        statement = statement.where(events_table.c.type.in_(list(types)))
    statement = statement.order_by(events_table.c.position).limit(limit)
    with storage_errors():
        async with engine.connect() as conn:
            return [decode_row(r) for r in await conn.execute(statement)]


@contextmanager
def storage_errors() -> Iterator[None]:
    """Connection-level failures become ``StorageUnavailableError``: callers never see a
    driver exception, and the API answers 503 rather than 500."""
    try:
        yield
    except (OperationalError, InterfaceError, OSError, sqlite3.OperationalError) as exc:
        raise StorageUnavailableError("the database is not reachable") from exc
    except DBAPIError as exc:
        if not (exc.connection_invalidated or _server_gone(exc.orig)):
            raise
        raise StorageUnavailableError("the database is not reachable") from exc


#: SQLSTATEs of a server going away: class 08 (connection exception), and an administrator's
#: shutdown (a restart), a crash shutdown, "the database system is starting up".
_GONE_STATES = ("08", "57P01", "57P02", "57P03")


def _server_gone(error: BaseException | None) -> bool:
    """Whether a driver error (SQLAlchemy's, or what it wraps) says the server went away or the
    connection broke under it. SQLAlchemy's asyncpg adapter reports a restart's "terminating
    connection due to administrator command", and a connection the outage left mid-operation,
    as plain ``DBAPIError``/``InternalError``, not as ``OperationalError``."""
    import asyncpg  # only on this error path: a SQLite service never gets here

    seen = 0
    while error is not None and seen < 5:
        state = getattr(error, "sqlstate", None) or getattr(error, "pgcode", None)
        if isinstance(state, str) and state.startswith(_GONE_STATES):
            return True
        if isinstance(
            error,
            OSError
            | asyncpg.PostgresConnectionError
            | asyncpg.OperatorInterventionError
            | asyncpg.InternalClientError,
        ):
            return True
        error, seen = error.__cause__, seen + 1
    return False


class EventStore:
    def __init__(
        self,
        engine: AsyncEngine,
        *,
        clock: Callable[[], datetime] = _now,
        state_cache_size: int = 4096,
        sqlite_synchronous: str = "NORMAL",
    ) -> None:
        self.engine = engine
        self.dialect = dialect_of(engine)
        self._clock = clock
        self._states: OrderedDict[str, ConflictState] = OrderedDict()
        self._state_cache_size = state_cache_size
        self._writer: Writer
        if self.dialect == "postgresql":
            self._writer = PostgresWriter(engine, CHECKPOINT)
        else:
            self._writer = SqliteWriter(
                str(engine.url.database), synchronous=sqlite_synchronous, checkpoint=CHECKPOINT
            )
        # Appends to one conflict from this process queue here instead of racing each other's
        # compare-and-set (and retrying); striped, so the memory is fixed however many conflicts.
        self._conflict_locks = [asyncio.Lock() for _ in range(64)]
        #: Called after each append commits, with the conflict and the last position written.
        #: In-process waiters (long-poll, streams) hang off this; other processes use the
        #: database's own notifications.
        self.on_append: list[Callable[[str, int], None]] = []

    async def close(self) -> None:
        """Stop the writer and close every connection."""
        await self._writer.close()
        await self.engine.dispose()

    # -- appending ---------------------------------------------------------------------------

    async def append(
        self,
        events: Sequence[Event],
        *,
        expected_version: int | None = None,
        recorded_at: Sequence[datetime] | None = None,
    ) -> AppendResult:
        """Append events to one conflict's stream, atomically: all of them or none.

        ``expected_version`` is the version the writer last saw (0 for a new conflict); when
        given and the stream has moved on, ``ConcurrencyError``. ``recorded_at`` is for imports
        only, which keep the recording times of the log they come from.
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

        lock = self._conflict_locks[hash(conflict) % len(self._conflict_locks)]
        async with lock:
            return await self._append(conflict, events, expected_version, recorded_at)

    async def _append(
        self,
        conflict: str,
        events: Sequence[Event],
        expected_version: int | None,
        recorded_at: Sequence[datetime] | None,
    ) -> AppendResult:
        state: ConflictState | None = None
        with storage_errors():
            for attempt in range(_MAX_ATTEMPTS):
                fresh = attempt > 0
                state = await self._state(conflict, fresh=fresh)
                if expected_version is not None and expected_version != state.version:
                    if not fresh:
                        continue  # the cache may be stale: look again before refusing
                    replay = await self._replayed(events)
                    if replay is not None:
                        return replay
                    raise ConcurrencyError(conflict, expected_version, state.version)
                referenced = await self._referenced(state, events)
                try:
                    recorded, changes, next_state = self._decide(
                        state, events, recorded_at, referenced
                    )
                except DomainRuleError:
                    replay = await self._replayed(events)
                    if replay is not None:
                        return replay
                    if not fresh:
                        continue
                    raise
                try:
                    first = await self._write(conflict, state.version, recorded, changes)
                except IdTakenError:
                    replay = await self._replayed(events)
                    if replay is not None:
                        return replay
                    # Another writer stored one of these ids between our look and our write.
                    self._forget(conflict)
                    continue
                if first is None:
                    self._forget(conflict)
                    if attempt > 2:
                        await asyncio.sleep(random.uniform(0, 0.002 * attempt))
                    continue
                stored = [with_position(e, first + i) for i, e in enumerate(recorded)]
                self._remember(next_state)
                for listener in self.on_append:
                    listener(conflict, stored[-1].position)
                return AppendResult(stored, True)
        # Other processes kept winning the compare-and-set for this conflict.
        current = state.version if state is not None else 0
        raise ConcurrencyError(conflict, current, current + 1)

    def _decide(
        self,
        state: ConflictState,
        events: Sequence[Event],
        recorded_at: Sequence[datetime] | None,
        referenced: dict[UUID, Recorded] | None = None,
    ) -> tuple[list[Recorded], Changes, ConflictState]:
        now = self._clock()
        changes = Changes()
        recorded: list[Recorded] = []
        # What the fold may look up: the stored events this append names, then each event of
        # the append once it is recorded (never a later one: a target must come first).
        seen = dict(referenced or {})
        for i, event in enumerate(events):
            check(state, event, seen.get)
            record = to_recorded(
                event,
                version=state.version + 1,
                position=0,  # known only once the write has taken its place in the log
                recorded_at=recorded_at[i] if recorded_at is not None else now,
                schema_version=SCHEMA_VERSIONS[event.type],
            )
            state, more = apply(state, record, seen.get)
            changes.merge(more)
            recorded.append(record)
            seen[record.id] = record
        return recorded, changes, state

    async def _referenced(
        self, state: ConflictState, events: Sequence[Event]
    ) -> dict[UUID, Recorded]:
        """The stored events that retractions and corrections in ``events`` name (and their
        latest corrections), in one query; none for an append of other events."""
        ids = {i for e in events for i in references(state, e)} - {e.id for e in events}
        return await self.stored_events(ids) if ids else {}

    async def _write(
        self, conflict: str, expected: int, recorded: list[Recorded], changes: Changes
    ) -> int | None:
        """Write events, changes and checkpoint in one transaction; the first position, or
        None when the stream is no longer at ``expected``."""
        return await self._writer.write(
            conflict, expected, [event_row(e) for e in recorded], changes
        )

    async def _replayed(self, events: Sequence[Event]) -> AppendResult | None:
        """The stored events when every one of ``events`` is stored already with the same
        content (an idempotent retry); ``DuplicateEventError`` when any id is stored with other
        content; None when none is stored."""
        ids = [e.id for e in events]
        async with self.engine.connect() as conn:
            result = await conn.execute(
                select(events_table)
                .where(events_table.c.id.in_(ids))
                .order_by(events_table.c.position)
            )
            stored = {r.id: decode_row(r) for r in result}
        if not stored:
            return None
        for event in events:
            previous = stored.get(event.id)
            if previous is None or not _same_content(previous, event):
                raise DuplicateEventError(str(event.id if previous else next(iter(stored))))
        return AppendResult([stored[e.id] for e in events], False)

    # -- the state cache ---------------------------------------------------------------------

    async def _state(self, conflict: str, *, fresh: bool) -> ConflictState:
        if not fresh and conflict in self._states:
            self._states.move_to_end(conflict)
            return self._states[conflict]
        async with self.engine.connect() as conn:
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

    # -- reading -----------------------------------------------------------------------------

    async def read_all(
        self,
        *,
        after: int = 0,
        limit: int = 1000,
        conflict: str | None = None,
        types: Sequence[str] | None = None,
        until: int | None = None,
    ) -> list[Recorded]:
        """Events in global order after ``after``: the feed a consumer pages through.
        ``until``: none after this position (a page that reflects exactly a known head)."""
        return await read_events(
            self.engine, after=after, limit=limit, conflict=conflict, types=types, until=until
        )

    async def read_stream(
        self, conflict: str, *, after_version: int = 0, limit: int = 1000
    ) -> list[Recorded]:
        statement = (
            select(events_table)
            .where(events_table.c.conflict == conflict, events_table.c.version > after_version)
            .order_by(events_table.c.version)
            .limit(limit)
        )
        with storage_errors():
            async with self.engine.connect() as conn:
                return [decode_row(r) for r in await conn.execute(statement)]

    async def iter_rows(
        self, *, after: int = 0, batch_size: int = 5000
    ) -> AsyncIterator[list[Any]]:
        """Raw event rows in position order, in batches, by keyset pagination: memory stays
        flat however long the log is. Replay, export and verification read through this."""
        while True:
            with storage_errors():
                async with self.engine.connect() as conn:
                    rows = list(
                        await conn.execute(
                            select(events_table)
                            .where(events_table.c.position > after)
                            .order_by(events_table.c.position)
                            .limit(batch_size)
                        )
                    )
            if not rows:
                return
            yield rows
            after = rows[-1].position

    async def head(self) -> int:
        """The position of the newest event (0 for an empty log)."""
        with storage_errors():
            async with self.engine.connect() as conn:
                return int((await conn.execute(select(log_head.c.position))).scalar_one())

    async def stream_head(self, conflict: str) -> tuple[int, int] | None:
        """``(version, position)`` of a conflict's newest event, None for an unknown conflict."""
        with storage_errors():
            async with self.engine.connect() as conn:
                row = (
                    await conn.execute(
                        select(streams.c.version, streams.c.position).where(
                            streams.c.conflict == conflict
                        )
                    )
                ).one_or_none()
        return None if row is None else (int(row.version), int(row.position))

    async def stored_event(self, event_id: UUID) -> Recorded | None:
        with storage_errors():
            async with self.engine.connect() as conn:
                row = (
                    await conn.execute(select(events_table).where(events_table.c.id == event_id))
                ).one_or_none()
        return None if row is None else decode_row(row)

    async def stored_events(self, ids: Collection[UUID]) -> dict[UUID, Recorded]:
        """The stored events with these ids (one query); missing ids are absent."""
        with storage_errors():
            async with self.engine.connect() as conn:
                rows = await conn.execute(
                    select(events_table).where(events_table.c.id.in_(list(ids)))
                )
                return {row.id: decode_row(row) for row in rows}

    async def current_state(self, conflict: str) -> ConflictState:
        """The conflict's state as stored now (for dry runs; appends use the cache)."""
        with storage_errors():
            return await self._state(conflict, fresh=True)

    @staticmethod
    def same_content(stored: Recorded, event: Event) -> bool:
        """Whether ``event`` is the stored event sent again: the test idempotency rests on."""
        return _same_content(stored, event)


def event_row(event: Recorded) -> dict[str, Any]:
    source_json = _source_json(event.source)
    data_json = canonical_json(data_of(event))
    return {
        "id": event.id,
        "version": event.version,
        "type": event.type,
        "schema_version": event.schema_version,
        "occurred_at": event.occurred_at,
        "recorded_at": event.recorded_at,
        "source": source_json,
        "data": data_json,
        "content_hash": content_hash(
            event_id=str(event.id),
            type=event.type,
            conflict=event.conflict,
            version=event.version,
            schema_version=event.schema_version,
            occurred_at=event.occurred_at,
            recorded_at=event.recorded_at,
            source_json=source_json,
            data_json=data_json,
        ),
    }


def _same_content(stored: Recorded, event: Event) -> bool:
    return (
        stored.type == event.type
        and stored.conflict == event.conflict
        and stored.occurred_at == event.occurred_at
        and stored.source == event.source
        and data_of(stored) == data_of(event)
    )


@functools.lru_cache(maxsize=1024)
def _source_json(source: Source) -> str:
    """Cached: a log has few sources, each repeated on many events, and sources are frozen
    (equal sources give equal JSON)."""
    return canonical_json(source.model_dump(mode="json", exclude_none=True))
