"""The write transaction of an append, one per database, each built for the fewest round trips.

Both take the events' rows and the projections' row changes already computed in Python, and
either write all of it in one transaction (returning the first position) or nothing (returning
None, when the stream is no longer at the expected version: the compare-and-set lost).

- PostgreSQL: one call of the ``ceasefire_append`` function (migration 0001) on the raw asyncpg
  connection: one round trip, one implicit transaction, no SQLAlchemy statement overhead on the
  hot path.
- SQLite: raw ``sqlite3`` connections of the writer's own. Going through aiosqlite costs a
  thread hop per statement (about ten per append). With ``synchronous=NORMAL`` the transaction
  runs on the caller's thread, no hop at all, unless another connection holds the write lock;
  then, and always with ``synchronous=FULL``, it runs in one writer thread, which waits for
  the lock and serialises this process's writers (see ``SqliteWriter``).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import sqlite3
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from operator import itemgetter
from typing import Any, Protocol
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncEngine

from events.envelope import chain_hash
from projections.changes import Changes
from projections.tables import PROJECTION_KEYS
from projections.writer import changes_as_json

__all__ = [
    "IdTakenError",
    "PostgresWriter",
    "SqliteWriter",
    "Writer",
    "keep_session",
    "postgresql_append_args",
]

POSTGRESQL_APPEND = "SELECT ceasefire_append($1, $2, $3::jsonb, $4::jsonb, $5)"

#: ``json.dumps(..., ensure_ascii=False)`` builds a new encoder on every call; this is built once.
_json = json.JSONEncoder(ensure_ascii=False).encode


class IdTakenError(Exception):
    """An event id of this append is stored already (the unique index refused it)."""


class _Busy(Exception):
    """SQLite answered busy to the inline connection: nothing was written."""


#: SQLite's answers that another connection holds a lock (primary codes: the low byte).
_BUSY = (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


class Writer(Protocol):
    async def write(
        self, conflict: str, expected: int, rows: list[dict[str, Any]], changes: Changes
    ) -> int | None: ...

    async def close(self) -> None: ...


def postgresql_append_args(
    conflict: str, expected: int, rows: list[dict[str, Any]], changes: Changes, checkpoint: str
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
            }
            for row in rows
        ]
    )
    return conflict, expected, events_json, changes_as_json(changes), checkpoint


async def keep_session(connection: Any) -> None:
    """asyncpg resets a connection on every release (``RESET ALL``, ``UNLISTEN *``…): a
    second round trip per call. These pools only run plain statements and never change session
    state, so there is nothing to reset."""


class PostgresWriter:
    """Appends through a small asyncpg pool of its own: acquiring from it costs a few
    microseconds, where a checkout through SQLAlchemy's pool and its adapter costs far more,
    and this runs once per append."""

    def __init__(self, engine: AsyncEngine, checkpoint: str, *, pool_size: int = 10) -> None:
        self._dsn = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._checkpoint = checkpoint
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
        self, conflict: str, expected: int, rows: list[dict[str, Any]], changes: Changes
    ) -> int | None:
        import asyncpg

        args = postgresql_append_args(conflict, expected, rows, changes, self._checkpoint)
        pool = self._pool or await self._acquire_pool()
        try:
            first = int(await pool.fetchval(POSTGRESQL_APPEND, *args))
        except asyncpg.UniqueViolationError as error:
            raise IdTakenError from error
        except (
            OSError,
            asyncpg.PostgresConnectionError,
            asyncpg.InterfaceError,
            # The server going down: "terminating connection due to administrator command"
            # (a restart), a crash, "the database system is starting up".
            asyncpg.OperatorInterventionError,
            # A connection the outage broke mid-operation, handed out again by the pool.
            asyncpg.InternalClientError,
        ) as error:
            raise ConnectionError(str(error)) from error
        return first if first > 0 else None

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None


def _sqlite_value(value: Any) -> Any:
    """Values as SQLAlchemy's SQLite types store them, so rows written here and rows written
    through SQLAlchemy (replay, reads) compare and sort the same."""
    if type(value) in _AS_THEY_ARE:  # most values: one set lookup, no isinstance chain
        return value
    if isinstance(value, datetime):
        return _sqlite_instant(value)
    if isinstance(value, UUID):
        return value.hex
    return value


_AS_THEY_ARE = frozenset({str, int, float, bool, bytes, type(None)})


@functools.lru_cache(maxsize=256)
def _sqlite_instant(value: datetime) -> str:
    """Cached: an append writes each of its instants two or three times (the event's row and
    the projection's)."""
    # isoformat, not strftime: glibc's %Y does not pad years before 1000 to four digits.
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


class SqliteWriter:
    """Appends on SQLite through connections of its own (raw ``sqlite3``, no SQLAlchemy).

    With ``synchronous=NORMAL`` an append runs on the caller's thread (the event loop): in WAL
    mode such a commit writes the WAL but never waits for the disk, so the whole transaction
    takes less time than the hop to a thread and back (a wake-up each way, the loop's
    self-pipe), which was the largest single cost of an append. Two things could make that
    block the loop, and neither may:

    - another connection holding the write lock: the inline connection has no busy timeout,
      so SQLite answers busy at once and the append goes to the writer thread instead, which
      waits for the lock as every append used to;
    - SQLite's automatic checkpoint, which runs inside the commit that crosses its threshold
      and syncs the files (milliseconds, every hundred appends or so): the inline connection
      has it off, and the writer thread runs a passive checkpoint on its own connection once
      about ``checkpoint_rows`` rows have been written since the last one. Durability is
      NORMAL's either way: the WAL is synced at checkpoints, not at commits.

    With ``synchronous=FULL`` every commit waits for the disk: all of it runs in the thread.
    """

    def __init__(
        self, path: str, *, synchronous: str, checkpoint: str, checkpoint_rows: int = 500
    ) -> None:
        self._path = path
        self._synchronous = synchronous
        self._checkpoint = checkpoint
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-writer")
        self._conn: sqlite3.Connection | None = None  # the writer thread's
        self._inline_allowed = synchronous.upper() != "FULL"
        self._inline: sqlite3.Connection | None = None  # the caller's, never waits for a lock
        #: Appends queued on or running in the thread: while there are any, the inline
        #: connection would only be told busy, and an append should queue behind them anyway.
        self._queued = 0
        self._checkpoint_rows = checkpoint_rows
        self._rows_since_checkpoint = 0
        self._checkpointing: Future[None] | None = None
        #: Checkpoints the writer thread has run (tests watch it).
        self.checkpoints = 0

    async def write(
        self, conflict: str, expected: int, rows: list[dict[str, Any]], changes: Changes
    ) -> int | None:
        if self._inline_allowed and not self._queued:
            try:
                first = self._write_inline(conflict, expected, rows, changes)
            except _Busy:
                pass
            else:
                if first is not None:
                    self._written(len(rows) + len(changes.closes) + len(changes.inserts) + 3)
                return first
        loop = asyncio.get_running_loop()
        self._queued += 1
        try:
            return await loop.run_in_executor(
                self._executor, self._write, conflict, expected, rows, changes
            )
        finally:
            self._queued -= 1

    async def close(self) -> None:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, self._close)
        self._executor.shutdown(wait=True)
        if self._inline is not None:
            self._inline.close()
            self._inline = None

    def _close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            conn = sqlite3.connect(self._path, timeout=30, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(f"PRAGMA synchronous={self._synchronous}")
            conn.execute("PRAGMA busy_timeout=30000")
            self._conn = conn
        return self._conn

    def _inline_connection(self) -> sqlite3.Connection:
        if self._inline is None:
            conn = sqlite3.connect(
                self._path, timeout=0, isolation_level=None, check_same_thread=False
            )
            conn.execute("PRAGMA busy_timeout=0")
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(f"PRAGMA synchronous={self._synchronous}")
            conn.execute("PRAGMA wal_autocheckpoint=0")  # the writer thread checkpoints
            self._inline = conn
        return self._inline

    def _write_inline(
        self, conflict: str, expected: int, rows: list[dict[str, Any]], changes: Changes
    ) -> int | None:
        """The append on the caller's thread; ``_Busy`` (nothing written) when another
        connection holds the lock, or when SQLite answers busy at any later step."""
        try:
            return self._transaction(self._inline_connection(), conflict, expected, rows, changes)
        except sqlite3.OperationalError as error:
            if error.sqlite_errorcode & 0xFF in _BUSY:
                raise _Busy from error
            raise

    def _written(self, rows: int) -> None:
        """Count rows the inline connection wrote; start a checkpoint in the writer thread
        when enough have piled up in the WAL and none is running."""
        self._rows_since_checkpoint += rows
        if self._rows_since_checkpoint < self._checkpoint_rows:
            return
        if self._checkpointing is not None and not self._checkpointing.done():
            return
        self._rows_since_checkpoint = 0
        self._checkpointing = self._executor.submit(self._checkpoint_wal)

    def _checkpoint_wal(self) -> None:
        # PASSIVE: copies what it can without waiting for readers or writers. A failure is
        # not the append's (it has committed); the next checkpoint tries again.
        with contextlib.suppress(sqlite3.Error):
            self._connection().execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            self.checkpoints += 1

    def _write(
        self, conflict: str, expected: int, rows: list[dict[str, Any]], changes: Changes
    ) -> int | None:
        return self._transaction(self._connection(), conflict, expected, rows, changes)

    def _transaction(
        self,
        conn: sqlite3.Connection,
        conflict: str,
        expected: int,
        rows: list[dict[str, Any]],
        changes: Changes,
    ) -> int | None:
        conn.execute("BEGIN IMMEDIATE")
        try:
            first = self._write_in_transaction(conn, conflict, expected, rows, changes)
            conn.execute("COMMIT" if first is not None else "ROLLBACK")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return first

    def _write_in_transaction(
        self,
        conn: sqlite3.Connection,
        conflict: str,
        expected: int,
        rows: list[dict[str, Any]],
        changes: Changes,
    ) -> int | None:
        head = conn.execute("SELECT position, hash FROM log_head WHERE id = 1").fetchone()
        position, previous = int(head[0]), bytes(head[1])
        first = position + 1
        # The compare-and-set of the stream's version, in one statement as in
        # ceasefire_append: no row changed means another writer got there first.
        last = position + len(rows)
        if expected == 0:
            moved = conn.execute(
                "INSERT INTO streams (conflict, version, position) VALUES (?, ?, ?) "
                "ON CONFLICT (conflict) DO NOTHING",
                (conflict, len(rows), last),
            )
        else:
            moved = conn.execute(
                "UPDATE streams SET version = ?, position = ? WHERE conflict = ? AND version = ?",
                (expected + len(rows), last, conflict, expected),
            )
        if moved.rowcount != 1:
            return None
        params = []
        for row in rows:
            position += 1
            previous = chain_hash(previous, row["content_hash"])
            params.append(
                (
                    position,
                    row["id"].hex,
                    conflict,
                    row["version"],
                    row["type"],
                    row["schema_version"],
                    _sqlite_value(row["occurred_at"]),
                    _sqlite_value(row["recorded_at"]),
                    row["source"],
                    row["data"],
                    previous,
                )
            )
        try:
            conn.executemany(
                "INSERT INTO events (position, id, conflict, version, type, schema_version, "
                "occurred_at, recorded_at, source, data, hash) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                params,
            )
        except sqlite3.IntegrityError as error:
            raise IdTakenError from error
        conn.execute(
            "UPDATE log_head SET position = ?, hash = ? WHERE id = 1", (position, previous)
        )
        _apply_sqlite_changes(conn, changes)
        conn.execute(
            "UPDATE projection_checkpoints SET position = ? WHERE name = ?",
            (position, self._checkpoint),
        )
        return first


def _apply_sqlite_changes(conn: sqlite3.Connection, changes: Changes) -> None:
    """Closes, then inserts (see ``Changes.close``); table and column names come from our own
    code (``PROJECTION_KEYS`` and the fold's rows), never from input."""
    for close in changes.closes:
        key = PROJECTION_KEYS[close.table]
        where = " AND ".join(f"{k} = ?" for k in key)
        conn.execute(
            f"UPDATE {close.table} SET known_until = ? WHERE known_until IS NULL AND {where}",
            (_sqlite_value(close.known_until), *(_sqlite_value(close.key[k]) for k in key)),
        )
    for table, group in _grouped(changes.inserts):
        columns = tuple(group[0])
        values = itemgetter(*columns)
        conn.executemany(
            _insert_statement(table, columns),
            [tuple(map(_sqlite_value, values(row))) for row in group],
        )


@functools.cache
def _insert_statement(table: str, columns: tuple[str, ...]) -> str:
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"


def _grouped(
    inserts: Iterable[tuple[str, dict[str, Any]]],
) -> list[tuple[str, list[dict[str, Any]]]]:
    groups: dict[str, list[dict[str, Any]]] = {}
    for table, row in inserts:
        if table not in PROJECTION_KEYS:
            raise ValueError(f"not a projection table: {table}")
        groups.setdefault(table, []).append(row)
    return list(groups.items())
