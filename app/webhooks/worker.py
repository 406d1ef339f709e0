"""The webhook worker: dispatches new events into deliveries, and sends the due ones.

``ceasefire serve`` runs one in-process; ``ceasefire worker`` runs more as separate processes.
Each worker runs three loops (and, on PostgreSQL, a LISTEN connection that wakes them):

- dispatch: woken by ``store.on_append`` in-process, by PostgreSQL's ``ceasefire_events``
  notifications across processes, and by a poll as the fallback; see ``dispatcher``. A burst
  of appends wakes it once per ``_DISPATCH_SPACING``, and while its last look found no
  subscription at all appends do not wake it (a look costs a connection and reads, which
  every append would pay): the poll and a subscription made in this process do.
- deliver: claims due deliveries (``queue.claim_due``: ``FOR UPDATE SKIP LOCKED`` and a lease
  on PostgreSQL, so several workers never send the same attempt; on SQLite one transaction
  holding the database), sends up to ``webhook_concurrency`` at once, and hands each outcome
  to the recorder. It sleeps until the earliest due retry, a wake-up, or the poll interval.
  No endpoint has more than ``webhook_endpoint_concurrency`` of those attempts in flight: an
  endpoint at its share is left out of the claims (and of the look for due work) until one
  of its attempts ends, so one that hangs until the timeout holds its share of the slots and
  no more, and the other endpoints' deliveries keep going out beside it.
- record: writes the outcomes gathered meanwhile in one transaction (``recorder``; an outcome
  that cannot be stored is isolated there). One writer per worker (an asyncio lock shared by
  the dispatcher, the claims and the recorder): on SQLite, sixteen transactions racing for the
  write lock spend their time in its busy-wait backoff.

Every failed attempt is logged, one line (``ceasefire.webhooks``, WARNING): delivery,
subscription, host, attempt, what went wrong and what happens next; never a secret.

Ordering is best effort: deliveries are claimed oldest first, but sent concurrently and
retried on their own schedules, so a receiver may see events out of order.

What a process holds around a worker (its sender, and the running of both) is
``app.webhooks.machinery``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from uuid import UUID, uuid4

import httpx

from app.http.links import public_link
from app.settings import Settings
from app.webhooks.cloudevents import SOURCE, event_body
from app.webhooks.dispatcher import dispatch_pending
from app.webhooks.outcomes import Attempted
from app.webhooks.queue import NOTIFY_CHANNEL, Claim, claim_due, earliest_due, first_wanted
from app.webhooks.recorder import Recorder, brief
from app.webhooks.retry import Outcome, Verdict, decide
from app.webhooks.sealing import secret_box
from app.webhooks.sender import WebhookSender
from app.webhooks.subscriptions import DeliveryStatus, write_transaction
from events.log.notifications import CHANNEL, ChannelHandler
from events.log.store import EventStore, storage_errors
from events.model.envelope import format_instant
from events.model.errors import StorageUnavailableError

__all__ = ["WebhookWorker", "message_id"]


log = logging.getLogger("ceasefire.webhooks")

#: The PostgreSQL channel ``ceasefire_append`` notifies on every append.
EVENTS_CHANNEL = CHANNEL
#: The least time between two looks of the dispatcher at the log (seconds): what a burst of
#: appends may add to the time to a delivery, against a look per append.
_DISPATCH_SPACING = 0.01


def _now() -> datetime:
    return datetime.now(UTC)


def message_id(delivery_id: UUID) -> str:
    """The ``webhook-id`` of a delivery: the same for every attempt of it, so receivers
    dedupe on it."""
    return f"msg_{delivery_id.hex}"


class WebhookWorker:
    def __init__(
        self,
        store: EventStore,
        settings: Settings,
        sender: WebhookSender,
        *,
        name: str | None = None,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self.store = store
        self.settings = settings
        self.sender = sender
        self.name = name or f"{socket.gethostname()}:{os.getpid()}:{uuid4().hex[:6]}"
        self._clock = clock
        self.box = secret_box(settings)
        self.source = public_link(settings, SOURCE)
        self._dispatch_wake = asyncio.Event()
        #: No subscription at the last look: appends do not wake the dispatcher (the poll
        #: does, and ``wake``).
        self._quiet = False
        self._deliver_wake = asyncio.Event()
        self._in_flight: set[asyncio.Task[None]] = set()
        #: Attempts in flight by endpoint (subscription id), each under ``_share``.
        self._endpoint_in_flight: Counter[UUID] = Counter()
        self._share = min(settings.webhook_endpoint_concurrency, settings.webhook_concurrency)
        self._tasks: list[asyncio.Task[None]] = []
        self._write_lock = asyncio.Lock()
        self._poll = settings.webhook_poll_interval.total_seconds()
        #: Told of every attempt sent, with its outcome (``Outcome.kind``) and what it made of
        #: the delivery (``/metrics``: ``app.metric_families.Metrics.attempted``).
        self.on_attempt: list[Callable[[str, DeliveryStatus], None]] = []
        self.recorder = Recorder(
            store.engine,
            worker=self.name,
            lock=self._write_lock,
            disable_after=settings.webhook_disable_after,
            retry_interval=self._poll,
        )

    # -- wake-ups ----------------------------------------------------------------------------

    def _on_append(self, _conflict: str, _position: int) -> None:
        # With no subscription at the last look, an append has nothing to dispatch: the look
        # at the next poll (or a wake(), when one is made here) finds any made meanwhile.
        if not self._quiet:
            self._dispatch_wake.set()

    def wake(self) -> None:
        """Look for work now (a delivery was re-queued, an endpoint re-enabled…)."""
        self._quiet = False
        self._dispatch_wake.set()
        self._deliver_wake.set()

    def channels(self) -> dict[str, ChannelHandler]:
        """What wakes this worker from other processes (PostgreSQL): appends, and deliveries a
        dispatcher made. The process's one listening connection (``events.log.notifications``)
        listens for them; a None payload (notifications may have been missed) wakes it too."""
        return {
            EVENTS_CHANNEL: lambda _payload: self._on_append("", 0),
            NOTIFY_CHANNEL: lambda _payload: self._deliver_wake.set(),
        }

    # -- life cycle --------------------------------------------------------------------------

    def start(self) -> None:
        self.store.on_append.append(self._on_append)
        self.recorder.start()
        self._tasks = [
            asyncio.create_task(self._dispatch_loop(), name=f"webhook-dispatch {self.name}"),
            asyncio.create_task(self._deliver_loop(), name=f"webhook-deliver {self.name}"),
        ]

    async def stop(self, grace: float = 5.0) -> None:
        """Stop looking for work; let attempts in flight finish for up to ``grace`` seconds.
        An attempt cut off keeps its lease and is taken over when the lease expires."""
        with contextlib.suppress(ValueError):
            self.store.on_append.remove(self._on_append)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._in_flight:
            _done, pending = await asyncio.wait(self._in_flight, timeout=grace)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        await self.recorder.stop()

    # -- loops -------------------------------------------------------------------------------

    @staticmethod
    async def _wait(event: asyncio.Event, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(max(seconds, 0)):
                await event.wait()
        event.clear()

    async def _dispatch_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            looked_at = loop.time()
            try:
                _events, made = await dispatch_pending(
                    self.store,
                    batch=self.settings.webhook_dispatch_batch,
                    clock=self._clock,
                    lock=self._write_lock,
                )
                if made:
                    self._deliver_wake.set()
                self._quiet = not made and not await self._subscribed()
            except Exception as error:  # log it, keep trying
                _log_failure("webhook dispatch", error)
            await self._wait(self._dispatch_wake, self._poll)
            # A burst of appends wakes this loop once per _DISPATCH_SPACING, not once each: a look
            # costs a connection and two reads, which every append of the burst would pay.
            spare = looked_at + _DISPATCH_SPACING - loop.time()
            if spare > 0:
                await asyncio.sleep(spare)

    async def _subscribed(self) -> bool:
        """Whether any subscription exists (``first_wanted``: None when none does)."""
        with storage_errors():
            async with self.store.engine.connect() as conn:
                return await first_wanted(conn, 0) is not None

    async def _deliver_loop(self) -> None:
        capacity = self.settings.webhook_concurrency
        # Claim in batches: waiting for a quarter of the slots to free up costs little
        # latency and saves a claim transaction per delivery under load.
        batch = max(1, capacity // 4)
        while True:
            timeout = self._poll
            try:
                free = capacity - len(self._in_flight)
                if free < batch and self._in_flight:
                    await self._wait(self._deliver_wake, timeout)  # until a slot frees up
                    continue
                # Look (a read) before claiming (a write): an idle worker never takes
                # SQLite's write lock, so it never makes an append wait.
                wait = await self._until_next_due(timeout)
                if wait > 0:
                    await self._wait(self._deliver_wake, wait)
                    continue
                claims = await self._claim(free)
                for claim in claims:
                    self._endpoint_in_flight[claim.subscription.id] += 1
                    task = asyncio.create_task(self._deliver(claim))
                    self._in_flight.add(task)
                    task.add_done_callback(self._finished)
                if claims:
                    continue  # there may be more due: claim again once slots free up
            except Exception as error:
                _log_failure("webhook claim", error)
            await self._wait(self._deliver_wake, timeout)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._in_flight.discard(task)
        self._deliver_wake.set()

    def _sent(self, endpoint: UUID) -> None:
        """An attempt to ``endpoint`` is over (its outcome may still be being recorded): the
        endpoint has room for one more."""
        self._endpoint_in_flight[endpoint] -= 1
        if self._endpoint_in_flight[endpoint] <= 0:
            del self._endpoint_in_flight[endpoint]
        self._deliver_wake.set()

    def _at_share(self) -> set[UUID]:
        """The endpoints with as many attempts in flight as they may have."""
        return {e for e, n in self._endpoint_in_flight.items() if n >= self._share}

    async def _claim(self, limit: int) -> list[Claim]:
        with storage_errors():
            async with self._write_lock, write_transaction(self.store.engine) as conn:
                return await claim_due(
                    conn,
                    worker=self.name,
                    limit=limit,
                    now=self._clock(),
                    lease=self.settings.webhook_lease,
                    share=self._share,
                    in_flight=self._endpoint_in_flight,
                )

    async def _until_next_due(self, poll: float) -> float:
        """Seconds until a delivery this worker may send falls due (0: one is due now), at
        most ``poll``. The deliveries of endpoints at their share do not count: the end of one
        of their attempts wakes the loop."""
        with storage_errors():
            async with self.store.engine.connect() as conn:
                due = await earliest_due(conn, besides=self._at_share())
        if due is None:
            return poll
        return max(0.0, min(poll, (due - self._clock()).total_seconds()))

    # -- one attempt -------------------------------------------------------------------------

    async def _deliver(self, claim: Claim) -> None:
        """Send one claimed attempt and record what came of it. The endpoint's share is given
        back once the attempt is over, before its outcome is recorded: the worker's slot is
        held until then, the endpoint's no longer (its lease keeps the delivery this
        worker's meanwhile)."""
        try:
            try:
                attempted = await self._send(claim)
            finally:
                self._sent(claim.subscription.id)
            await self._record(attempted)
        except Exception:  # never lose the loop over one delivery; the lease brings it back
            log.exception("webhook delivery %s failed unexpectedly", claim.delivery_id)

    async def _send(self, claim: Claim) -> Attempted:
        """Send one claimed attempt: what came of it, and what it makes of the delivery."""
        settings = self.settings
        started_at = self._clock()
        outcome = await self.sender.send(
            claim.subscription.url,
            message_id(claim.delivery_id),
            event_body(claim.event, source=self.source),
            claim.subscription.live_secrets(started_at, self.box),
        )
        finished_at = self._clock()
        verdict = decide(
            outcome,
            attempts_made=claim.attempt,
            schedule=settings.webhook_retry_schedule,
            jitter=settings.webhook_retry_jitter,
            now=finished_at,
        )
        attempted = Attempted(claim, started_at, finished_at, outcome, verdict, outcome.gone)
        for listener in self.on_attempt:
            listener(outcome.kind, verdict.status)
        if not outcome.ok:
            _log_failed_attempt(claim, outcome, verdict)
        return attempted

    async def _record(self, attempted: Attempted) -> None:
        if not await self.recorder.record(attempted):
            log.warning(
                "delivery %s: attempt %d not recorded (subscription deleted or lease lost)",
                attempted.claim.delivery_id,
                attempted.claim.attempt,
            )


def _log_failed_attempt(claim: Claim, outcome: Outcome, verdict: Verdict) -> None:
    """The one log line of a failed attempt. Names the host, not the URL (whose path or query
    may carry a token of the receiver's), and never a secret."""
    if outcome.error is not None:
        what = brief(ValueError(outcome.error)).removeprefix("ValueError: ")
    else:
        what = f"HTTP {outcome.status_code}"
    if verdict.next_attempt_at is not None:
        then = f"next attempt at {format_instant(verdict.next_attempt_at)}"
    else:
        then = "no attempt left: failed"
    log.warning(
        "webhook delivery %s (subscription %s, host %s) attempt %d failed: %s; %s",
        claim.delivery_id,
        claim.subscription.id,
        _host(claim.subscription.url),
        claim.attempt,
        what,
        then,
    )


def _host(url: str) -> str:
    try:
        return httpx.URL(url).host or "?"
    except httpx.InvalidURL:
        return "?"


def _log_failure(what: str, error: Exception) -> None:
    """The database away is an expected failure: one line. Anything else: the traceback."""
    if isinstance(error, StorageUnavailableError):
        log.warning("%s failed (%s); retrying", what, error)
    else:
        log.error("%s failed; retrying", what, exc_info=error)
