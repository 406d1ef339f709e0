"""The write transaction of an append, one per database, each built for the fewest round trips.

Both take the events' rows, already computed in Python, and the work the layer above does in
the same transaction (``InTransaction``: the projection rows and their checkpoint), and either
write all of it in one transaction (returning the first position) or nothing (returning None,
when the stream is no longer at the expected version: the compare-and-set lost). The log knows
nothing of the projections: it declares the protocol, ``projections.writer`` implements it.

- PostgreSQL: one call of the ``ceasefire_append`` function (migration 0001) on the raw asyncpg
  connection: one round trip, one implicit transaction, no SQLAlchemy statement overhead on the
  hot path.
- SQLite: raw ``sqlite3`` connections of the writer's own, in ``events.log.sqlite_writer``.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncEngine

__all__ = [
    "Batch",
    "IdTakenError",
    "InTransaction",
    "PostgresWriter",
    "Writer",
    "keep_session",
    "postgresql_append_args",
]

POSTGRESQL_APPEND = "SELECT ceasefire_append($1, $2, $3::jsonb, $4::jsonb, $5)"

#: ``json.dumps(..., ensure_ascii=False)`` builds a new encoder on every call; this is built once.
_json = json.JSONEncoder(ensure_ascii=False).encode


class IdTakenError(Exception):
    """An event id of this append is stored already (the unique index refused it)."""


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


class Batch(Protocol):
    """Writes inside one transaction that commits when the batch ends (``Writer.batch``)."""

    async def write(
        self, conflict: str, expected: int, rows: list[dict[str, Any]], work: InTransaction
    ) -> int | None: ...


class Writer(Protocol):
    async def write(
        self, conflict: str, expected: int, rows: list[dict[str, Any]], work: InTransaction
    ) -> int | None: ...

    def batch(self) -> AbstractAsyncContextManager[Batch]:
        """Several writes in one transaction: all of them commit when the context ends, none
        if it ends with an exception. It holds the log's write lock from its first write (on
        SQLite from its start) to its end: other appends wait meanwhile."""
        ...

    async def close(self) -> None: ...


def postgresql_append_args(
    conflict: str, expected: int, rows: list[dict[str, Any]], work: InTransaction
) -> tuple[str, int, str, str, str]:
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
            for row in rows
        ]
    )
    return conflict, expected, events_json, work.as_json(), work.checkpoint


async def keep_session(connection: Any) -> None:
    """asyncpg resets a connection on every release (``RESET ALL``, ``UNLISTEN *``…): a
    second round trip per call. These pools only run plain statements and never change session
    state, so there is nothing to reset."""


class PostgresWriter:
    """Appends through a small asyncpg pool of its own: acquiring from it costs a few
    microseconds, where a checkout through SQLAlchemy's pool and its adapter costs far more,
    and this runs once per append."""

    def __init__(self, engine: AsyncEngine, *, pool_size: int = 10) -> None:
        self._dsn = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._pool_size = pool_size
        self._pool: Any = None
        self._pool_lock = asyncio.Lock()

    async def _acquire_pool(self) -> Any:
        import asyncpg

        async with self._pool_lock:
            if self._pool is None:
                self._pool = await asyncpg.create_pool(
                    self._dsn,
                    min_size=1,
                    max_size=self._pool_size,
                    server_settings={"application_name": "ceasefire-writer"},
                    reset=keep_session,
                )
        return self._pool

    async def write(
        self, conflict: str, expected: int, rows: list[dict[str, Any]], work: InTransaction
    ) -> int | None:
        pool = self._pool or await self._acquire_pool()
        return await _append(pool, conflict, expected, rows, work)

    @asynccontextmanager
    async def batch(self) -> AsyncIterator[Batch]:

        pool = self._pool or await self._acquire_pool()
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

    async def write(
        self, conflict: str, expected: int, rows: list[dict[str, Any]], work: InTransaction
    ) -> int | None:
        return await _append(self._conn, conflict, expected, rows, work)


async def _append(
    on: Any, conflict: str, expected: int, rows: list[dict[str, Any]], work: InTransaction
) -> int | None:
    """One ``ceasefire_append`` call on ``on`` (a pool: its own transaction; a connection in a
    transaction: part of it)."""
    import asyncpg

    args = postgresql_append_args(conflict, expected, rows, work)
    try:
        first = int(await on.fetchval(POSTGRESQL_APPEND, *args))
    except asyncpg.UniqueViolationError as error:
        raise IdTakenError from error
    except _connection_errors() as error:
        raise ConnectionError(str(error)) from error
    return first if first > 0 else None


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
