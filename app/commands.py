"""What every ``ceasefire`` command shares: its settings (or a clean exit saying which value is
bad) and the process's services (``app.composition``) for the duration of the command (with
known failures turned into a message and exit code 1 instead of a traceback)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import typer

from app.composition import Services, services
from app.settings import Settings, get_settings
from events.errors import ProjectionJobRunningError, StorageUnavailableError
from events.store import EventStore

__all__ = ["settings_or_exit", "with_services", "with_store"]

T = TypeVar("T")


def settings_or_exit() -> Settings:
    try:
        return get_settings()
    except Exception as error:  # a bad CEASEFIRE_* value: say which, without a traceback
        typer.echo(f"error: invalid settings: {error}", err=True)
        raise typer.Exit(2) from None


def with_store(work: Callable[[EventStore], Awaitable[T]]) -> T:
    """Run ``work`` against the configured database's store and close it after."""
    return with_services(lambda built: work(built.store))


def with_services(work: Callable[[Services], Awaitable[T]]) -> T:
    """Run ``work`` with the configured services and close them after."""
    settings = settings_or_exit()

    async def run() -> T:
        async with services(settings) as built:
            return await work(built)

    try:
        return asyncio.run(run())
    except (ProjectionJobRunningError, StorageUnavailableError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(1) from None
