"""The one lookup of the log's head and of a stream's head on a connection.

``events.log.heads.Heads`` answers the same questions for polled reads through faster paths of its
own (raw drivers, coalesced), and the replay reads the head on its raw driver connection
(``projections.driver``): both run the statements declared here, compiled for their driver
(``raw_sql``), so no path spells the lookup its own way. Everything else asks here.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, bindparam, select
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection

from events.log.tables import log_head, projection_checkpoints, streams

__all__ = [
    "LOG_HEAD",
    "LOG_POSITION",
    "STREAM_HEAD",
    "STREAM_POSITION",
    "checkpoint_position",
    "log_position",
    "raw_sql",
    "stream_head",
]

#: The position of the newest event in the whole log (``log_head``'s one row).
LOG_POSITION = select(log_head.c.position)
#: The newest position and its chain hash: what an append continues from.
LOG_HEAD = select(log_head.c.position, log_head.c.hash)
#: The position of a conflict's newest event (no row for an unknown conflict).
STREAM_POSITION = select(streams.c.position).where(streams.c.conflict == bindparam("conflict"))
#: A conflict's newest ``(version, position)`` (no row for an unknown conflict).
STREAM_HEAD = select(streams.c.version, streams.c.position).where(
    streams.c.conflict == bindparam("conflict")
)


def raw_sql(statement: Select[Any], dialect: Dialect, *, for_update: bool = False) -> str:
    """``statement`` as its driver takes it (``$1`` for asyncpg, ``?`` for ``sqlite3``), for
    the raw-driver paths; ``for_update`` locks the rows read where the database can (PostgreSQL;
    SQLite's lock is its write transaction)."""
    if for_update:
        statement = statement.with_for_update()
    return str(statement.compile(dialect=dialect))


async def log_position(conn: AsyncConnection) -> int:
    """The position of the newest event in the whole log (0 when empty)."""
    return int((await conn.execute(LOG_POSITION)).scalar_one())


async def stream_head(conn: AsyncConnection, conflict: str) -> tuple[int, int] | None:
    """``(version, position)`` of the conflict's newest event; None for an unknown conflict."""
    row = (await conn.execute(STREAM_HEAD, {"conflict": conflict})).one_or_none()
    return None if row is None else (int(row.version), int(row.position))


async def checkpoint_position(conn: AsyncConnection, name: str, *, for_update: bool = False) -> int:
    """The last log position the consumer ``name`` has taken in (its checkpoint: a projection,
    the webhook dispatcher); 0 for none. ``for_update``: locked until the transaction ends on
    PostgreSQL (SQLite's write transaction already holds the whole database)."""
    statement = select(projection_checkpoints.c.position).where(
        projection_checkpoints.c.name == name
    )
    if for_update and conn.dialect.name == "postgresql":
        statement = statement.with_for_update()
    return int((await conn.execute(statement)).scalar_one_or_none() or 0)
