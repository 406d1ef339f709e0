"""Who appended what: the id of the API key stored with each event (``events.key_id``).

The id only, never a secret: ``cli`` for an operator's command run without a key, None for
events recorded before keys were recorded. It is part of the event's content hash when
present (``events.model.envelope.content_hash``), so the chain covers it.
"""

from __future__ import annotations

from collections.abc import Collection
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from events.log.store import storage_errors
from events.log.tables import events

__all__ = ["CLI", "appended_by"]

#: What an operator's command records when it is run without a key of theirs.
CLI = "cli"


async def appended_by(engine: AsyncEngine, ids: Collection[UUID]) -> dict[UUID, str | None]:
    """The key id each of these events was appended with (one query)."""
    if not ids:
        return {}
    with storage_errors():
        async with engine.connect() as conn:
            rows = await conn.execute(
                select(events.c.id, events.c.key_id).where(events.c.id.in_(list(ids)))
            )
            return {row.id: row.key_id for row in rows}
