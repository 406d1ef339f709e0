"""Notifications of appends, for clients that wait for one: long-polls and live streams.

One ``AppendNotifier`` per process holds every waiter as a future in memory and releases, in
one pass, those whose stream moved past the position they know. Appends reach it:

- from this process at once, through ``EventStore.on_append``;
- from other processes through the database, with ONE listener per process however many
  clients wait: on PostgreSQL a connection that LISTENs on ``ceasefire_events`` (every
  ``ceasefire_append`` call NOTIFYs ``'<conflict> <last position>'`` when it commits); on
  SQLite, which has no notifications, one query of the ``streams`` table per process every
  ``poll`` while anyone waits.

The same connection listens on any other channel the process asks for (``channels`` of
``start_listener``: the keys' revocations, say), so a process holds one listening connection
whatever it listens for. Each handler gets the payloads, and None whenever notifications may
have been missed (the connection was lost), to forget what it may have missed. Those are
PostgreSQL's only; on SQLite their senders fall back on whatever they do without them (the
key cache's expiry).

A notification is sent after its commit, so a woken waiter that reads finds the append. When
the listener loses its connection (notifications may have been missed meanwhile) every waiter
is woken with None, meaning "look at the head again".
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from datetime import timedelta
from functools import partial
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from events.log.positions import log_position
from events.log.tables import streams

__all__ = [
    "CHANNEL",
    "AppendNotifier",
    "ChannelHandler",
    "Listener",
    "PostgresListener",
    "SqlitePoller",
    "Subscription",
    "start_listener",
]

#: Takes a channel's payloads; None: notifications may have been missed meanwhile.
ChannelHandler = Callable[[str | None], None]

#: The channel ``ceasefire_append`` notifies (migration 0001).
CHANNEL = "ceasefire_events"
log = logging.getLogger("ceasefire.notifications")


class Subscription:
    """One waiter: released by the first append to its conflict (any conflict when None) at a
    position after ``after``. Subscribe *before* looking at the head, so an append committed
    between the look and the wait still releases it."""

    __slots__ = ("_future", "_notifier", "after", "conflict")

    def __init__(self, notifier: AppendNotifier, conflict: str | None, after: int) -> None:
        self._notifier = notifier
        self.conflict = conflict
        self.after = after
        self._future: asyncio.Future[int | None] = asyncio.get_running_loop().create_future()

    async def wait(
        self, seconds: float, *, unless: asyncio.Future[Any] | None = None
    ) -> int | None:
        """The position that released it; None after ``seconds``, after a reset, or when
        ``unless`` (a task watching for the client going away, say) is done first."""
        if not self._future.done():
            waits: set[asyncio.Future[Any]] = {self._future}
            if unless is not None:
                waits.add(unless)
            await asyncio.wait(waits, timeout=max(seconds, 0), return_when="FIRST_COMPLETED")
        return self._future.result() if self._future.done() else None

    def release(self, position: int | None) -> None:
        if not self._future.done():
            self._future.set_result(position)

    def close(self) -> None:
        self._notifier._remove(self)
        self.release(None)

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


class AppendNotifier:
    def __init__(self) -> None:
        self._waiters: dict[str | None, set[Subscription]] = {}
        self.closed = False
        #: Told of every append heard of, with its conflict and last position: this process's
        #: and other processes' (the CLI's too) alike, so one append may be told twice (once
        #: in-process, once from the database) and others' out of order: count the head's
        #: advance, not the calls (``/metrics`` does). On SQLite others' are heard only while
        #: someone waits (``SqlitePoller``).
        self.on_publish: list[Callable[[str, int], None]] = []

    def subscribe(self, conflict: str | None, after: int) -> Subscription:
        subscription = Subscription(self, conflict, after)
        if self.closed:
            subscription.release(None)
        else:
            self._waiters.setdefault(conflict, set()).add(subscription)
        return subscription

    def publish(self, conflict: str, position: int) -> None:
        """An append to ``conflict`` committed, its last event at ``position``."""
        for listener in self.on_publish:
            listener(conflict, position)
        for key in (conflict, None):
            waiting = self._waiters.get(key)
            if not waiting:
                continue
            released = [s for s in waiting if s.after < position]
            for subscription in released:
                waiting.discard(subscription)
                subscription.release(position)

    def reset(self) -> None:
        """Wake every waiter to look again: notifications may have been missed."""
        waiters, self._waiters = self._waiters, {}
        for waiting in waiters.values():
            for subscription in waiting:
                subscription.release(None)

    def close(self) -> None:
        """Wake every waiter and let none wait again (the process is stopping)."""
        self.closed = True
        self.reset()

    @property
    def waiting(self) -> int:
        return sum(len(w) for w in self._waiters.values())

    def _remove(self, subscription: Subscription) -> None:
        waiting = self._waiters.get(subscription.conflict)
        if waiting is not None:
            waiting.discard(subscription)
            if not waiting:
                del self._waiters[subscription.conflict]


class Listener(Protocol):
    async def stop(self) -> None: ...


class PostgresListener:
    """One connection per process LISTENing on ``ceasefire_events``, reconnecting with backoff
    when it drops, and checked with a trivial query every ``keepalive`` so a silently dead
    connection is noticed."""

    def __init__(
        self,
        dsn: str,
        notifier: AppendNotifier,
        *,
        keepalive: float = 30.0,
        channels: Mapping[str, ChannelHandler] | None = None,
    ) -> None:
        self._dsn = dsn
        self._notifier = notifier
        self._channels = dict(channels or {})
        self._keepalive = keepalive
        self._task: asyncio.Task[None] | None = None
        self.connected = asyncio.Event()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="ceasefire-listener")
        # Serve at once even when the database is down: the listener catches up on its own.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.connected.wait(), timeout=5)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def _reset(self) -> None:
        self._notifier.reset()
        for handler in self._channels.values():
            _payload_to(handler, None, 0, "", None)

    def _on_notify(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        conflict, _, position = payload.rpartition(" ")
        try:
            self._notifier.publish(conflict, int(position))
        except ValueError:
            log.warning("ignoring a malformed notification %r", payload)

    async def _run(self) -> None:
        import asyncpg

        delay = 0.1
        while True:
            conn = None
            try:
                conn = await asyncpg.connect(self._dsn, timeout=10)
                lost = asyncio.Event()
                conn.add_termination_listener(partial(_set, lost))
                await conn.add_listener(CHANNEL, self._on_notify)
                for channel, handler in self._channels.items():
                    await conn.add_listener(channel, partial(_payload_to, handler))
                self.connected.set()
                self._reset()  # anything missed while not listening: look again
                delay = 0.1
                while not lost.is_set():
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(lost.wait(), timeout=self._keepalive)
                    if not lost.is_set():
                        await conn.fetchval("SELECT 1", timeout=10)
            except asyncio.CancelledError:
                raise
            except Exception as error:  # any failure: reconnect, never stop listening
                log.warning("listener connection lost (%r); reconnecting", error)
            finally:
                self.connected.clear()
                if conn is not None and not conn.is_closed():
                    conn.terminate()
            self._reset()
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)


def _set(event: asyncio.Event, *_: object) -> None:
    event.set()


def _payload_to(
    handler: ChannelHandler, _conn: Any, _pid: int, _channel: str, payload: str | None
) -> None:
    try:
        handler(payload)
    except Exception:  # a bad payload must not stop the listener
        log.exception("ignoring a notification the handler refused: %r", payload)


class SqlitePoller:
    """SQLite has no LISTEN: one query per process every ``interval`` while anyone waits,
    reading which streams moved past the newest position seen."""

    def __init__(self, engine: AsyncEngine, notifier: AppendNotifier, interval: float) -> None:
        self._engine = engine
        self._notifier = notifier
        self._interval = interval
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        async with self._engine.connect() as conn:
            seen = await log_position(conn)
        self._task = asyncio.create_task(self._run(seen), name="ceasefire-poller")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self, seen: int) -> None:
        while True:
            await asyncio.sleep(self._interval)
            if not self._notifier.waiting:
                continue
            try:
                async with self._engine.connect() as conn:
                    moved = (
                        await conn.execute(
                            select(streams.c.conflict, streams.c.position).where(
                                streams.c.position > seen
                            )
                        )
                    ).all()
            except Exception as error:  # the database is away for a moment: try again
                log.warning("poll for appends failed: %r", error)
                continue
            for conflict, position in sorted(moved, key=lambda row: row[1]):
                self._notifier.publish(conflict, int(position))
                seen = max(seen, int(position))


async def start_listener(
    engine: AsyncEngine,
    notifier: AppendNotifier,
    *,
    sqlite_poll: timedelta,
    channels: Mapping[str, ChannelHandler] | None = None,
) -> Listener:
    """The one listener this process needs for ``engine``'s database, started. ``channels``:
    more channels to listen on, each with the handler of its payloads (PostgreSQL only)."""
    listener: PostgresListener | SqlitePoller
    if engine.dialect.name == "postgresql":
        dsn = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        listener = PostgresListener(dsn, notifier, channels=channels)
    else:
        listener = SqlitePoller(engine, notifier, sqlite_poll.total_seconds())
    await listener.start()
    return listener
