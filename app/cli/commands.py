"""What every ``ceasefire`` command shares: its settings (or a clean exit saying which value is
bad) and the process's services (``app.composition``) for the duration of the command (with
known failures turned into a message and exit code 1 instead of a traceback).

Every command but ``migrate`` (and ``serve``, which migrates first) needs a database already
migrated: ``with_services`` checks that before the command's work and, when it is not, says so
and names ``ceasefire migrate``. On SQLite it looks for the file before connecting, because
connecting creates a missing file: a command run in the wrong directory would otherwise leave
an empty ``ceasefire.db`` behind.
"""

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
    RecordingTimeRefusedError,
    SchemaNotMigratedError,
    StorageUnavailableError,
)

__all__ = [
    "check_database",
    "database_failure",
    "database_file",
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


def _named(settings: Settings) -> str:
    """The database a command uses, and where that comes from, for an error line."""
    setting = "CEASEFIRE_DATABASE_URL"
    if "database_url" not in settings.model_fields_set:
        origin = f"the default: {setting} is unset"
    else:
        origin = f"set by {setting}"
        if settings.migration_database_url:
            origin += " (or CEASEFIRE_MIGRATION_DATABASE_URL, for migrations)"
    return f"the database {_masked(settings.database_url)} ({origin})"


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
            elif getattr(reason, "sqlstate", None) == "3D000":  # PostgreSQL: no such database
                said += "; create it, then run `ceasefire migrate`"
            return f"error: cannot use {_named(settings)}: {said}"
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
    """Connect once, so a server or worker with a bad database URL, or an unmigrated database,
    stops with one line at start-up rather than a traceback from inside it."""

    async def ping(store: EventStore) -> None:
        async with store.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    with_store(ping)


def with_store(work: Callable[[EventStore], Awaitable[T]]) -> T:
    """Run ``work`` against the configured database's store and close it after."""
    return with_services(lambda built: work(built.store))


def database_file(url: str) -> Path | None:
    """The file of a SQLite URL (None for PostgreSQL, an in-memory database or a ``file:``
    URI, which SQLite opens as its query says)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or "uri" in parsed.query:
        return None
    if not parsed.database or parsed.database == ":memory:":
        return None
    return Path(parsed.database)


def _require_file(settings: Settings) -> None:
    path = database_file(settings.database_url)
    if path is not None and not path.exists():
        typer.echo(
            f"error: {_named(settings)} does not exist (no file {path.resolve()}): run "
            "`ceasefire migrate` to create it, or point CEASEFIRE_DATABASE_URL at yours",
            err=True,
        )
        raise typer.Exit(1)


async def _require_schema(built: Services) -> None:
    from app.services.schema_migrations import (
        schema_problem,  # alembic: only once a command needs the database
    )

    async with built.store.engine.connect() as conn:
        problem = await schema_problem(conn, built.settings.database_url)
    if problem is not None:
        advice = (
            "run this release's `ceasefire`"
            if "newer release" in problem
            else "run `ceasefire migrate` first"
        )
        typer.echo(f"error: {_named(built.settings)} {problem}: {advice}", err=True)
        raise typer.Exit(1)


def with_services(work: Callable[[Services], Awaitable[T]], *, as_owner: bool = False) -> T:
    """Run ``work`` with the configured services and close them after, once the database is
    known to be migrated (a clean exit naming ``ceasefire migrate`` otherwise); ``as_owner``: as
    the role that owns the log, when its URL is set (``Settings.as_owner``)."""
    settings = settings_or_exit()
    if as_owner:
        settings = settings.as_owner()
    _require_file(settings)

    async def run() -> T:
        async with services(settings) as built:
            await _require_schema(built)
            return await work(built)

    try:
        return asyncio.run(run())
    except (ProjectionJobRunningError, StorageUnavailableError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(1) from None
    except RecordingTimeRefusedError as error:
        typer.echo(f"error: {error} (CEASEFIRE_MIGRATION_DATABASE_URL)", err=True)
        raise typer.Exit(1) from None
