"""Group commit: concurrent appends share one transaction, and its one commit.

Every append takes the log's one lock (``log_head``) and holds it to its commit, so appends
run one at a time whatever the number of writers; a commit is what each of them waits for
(PostgreSQL's WAL flush, SQLite's WAL write). ``GroupCommit`` lets the appends that arrive
while one is being written wait, then writes all of them in one transaction
(``Writer.write_group``): one lock, one commit, for the group.

What each append keeps, as if it were alone:

- its own compare-and-set: each is written only while its stream is at its expected version
  (a refused one writes nothing and is answered None; the others are written);
- its own idempotency: an event id that is stored already fails the group's transaction, which
  then writes nothing; each of its appends is written again alone, so only the one holding the
  taken id is refused (``IdTakenError``) and one refused append never fails the others;
- its acknowledgement after the commit: a caller hears of its write only when the transaction
  holding it has committed;
- the global order: positions are still taken under the log's lock, in one transaction, so a
  reader paging the feed still never skips one.

A writer alone pays nothing for it: its append is written as before. On SQLite, whose inline
append never waits (``events.log.sqlite_writer``), an append lets the event loop run once before
it writes (``gather``), so appends decided meanwhile by other tasks can join it; except when it
comes from the task whose append was just written alone, which lets the loop run for only one
append in ``PROBE_EVERY``. A turn of the loop costs about 15 µs, 6% of a lone append, and a task
appending in a loop (a bulk writer, a benchmark) found company at none of them; appends from
many tasks (HTTP requests: a task each) still look for it every time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from events.log.writers import Append, Writer, Written

__all__ = ["GroupCommit"]

#: An append's outcome in a group: where it went, None (its stream moved on), or its error.
Outcome = Written | None | Exception

#: Of the appends a task makes right after its own one was written alone, one in this many
#: lets the event loop run before it writes, to see whether others would join it (``gather``).
PROBE_EVERY = 8


class GroupCommit:
    """Appends through ``writer``, concurrent ones in one transaction (at most ``max_group``)."""

    def __init__(self, writer: Writer, *, gather: bool, max_group: int = 64) -> None:
        self._writer = writer
        self._gather = gather
        self._max_group = max_group
        #: Appends waiting for the transaction being written to end, with their callers.
        self._waiting: list[tuple[Append, asyncio.Future[Written | None]]] = []
        #: A transaction is being written (or about to be): later appends wait for it.
        self._busy = False
        self._flushes: set[asyncio.Task[None]] = set()
        #: Transactions written (tests watch it: concurrent appends share them).
        self.transactions = 0
        #: Appends written alone since the last that had company, and the task of the last.
        self._alone = 0
        self._alone_task: asyncio.Task[Any] | None = None

    async def write(self, append: Append) -> Written | None:
        """``Writer.write``, in a transaction shared with the appends concurrent with it."""
        if self._busy:
            return await self._enqueue(append)
        self._busy = True
        task = asyncio.current_task()
        try:
            if self._gather and (task is not self._alone_task or self._alone % PROBE_EVERY == 0):
                await asyncio.sleep(0)  # the appends other tasks decided meanwhile join in
        except BaseException:
            self._hand_over()
            raise
        if self._waiting:  # company: all of them, this one first, in one transaction
            self._alone, self._alone_task = 0, None
            future = self._enqueue(append, first=True)
            self._hand_over()
            return await future
        self._alone = self._alone + 1 if task is self._alone_task else 1
        self._alone_task = task
        try:
            self.transactions += 1
            return await self._writer.write(append)
        finally:
            self._hand_over()

    async def close(self) -> None:
        """Wait for the transactions under way (their callers wait for them)."""
        while self._flushes:
            await asyncio.gather(*self._flushes, return_exceptions=True)

    def _enqueue(self, append: Append, *, first: bool = False) -> asyncio.Future[Written | None]:
        future: asyncio.Future[Written | None] = asyncio.get_running_loop().create_future()
        self._waiting.insert(0 if first else len(self._waiting), (append, future))
        return future

    def _hand_over(self) -> None:
        """Start writing what waits, as the next transaction; or be idle."""
        if not self._waiting:
            self._busy = False
            return
        self._alone, self._alone_task = 0, None
        group = self._waiting[: self._max_group]
        del self._waiting[: self._max_group]
        task = asyncio.get_running_loop().create_task(self._flush(group))
        self._flushes.add(task)
        task.add_done_callback(self._flushes.discard)

    async def _flush(self, group: list[tuple[Append, asyncio.Future[Written | None]]]) -> None:
        live = [(append, future) for append, future in group if not future.done()]
        try:
            outcomes = await self._outcomes([append for append, _ in live])
        except BaseException as error:  # cancelled (the loop ends): none of them hears more
            for _, future in live:
                if future.done():
                    continue
                if isinstance(error, Exception):
                    future.set_exception(error)
                else:
                    future.cancel()
            raise
        finally:
            self._hand_over()
        for (_, future), outcome in zip(live, outcomes, strict=True):
            if future.done():
                continue
            if isinstance(outcome, Exception):
                future.set_exception(outcome)
            else:
                future.set_result(outcome)

    async def _outcomes(self, appends: Sequence[Append]) -> list[Outcome]:
        """Each append's outcome: all in one transaction, or, when that one failed (nothing
        written), each in a transaction of its own."""
        if len(appends) > 1:
            self.transactions += 1
            try:
                return list(await self._writer.write_group(appends))
            except Exception:  # an id taken, say: each alone, so only its append hears it
                pass
        outcomes: list[Outcome] = []
        for append in appends:
            self.transactions += 1
            try:
                outcomes.append(await self._writer.write(append))
            except Exception as error:
                outcomes.append(error)
        return outcomes
