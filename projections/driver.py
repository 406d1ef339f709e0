"""Driver-level access for the bulk work of replay and verification.

A replay reads every event of the log and writes a row or more for each; SQLAlchemy's per-row
statement and type processing would cost more than the fold itself. This module hands out the
driver connection under SQLAlchemy's (asyncpg or aiosqlite) behind one small interface:
keyset batches of event rows, ``executemany`` and ``COPY`` (PostgreSQL), and transactions that
take the append lock. On SQLite, values are converted by ``events.log.sqlite_values`` (SQLAlchemy's
own processors for each column, or for instants faster ones checked equal to them), the one
converter the append path uses too.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import Column, Table
from sqlalchemy.ext.asyncio import AsyncEngine

from events.log.codec import EVENT_COLUMNS
from events.log.database import dialect_of
from events.log.positions import LOG_POSITION, raw_sql
from events.log.sqlite_values import Processor, bind_processors, converter, result_processors
from events.log.store import storage_errors
from events.log.tables import events

__all__ = ["RawConnection", "raw_connection"]


class RawConnection:
    """One driver connection, outside SQLAlchemy's transaction handling: this class begins
    and ends its transactions itself."""

    def __init__(self, driver: Any, engine: AsyncEngine) -> None:
        self.driver = driver
        self.dialect = dialect_of(engine)
        self._decode_rows = converter(self.result_processors(events, EVENT_COLUMNS))
        self._head_sql = raw_sql(LOG_POSITION, engine.dialect)
        self._head_sql_locked = raw_sql(LOG_POSITION, engine.dialect, for_update=True)
        #: One statement at a time on the connection (a reader's prefetch and a lookup may
        #: both want it); statements of a transaction may interleave between tasks.
        self._busy = asyncio.Lock()

    # -- statements --------------------------------------------------------------------------

    def sql(self, statement: str) -> str:
        """``statement`` written with ``$1, $2…`` placeholders, in this driver's style."""
        if self.dialect == "postgresql":
            return statement
        return re.sub(r"\$\d+", "?", statement)

    async def execute(self, statement: str, *args: Any) -> None:
        async with self._busy:
            if self.dialect == "postgresql":
                await self.driver.execute(statement, *args)
            else:
                await self.driver.execute(self.sql(statement), args)

    async def fetch(self, statement: str, *args: Any) -> list[Sequence[Any]]:
        async with self._busy:
            if self.dialect == "postgresql":
                return list(await self.driver.fetch(statement, *args))
            cursor = await self.driver.execute(self.sql(statement), args)
            rows = await cursor.fetchall()
            await cursor.close()
            return list(rows)

    async def fetchval(self, statement: str, *args: Any) -> Any:
        rows = await self.fetch(statement, *args)
        return rows[0][0] if rows else None

    async def executemany(self, statement: str, rows: Sequence[Sequence[Any]]) -> None:
        if not rows:
            return
        async with self._busy:
            if self.dialect == "postgresql":
                await self.driver.executemany(statement, rows)
            else:
                await self.driver.executemany(self.sql(statement), rows)

    # -- transactions ------------------------------------------------------------------------

    @asynccontextmanager
    async def transaction(self, *, lock: bool = False) -> AsyncIterator[int | None]:
        """A write transaction; with ``lock``, one that first takes the append lock (the
        ``log_head`` row on PostgreSQL, the database write lock on SQLite) and yields the head
        position, which no append can move until the transaction ends."""
        await self.execute("BEGIN" if self.dialect == "postgresql" else "BEGIN IMMEDIATE")
        try:
            head = None
            if lock:
                head = await self.fetchval(self._head_sql_locked)
            yield None if head is None else int(head)
        except BaseException:
            await asyncio.shield(self.execute("ROLLBACK"))
            raise
        await self.execute("COMMIT")

    @asynccontextmanager
    async def snapshot(self) -> AsyncIterator[None]:
        """A read-only transaction seeing one consistent state of the database."""
        await self.execute(
            "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"
            if self.dialect == "postgresql"
            else "BEGIN"
        )
        try:
            yield
        finally:
            await asyncio.shield(self.execute("ROLLBACK"))

    # -- events ------------------------------------------------------------------------------

    async def head(self) -> int:
        """The log's head (``events.log.positions.LOG_POSITION``, the one lookup)."""
        return int(await self.fetchval(self._head_sql))

    async def event_rows(self, after: int, upto: int, limit: int) -> list[Sequence[Any]]:
        """Event rows ``after < position <= upto`` in position order, at most ``limit``, with
        the values SQLAlchemy would give (``EVENT_COLUMNS``)."""
        rows = await self.fetch(
            f"SELECT {', '.join(EVENT_COLUMNS)} FROM events "
            "WHERE position > $1 AND position <= $2 ORDER BY position LIMIT $3",
            after,
            upto,
            limit,
        )
        return self._decode_rows(rows)

    async def events_by_id(self, ids: Sequence[Any]) -> list[Sequence[Any]]:
        """The event rows with these ids (any order; missing ids are absent), one query."""
        if not ids:
            return []
        if self.dialect == "postgresql":
            rows = await self.fetch(
                f"SELECT {', '.join(EVENT_COLUMNS)} FROM events WHERE id = ANY($1::uuid[])",
                list(ids),
            )
        else:
            # The list padded to a power of two with its last id (IN ignores repeats): a text
            # per list length would fill sqlite3's statement cache with the replay's every
            # length (see ``projections.sqlite_changes._inserts``).
            padded = [*ids, *[ids[-1]] * ((1 << (len(ids) - 1).bit_length()) - len(ids))]
            marks = ", ".join(f"${i}" for i in range(1, len(padded) + 1))
            rows = await self.fetch(
                f"SELECT {', '.join(EVENT_COLUMNS)} FROM events WHERE id IN ({marks})",
                *(self.bind_value(events.c.id, i) for i in padded),
            )
        return self._decode_rows(rows)

    # -- values ------------------------------------------------------------------------------

    def result_processors(self, table: Table, columns: Sequence[str]) -> list[Processor]:
        """Converters from what the driver returns to what SQLAlchemy would return. None on
        PostgreSQL: asyncpg already returns aware UTC datetimes and UUIDs, which is all the
        ``UtcDateTime`` and ``Uuid`` processors would make of them."""
        if self.dialect == "postgresql":
            return [None] * len(columns)
        return result_processors(table, columns)

    def bind_value(self, column: Column[Any], value: Any) -> Any:
        """One value as the driver takes it for ``column``."""
        if self.dialect == "postgresql" or value is None:
            return value
        process = bind_processors(column.table, (column.name,))[0]
        return value if process is None else process(value)

    def is_lock_timeout(self, error: BaseException) -> bool:
        """Whether ``error`` is PostgreSQL giving up on a lock after ``lock_timeout``."""
        return type(error).__name__ == "LockNotAvailableError"

    async def insert_rows(
        self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
    ) -> None:
        """``COPY`` rows into ``table``, values as asyncpg encodes them: PostgreSQL's bulk
        insert (SQLite's rows go through ``projections.sqlite_changes``)."""
        if self.dialect != "postgresql":
            raise NotImplementedError("COPY is PostgreSQL's")
        if not rows:
            return
        async with self._busy:
            await self.driver.copy_records_to_table(table, records=rows, columns=list(columns))


@asynccontextmanager
async def raw_connection(engine: AsyncEngine) -> AsyncIterator[RawConnection]:
    """A pooled connection's driver connection, returned to the pool afterwards."""
    with storage_errors():
        async with engine.connect() as conn:
            fairy = await conn.get_raw_connection()
            yield RawConnection(fairy.driver_connection, engine)
