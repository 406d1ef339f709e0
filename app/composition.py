"""The one composition root: the engine, the log and the append service of a process, built
from the settings the same way for ``serve``, the CLI commands and ``worker``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from app.appending import Appender
from app.settings import Settings
from events.database import create_engine
from events.store import EventStore

__all__ = ["Services", "services"]


@dataclass(frozen=True, slots=True)
class Services:
    settings: Settings
    store: EventStore
    appender: Appender


def build(settings: Settings) -> Services:
    """The process's store (over its one engine) and the append service over it."""
    engine = create_engine(
        settings.database_url,
        sqlite_synchronous=settings.sqlite_synchronous,
        pool_size=settings.pool_size,
    )
    store = EventStore(engine, sqlite_synchronous=settings.sqlite_synchronous)
    return Services(settings, store, Appender(store))


@asynccontextmanager
async def services(settings: Settings) -> AsyncIterator[Services]:
    """``build``, and close the store (its writer and every connection) after."""
    built = build(settings)
    try:
        yield built
    finally:
        await built.store.close()
