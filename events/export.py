"""The export format: one stored event per line, every field the store keeps.

``ceasefire export`` writes it and ``ceasefire import`` reads it. A line is a JSON object with
``position``, ``id``, ``conflict``, ``version``, ``type``, ``schema_version``, ``occurred_at``,
``recorded_at`` (RFC 3339, UTC, microseconds), ``source`` and ``data`` (as stored: ``data`` in
its own schema version, not upcast) and ``hash`` (the chain hash, hex). Export streams in
keyset batches, so memory stays flat whatever the log's length.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Annotated, Any
from uuid import UUID

from pydantic import AwareDatetime, Field, StringConstraints
from sqlalchemy import Row, select

from events.envelope import format_instant
from events.store import EventStore, storage_errors
from events.tables import events
from events.types import EVENT_TYPES, SCHEMA_VERSIONS, ConflictSlug, Event, Frozen, event_adapter
from events.upcasting import upcast

__all__ = ["ExportedEvent", "export_line", "export_lines"]


class ExportedEvent(Frozen):
    """One line of an export, as read back by the import."""

    position: int = Field(ge=1)
    id: UUID
    conflict: ConflictSlug
    version: int = Field(ge=1)
    type: str
    schema_version: int = Field(ge=1)
    occurred_at: AwareDatetime
    recorded_at: AwareDatetime
    source: dict[str, Any]
    data: dict[str, Any]
    hash: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]

    def event(self) -> Event:
        """The event as a writer would submit it now: ``data`` upcast to the current schema
        version, then validated. ``ValueError`` when it does not validate."""
        if self.type not in EVENT_TYPES:
            raise ValueError(f"unknown event type {self.type!r}")
        if self.schema_version > SCHEMA_VERSIONS[self.type]:
            raise ValueError(
                f"schema_version {self.schema_version} of {self.type} is newer than this "
                f"service knows ({SCHEMA_VERSIONS[self.type]})"
            )
        return event_adapter.validate_python(
            {
                "id": self.id,
                "type": self.type,
                "conflict": self.conflict,
                "occurred_at": self.occurred_at,
                "source": self.source,
                "data": upcast(self.type, self.schema_version, self.data),
            }
        )


def export_line(row: Row[Any] | Any) -> str:
    """One stored ``events`` row as an export line (without the newline)."""
    return json.dumps(
        {
            "position": row.position,
            "id": str(row.id),
            "conflict": row.conflict,
            "version": row.version,
            "type": row.type,
            "schema_version": row.schema_version,
            "occurred_at": format_instant(row.occurred_at),
            "recorded_at": format_instant(row.recorded_at),
            "source": json.loads(row.source),
            "data": json.loads(row.data),
            "hash": bytes(row.hash).hex(),
        },
        ensure_ascii=False,
        separators=(",", ":"),
    )


async def export_lines(
    store: EventStore,
    *,
    after: int = 0,
    conflict: str | None = None,
    batch_size: int = 5000,
) -> AsyncIterator[str]:
    """Export lines in position order, after ``after``, of one conflict or all."""
    while True:
        statement = select(events).where(events.c.position > after)
        if conflict is not None:
            statement = statement.where(events.c.conflict == conflict)
        statement = statement.order_by(events.c.position).limit(batch_size)
        with storage_errors():
            async with store.engine.connect() as conn:
                rows = list(await conn.execute(statement))
        if not rows:
            return
        for row in rows:
            yield export_line(row)
        after = rows[-1].position
