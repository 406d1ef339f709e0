"""Recording the outcomes of a worker's attempts: many to a transaction, none holding up the rest.

Attempts finish one by one; the recorder writes those gathered since its last write in one
transaction (``outcomes.record_attempts``), under the worker's write lock. What can go wrong:

- The database is away (``StorageUnavailableError``): the outcomes are kept and written again
  shortly. Their leases keep the deliveries this worker's meanwhile; if the worker dies first,
  the lease expires and the attempts are sent again (the documented at-least-once).
- Something in the batch cannot be stored (a value the database refuses): the batch is written
  again one outcome per transaction, so every other outcome is stored; the one that still fails
  is stored without what the receiver sent (answer and error text), and if even that fails it
  is given up, logged, and its lease brings the delivery back. So one receiver's answer never
  keeps another endpoint's outcomes unrecorded, and never makes a batch fail over and over.

Each outcome is written only while its claim is still this worker's, matched by (delivery,
lease token): a stale outcome is refused alone and never breaks the batch it is in.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from app.webhooks.outcomes import Attempted, record_attempts
from app.webhooks.retry import Outcome
from app.webhooks.subscriptions import write_transaction
from events.log.store import storage_errors
from events.model.errors import StorageUnavailableError

__all__ = ["Recorder", "brief"]

log = logging.getLogger("ceasefire.webhooks")


class Recorder:
    def __init__(
        self,
        engine: AsyncEngine,
        *,
        worker: str,
        lock: asyncio.Lock,
        disable_after: timedelta,
        retry_interval: float,
    ) -> None:
        self._engine = engine
        self._worker = worker
        self._lock = lock
        self._disable_after = disable_after
        self._retry_interval = retry_interval
        self._pending: list[tuple[Attempted, asyncio.Future[bool]]] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name=f"webhook-record {self._worker}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def record(self, attempted: Attempted) -> bool:
        """Write ``attempted`` with the next batch. True once stored; False when its claim is
        no longer this worker's (the subscription was deleted, or the lease expired and
        another worker took the delivery over) or when it could not be stored at all."""
        written: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._pending.append((attempted, written))
        self._wake.set()
        return await written

    async def _loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            batch, self._pending = self._pending, []
            if not batch:
                continue
            outcomes = [attempted for attempted, _future in batch]
            try:
                results = await self._write(outcomes)
            except StorageUnavailableError as error:
                log.warning(
                    "recording %d webhook attempts failed (%s); retrying", len(batch), brief(error)
                )
                await self._later(batch)
                continue
            except Exception as error:
                log.warning(
                    "recording %d webhook attempts failed (%s); recording them one by one",
                    len(batch),
                    brief(error),
                )
                done = await self._write_each(outcomes)
                results = done
                if len(done) < len(batch):  # the database went away midway
                    await self._later(batch[len(done) :])
            for (_attempted, future), ok in zip(batch, results, strict=False):
                if not future.done():
                    future.set_result(ok)

    async def _later(self, batch: list[tuple[Attempted, asyncio.Future[bool]]]) -> None:
        """Keep ``batch`` for the next write, after a pause: the database is away."""
        self._pending[:0] = batch
        await asyncio.sleep(self._retry_interval)
        self._wake.set()

    async def _write(self, outcomes: Sequence[Attempted]) -> list[bool]:
        with storage_errors():
            async with self._lock, write_transaction(self._engine) as conn:
                return await record_attempts(
                    conn, outcomes, worker=self._worker, disable_after=self._disable_after
                )

    async def _write_each(self, outcomes: Sequence[Attempted]) -> list[bool]:
        """One transaction per outcome; stops early (a shorter list) when the database is
        away, leaving the rest to be written again."""
        results: list[bool] = []
        for attempted in outcomes:
            try:
                try:
                    [ok] = await self._write([attempted])
                except StorageUnavailableError:
                    raise
                except Exception as error:
                    ok = await self._write_stripped(attempted, error)
            except StorageUnavailableError:
                break
            results.append(ok)
        return results

    async def _write_stripped(self, attempted: Attempted, error: Exception) -> bool:
        """Store ``attempted`` without what the receiver sent, saying why."""
        log.error(
            "delivery %s: the outcome of attempt %d cannot be stored (%s); "
            "storing it without the receiver's answer",
            attempted.claim.delivery_id,
            attempted.claim.attempt,
            brief(error),
        )
        unstored = f"the outcome could not be stored ({type(error).__name__})"
        stripped = dataclasses.replace(attempted, outcome=Outcome(None, unstored, 0.0))
        try:
            [ok] = await self._write([stripped])
        except StorageUnavailableError:
            raise
        except Exception as again:
            log.error(
                "delivery %s: attempt %d not recorded (%s); its lease will bring it back",
                attempted.claim.delivery_id,
                attempted.claim.attempt,
                brief(again),
            )
            return False
        return ok


def brief(error: BaseException, limit: int = 300) -> str:
    """One line for a log: the error's kind and the first line of its message, cut short
    (a driver's message goes on with the statement and its parameters, a receiver's answer
    among them)."""
    first = str(error).split("\n", 1)[0]
    text = f"{type(error).__name__}: {first}" if first else type(error).__name__
    return "".join(c if c.isprintable() else "\ufffd" for c in text[:limit])
