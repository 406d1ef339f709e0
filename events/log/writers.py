"""The write transaction of an append, one per database, each built for the fewest round trips.

Both take the events' rows, already computed in Python, and the work the layer above does in
the same transaction (``InTransaction``: the projection rows and their checkpoint), and either
write all of it in one transaction (returning ``Written``: the first position, and the
recording time when the database chose it) or nothing (returning None, when the stream is no
longer at the expected version: the compare-and-set lost). The log knows nothing of the
projections: it declares the protocol, ``projections.writer`` implements it.

- PostgreSQL: one call of the ``ceasefire_append`` function (migrations 0001 and 0008) on the
  raw asyncpg connection: one round trip, one implicit transaction, no SQLAlchemy statement
  overhead on the hot path. Called by any role but the log's owner, it records the events at
  the database's own time (``Written.recorded_at``), whatever the rows say, and refuses
  ``keep_recorded_at`` (``RecordingTimeRefusedError``).
- SQLite: raw ``sqlite3`` connections of the writer's own, in ``events.log.sqlite_writer``.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncEngine

from events.log.pg_connections import Connections
from events.model.errors import RecordingTimeRefusedError

__all__ = [
    "Append",
    "Batch",
    "IdTakenError",
    "InTransaction",
    "PostgresWriter",
    "Writer",
    "Written",
    "postgresql_append_args",
]

POSTGRESQL_APPEND = (
    "SELECT first_position, assigned_recorded_at "
    "FROM ceasefire_append($1, $2, $3::jsonb, $4::jsonb, $5, $6)"
)

#: Several appends in one statement (``events.log.group_commit``): ``ceasefire_append`` called
#: once per element of the argument arrays, in their order, with the results in that order.
POSTGRESQL_APPEND_GROUP = (
    "SELECT r.first_position, r.assigned_recorded_at "
    "FROM unnest($1::text[], $2::integer[], $3::text[], $4::text[], $5::text[], $6::boolean[]) "
    "WITH ORDINALITY AS a(conflict, expected, events, changes, checkpoint, keep, n) "
    "CROSS JOIN LATERAL ceasefire_append(a.conflict, a.expected, a.events::jsonb, "
    "a.changes::jsonb, a.checkpoint, a.keep) AS r ORDER BY a.n"
)

#: ``json.dumps(..., ensure_ascii=False)`` builds a new encoder on every call; this is built once.
_json = json.JSONEncoder(ensure_ascii=False).encode


class IdTakenError(Exception):
    """An event id of this append is stored already (the unique index refused it)."""


@dataclass(frozen=True, slots=True)
class Written:
    """A write that took place."""

    #: The position of its first event (the others follow it).
    first: int
    #: When the database chose the recording time (PostgreSQL, any role but the log's owner):
    #: that time, every event's of the write. None: each event was recorded at its row's.
    recorded_at: datetime | None = None


class InTransaction(Protocol):
    """What an append writes besides its events, in the same transaction: both commit or
    neither. The layer above implements it (``projections.writer.ProjectionRows``: the
    projection rows the fold computed, and the checkpoint they bring up to the append)."""

    @property
    def checkpoint(self) -> str:
        """The checkpoint row set to the append's last position."""
        ...

    def __len__(self) -> int:
        """How many rows it writes (SQLite paces its WAL checkpoints by rows written)."""
        ...

    def as_json(self) -> str:
        """PostgreSQL: the work as the ``ceasefire_append`` function reads it."""
        ...

    def write_sqlite(self, conn: sqlite3.Connection) -> None:
        """SQLite: do the work on ``conn``, inside the append's open transaction."""
        ...


@dataclass(frozen=True, slots=True)
class Append:
    """One append's write, as every writer and batch takes it: the events' ``rows``
    (``events.log.store.event_row``) for ``conflict``, written only while its stream is at
    version ``expected``, with ``work`` in the same transaction. ``keep_recorded_at``: the rows'
    recording times were chosen (an import), not read off a clock: only the log's owner may
    write them (SQLite has no other role)."""

    conflict: str
    expected: int
    rows: list[dict[str, Any]]
    work: InTransaction
    keep_recorded_at: bool = False


class Batch(Protocol):
    """Writes inside one transaction that commits when the batch ends (``Writer.batch``)."""

    async def write(self, append: Append) -> Written | None: ...


class Writer(Batch, Protocol):
    """Writes, each in a transaction of its own, or several in one (``batch``, ``write_group``)."""

    async def write_group(self, appends: Sequence[Append]) -> list[Written | None]:
        """Appends in one transaction, each with its own compare-and-set (None for one whose
        stream moved on, the others written all the same): ``events.log.group_commit``. When
        one of them raises (an id taken), the transaction writes nothing and the error passes."""
        ...

    def batch(self) -> AbstractAsyncContextManager[Batch]:
        """Several writes in one transaction: all of them commit when the context ends, none
        if it ends with an exception. It holds the log's write lock from its first write (on
        SQLite from its start) to its end: other appends wait meanwhile."""
        ...

    async def close(self) -> None: ...


def postgresql_append_args(append: Append) -> tuple[str, int, str, str, str, bool]:
    """The arguments of one ``ceasefire_append`` call."""
    events_json = _json(
        [
            {
                "id": str(row["id"]),
                "type": row["type"],
                "schema_version": row["schema_version"],
                "occurred_at": row["occurred_at"].isoformat(),
                "recorded_at": row["recorded_at"].isoformat(),
                "source": row["source"],
                "data": row["data"],
                "content_hash": row["content_hash"].hex(),
                "key_id": row["key_id"],
            }
            for row in append.rows
        ]
    )
    work = append.work
    return (
        append.conflict,
        append.expected,
        events_json,
        work.as_json(),
        work.checkpoint,
        append.keep_recorded_at,
    )


class PostgresWriter:
    """Appends through a few asyncpg connections of its own (``events.log.pg_connections``):
    taking one costs a few microseconds, where a checkout through SQLAlchemy's pool and its
    adapter costs far more, and this runs once per append."""

    def __init__(self, engine: AsyncEngine, *, pool_size: int = 10) -> None:
        self._dsn = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._pool_size = pool_size
        self._pool: Connections | None = None

    def _connections(self) -> Connections:
        if self._pool is None:
            self._pool = Connections(
                self._dsn, size=self._pool_size, application_name="ceasefire-writer"
            )
        return self._pool

    async def write(self, append: Append) -> Written | None:
        pool = self._connections()
        return await _append(pool, append)

    async def write_group(self, appends: Sequence[Append]) -> list[Written | None]:
        """One statement calling ``ceasefire_append`` once per append, in their order: one
        round trip, one implicit transaction, one WAL flush at its commit for all of them."""
        import asyncpg

        pool = self._connections()
        columns = list(zip(*map(postgresql_append_args, appends), strict=True))
        try:
            rows = await pool.fetch(POSTGRESQL_APPEND_GROUP, *map(list, columns))
        except asyncpg.UniqueViolationError as error:
            raise IdTakenError from error
        except asyncpg.InsufficientPrivilegeError as error:
            if any(append.keep_recorded_at for append in appends):
                raise RecordingTimeRefusedError from error
            raise
        except _connection_errors() as error:
            raise ConnectionError(str(error)) from error
        return [Written(first, recorded_at) if first > 0 else None for first, recorded_at in rows]

    @asynccontextmanager
    async def batch(self) -> AsyncIterator[Batch]:

        pool = self._connections()
        try:
            async with pool.acquire() as conn, conn.transaction():
                yield _PostgresBatch(conn)
        except _connection_errors() as error:
            raise ConnectionError(str(error)) from error

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None


class _PostgresBatch:
    def __init__(self, conn: Any) -> None:
        self._conn = conn

    async def write(self, append: Append) -> Written | None:
        return await _append(self._conn, append)


async def _append(on: Any, append: Append) -> Written | None:
    """One ``ceasefire_append`` call on ``on`` (a pool: its own transaction; a connection in a
    transaction: part of it)."""
    import asyncpg

    try:
        first, recorded_at = await on.fetchrow(POSTGRESQL_APPEND, *postgresql_append_args(append))
    except asyncpg.UniqueViolationError as error:
        raise IdTakenError from error
    except asyncpg.InsufficientPrivilegeError as error:
        if append.keep_recorded_at:
            raise RecordingTimeRefusedError from error
        raise
    except _connection_errors() as error:
        raise ConnectionError(str(error)) from error
    return Written(first, recorded_at) if first > 0 else None


def _connection_errors() -> tuple[type[BaseException], ...]:
    """What asyncpg raises when the database is away (asyncpg is imported late)."""
    import asyncpg

    return (
        OSError,
        asyncpg.PostgresConnectionError,
        asyncpg.InterfaceError,
        # The server going down: "terminating connection due to administrator command"
        # (a restart), a crash, "the database system is starting up".
        asyncpg.OperatorInterventionError,
        # A connection the outage broke mid-operation, handed out again by the pool.
        asyncpg.InternalClientError,
    )
