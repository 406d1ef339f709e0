"""The ``ceasefire`` command: serve, migrate, worker, load, keys; replay, export, import and
verify come from ``app.cli.operate``."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path
from typing import Annotated
from uuid import UUID

import typer

from app.cli.commands import (
    check_database,
    database_failure,
    refuse_bad_lines,
    settings_or_exit,
    with_services,
    with_store,
)
from app.cli.loader import LoadReport
from app.cli.operate import OperatorKey, operate_cli, operator
from app.cli.webhook_secrets import webhooks_cli
from app.composition import Services
from app.services.api_keys import ApiKey
from events.log.store import EventStore

__all__ = ["main"]

cli = typer.Typer(
    help="Ceasefire status service: an event log of ceasefires and the views folded from it.",
    no_args_is_help=True,
    add_completion=False,
    # Plain help: the rich one labels every flag <bool>, as if it took a value.
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    # -h as well as --help, here and (click passes it down) in every sub-command.
    context_settings={"help_option_names": ["-h", "--help"]},
)
keys_cli = typer.Typer(
    help="API keys: create, list, revoke.", no_args_is_help=True, rich_markup_mode=None
)
cli.add_typer(keys_cli, name="keys")
cli.add_typer(operate_cli)  # replay, export, import, verify: app/cli/operate.py
cli.add_typer(webhooks_cli, name="webhooks")  # new-key, reseal: app/cli/webhook_secrets.py


def _version(asked: bool) -> None:
    if asked:
        from importlib.metadata import version

        typer.echo(f"ceasefire {version('ceasefire-status')}")
        raise typer.Exit()


@cli.callback()
def _options(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_version,
            is_eager=True,
            help="Print the installed version and exit.",
        ),
    ] = False,
) -> None:
    """Ceasefire status service: an event log of ceasefires and the views folded from it."""


@cli.command()
def migrate(
    wait: Annotated[
        float,
        typer.Option(
            min=0,
            metavar="SECONDS",
            help="While the database server does not answer yet (not listening, starting "
            "up), try again every second for up to this long (a server started beside this "
            "command, as in docker-compose.yml). 0: try once.",
        ),
    ] = 0.0,
) -> None:
    """Bring the database schema to the latest version (alembic upgrade head), as
    CEASEFIRE_MIGRATION_DATABASE_URL's role when set (granting CEASEFIRE_DATABASE_URL's role
    reading and appending only)."""
    from app.services.schema_migrations import migrate as run_migrations

    settings = settings_or_exit()
    said: list[str] = []

    def waiting(error: BaseException) -> None:
        if not said:  # one line, not one a second
            said.append(f"waiting up to {wait:g} s for the database to answer")
            typer.echo(said[0], err=True)

    run_migrations(settings, wait=wait, waiting=waiting)
    typer.echo("database is at the latest schema version")


@cli.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    # Bounded here: uvicorn would take 84037 and listen on 84037 % 65536.
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8000,
    no_migrate: Annotated[
        bool, typer.Option("--no-migrate", help="Do not run migrations first.")
    ] = False,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            max=64,
            help="API processes sharing the port (uvicorn workers), each with its own "
            "caches, listener and webhook worker (docs/scaling.md).",
        ),
    ] = 1,
) -> None:
    """Run the HTTP API (migrating the database first) with one webhook worker in-process
    per process (CEASEFIRE_WEBHOOK_WORKER=false to leave delivery to `ceasefire worker`)."""
    import uvicorn

    from app.http.edge import serving_options
    from app.main import create_app
    from app.services.schema_migrations import migrate

    settings = settings_or_exit()
    if not no_migrate:
        migrate(settings)
    check_database(settings)
    # access_log off: app.http.telemetry logs each request once, with its request id.
    if workers == 1:
        uvicorn.run(
            create_app(settings),
            host=host,
            port=port,
            log_level="info",
            access_log=False,
            **serving_options(settings),
        )
        return
    # Each worker process builds its own app from the same environment (settings are read
    # from it, already validated above): uvicorn needs an import string to start them.
    uvicorn.run(
        "app.main:create_app",
        factory=True,
        workers=workers,
        host=host,
        port=port,
        log_level="info",
        access_log=False,
        **serving_options(settings),
    )


@cli.command()
def worker(
    concurrency: Annotated[
        int | None,
        typer.Option(
            min=1, help="Deliveries sent at once (default: CEASEFIRE_WEBHOOK_CONCURRENCY)."
        ),
    ] = None,
) -> None:
    """Deliver webhooks until stopped (Ctrl-C or SIGTERM). `ceasefire serve` runs one worker
    already; run more for more throughput (PostgreSQL: they share the work safely)."""
    from app.composition import working
    from app.logs import configure_logging

    settings = settings_or_exit()
    check_database(settings)
    configure_logging(settings.log_format)
    if concurrency is not None:
        settings = settings.model_copy(update={"webhook_concurrency": concurrency})

    async def run() -> None:
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stopping.set)
        async with working(settings) as running:
            typer.echo(f"webhook worker {running.name} started", err=True)
            await stopping.wait()

    asyncio.run(run())


@cli.command()
def load(
    file: Annotated[
        Path, typer.Argument(dir_okay=False, help="An NDJSON file, or - for standard input.")
    ],
    key: OperatorKey = None,
    keep_recorded_at: Annotated[
        bool,
        typer.Option(
            "--keep-recorded-at",
            help="Record each event at the recorded_at its line carries (a back-filled "
            "history): never going backwards, the first later than the log's newest event.",
        ),
    ] = False,
) -> None:
    """Append the events of an NDJSON file: all of them, or none if any line is bad. Each
    event records who appended it: the key given, or `cli`."""
    from app.cli.loader import load_lines
    from app.cli.progress import progress_reporter

    if str(file) == "-":
        lines = sys.stdin.readlines()
    elif not file.is_file():
        typer.echo(f"error: no file {file}", err=True)
        raise typer.Exit(2)
    else:
        with file.open(encoding="utf-8") as handle:
            lines = handle.readlines()

    async def work(built: Services) -> LoadReport:
        return await load_lines(
            built.appender,
            lines,
            key_id=await operator(built, key),
            keep_recorded_at=keep_recorded_at,
            progress=progress_reporter,
        )

    report = with_services(work)
    refuse_bad_lines(file, report.bad)
    typer.echo(f"appended {report.appended} event(s), {report.skipped} already stored")


@keys_cli.command("create")
def keys_create(
    role: Annotated[str, typer.Option(help="reader, writer or admin.")],
    name: Annotated[str, typer.Option(help="Who or what the key is for.")],
) -> None:
    """Create a key. Its secret is printed once, here, and stored only as a hash."""
    from app.services.api_keys import ROLES, create_key

    if role not in ROLES:
        typer.echo(f"error: --role must be one of {', '.join(ROLES)}", err=True)
        raise typer.Exit(2)

    async def work(store: EventStore) -> tuple[ApiKey, str]:
        async with store.engine.begin() as conn:
            return await create_key(conn, name=name, role=role)

    key, secret = with_store(work)
    typer.echo(secret)
    typer.echo(f"created {role} key {key.id} ({name}); the secret is not shown again", err=True)


@keys_cli.command("list")
def keys_list() -> None:
    """List keys (never their secrets)."""
    from app.services.api_keys import list_keys

    async def work(store: EventStore) -> list[ApiKey]:
        async with store.engine.connect() as conn:
            return await list_keys(conn)

    rows = [("id", "role", "prefix", "name", "state")]
    for key in with_store(work):
        revoked = f"revoked {key.revoked_at.isoformat()}" if key.revoked_at else "active"
        rows.append((str(key.id), key.role, f"{key.prefix}…", key.name, revoked))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        typer.echo("  ".join([*cells, row[4]]))


@keys_cli.command("revoke")
def keys_revoke(
    key_id: Annotated[UUID, typer.Argument(help="The key's id (see keys list).")],
) -> None:
    """Revoke a key: running servers refuse it at once on PostgreSQL (they are notified), within
    CEASEFIRE_KEY_CACHE_SECONDS on SQLite."""
    from app.services.api_keys import revoke_key

    async def work(store: EventStore) -> bool:
        async with store.engine.begin() as conn:
            return await revoke_key(conn, key_id)

    if not with_store(work):
        typer.echo(f"error: no active key {key_id}", err=True)
        raise typer.Exit(1)
    typer.echo(f"revoked {key_id}")


def main() -> None:
    """The ``ceasefire`` command. A database it cannot use (unreachable, missing, refusing)
    is one line naming the setting, exit code 1; any other error keeps its traceback."""
    try:
        cli()
    except Exception as error:
        line = database_failure(error, settings_or_exit())
        if line is None:
            raise
        typer.echo(line, err=True)
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()
