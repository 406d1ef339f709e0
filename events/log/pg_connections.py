"""A few raw asyncpg connections of one purpose, handed out last-in first-out: the head lookups'
(``events.log.heads``) and the appends' (``events.log.writers``), each once per request.

asyncpg's own pool costs about 40 microseconds per use on top of the statement (a lookup of
one stream's head: 136 against 95 on one connection, in-process, same run): its release runs
in a task of its own under ``asyncio.shield`` (a turn of the event loop) and resets the
session. These connections run plain statements in autocommit or in a transaction that
``Connection.transaction`` closes, and never change session state, so there is nothing to
reset; what is left to decide is whether a connection may be used again:

- after a result, or an error the server answered about the statement (a ``PostgresError``
  other than the server going away: the statement failed, the connection is as it was), it
  goes back, unless it is closed or still in a transaction;
- after anything else (cancelled mid-statement, a broken socket, a protocol error) it is
  terminated: its state is unknown, and a fresh one costs one connect the next time.

At most ``size`` connections are open; a caller beyond them waits for one to come back.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

__all__ = ["Connections"]


class Connections:
    """Up to ``size`` asyncpg connections to ``dsn``, opened when first needed."""

    def __init__(self, dsn: str, *, size: int, application_name: str) -> None:
        self._dsn = dsn
        self._settings = {"application_name": application_name}
        self._idle: list[Any] = []
        self._slots = asyncio.Semaphore(size)
        self._closed = False

    @asynccontextmanager
    async def acquire(self) -> AsyncIterator[Any]:
        """A connection of its own for the block; back to the others after it (see module)."""
        async with self._slots:
            conn = await self._take()
            try:
                yield conn
            except BaseException as error:
                if _statement_error(error):
                    self._give_back(conn)
                else:
                    conn.terminate()
                raise
            self._give_back(conn)

    async def fetchval(self, sql: str, *args: Any) -> Any:
        async with self.acquire() as conn:
            return await conn.fetchval(sql, *args)

    async def fetchrow(self, sql: str, *args: Any) -> Any:
        async with self.acquire() as conn:
            return await conn.fetchrow(sql, *args)

    async def fetch(self, sql: str, *args: Any) -> list[Any]:
        async with self.acquire() as conn:
            rows: list[Any] = await conn.fetch(sql, *args)
            return rows

    async def close(self) -> None:
        """Close the idle connections; those in use are closed as they come back."""
        self._closed = True
        idle, self._idle = self._idle, []
        await asyncio.gather(*(conn.close() for conn in idle), return_exceptions=True)

    async def _take(self) -> Any:
        import asyncpg

        while self._idle:
            conn = self._idle.pop()
            if not conn.is_closed():
                return conn
        return await asyncpg.connect(self._dsn, server_settings=self._settings)

    def _give_back(self, conn: Any) -> None:
        if conn.is_closed():
            return
        if self._closed or conn.is_in_transaction():
            conn.terminate()
            return
        self._idle.append(conn)


def _statement_error(error: BaseException) -> bool:
    """Whether the server refused a statement and left the connection usable (a constraint,
    a privilege, an undefined table…), rather than the connection or the server failing."""
    import asyncpg

    return isinstance(error, asyncpg.PostgresError) and not isinstance(
        error, asyncpg.PostgresConnectionError | asyncpg.OperatorInterventionError
    )
