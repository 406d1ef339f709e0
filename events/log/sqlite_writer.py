"""The write transaction of an append on SQLite (see ``events.log.writers`` for PostgreSQL's).

Raw ``sqlite3`` connections of the writer's own. Going through aiosqlite costs a thread hop per
statement (about ten per append). With ``synchronous=NORMAL`` the transaction runs on the
caller's thread, no hop at all, unless another connection holds the write lock; then, and
always with ``synchronous=FULL``, it runs in one writer thread, which waits for the lock and
serialises this process's writers (see ``SqliteWriter``).
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Any

from events.log.codec import EVENT_COLUMNS
from events.log.database import WAL_SIZE_LIMIT
from events.log.positions import LOG_HEAD, raw_sql
from events.log.sqlite_values import DIALECT, rows_binder
from events.log.tables import events, log_head
from events.log.writers import Append, Batch, IdTakenError, Written
from events.model.envelope import chain_hash

__all__ = ["SqliteWriter"]


#: What the decoders read (``events.log.codec``), and the chain's hash and the writer's key.
_EVENT_COLUMNS = (*EVENT_COLUMNS, "hash", "key_id")
#: The log's head as two scalar subqueries (``LOG_HEAD``, the one lookup, a column each), for
#: the compare-and-set to return: one statement moves the stream and reads where the log is.
_HEAD_POSITION = f"({raw_sql(LOG_HEAD.with_only_columns(log_head.c.position), DIALECT)})"
_HEAD_HASH = f"({raw_sql(LOG_HEAD.with_only_columns(log_head.c.hash), DIALECT)})"
#: The compare-and-set of a stream's version, as ``ceasefire_append`` does it: a new stream's
#: row (expected version 0), or the row at the expected version moved on; no row returned
#: means another writer got there first. It returns the log's head the events continue from.
_NEW_STREAM = (
    "INSERT INTO streams (conflict, version, position) "
    f"VALUES (?, ?, {_HEAD_POSITION} + ?) ON CONFLICT (conflict) DO NOTHING "
    f"RETURNING {_HEAD_POSITION}, {_HEAD_HASH}"
)
_MOVE_STREAM = (
    f"UPDATE streams SET version = ?, position = {_HEAD_POSITION} + ? "
    f"WHERE conflict = ? AND version = ? RETURNING {_HEAD_POSITION}, {_HEAD_HASH}"
)
_MARKS = ", ".join("?" * len(_EVENT_COLUMNS))
_INSERT_EVENTS = f"INSERT INTO events ({', '.join(_EVENT_COLUMNS)}) VALUES ({_MARKS})"
#: The event rows' values as SQLite stores them (``events.log.sqlite_values``, the one converter).
_bind_events = rows_binder(events, _EVENT_COLUMNS)


#: The bytes of a WAL frame besides its page (SQLite's file format).
_FRAME_HEADER = 24


class _Busy(Exception):
    """SQLite answered busy to the inline connection: nothing was written."""


#: SQLite's answers that another connection holds a lock (primary codes: the low byte).
_BUSY = (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


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

    SQLite writes the WAL from its start again only once a checkpoint has copied all of it;
    with commits landing during every checkpoint, none ever did, and a burst of appends grew
    the WAL without end (60 kB an append: about 1 GB after 16,000 appends, for a 16 MB
    database), each commit slower as it grew (170 to 330 µs). So once the WAL holds half of
    ``wal_size_limit``, a checkpoint has a closing pass: the first pass, which copies what
    piled up (milliseconds: two syncs and every page), runs beside inline appends; the closing
    one, which copies only what they wrote meanwhile, with appends queued behind it in the
    thread, so it copies all of it and the next commit starts the WAL over. (Behind the whole
    checkpoint, a burst's appends waited 43 µs each on average, 15% of their time; behind a
    closing pass at every checkpoint, 12 µs; timed again later, with a wrapper around each
    layer, 37-41 µs, and 19-21 µs behind one only past 16 MiB.) Below half the limit
    the first pass is all: it keeps the copying incremental while the WAL grows. The WAL file
    then stays under about ``wal_size_limit``, and ``journal_size_limit`` gives back the space
    a longer transaction (a bulk load's) took.

    With ``synchronous=FULL`` every commit waits for the disk: all of it runs in the thread.
    """

    def __init__(
        self,
        path: str,
        *,
        synchronous: str,
        checkpoint_rows: int = 500,
        wal_size_limit: int = WAL_SIZE_LIMIT,
    ) -> None:
        self._path = path
        self._synchronous = synchronous
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-writer")
        self._conn: sqlite3.Connection | None = None  # the writer thread's
        self._inline_allowed = synchronous.upper() != "FULL"
        self._inline: sqlite3.Connection | None = None  # the caller's, never waits for a lock
        #: Appends queued on or running in the thread: while there are any, the inline
        #: connection would only be told busy, and an append should queue behind them anyway.
        self._queued = 0
        self._checkpoint_rows = checkpoint_rows
        self._wal_size_limit = wal_size_limit
        self._rows_since_checkpoint = 0
        #: The checkpoint pass submitted last, and whether it is the closing pass (which
        #: appends queue behind) rather than the first (which they run beside).
        self._checkpointing: Future[None] | None = None
        self._closing_pass = False
        #: Whether the WAL was long at the last checkpoint pass, so the checkpoint needs a
        #: closing pass to start it over: set by the writer thread, read once the pass is done.
        self._wal_long = False
        self._frame_size = 4096 + _FRAME_HEADER  # the page size's, once the thread has asked
        #: Checkpoints the writer thread has run (tests watch it).
        self.checkpoints = 0

    @property
    def queued(self) -> int:
        """Appends queued on or running in the writer thread now (tests watch it: an append
        that waits there for another connection's lock leaves the event loop free)."""
        return self._queued

    async def write(self, append: Append) -> Written | None:
        """Each event recorded at its row's time, ``keep_recorded_at`` or not: SQLite has no
        roles, whoever can write the file is its owner."""
        return (await self.write_group((append,)))[0]

    async def write_group(self, appends: Sequence[Append]) -> list[Written | None]:
        """The appends in one transaction (``events.log.group_commit``), on the caller's
        thread when it need not wait, else in the writer thread."""
        if self._inline_allowed and not self._queued and not self._behind_checkpoint():
            try:
                firsts = self._write_inline(appends)
            except _Busy:
                pass
            else:
                self._written(
                    sum(
                        len(a.rows) + len(a.work) + 3
                        for a, f in zip(appends, firsts, strict=True)
                        if f
                    )
                )
                return [None if first is None else Written(first) for first in firsts]
        loop = asyncio.get_running_loop()
        self._queued += 1
        try:
            firsts = await loop.run_in_executor(self._executor, self._write, appends)
        finally:
            self._queued -= 1
        return [None if first is None else Written(first) for first in firsts]

    @asynccontextmanager
    async def batch(self) -> AsyncIterator[Batch]:
        """A connection and a thread of the batch's own: the transaction holds SQLite's write
        lock from its start to its end, while the writer's own connections answer other
        appends (they wait for the lock meanwhile, up to their busy timeout)."""
        loop = asyncio.get_running_loop()
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-batch")

        def run(call: Callable[..., Any], *args: Any) -> asyncio.Future[Any]:
            return loop.run_in_executor(executor, call, *args)

        try:
            conn = await run(self._open, 30)
            try:
                await run(conn.execute, "BEGIN IMMEDIATE")
                try:
                    yield _SqliteBatch(self, conn, run)
                except BaseException:
                    await run(conn.execute, "ROLLBACK")
                    raise
                await run(conn.execute, "COMMIT")
            finally:
                await run(conn.close)
        finally:
            executor.shutdown(wait=False)

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

    def _open(self, timeout: float) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self._path, timeout=timeout, isolation_level=None, check_same_thread=False
        )
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={self._synchronous}")
        conn.execute(f"PRAGMA busy_timeout={int(timeout * 1000)}")
        conn.execute(f"PRAGMA journal_size_limit={int(self._wal_size_limit)}")
        return conn

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            self._conn = self._open(30)
            (page_size,) = self._conn.execute("PRAGMA page_size").fetchone()
            self._frame_size = page_size + _FRAME_HEADER
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
            conn.execute(f"PRAGMA journal_size_limit={int(self._wal_size_limit)}")
            self._inline = conn
        return self._inline

    def _write_inline(self, appends: Sequence[Append]) -> list[int | None]:
        """The appends on the caller's thread; ``_Busy`` (nothing written) when another
        connection holds the lock, or when SQLite answers busy at any later step."""
        try:
            return self._transaction(self._inline_connection(), appends)
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
        running = self._checkpointing
        if running is not None and not (running.done() and self._closing_pass):
            return  # the last checkpoint has not had its closing pass yet
        self._rows_since_checkpoint = 0
        self._closing_pass = False
        self._checkpointing = self._executor.submit(self._checkpoint_wal)

    def _behind_checkpoint(self) -> bool:
        """Whether an append goes to the thread, behind a checkpoint's closing pass, rather
        than inline: from that pass's submission, which comes with the first append after a
        first pass that found the WAL long is over, to its end."""
        running = self._checkpointing
        if running is None or not running.done():
            return running is not None and self._closing_pass
        if self._closing_pass:
            return False
        if not self._wal_long:  # the first pass is all: see the class's docstring
            self._checkpointing = None
            return False
        self._closing_pass = True
        self._checkpointing = self._executor.submit(self._checkpoint_wal)
        return True

    def _checkpoint_wal(self) -> None:
        # PASSIVE: copies what it can without waiting for readers (a reader's snapshot keeps
        # the frames it needs, and the WAL, for the next one). A failure is not the append's
        # (it has committed); the next checkpoint tries again.
        with contextlib.suppress(sqlite3.Error):
            # The frames the WAL held when the pass began (those copied are of them: appends
            # beside the pass added more, so "all copied" does not mean the WAL can restart).
            ((_, frames, _),) = (
                self._connection().execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            )
            self._wal_long = frames * self._frame_size >= self._wal_size_limit // 2
            self.checkpoints += 1

    def _write(self, appends: Sequence[Append]) -> list[int | None]:
        return self._transaction(self._connection(), appends)

    def _transaction(self, conn: sqlite3.Connection, appends: Sequence[Append]) -> list[int | None]:
        """One transaction for ``appends``, each its own compare-and-set (None: its stream
        moved on, nothing of it written); any error writes none of them."""
        conn.execute("BEGIN IMMEDIATE")
        try:
            firsts = [self._write_in_transaction(conn, append) for append in appends]
            conn.execute("ROLLBACK" if all(f is None for f in firsts) else "COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return firsts

    def _write_in_transaction(self, conn: sqlite3.Connection, append: Append) -> int | None:
        conflict, expected, rows, work = append.conflict, append.expected, append.rows, append.work
        if expected == 0:
            moved = conn.execute(_NEW_STREAM, (conflict, len(rows), len(rows)))
        else:
            moved = conn.execute(
                _MOVE_STREAM, (expected + len(rows), len(rows), conflict, expected)
            )
        heads = moved.fetchall()  # all of it: a statement still stepping would hold the commit
        if not heads:
            return None
        position, previous = int(heads[0][0]), bytes(heads[0][1])
        first = position + 1
        params = []
        for row in rows:
            position += 1
            previous = chain_hash(previous, row["content_hash"])
            params.append(
                (
                    position,
                    row["id"],
                    conflict,
                    row["version"],
                    row["type"],
                    row["schema_version"],
                    row["occurred_at"],
                    row["recorded_at"],
                    row["source"],
                    row["data"],
                    previous,
                    row["key_id"],
                )
            )
        try:
            conn.executemany(_INSERT_EVENTS, _bind_events(params))
        except sqlite3.IntegrityError as error:
            raise IdTakenError from error
        conn.execute(
            "UPDATE log_head SET position = ?, hash = ? WHERE id = 1", (position, previous)
        )
        work.write_sqlite(conn)
        conn.execute(
            "UPDATE projection_checkpoints SET position = ? WHERE name = ?",
            (position, work.checkpoint),
        )
        return first


class _SqliteBatch:
    def __init__(
        self,
        writer: SqliteWriter,
        conn: sqlite3.Connection,
        run: Callable[..., Awaitable[Any]],
    ) -> None:
        self._writer = writer
        self._conn = conn
        self._run = run

    async def write(self, append: Append) -> Written | None:
        first: int | None = await self._run(self._writer._write_in_transaction, self._conn, append)
        return None if first is None else Written(first)
