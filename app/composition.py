"""The one composition root: what a process builds from its settings, the same way for
``serve``, the CLI commands and ``worker``.

A process's PostgreSQL connections come out of one budget, ``CEASEFIRE_POOL_SIZE``
(``connection_budget``): the listening connection, the append writer's pool, the head
lookups' pool (``serve`` only) and SQLAlchemy's pool (reads, webhook bookkeeping, replays) share
it, with no overflow, so the setting is the most a process ever opens.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from app.appending import Appender
from app.settings import Settings
from events.database import create_engine
from events.store import EventStore

__all__ = ["Budget", "Services", "build", "connection_budget", "services"]


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
