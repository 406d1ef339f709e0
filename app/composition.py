"""The one composition root: what a process builds from its settings, the same way for
``serve``, the CLI commands and ``worker``.

- ``services``: the engine, the store and the append service: what every command uses.
- ``serving``: those, plus what ``serve`` runs beside its routes: the notifier, the key cache,
  the read router and its head lookups, the conditional reads' cache, the stream hub, the
  webhook sender and in-process worker, and the process's one listening connection.
- ``working``: those of ``ceasefire worker``: one webhook worker and its listening connection.

A process's PostgreSQL connections come out of one budget, ``CEASEFIRE_POOL_SIZE``
(``connection_budget``): the listening connection, the append writer's pool, the head
lookups' pool (``serve`` only) and SQLAlchemy's pool (reads, webhook bookkeeping, replays) share
it, with no overflow, so the setting is the most a process ever opens.

What only ``serve`` and ``worker`` run (FastAPI's machinery, httpx) is imported when they
build it, so the one-shot commands (``load``, ``keys``, ``export``…) do not pay for it at
start-up.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from app.services.appending import Appender
from app.settings import Settings
from events.log.database import create_engine
from events.log.notifications import AppendNotifier, ChannelHandler, start_listener
from events.log.store import EventStore

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from app.reads.conditional import ConditionalReads
    from app.reads.streaming import StreamHub
    from app.services.api_keys import KeyCache
    from app.webhooks.machinery import Webhooks
    from app.webhooks.worker import WebhookWorker
    from events.log.routing import ReadRouter

__all__ = [
    "Budget",
    "Services",
    "Serving",
    "build",
    "connection_budget",
    "services",
    "serving",
    "working",
]


@dataclass(frozen=True, slots=True)
class Budget:
    """How a process's PostgreSQL connections are shared out; ``total`` is the setting."""

    total: int
    listener: int
    writer: int
    heads: int
    engine: int


def connection_budget(pool_size: int) -> Budget:
    """Share ``pool_size`` connections out: one to listen, a quarter (at least one) to the
    append writer (appends take the log's lock one at a time: more would only queue), a fifth
    (at least one) to the head lookups, the rest (at least one) to SQLAlchemy's pool. The
    smallest budget is four."""
    total = max(pool_size, 4)
    writer = max(1, total // 4)
    heads = max(1, total // 5)
    return Budget(total, 1, writer, heads, total - 1 - writer - heads)


@dataclass(frozen=True, slots=True)
class Services:
    settings: Settings
    budget: Budget
    store: EventStore
    appender: Appender


def build(settings: Settings) -> Services:
    """The process's store (over its one engine) and the append service over it."""
    budget = connection_budget(settings.pool_size)
    engine = create_engine(
        settings.database_url,
        sqlite_synchronous=settings.sqlite_synchronous,
        pool_size=budget.engine,
        max_overflow=0,
    )
    store = EventStore(
        engine, sqlite_synchronous=settings.sqlite_synchronous, writer_pool_size=budget.writer
    )
    return Services(settings, budget, store, Appender(store))


@asynccontextmanager
async def services(settings: Settings) -> AsyncIterator[Services]:
    """``build``, and close the store (its writer and every connection) after."""
    built = build(settings)
    try:
        yield built
    finally:
        await built.store.close()


@asynccontextmanager
async def _listening(
    built: Services, notifier: AppendNotifier, channels: Mapping[str, ChannelHandler]
) -> AsyncIterator[None]:
    """The process's one listening connection (its ``budget.listener``), serving ``notifier``
    and every other channel the process hears; on SQLite, a poll of the log's head."""
    listener = await start_listener(
        built.store.engine,
        notifier,
        sqlite_poll=built.settings.sqlite_notify_poll,
        channels=channels,
    )
    try:
        yield
    finally:
        await listener.stop()


def _read_router(engine: AsyncEngine, settings: Settings, *, heads_pool_size: int) -> ReadRouter:
    """Reads go to the hot standbys of ``CEASEFIRE_READ_DATABASE_URL`` when there are any
    (``events.log.routing``), to the primary's ``engine`` otherwise. ``heads_pool_size``: the
    primary's head lookups' share of the budget. A standby is another server: its pools are
    its own (docs/scaling.md), outside the primary's budget."""
    from events.log.heads import Heads
    from events.log.routing import ReadDatabase, ReadRouter

    replicas = []
    for url in settings.read_database_url:
        replica = create_engine(url, pool_size=settings.pool_size)
        replicas.append(ReadDatabase(replica, Heads(replica), is_primary=False))
    return ReadRouter(
        ReadDatabase(engine, Heads(engine, pool_size=heads_pool_size), is_primary=True),
        replicas,
        catch_up=settings.replica_catch_up.total_seconds(),
        retry=settings.replica_retry.total_seconds(),
    )


@dataclass(frozen=True, slots=True)
class Serving:
    """What ``serve`` runs beside its routes, built once per process (``serving``)."""

    services: Services
    #: Wakes long-polls and streams on appends (this process's, and others' through the
    #: listening connection); closed when the process is asked to stop.
    notifier: AppendNotifier
    key_cache: KeyCache
    conditional: ConditionalReads
    streams: StreamHub
    webhooks: Webhooks


@asynccontextmanager
async def serving(settings: Settings, *, version: str) -> AsyncIterator[Serving]:
    """Everything ``serve`` uses, running: the webhook worker (unless
    ``CEASEFIRE_WEBHOOK_WORKER=false``) and the listening connection, which serves the appends,
    the keys' revocations and the worker's channels. ``version``: the API's, in the salt of the
    representations' tags (a new version never answers 304 to an old tag). Stopped after: the
    worker and the listener, then the waiters released and the read pools and the store
    closed."""
    from app.reads.conditional import CachePolicy, ConditionalReads
    from app.reads.streaming import StreamHub
    from app.services.api_keys import KEYS_CHANNEL, KeyCache
    from app.webhooks.machinery import running, webhooks_of

    async with services(settings) as built:
        notifier = AppendNotifier()
        built.store.on_append.append(notifier.publish)
        key_cache = KeyCache(settings.key_cache_seconds)
        router = _read_router(built.store.engine, settings, heads_pool_size=built.budget.heads)
        conditional = ConditionalReads(
            notifier,
            router,
            cache_bytes=settings.representation_cache_bytes,
            salt_from=f"{version}|{settings.contested_window.total_seconds()}"
            f"|{settings.stale_after.total_seconds()}",
            max_waiting=settings.max_long_polls,
            max_waiting_per_client=settings.max_long_polls_per_client,
            max_computing_per_client=settings.max_reads_per_client,
            policy=CachePolicy(settings.cache_max_age, settings.cache_stale_while_revalidate),
            immutable_after=settings.cache_immutable_after,
        )
        streams = StreamHub(router, notifier, buffer_bytes=settings.stream_buffer_bytes)
        webhooks = webhooks_of(built.store, settings)
        channels: dict[str, ChannelHandler] = {KEYS_CHANNEL: key_cache.on_revoked}
        if webhooks.worker is not None:
            channels.update(webhooks.worker.channels())
        try:
            async with _listening(built, notifier, channels), running(webhooks):
                yield Serving(built, notifier, key_cache, conditional, streams, webhooks)
        finally:
            notifier.close()
            await router.close()


@asynccontextmanager
async def working(settings: Settings) -> AsyncIterator[WebhookWorker]:
    """``ceasefire worker``'s one webhook worker (whatever ``CEASEFIRE_WEBHOOK_WORKER`` says:
    that setting is about ``serve``), running and woken on PostgreSQL by the process's one
    listening connection; stopped, and its sender and store closed, after."""
    from app.webhooks.machinery import Webhooks, running
    from app.webhooks.sender import WebhookSender
    from app.webhooks.worker import WebhookWorker

    async with services(settings) as built:
        sender = WebhookSender(settings)
        worker = WebhookWorker(built.store, settings, sender)
        # No one waits on the notifier here: the worker's channels are what the listener serves.
        async with (
            _listening(built, AppendNotifier(), worker.channels()),
            running(Webhooks(sender, worker)),
        ):
            yield worker
