"""The one lookup of the log's head and of a stream's head on a connection.

``events.heads.Heads`` answers the same questions for polled reads through faster paths of its
own (raw drivers, coalesced); everything else asks here.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from events.tables import log_head, streams

__all__ = ["log_position", "stream_head"]


async def log_position(conn: AsyncConnection) -> int:
    """The position of the newest event in the whole log (0 when empty)."""
    return int((await conn.execute(select(log_head.c.position))).scalar_one())


async def stream_head(conn: AsyncConnection, conflict: str) -> tuple[int, int] | None:
    """``(version, position)`` of the conflict's newest event; None for an unknown conflict."""
    row = (
        await conn.execute(
            select(streams.c.version, streams.c.position).where(streams.c.conflict == conflict)
        )
    ).one_or_none()
    return None if row is None else (int(row.version), int(row.position))
