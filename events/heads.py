"""The newest positions of the log and of each stream, looked up as cheaply as each database
allows: what every conditional read compares an ETag with, so it runs on every poll.

It is always a query, never a number remembered in memory: another process's append must be
seen by the next read (read-your-writes), and a notification of it may still be in flight.

- PostgreSQL: one round trip, in autocommit, on a small asyncpg pool of its own (at most
  ``pool_size`` connections; through SQLAlchemy's pool the same lookup costs three round trips,
  BEGIN, SELECT, ROLLBACK, and a checkout several times dearer than asyncpg's).
- SQLite: a point lookup on a tiny table, run synchronously on a read-only connection of its
  own. In WAL mode a reader never waits for the writer, and the lookup takes microseconds,
  far less than the hop to aiosqlite's thread (and back) would; if SQLite ever answers busy,
  the lookup goes the ordinary way instead.
"""

from __future__ import annotations

import asyncio
import sqlite3
from typing import Any
from urllib.parse import quote

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from events.errors import StorageUnavailableError
from events.store import storage_errors
from events.tables import log_head, streams
from events.writers import keep_session

__all__ = ["Heads"]

_LOG = "SELECT position FROM log_head WHERE id = 1"
_STREAM_PG = "SELECT position FROM streams WHERE conflict = $1"
_STREAM_SQLITE = "SELECT position FROM streams WHERE conflict = ?"


class Heads:
    def __init__(self, engine: AsyncEngine, *, pool_size: int = 4) -> None:
        self._engine = engine
        self._postgresql = engine.dialect.name == "postgresql"
        self._pool_size = pool_size
        self._pool: Any = None
        self._pool_lock = asyncio.Lock()
        self._sqlite: sqlite3.Connection | None = None

    async def log(self) -> int:
        """The position of the newest event in the log (0 when empty)."""
        found = await self._one(_LOG, ())
        return 0 if found is None else int(found)

    async def stream(self, conflict: str) -> int | None:
        """The position of the conflict's newest event; None when it has none."""
        found = await self._one(_STREAM_PG if self._postgresql else _STREAM_SQLITE, (conflict,))
        return None if found is None else int(found)

    async def close(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()
        self._close_sqlite()

    def _close_sqlite(self) -> None:
        if self._sqlite is not None:
            self._sqlite.close()
            self._sqlite = None

    async def _one(self, sql: str, args: tuple[Any, ...]) -> Any:
        with storage_errors():
            if self._postgresql:
                import asyncpg

                try:
                    return await (await self._postgresql_pool()).fetchval(sql, *args)
                except (asyncpg.PostgresError, asyncpg.InterfaceError) as error:
                    raise StorageUnavailableError("the database is not reachable") from error
            try:
                row = self._connection().execute(sql, args).fetchone()
            except sqlite3.OperationalError:  # busy, or the file moved: the ordinary way
                self._close_sqlite()
                return await self._slow(args)
            return None if row is None else row[0]

    async def _postgresql_pool(self) -> Any:
        if self._pool is None:
            import asyncpg

            async with self._pool_lock:
                if self._pool is None:
                    url = self._engine.url.set(drivername="postgresql")
                    self._pool = await asyncpg.create_pool(
                        url.render_as_string(hide_password=False),
                        min_size=1,
                        max_size=self._pool_size,
                        server_settings={"application_name": "ceasefire-heads"},
                        reset=keep_session,
                    )
        return self._pool

    def _connection(self) -> sqlite3.Connection:
        if self._sqlite is None:
            path = quote(self._engine.url.database or "")
            conn = sqlite3.connect(
                f"file:{path}?mode=ro", uri=True, isolation_level=None, check_same_thread=False
            )
            conn.execute("PRAGMA busy_timeout=0")
            self._sqlite = conn
        return self._sqlite

    async def _slow(self, args: tuple[Any, ...]) -> Any:
        statement = (
            select(streams.c.position).where(streams.c.conflict == args[0])
            if args
            else select(log_head.c.position)
        )
        async with self._engine.connect() as conn:
            return (await conn.execute(statement)).scalar_one_or_none()
