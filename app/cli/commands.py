"""What every ``ceasefire`` command shares: its settings (or a clean exit saying which value is
bad) and the process's services (``app.composition``) for the duration of the command (with
known failures turned into a message and exit code 1 instead of a traceback)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TypeVar

import typer
from pydantic import ValidationError
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError

from app.cli.loader import BadLine
from app.composition import Services, services
from app.settings import Settings, get_settings
from events.log.store import EventStore, storage_failure
from events.model.errors import (
    ProjectionJobRunningError,
    SchemaNotMigratedError,
    StorageUnavailableError,
)

__all__ = [
    "check_database",
    "database_failure",
    "refuse_bad_lines",
    "settings_line",
    "settings_or_exit",
    "with_services",
    "with_store",
]

T = TypeVar("T")


def settings_line(error: ValidationError) -> str:
    """A bad setting on one line, named as it is set: ``CEASEFIRE_POOL_SIZE='abc': Input
    should be a valid integer``; several joined with ``; ``."""
    parts = []
    for problem in error.errors():
        message = str(problem["msg"]).removeprefix("Value error, ")
        if problem["loc"]:
            name = f"CEASEFIRE_{str(problem['loc'][0]).upper()}"
            parts.append(f"{name}={problem.get('input')!r}: {message}")
        else:
            parts.append(message)
    return "invalid settings: " + "; ".join(parts)


def settings_or_exit() -> Settings:
    try:
        return get_settings()
    except ValidationError as error:  # a bad CEASEFIRE_* value: say which, without a traceback
        typer.echo(f"error: {settings_line(error)}", err=True)
        raise typer.Exit(2) from None


def _masked(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(not a URL)"


def database_failure(error: BaseException, settings: Settings) -> str | None:
    """One line naming the setting, when ``error`` (or what caused it) is the database being
    unreachable, missing, refusing us or not migrated (``events.log.store.storage_failure``
    decides); None for any other error."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        failure = storage_failure(current)
        if isinstance(current, StorageUnavailableError) or failure is not None:
            reason = current.orig if isinstance(current, DBAPIError) and current.orig else current
            said = (str(reason).strip().splitlines() or [type(reason).__name__])[0]
            if isinstance(failure, SchemaNotMigratedError):
                said = str(failure)
            setting = "CEASEFIRE_DATABASE_URL"
            url = settings.database_url
            if settings.migration_database_url:
                setting += " (or CEASEFIRE_MIGRATION_DATABASE_URL, for migrations)"
            return f"error: cannot use the database {_masked(url)} set by {setting}: {said}"
        current = current.__cause__ or current.__context__
    return None


def refuse_bad_lines(file: Path, bad: Sequence[BadLine]) -> None:
    """Exit 1 naming each bad line of ``file`` (``load`` and ``import`` write nothing then)."""
    if not bad:
        return
    for line in bad:
        typer.echo(f"{file}:{line.number}: {line.reason}", err=True)
    typer.echo(f"nothing written: {len(bad)} bad line(s)", err=True)
    raise typer.Exit(1)


def check_database(settings: Settings) -> None:
    """Connect once, so a server with a bad database URL stops with one line at start-up
    rather than a traceback from inside the server."""

    async def ping(store: EventStore) -> None:
        async with store.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    with_store(ping)


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
