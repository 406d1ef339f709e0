"""The log: write events with a compare-and-set of their stream's version, read in global order.

The store knows rows, not rules: what may be appended (state, rules, fold, retries, the state
cache, idempotency) is the append service's, ``app.services.appending``. A write takes the events'
rows
and the work the layer above does in the same transaction (``events.log.writers.InTransaction``:
the projection rows), and either commits all of it or, when the stream has moved on, nothing.

Global order: every append locks the single ``log_head`` row, takes its positions from it and
releases it only at commit, so positions commit in position order. A reader paging
``after=position`` therefore never sees position N+1 before N is visible: nothing is skipped.
On PostgreSQL the whole write is one call of the ``ceasefire_append`` function (one round trip,
one implicit transaction); on SQLite it is one ``BEGIN IMMEDIATE`` transaction on a raw
``sqlite3`` connection (``events.log.writers``).
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import AsyncIterator, Callable, Collection, Iterable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from typing import Any, TypedDict, Unpack
from uuid import UUID

from sqlalchemy import Row, select
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from events.log.codec import RowDecoder, columns_of
from events.log.database import dialect_of
from events.log.gc_pause import gc_paused
from events.log.group_commit import GroupCommit
from events.log.positions import log_position, stream_head
from events.log.sqlite_writer import SqliteWriter
from events.log.tables import events as events_table
from events.log.writers import Append, Batch, PostgresWriter, Writer, Written
from events.model.envelope import Recorded, canonical_json, record_content_hash
from events.model.errors import SchemaNotMigratedError, StorageUnavailableError
from events.model.types import data_of
from events.model.values import Source

__all__ = [
    "EventFilters",
    "EventStore",
    "WriteBatch",
    "decode_row",
    "decode_rows",
    "event_row",
    "read_events",
    "server_gone",
    "storage_errors",
    "storage_failure",
]


_DECODER = RowDecoder()


def decode_row(row: Row[Any] | Any) -> Recorded:
    """One ``events`` row as the current event model, upcast from its stored schema version
    (``events.log.codec.RowDecoder``, the one decoder)."""
    return _DECODER.decode(columns_of(row))


def decode_rows(rows: Iterable[Any]) -> list[Recorded]:
    """``decode_row`` of each row (a fetched result), with the cyclic collector paused
    (``events.log.gc_pause``; not promoting, since reads come as often as clients ask): a page
    of a thousand events is tens of thousands of small objects that all stay alive while it is
    built, which the collector traversed again and again, a quarter of the time of a page read
    (20,000 events read in pages of 1,000 on SQLite: 26-27 µs an event, 20-22 with the
    collector paused)."""
    with gc_paused():
        return [decode_row(row) for row in rows]


class EventFilters(TypedDict, total=False):
    """What a read of the log in global order may narrow it by (``read_events``)."""

    after: int
    limit: int
    conflict: str | None
    types: Sequence[str] | None
    until: int | None


async def read_events(
    engine: AsyncEngine,
    *,
    after: int = 0,
    limit: int = 1000,
    conflict: str | Sequence[str] | None = None,
    types: Sequence[str] | None = None,
    until: int | None = None,
) -> list[Recorded]:
    """``EventStore.read_all`` on any database holding the log: the primary or a hot standby
    (``events.log.routing``). ``conflict``: one conflict's events, or several's."""
    statement = select(events_table).where(events_table.c.position > after)
    if until is not None:
        statement = statement.where(events_table.c.position <= until)
    if isinstance(conflict, str):
        statement = statement.where(events_table.c.conflict == conflict)
    elif conflict is not None:
        statement = statement.where(events_table.c.conflict.in_(list(conflict)))
    if types:
        statement = statement.where(events_table.c.type.in_(list(types)))
    statement = statement.order_by(events_table.c.position).limit(limit)
    with storage_errors():
        async with engine.connect() as conn:
            return decode_rows(await conn.execute(statement))


@contextmanager
def storage_errors() -> Iterator[None]:
    """Database failures become ours (``storage_failure``): callers never see a driver
    exception for them, and the API answers 503 rather than 500. Any other error passes."""
    try:
        yield
    except Exception as exc:
        failure = storage_failure(exc)
        if failure is None:
            raise
        raise failure from exc


#: SQLSTATEs of a server going away: class 08 (connection exception), and an administrator's
#: shutdown (a restart), a crash shutdown, "the database system is starting up".
_GONE_STATES = ("08", "57P01", "57P02", "57P03")
#: SQLSTATEs of a server refusing us: bad credentials (class 28), no such database (3D000),
#: out of connections or other resources (class 53).
_REFUSED_STATES = ("28", "3D000", "53")
#: SQLSTATEs of a database without our schema: undefined table, undefined schema.
_UNMIGRATED_STATES = ("42P01", "3F000")
#: What SQLite says for the same (it has no SQLSTATE).
_SQLITE_UNMIGRATED = ("no such table",)


def _causes(error: BaseException | None) -> Iterator[BaseException]:
    """``error`` and what it wraps (SQLAlchemy's error, its adapter's, the driver's)."""
    seen = 0
    while error is not None and seen < 5:
        yield error
        error, seen = error.__cause__, seen + 1


def _sqlstate(error: BaseException) -> str:
    state = getattr(error, "sqlstate", None) or getattr(error, "pgcode", None)
    return state if isinstance(state, str) else ""


def storage_failure(error: BaseException) -> StorageUnavailableError | None:
    """The one classification of a database error, whichever driver raised it and however
    wrapped: ``SchemaNotMigratedError`` when the database answers without our tables,
    ``StorageUnavailableError`` when it cannot be used (gone, unreachable, refusing us, or an
    SQLite file it cannot open or lock), None for anything else (a bug to surface, not hide)."""
    if not (isinstance(error, DBAPIError | sqlite3.Error | OSError) or _asyncpg_error(error)):
        return None  # not a driver's error (ours, raised from one, is already decided)
    for cause in _causes(error):
        if _sqlstate(cause).startswith(_UNMIGRATED_STATES) or (
            isinstance(cause, sqlite3.OperationalError)
            and str(cause).startswith(_SQLITE_UNMIGRATED)
        ):
            return SchemaNotMigratedError()
    unusable = server_gone(error) or any(
        _sqlstate(cause).startswith(_REFUSED_STATES)
        or isinstance(cause, OperationalError | InterfaceError | sqlite3.OperationalError)
        or (isinstance(cause, DBAPIError) and cause.connection_invalidated)
        or _asyncpg_error(cause, "InterfaceError")
        for cause in _causes(error)
    )
    return StorageUnavailableError("the database is not reachable") if unusable else None


def server_gone(error: BaseException | None) -> bool:
    """Whether a driver error (SQLAlchemy's, or what it wraps) says the server went away or the
    connection broke under it. SQLAlchemy's asyncpg adapter reports a restart's "terminating
    connection due to administrator command", and a connection the outage left mid-operation,
    as plain ``DBAPIError``/``InternalError``, not as ``OperationalError``. Also what ``ceasefire
    migrate --wait`` waits through: a server not listening yet, or still starting up."""
    return any(
        _sqlstate(cause).startswith(_GONE_STATES)
        or isinstance(cause, OSError)
        or _asyncpg_error(
            cause, "PostgresConnectionError", "OperatorInterventionError", "InternalClientError"
        )
        for cause in _causes(error)
    )


def _asyncpg_error(error: BaseException, *names: str) -> bool:
    """Whether asyncpg raised ``error``, as one of its classes ``names`` when they are given
    (asyncpg is imported only for an error it raised: a SQLite service never imports it)."""
    if not type(error).__module__.startswith("asyncpg"):
        return False
    if not names:
        return True
    import asyncpg

    return isinstance(error, tuple(getattr(asyncpg, name) for name in names))


class EventStore:
    def __init__(
        self,
        engine: AsyncEngine,
        *,
        sqlite_synchronous: str = "NORMAL",
        writer_pool_size: int = 10,
    ) -> None:
        self.engine = engine
        self.dialect = dialect_of(engine)
        self._writer: Writer
        if self.dialect == "postgresql":
            self._writer = PostgresWriter(engine, pool_size=writer_pool_size)
        else:
            self._writer = SqliteWriter(str(engine.url.database), synchronous=sqlite_synchronous)
        #: Concurrent appends share a transaction (``events.log.group_commit``). SQLite's
        #: inline appends never wait, so there the first of them lets others join first.
        self._group = GroupCommit(
            self._writer,
            gather=self.dialect != "postgresql" and sqlite_synchronous.upper() != "FULL",
        )
        #: Called after each append commits, with the conflict and the last position written.
        #: In-process waiters (long-poll, streams) hang off this; other processes use the
        #: database's own notifications.
        self.on_append: list[Callable[[str, int], None]] = []

    @property
    def transactions(self) -> int:
        """Append transactions written so far by ``write`` (concurrent appends share one)."""
        return self._group.transactions

    async def close(self) -> None:
        """Stop the writer and close every connection."""
        await self._group.close()
        await self._writer.close()
        await self.engine.dispose()

    # -- appending ---------------------------------------------------------------------------

    async def write(self, append: Append) -> Written | None:
        """Write the events' rows (``event_row``) and the append's work in one transaction that
        first compare-and-sets the stream's version from ``append.expected``; where they went
        (and when the database recorded them, if it chose: ``Written``), or None (nothing
        written) when the stream is no longer at ``expected``. ``IdTakenError`` when an event id
        is stored already. ``keep_recorded_at``: the rows' recording times were chosen, which
        only the log's owner may write (``RecordingTimeRefusedError``). The ``on_append``
        listeners hear of each write. Appends concurrent with it may share its transaction
        (``events.log.group_commit``): it returns once that has committed."""
        with storage_errors():
            written = await self._group.write(append)
        if written is not None:
            last = written.first + len(append.rows) - 1
            for listener in self.on_append:
                listener(append.conflict, last)
        return written

    @asynccontextmanager
    async def batch(self) -> AsyncIterator[WriteBatch]:
        """Writes (``WriteBatch.write``, as ``write``) in one transaction: all commit when the
        context ends, none when it ends with an exception. It holds the log's write lock
        meanwhile (other appends wait): for ``load`` and ``import``, which must leave all of a
        file or none of it whatever other writers do. The ``on_append`` listeners hear of each
        stream written once it has committed."""
        last: dict[str, int] = {}
        with storage_errors():
            async with self._writer.batch() as batch:
                yield WriteBatch(batch, last)
        for conflict, position in last.items():
            for listener in self.on_append:
                listener(conflict, position)

    # -- reading -----------------------------------------------------------------------------

    async def read_all(self, **filters: Unpack[EventFilters]) -> list[Recorded]:
        """Events in global order after ``after``: the feed a consumer pages through.
        ``until``: none after this position (a page that reflects exactly a known head)."""
        return await read_events(self.engine, **filters)

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
                return decode_rows(await conn.execute(statement))

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
                return await log_position(conn)

    async def stream_head(self, conflict: str) -> tuple[int, int] | None:
        """``(version, position)`` of a conflict's newest event, None for an unknown conflict."""
        with storage_errors():
            async with self.engine.connect() as conn:
                return await stream_head(conn, conflict)

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
                return {event.id: event for event in decode_rows(rows)}


class WriteBatch:
    """The writes of ``EventStore.batch``."""

    def __init__(self, batch: Batch, last: dict[str, int]) -> None:
        self._batch = batch
        self._last = last

    async def write(self, append: Append) -> Written | None:
        """As ``EventStore.write``, in the batch's transaction."""
        with storage_errors():
            written = await self._batch.write(append)
        if written is not None:
            self._last[append.conflict] = written.first + len(append.rows) - 1
        return written


def event_row(event: Recorded, key_id: str | None = None) -> dict[str, Any]:
    """The row to store for ``event``, appended with the API key ``key_id``
    (``events.log.audit``)."""
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
        "key_id": key_id,
        "content_hash": record_content_hash(
            event, source_json=source_json, data_json=data_json, key_id=key_id
        ),
    }


@functools.lru_cache(maxsize=1024)
def _source_json(source: Source) -> str:
    """Cached: a log has few sources, each repeated on many events, and sources are frozen
    (equal sources give equal JSON)."""
    return canonical_json(source.model_dump(mode="json", exclude_none=True))
