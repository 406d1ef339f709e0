"""Replay: rebuild projections from the log while the API goes on serving the old ones.

Blue/green, in three steps:

1. Fold the log from position 0 into fresh scratch tables (``projections.scratch``), batch by
   batch, each batch its own short transaction, *without* the append lock: appends and reads
   go on against the live tables. Memory stays flat: events are read in keyset batches and the
   fold keeps only each conflict's small state.
2. Catch up, still unlocked, until the scratch tables are within one batch of the log's head.
3. Take the append lock (``log_head``), fold the few events appended meanwhile, swap the
   scratch tables in for the live ones and commit: one transaction, so a reader sees either
   the old tables or the new ones, and no event is lost or applied twice (positions commit in
   order, and the lock holds the head still).

Interrupted (Ctrl-C, a cancelled job, an error) before the swap commits, the live tables are
untouched and the scratch tables dropped; a run that was killed outright leaves them behind for
the next run to drop before it starts clean.

The same fold, ``projections.fold.apply``, serves the append path and this one, so they cannot
drift; a property test holds the rebuilt tables equal, row for row, to the live ones.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from events.log.codec import RowDecoder
from events.log.gc_pause import gc_paused
from events.log.store import EventStore
from events.log.tables import projection_checkpoints
from events.model.envelope import Recorded
from events.model.state import ConflictState
from projections.bulk import BulkWriter
from projections.changes import Changes
from projections.driver import RawConnection, raw_connection
from projections.inline import CHECKPOINT
from projections.jobs import Job, finish_job, heartbeat_every, start_job
from projections.references import fold_batch
from projections.scratch import Scratch, drop_leftovers
from projections.tables import PROJECTION_KEYS

__all__ = [
    "PROJECTIONS",
    "Progress",
    "ReplayStats",
    "Replayer",
    "UnknownProjectionError",
    "replay",
    "tables_of",
]

#: Each projection's name, as the CLI and the admin API spell it, and its table.
PROJECTIONS: dict[str, str] = {table.removeprefix("proj_"): table for table in PROJECTION_KEYS}

#: ``progress(done, total)``: events folded so far, and the log's head as last read.
Progress = Callable[[int, int], None]

#: How often a running job writes its heartbeat (and progress) to its row.
_HEARTBEAT_SECONDS = 1.0
#: How long the swap waits for a table lock (readers in flight) before it backs off and retries.
_LOCK_TIMEOUT = "5s"
_SWAP_ATTEMPTS = 5
#: Catch up without the lock until at most this many events are left for the locked step
#: (or after this many rounds, should appends ever outpace the replay).
_LOCKED_CATCH_UP = 100
_UNLOCKED_ROUNDS = 10


class UnknownProjectionError(ValueError):
    def __init__(self, name: str) -> None:
        super().__init__(f"no projection {name!r}; there are: {', '.join(PROJECTIONS)}")
        self.name = name


def tables_of(names: Sequence[str] | None) -> dict[str, str]:
    """``{name: table}`` for the named projections (all of them for None or empty)."""
    if not names:
        return dict(PROJECTIONS)
    for name in names:
        if name not in PROJECTIONS:
            raise UnknownProjectionError(name)
    return {name: PROJECTIONS[name] for name in PROJECTIONS if name in names}


@dataclass(frozen=True, slots=True)
class ReplayStats:
    projections: tuple[str, ...]
    events: int
    seconds: float
    #: Events folded while holding the append lock (appended during the rebuild).
    caught_up: int = 0
    #: How long appends waited for the catch-up and the swap.
    locked_seconds: float = 0.0

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0


class Replayer:
    """The fold of the whole log, batch by batch, written to ``targets`` (live table name ->
    table to write: a scratch table, or the live one itself).

    Writes go through ``conn``. Given a second connection, ``reader``, the events are read
    through it one batch ahead, and each batch's writes finish while the next one is folded:
    the database works on the other core while Python folds.

    ``position`` is the last event folded. ``mark``/``reset`` save and restore the in-memory
    side, for a locked transaction that has to be rolled back and tried again."""

    def __init__(
        self,
        conn: RawConnection,
        targets: dict[str, str],
        *,
        reader: RawConnection | None = None,
    ) -> None:
        self.conn = conn
        self.reader = reader
        self.targets = targets
        self.position = 0
        self.states: dict[str, ConflictState] = {}
        self._decoder = RowDecoder()
        self._writer = BulkWriter(conn, targets)
        self._saved: tuple[int, dict[str, ConflictState]] = (0, {})

    def mark(self) -> None:
        self._saved = (self.position, dict(self.states))

    def reset(self) -> None:
        self.position, states = self._saved
        self.states = dict(states)

    async def fold(self, rows: Sequence[Sequence[Any]]) -> Changes:
        """Fold event rows (``EVENT_COLUMNS``, in position order) into row changes, through
        ``projections.references.fold_batch`` (the batch fold the tests hold to the log)."""
        with gc_paused(promote=True):  # see gc_pause: thousands of small objects, none in a cycle
            decode = self._decoder.decode
            batch = [decode(row) for row in rows]
        changes = await fold_batch(self.states, batch, self._fetch)
        if rows:
            self.position = int(rows[-1][0])
        return changes

    async def _fetch(self, ids: Collection[UUID]) -> dict[UUID, Recorded]:
        """Earlier events that retractions and corrections of a batch name (one query)."""
        rows = await (self.reader or self.conn).events_by_id(list(ids))
        return {event.id: event for event in map(self._decoder.decode, rows)}

    async def _write(self, changes: Changes, in_transaction: bool) -> None:
        if in_transaction:
            await self._writer.write(changes)
        else:
            async with self.conn.transaction():
                await self._writer.write(changes)

    async def run(
        self,
        upto: int,
        *,
        batch_size: int,
        in_transaction: bool = False,
        on_batch: Callable[[int], Any] | None = None,
    ) -> int:
        """Fold and write every event after ``position`` up to ``upto``; how many. Each batch
        commits on its own unless ``in_transaction`` (the caller's transaction)."""
        if self.reader is None:
            return await self._run_plain(upto, batch_size, in_transaction, on_batch)
        reader = self.reader
        folded = 0
        reading: asyncio.Future[list[Sequence[Any]]] | None = None
        writing: asyncio.Future[None] | None = None
        try:
            if self.position < upto:
                reading = asyncio.ensure_future(reader.event_rows(self.position, upto, batch_size))
            while reading is not None:
                rows = await reading
                reading = None
                if not rows:
                    break
                if int(rows[-1][0]) < upto:  # read the next batch while this one folds
                    reading = asyncio.ensure_future(
                        reader.event_rows(int(rows[-1][0]), upto, batch_size)
                    )
                changes = await self.fold(rows)
                if writing is not None:
                    await writing
                    if on_batch is not None:
                        await on_batch(folded)
                writing = asyncio.ensure_future(self._write(changes, in_transaction))
                folded += len(rows)
            if writing is not None:
                await writing
                writing = None
                if on_batch is not None:
                    await on_batch(folded)
        finally:
            for pending in (reading, writing):
                if pending is not None and not pending.done():
                    pending.cancel()
                    with contextlib.suppress(BaseException):
                        await pending
        return folded

    async def _run_plain(
        self,
        upto: int,
        batch_size: int,
        in_transaction: bool,
        on_batch: Callable[[int], Any] | None,
    ) -> int:
        folded = 0
        while self.position < upto:
            rows = await self.conn.event_rows(self.position, upto, batch_size)
            if not rows:
                break
            changes = await self.fold(rows)
            await self._write(changes, in_transaction)
            folded += len(rows)
            if on_batch is not None:
                await on_batch(folded)
        return folded


async def replay(
    store: EventStore,
    names: Sequence[str] | None = None,
    *,
    batch_size: int = 5000,
    progress: Progress | None = None,
    job: Job | None = None,
) -> ReplayStats:
    """Rebuild the named projections (all of them by default) from position 0, blue/green.

    Runs as a projection job: ``job`` when the caller started it (the admin API, to answer
    with it at once), else one started here (``ProjectionJobRunningError`` when another runs).
    """
    tables = tables_of(names)
    if job is None:
        job = await start_job(store.engine, "rebuild", list(tables))
    done = 0
    try:
        stats = await _rebuild(store, tables, batch_size, progress, job)
    except BaseException as error:
        cancelled = isinstance(error, asyncio.CancelledError | KeyboardInterrupt)
        await asyncio.shield(
            finish_job(
                store.engine,
                job.id,
                "cancelled" if cancelled else "failed",
                error=None if cancelled else f"{type(error).__name__}: {error}",
            )
        )
        raise
    done = stats.events
    await finish_job(store.engine, job.id, "succeeded", done=done, total=done)
    return stats


async def _rebuild(
    store: EventStore,
    tables: dict[str, str],
    batch_size: int,
    progress: Progress | None,
    job: Job,
) -> ReplayStats:
    started = time.perf_counter()
    scratch = Scratch("rebuild_", tuple(tables.values()))
    beat = heartbeat_every(store.engine, job.id, _HEARTBEAT_SECONDS)
    async with raw_connection(store.engine) as conn, raw_connection(store.engine) as reader:
        await drop_leftovers(conn)
        await scratch.create(conn)
        swapped = False
        try:
            replayer = Replayer(conn, scratch.rename, reader=reader)
            head = await conn.head()

            async def on_batch(_: int) -> None:
                if progress is not None:
                    progress(replayer.position, head)
                await beat(replayer.position, head)

            for _ in range(_UNLOCKED_ROUNDS):  # each round has less to fold than the last
                await replayer.run(head, batch_size=batch_size, on_batch=on_batch)
                head = await conn.head()
                if head - replayer.position <= _LOCKED_CATCH_UP:
                    break
            await scratch.index(conn)  # the other indexes, now that the tables are full
            if conn.dialect == "postgresql":
                await scratch.analyze(conn)
            caught_up, locked = await _catch_up_and_swap(
                conn, replayer, scratch, tables, batch_size
            )
            swapped = True
            if progress is not None:
                progress(replayer.position, replayer.position)
        finally:
            if not swapped:
                await asyncio.shield(scratch.drop(conn))
    return ReplayStats(
        projections=tuple(tables),
        events=replayer.position,
        seconds=time.perf_counter() - started,
        caught_up=caught_up,
        locked_seconds=locked,
    )


async def _catch_up_and_swap(
    conn: RawConnection,
    replayer: Replayer,
    scratch: Scratch,
    tables: dict[str, str],
    batch_size: int,
) -> tuple[int, float]:
    """Under the append lock: fold what was appended since, swap, commit. On PostgreSQL the
    swap waits at most ``_LOCK_TIMEOUT`` for readers in flight, then backs off (appends resume)
    and tries again, so a slow reader never stalls the service behind the swap."""
    replayer.mark()
    for attempt in range(_SWAP_ATTEMPTS):
        locked_at = time.perf_counter()
        try:
            async with conn.transaction(lock=True) as head:
                assert head is not None
                if conn.dialect == "postgresql":
                    await conn.execute(f"SET LOCAL lock_timeout = '{_LOCK_TIMEOUT}'")
                caught_up = await replayer.run(head, batch_size=batch_size, in_transaction=True)
                await scratch.swap(conn)
                if len(tables) == len(PROJECTIONS):
                    await conn.execute(
                        "UPDATE projection_checkpoints SET rebuilt_at = $1 WHERE name = $2",
                        conn.bind_value(projection_checkpoints.c.rebuilt_at, datetime.now(UTC)),
                        CHECKPOINT,
                    )
            return caught_up, time.perf_counter() - locked_at
        except Exception as error:
            if not conn.is_lock_timeout(error) or attempt == _SWAP_ATTEMPTS - 1:
                raise
            replayer.reset()
            await asyncio.sleep(0.2 * (attempt + 1))
    raise AssertionError("unreachable")
