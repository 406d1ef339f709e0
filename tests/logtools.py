"""Test helpers for the operator's tools: table dumps, a log written by an older release, and
changes made behind the service's back (the way someone with database access would)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine

from events.log.tables import events, log_head, metadata, streams
from events.model.envelope import canonical_json, chain_hash, content_hash
from projections.tables import PROJECTION_KEYS

__all__ = [
    "chained",
    "chained_lines",
    "dump_projections",
    "dump_table",
    "index_names",
    "rewrite",
    "scratch_tables",
    "tamper",
    "write_old_events",
]

Dump = dict[str, list[tuple[Any, ...]]]


def _key(row: tuple[Any, ...]) -> tuple[str, ...]:
    return tuple(repr(v) for v in row)


async def dump_projections(engine: AsyncEngine, tables: list[str] | None = None) -> Dump:
    """Every row of every projection table, sorted: equal dumps are equal tables."""
    out: Dump = {}
    async with engine.connect() as conn:
        for name in tables or list(PROJECTION_KEYS):
            rows = (await conn.execute(select(metadata.tables[name]))).all()
            out[name] = sorted((tuple(r) for r in rows), key=_key)
    return out


async def scratch_tables(engine: AsyncEngine) -> list[str]:
    """Tables a replay or a verification made aside and did not drop."""
    async with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            sql = "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
        else:
            sql = "SELECT name FROM sqlite_master WHERE type = 'table'"
        names = [r[0] for r in await conn.execute(text(sql))]
    return sorted(n for n in names if n.startswith(("rebuild_", "verify_", "retired_")))


async def write_old_events(
    engine: AsyncEngine, conflict: str, raw_events: list[dict[str, Any]]
) -> list[UUID]:
    """Append events as a release that wrote ``schema_version`` 1 of every type would have:
    rows straight into the log (chained like the store chains them), no projections. Each raw
    event is ``{"type", "occurred_at", "source", "data"}`` in its version-1 shape."""
    ids = []
    async with engine.begin() as conn:
        head = (await conn.execute(select(log_head.c.position, log_head.c.hash))).one()
        position, previous = int(head.position), bytes(head.hash)
        version = (
            await conn.execute(select(streams.c.version).where(streams.c.conflict == conflict))
        ).scalar_one_or_none() or 0
        new_stream = version == 0
        recorded_at = datetime(2022, 10, 1, tzinfo=UTC)
        for raw in raw_events:
            position += 1
            version += 1
            recorded_at += timedelta(seconds=1)
            event_id = uuid4()
            occurred_at = datetime.fromisoformat(raw["occurred_at"].replace("Z", "+00:00"))
            source_json = canonical_json(raw["source"])
            data_json = canonical_json(raw["data"])
            previous = chain_hash(
                previous,
                content_hash(
                    event_id=str(event_id),
                    type=raw["type"],
                    conflict=conflict,
                    version=version,
                    schema_version=1,
                    occurred_at=occurred_at,
                    recorded_at=recorded_at,
                    source_json=source_json,
                    data_json=data_json,
                ),
            )
            await conn.execute(
                events.insert().values(
                    position=position,
                    id=event_id,
                    conflict=conflict,
                    version=version,
                    type=raw["type"],
                    schema_version=1,
                    occurred_at=occurred_at,
                    recorded_at=recorded_at,
                    source=source_json,
                    data=data_json,
                    hash=previous,
                )
            )
            ids.append(event_id)
        if new_stream:
            await conn.execute(
                streams.insert().values(conflict=conflict, version=version, position=position)
            )
        else:
            await conn.execute(
                update(streams)
                .where(streams.c.conflict == conflict)
                .values(version=version, position=position)
            )
        await conn.execute(update(log_head).values(position=position, hash=previous))
    return ids


async def tamper(
    engine: AsyncEngine, position: int, new_data: dict[str, Any] | None = None
) -> None:
    """Change the stored ``data`` of the event at ``position`` behind the service's back: turn
    the append-only trigger off (as someone with enough access can), change one byte (or set
    ``new_data``), turn it back on."""
    async with engine.begin() as conn:
        data = (
            await conn.execute(select(events.c.data).where(events.c.position == position))
        ).scalar_one()
        if new_data is not None:
            changed = json.dumps(new_data)
        else:
            i = data.index('"', 1) + 1  # the first character inside the first key or value
            changed = data[:i] + chr(ord(data[i]) ^ 1) + data[i + 1 :]
        if engine.dialect.name == "postgresql":
            await conn.execute(text("ALTER TABLE events DISABLE TRIGGER events_append_only"))
            await conn.execute(
                update(events).where(events.c.position == position).values(data=changed)
            )
            await conn.execute(text("ALTER TABLE events ENABLE TRIGGER events_append_only"))
        else:
            sql = (
                await conn.execute(
                    text("SELECT sql FROM sqlite_master WHERE name = 'events_refuse_update'")
                )
            ).scalar_one()
            await conn.execute(text("DROP TRIGGER events_refuse_update"))
            await conn.execute(
                update(events).where(events.c.position == position).values(data=changed)
            )
            await conn.execute(text(sql))


async def rewrite(
    engine: AsyncEngine, position: int, change: Callable[[dict[str, Any]], dict[str, Any]]
) -> None:
    """Rewrite history as someone with full access to the database would: change the data of
    the event at ``position`` (``tamper``), then recompute every chain hash from it on and the
    log's head, so that the chain holds again."""
    from events.log.chain import stored_content_hash

    async with engine.connect() as conn:
        data = (
            await conn.execute(select(events.c.data).where(events.c.position == position))
        ).scalar_one()
    await tamper(engine, position, change(json.loads(data)))
    async with engine.begin() as conn:
        previous = (
            await conn.execute(select(events.c.hash).where(events.c.position == position - 1))
        ).scalar_one_or_none() or bytes(32)
        rows = (
            await conn.execute(
                select(events).where(events.c.position >= position).order_by(events.c.position)
            )
        ).all()
        hashes = []
        for row in rows:
            previous = chain_hash(bytes(previous), stored_content_hash(row))
            hashes.append((row.position, previous))
        await _without_append_only(conn)
        for at, digest in hashes:
            await conn.execute(update(events).where(events.c.position == at).values(hash=digest))
        await conn.execute(update(log_head).values(hash=previous))
        await _with_append_only(conn)


async def _without_append_only(conn: Any) -> None:
    if conn.dialect.name == "postgresql":
        await conn.execute(text("ALTER TABLE events DISABLE TRIGGER events_append_only"))
    else:
        await conn.execute(text("DROP TRIGGER events_refuse_update"))


async def _with_append_only(conn: Any) -> None:
    if conn.dialect.name == "postgresql":
        await conn.execute(text("ALTER TABLE events ENABLE TRIGGER events_append_only"))
    else:
        await conn.execute(text(_SQLITE_REFUSE_UPDATE))


_SQLITE_REFUSE_UPDATE = (
    "CREATE TRIGGER events_refuse_update BEFORE UPDATE ON events "
    "BEGIN SELECT RAISE(ABORT, 'the events table is append-only: UPDATE refused'); END"
)


def chained(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Export lines made by hand, with the chain hashes an export would give them."""
    from events.log.export import ExportedEvent
    from events.model.envelope import GENESIS_HASH

    previous = GENESIS_HASH
    out = []
    for fields in lines:
        previous = chain_hash(previous, ExportedEvent.model_validate(fields).content_hash())
        out.append(fields | {"hash": previous.hex()})
    return out


def chained_lines(lines: list[str]) -> list[str]:
    """``chained`` for lines of text; lines that are not JSON objects stay as they are."""
    parsed: list[dict[str, Any] | None] = []
    for line in lines:
        try:
            parsed.append(json.loads(line))
        except ValueError:
            parsed.append(None)
    hashed = iter(chained([p for p in parsed if p is not None]))
    return [
        line if p is None else json.dumps(next(hashed))
        for line, p in zip(lines, parsed, strict=True)
    ]


async def dump_table(engine: AsyncEngine, live: str, name: str) -> list[tuple[Any, ...]]:
    """Every row of ``name``, a table shaped like the projection table ``live`` (a scratch
    table, say), sorted like ``dump_projections``."""
    from sqlalchemy import MetaData

    table = metadata.tables[live].to_metadata(MetaData(), name=name)
    async with engine.connect() as conn:
        rows = (await conn.execute(select(table))).all()
    return sorted((tuple(r) for r in rows), key=_key)


async def index_names(engine: AsyncEngine) -> list[tuple[str, str]]:
    """(table, index) for every index on a projection table."""
    async with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            sql = (
                "SELECT tablename, indexname FROM pg_indexes "
                "WHERE schemaname = current_schema() AND tablename LIKE 'proj%'"
            )
        else:
            sql = (
                "SELECT tbl_name, name FROM sqlite_master "
                "WHERE type = 'index' AND tbl_name LIKE 'proj%'"
            )
        return sorted((r[0], r[1]) for r in await conn.execute(text(sql)))
