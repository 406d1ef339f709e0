"""The newest positions of the log and of each stream, looked up as cheaply as each database
allows: what every conditional read compares an ETag with, so it runs on every poll.

It is always a query, never a number remembered in memory: another process's append must be
seen by the next read (read-your-writes), and a notification of it may still be in flight.

- PostgreSQL: one round trip, in autocommit, on a few asyncpg connections of its own (at most
  ``pool_size``, ``events.log.pg_connections``; through SQLAlchemy's pool the same lookup costs
  three round trips, BEGIN, SELECT, ROLLBACK, and a checkout several times dearer). Concurrent
  lookups of the same head are coalesced (``SingleFlight``): a request shares only a lookup
  that starts after it arrived, so what it is answered is never older than its arrival, and
  polls that arrive together cost one round trip instead of one each.
- SQLite: a point lookup on a tiny table, run synchronously on a read-only connection of its
  own. In WAL mode a reader never waits for the writer, and the lookup takes microseconds,
  far less than the hop to aiosqlite's thread (and back) would; if SQLite ever answers busy,
  the lookup goes the ordinary way instead.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Awaitable, Callable, Hashable
from typing import Any
from urllib.parse import quote

from sqlalchemy.ext.asyncio import AsyncEngine

from events.log.pg_connections import Connections
from events.log.positions import LOG_POSITION, STREAM_POSITION, log_position, raw_sql, stream_head
from events.log.store import storage_errors
from events.model.errors import UnknownConflictError

__all__ = ["Heads", "SingleFlight"]


class SingleFlight:
    """Coalesces concurrent lookups of one key without ever answering from an old one.

    Per key, at most one lookup runs, and at most one more waits to start. A caller that finds
    none running runs its own, in its own task (the common case costs no task and no shield);
    otherwise it joins the waiting one (creating it if there is none), which starts when the
    running one ends. So every caller a lookup answers had arrived before that lookup started:
    a write acknowledged before a caller arrived is seen by the lookup that answers it. What
    is saved: N callers arriving while a lookup runs share the next one, one round trip
    instead of N. What it costs: a caller may wait for the rest of the running lookup first.
    """

    def __init__(self) -> None:
        self._running: set[Hashable] = set()
        self._waiting: dict[Hashable, tuple[asyncio.Future[Any], Callable[[], Awaitable[Any]]]]
        self._waiting = {}
        self._tasks: set[asyncio.Task[None]] = set()

    async def run(self, key: Hashable, lookup: Callable[[], Awaitable[Any]]) -> Any:
        """The result of a ``lookup()`` of ``key`` that started after this call did."""
        if key not in self._running:  # then none waits either: look it up in this task
            self._running.add(key)
            try:
                return await lookup()
            finally:
                self._running.discard(key)
                if key in self._waiting:
                    self._start(key)
        waiting = self._waiting.get(key)
        if waiting is None:
            waiting = (asyncio.get_running_loop().create_future(), lookup)
            self._waiting[key] = waiting
            if key not in self._running:
                self._start(key)
        return await asyncio.shield(waiting[0])

    def _start(self, key: Hashable) -> None:
        # From here on, a caller of this key waits for the next lookup, not this one.
        future, lookup = self._waiting.pop(key)
        self._running.add(key)
        task = asyncio.ensure_future(self._drive(key, future, lookup))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _drive(
        self, key: Hashable, future: asyncio.Future[Any], lookup: Callable[[], Awaitable[Any]]
    ) -> None:
        try:
            future.set_result(await lookup())
        except Exception as error:
            future.set_exception(error)
            future.exception()  # retrieved: the callers re-raise it; nobody else must log it
        finally:
            if not future.done():  # the lookup itself was cancelled: the loop is closing
                future.cancel()
            self._running.discard(key)
            if key in self._waiting:
                self._start(key)


class Heads:
    def __init__(self, engine: AsyncEngine, *, pool_size: int = 4) -> None:
        self._engine = engine
        self._postgresql = engine.dialect.name == "postgresql"
        self._pool_size = pool_size
        self._pool: Connections | None = None
        self._sqlite: sqlite3.Connection | None = None
        self._flights = SingleFlight()
        #: The lookups of ``events.log.positions``, as the raw drivers here take them.
        self._log_sql = raw_sql(LOG_POSITION, engine.dialect)
        self._stream_sql = raw_sql(STREAM_POSITION, engine.dialect)

    async def log(self) -> int:
        """The position of the newest event in the log (0 when empty)."""
        found = await self._lookup(self._log_sql, ())
        return 0 if found is None else int(found)

    async def stream(self, conflict: str) -> int:
        """The position of the conflict's newest event; ``UnknownConflictError`` when it has
        none. The one lookup of a conflict's head outside a read's snapshot: what a conditional
        read compares an ETag with (``projections.queries.shared.conflict_head`` is the one
        inside it)."""
        found = await self._lookup(self._stream_sql, (conflict,))
        if found is None:
            raise UnknownConflictError(conflict)
        return int(found)

    async def _lookup(self, sql: str, args: tuple[Any, ...]) -> Any:
        if self._postgresql:  # a round trip: worth sharing
            return await self._flights.run((sql, args), lambda: self._one(sql, args))
        return await self._one(sql, args)  # microseconds, and no await on the way

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
            if self._postgresql:  # what fails is decided by storage_errors, as everywhere
                return await self._postgresql_pool().fetchval(sql, *args)
            try:
                row = self._connection().execute(sql, args).fetchone()
            except sqlite3.OperationalError:  # busy, or the file moved: the ordinary way
                self._close_sqlite()
                return await self._slow(args)
            return None if row is None else row[0]

    def _postgresql_pool(self) -> Connections:
        if self._pool is None:
            url = self._engine.url.set(drivername="postgresql")
            self._pool = Connections(
                url.render_as_string(hide_password=False),
                size=self._pool_size,
                application_name="ceasefire-heads",
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
        async with self._engine.connect() as conn:
            if not args:
                return await log_position(conn)
            head = await stream_head(conn, args[0])
            return None if head is None else head[1]
