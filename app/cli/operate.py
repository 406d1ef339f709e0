"""The operator's commands: ``replay``, ``export``, ``import``, ``verify``.

They are added to the ``ceasefire`` command (``app.cli.ceasefire``) as top-level commands. Each
works on
the database of ``CEASEFIRE_DATABASE_URL`` while the service keeps running.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Annotated

import typer

from app.cli.commands import refuse_bad_lines, with_services, with_store
from app.composition import Services
from events.log.audit import CLI
from events.log.store import EventStore
from projections.runner import PROJECTIONS

__all__ = ["OperatorKey", "operate_cli", "operator"]

operate_cli = typer.Typer(rich_markup_mode=None)

#: ``--key`` of ``load``: who the log records as having appended (``events.log.audit``).
OperatorKey = Annotated[
    str | None,
    typer.Option(
        "--key",
        envvar="CEASEFIRE_OPERATOR_KEY",
        show_default=False,
        help="Your API key (writer or admin): its id is recorded with every event appended "
        "(default: `cli`).",
    ),
]


async def operator(built: Services, secret: str | None) -> str:
    """The key id an operator's command records: the key's, or ``cli`` without one."""
    if secret is None:
        return CLI
    from app.services.api_keys import operator_key_id

    async with built.store.engine.connect() as conn:
        try:
            return await operator_key_id(conn, secret)
        except ValueError as error:
            typer.echo(f"error: --key: {error}", err=True)
            raise typer.Exit(2) from None


@operate_cli.command()
def replay(
    projection: Annotated[
        list[str] | None,
        typer.Option(
            "--projection",
            "-p",
            help="Rebuild only this projection (repeatable; default: all of them): "
            f"{', '.join(PROJECTIONS)}.",
        ),
    ] = None,
    batch_size: Annotated[int, typer.Option(min=1, help="Events read per batch.")] = 5000,
) -> None:
    """Rebuild projections from the log into fresh tables and swap them in (blue/green): the
    API keeps serving the old ones meanwhile. Ctrl-C leaves the live projections untouched."""
    from app.cli.progress import progress_reporter
    from projections.runner import UnknownProjectionError, tables_of
    from projections.runner import replay as run_replay

    try:
        tables_of(projection)
    except UnknownProjectionError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None
    try:
        with progress_reporter("replay") as report:
            stats = with_store(
                lambda store: run_replay(store, projection, batch_size=batch_size, progress=report)
            )
    except KeyboardInterrupt:
        typer.echo(
            "interrupted: the live projections are untouched and the scratch tables dropped",
            err=True,
        )
        raise typer.Exit(130) from None
    typer.echo(
        f"rebuilt {', '.join(stats.projections)} from {stats.events:,} events in "
        f"{stats.seconds:.2f}s ({stats.rate:,.0f} events/s); {stats.caught_up:,} caught up "
        f"under the append lock, held {stats.locked_seconds * 1000:.0f} ms for catch-up and swap"
    )


@operate_cli.command()
def export(
    after: Annotated[int, typer.Option(min=0, help="Only events after this position.")] = 0,
    conflict: Annotated[str | None, typer.Option(help="Only this conflict's events.")] = None,
) -> None:
    """Write the log to stdout, one event a line with every stored field (NDJSON)."""
    from events.log.export import export_lines

    async def work(store: EventStore) -> int:
        count = 0
        async for line in export_lines(store, after=after, conflict=conflict):
            sys.stdout.write(line + "\n")
            count += 1
        sys.stdout.flush()
        return count

    try:
        count = with_store(work)
    except BrokenPipeError:  # `ceasefire export | head`: the reader left, nothing is wrong
        raise typer.Exit(0) from None
    typer.echo(f"exported {count:,} event(s)", err=True)


@operate_cli.command("import")
def import_(
    file: Annotated[
        Path,
        typer.Argument(dir_okay=False, help="A file `export` wrote, or - for standard input."),
    ],
) -> None:
    """Import an export: every line is checked first and nothing is written if any is bad;
    events already stored (same id, same content) are skipped, so importing twice is safe, and
    an id stored with other content, or an event recorded after this machine's clock, is a bad
    line. Each event keeps the key id its line records, so the log keeps its hashes. It keeps
    their recording times too, which only the role that owns the log may write: on PostgreSQL
    it runs as CEASEFIRE_MIGRATION_DATABASE_URL's role when that is set."""
    from app.cli.importer import import_file, import_handle

    if str(file) != "-" and not file.is_file():
        typer.echo(f"error: no file {file}", err=True)
        raise typer.Exit(2)
    if str(file) == "-":
        # An import reads its file twice (checked, then written) without holding it: standard
        # input, which cannot be read again, is copied to a temporary file first.
        with tempfile.TemporaryFile() as copy:
            shutil.copyfileobj(sys.stdin.buffer, copy)
            report = with_services(lambda built: import_handle(built.appender, copy), as_owner=True)
    else:
        report = with_services(lambda built: import_file(built.appender, file), as_owner=True)
    refuse_bad_lines(file, report.bad)
    typer.echo(f"imported {report.imported:,} event(s), {report.skipped:,} already stored")


@operate_cli.command()
def verify(
    batch_size: Annotated[int, typer.Option(min=1, help="Events read per batch.")] = 5000,
    expect: Annotated[
        str | None,
        typer.Option(
            metavar="POSITION:HASH",
            help="A head noted earlier (GET /v1/log/head, or this command's chain line): "
            "the log must still extend it, or someone rewrote it. - reads it from standard "
            "input, as POSITION:HASH or as the JSON GET /v1/log/head answers.",
        ),
    ] = None,
) -> None:
    """Recompute the hash chain (naming the first position where it breaks) and rebuild every
    projection aside to compare with the live one. Exits 1 on any finding."""
    from app.cli.progress import progress_reporter
    from events.log.chain import ChainReport, LogHead, verify_chain
    from projections.verify import Difference, verify_projections

    try:
        pinned = None if expect is None else LogHead.parse(_noted_head(expect))
    except ValueError as error:
        typer.echo(f"error: --expect: {error}", err=True)
        raise typer.Exit(2) from None

    async def work(store: EventStore) -> tuple[ChainReport, list[Difference], str | None]:
        with progress_reporter("verify chain") as report:
            chain = await verify_chain(store, batch_size=batch_size, progress=report, expect=pinned)
        try:
            with progress_reporter("verify projections") as report:
                differences = await verify_projections(
                    store, batch_size=batch_size, progress=report
                )
        except (ValueError, KeyError, LookupError) as error:
            return chain, [], f"{type(error).__name__}: {error}"
        return chain, differences, None

    chain, differences, rebuild_error = with_store(work)
    findings = 0
    typer.echo(
        f"chain: {chain.events:,} events, head at position {chain.head_position}, "
        f"hash {chain.head_hash}"
    )
    if chain.broken_count:
        findings += 1
        more = f" ({chain.broken_count} broken links: {', '.join(map(str, chain.broken))})"
        typer.echo(f"chain broken at position {chain.first_broken}{more}")
    for after, before in chain.gaps:
        findings += 1
        typer.echo(f"positions missing between {after} and {before}")
    for position, why in chain.undecodable:
        findings += 1
        typer.echo(f"event at position {position} does not decode: {why}")
    if chain.head_problem:
        findings += 1
        typer.echo(f"log head: {chain.head_problem}")
    if chain.past_head_count:
        findings += 1
        typer.echo(
            f"{chain.past_head_count} event(s) stored past the log head at position "
            f"{chain.head_position}, written around the append: "
            f"{', '.join(map(str, chain.past_head))}"
        )
    if chain.pin_problem:
        findings += 1
        typer.echo(f"noted head {pinned}: {chain.pin_problem}")
    elif pinned is not None:
        typer.echo(f"the log still extends the noted head {pinned}")
    if rebuild_error is not None:
        findings += 1
        typer.echo(f"projections could not be rebuilt from the log: {rebuild_error}")
    for difference in differences:
        findings += 1
        typer.echo(
            f"projection {difference.projection} differs from a rebuild: "
            f"{difference.only_live} row(s) only live, {difference.only_rebuilt} only rebuilt"
        )
        for example in difference.examples:
            typer.echo(f"  {example}")
    if findings:
        typer.echo(f"verify: {findings} finding(s)", err=True)
        raise typer.Exit(1)
    typer.echo("verify: the chain holds and every projection matches a rebuild from the log")


def _noted_head(expect: str) -> str:
    """``--expect`` as ``POSITION:HASH``: as given, or read from standard input for ``-``
    (either spelled so, or the JSON of ``GET /v1/log/head``, piped from curl)."""
    if expect != "-":
        return expect
    text = sys.stdin.read().strip()
    if not text.startswith("{"):
        return text
    try:
        head = json.loads(text)
        return f"{int(head['position'])}:{head['hash']}"
    except (ValueError, KeyError, TypeError):
        raise ValueError('standard input holds no {"position": …, "hash": …}') from None
