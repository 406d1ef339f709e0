"""The write transaction of an append, one per database, each built for the fewest round trips.

Both take the events' rows and the projections' row changes already computed in Python, and
either write all of it in one transaction (returning the first position) or nothing (returning
None, when the stream is no longer at the expected version: the compare-and-set lost).

- PostgreSQL: one call of the ``ceasefire_append`` function (migration 0001) on the raw asyncpg
  connection: one round trip, one implicit transaction, no SQLAlchemy statement overhead on the
  hot path.
- SQLite: the whole transaction runs in one dedicated writer thread with its own ``sqlite3``
  connection. Going through aiosqlite costs a thread hop per statement (about ten per append);
  here it is one hop per append. The thread also serialises this process's writers, so they
  queue instead of spinning on SQLite's busy lock.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
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


class IdTakenError(Exception):
    """An event id of this append is stored already (the unique index refused it)."""


class Writer(Protocol):
    async def write(
        self, conflict: str, expected: int, rows: list[dict[str, Any]], changes: Changes
    ) -> int | None: ...

    async def close(self) -> None: ...


def postgresql_append_args(
    conflict: str, expected: int, rows: list[dict[str, Any]], changes: Changes, checkpoint: str
) -> tuple[str, int, str, str, str]:
    """The arguments of one ``ceasefire_append`` call."""
    events_json = json.dumps(
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
        ],
        ensure_ascii=False,
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
        except (OSError, asyncpg.PostgresConnectionError, asyncpg.InterfaceError) as error:
            raise ConnectionError(str(error)) from error
        return first if first > 0 else None

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None


def _sqlite_value(value: Any) -> Any:
    """Values as SQLAlchemy's SQLite types store them, so rows written here and rows written
    through SQLAlchemy (replay, reads) compare and sort the same."""
    if isinstance(value, datetime):
        # isoformat, not strftime: glibc's %Y does not pad years before 1000 to four digits.
        return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")
    if isinstance(value, UUID):
        return value.hex
    return value


class SqliteWriter:
    def __init__(self, path: str, *, synchronous: str, checkpoint: str) -> None:
        self._path = path
        self._synchronous = synchronous
        self._checkpoint = checkpoint
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-writer")
        self._conn: sqlite3.Connection | None = None

    async def write(
        self, conflict: str, expected: int, rows: list[dict[str, Any]], changes: Changes
    ) -> int | None:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._executor, self._write, conflict, expected, rows, changes
        )

    async def close(self) -> None:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, self._close)
        self._executor.shutdown(wait=True)

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

    def _write(
        self, conflict: str, expected: int, rows: list[dict[str, Any]], changes: Changes
    ) -> int | None:
        conn = self._connection()
        conn.execute("BEGIN IMMEDIATE")
        try:
            first = self._write_in_transaction(conn, conflict, expected, rows, changes)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT" if first is not None else "ROLLBACK")
        return first

    def _write_in_transaction(
        self,
        conn: sqlite3.Connection,
        conflict: str,
        expected: int,
        rows: list[dict[str, Any]],
        changes: Changes,
    ) -> int | None:
        current = conn.execute(
            "SELECT version FROM streams WHERE conflict = ?", (conflict,)
        ).fetchone()
        if (current[0] if current else 0) != expected:
            return None
        head = conn.execute("SELECT position, hash FROM log_head WHERE id = 1").fetchone()
        position, previous = int(head[0]), bytes(head[1])
        first = position + 1
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
            "INSERT INTO streams (conflict, version, position) VALUES (?, ?, ?) "
            "ON CONFLICT (conflict) DO UPDATE SET version = excluded.version, "
            "position = excluded.position",
            (conflict, expected + len(rows), position),
        )
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
        columns = list(group[0])
        conn.executemany(
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
            [tuple(_sqlite_value(row[c]) for c in columns) for row in group],
        )


def _grouped(
    inserts: Iterable[tuple[str, dict[str, Any]]],
) -> list[tuple[str, list[dict[str, Any]]]]:
    groups: dict[str, list[dict[str, Any]]] = {}
    for table, row in inserts:
        if table not in PROJECTION_KEYS:
            raise ValueError(f"not a projection table: {table}")
        groups.setdefault(table, []).append(row)
    return list(groups.items())
