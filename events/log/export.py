"""The export format: one stored event per line, every field the store keeps.

``ceasefire export`` writes it and ``ceasefire import`` reads it. A line is a JSON object with
``position``, ``id``, ``conflict``, ``version``, ``type``, ``schema_version``, ``occurred_at``,
``recorded_at`` (RFC 3339, UTC, microseconds), ``source`` and ``data`` (as stored: ``data`` in
its own schema version, not upcast) and ``hash`` (the chain hash, hex). Export streams in
keyset batches, so memory stays flat whatever the log's length.

``ExportChain`` is how an import knows the file is the log it claims to be: it recomputes each
line's chain hash from the line's content and the line before it, so a changed payload, a
backdated ``recorded_at``, a garbage hash, a line moved, dropped or inserted all show, at the
first line where they do.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Collection
from typing import Annotated, Any
from uuid import UUID

from pydantic import AwareDatetime, Field, StringConstraints
from sqlalchemy import Row, select

from events.log.store import EventStore, storage_errors
from events.log.tables import events
from events.model.envelope import (
    GENESIS_HASH,
    canonical_json,
    chain_hash,
    format_instant,
    record_content_hash,
)
from events.model.types import EVENT_TYPES, SCHEMA_VERSIONS, Event, event_adapter
from events.model.upcasting import upcast
from events.model.values import STORED, ConflictSlug, Frozen

__all__ = ["ExportChain", "ExportedEvent", "export_line", "export_lines", "stored_lines"]


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
    #: The id of the API key that appended it (``cli``: an operator's command); absent for
    #: events recorded before keys were recorded.
    key_id: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = None

    def content_hash(self) -> bytes:
        """The content hash of the stored event this line says it is (``events.model.envelope``)."""
        return record_content_hash(
            self,
            source_json=canonical_json(self.source),
            data_json=canonical_json(self.data),
            key_id=self.key_id,
        )

    def event(self) -> Event:
        """The event as a writer would submit it now: ``data`` upcast to the current schema
        version, then validated as the log's own history (``STORED``: a backup of a log written
        before a check on text existed still restores). ``ValueError`` when it does not
        validate."""
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
            },
            context=STORED,
        )


class ExportChain:
    """The hash chain of an export, checked line by line in file order.

    The file's positions must run on without a gap: the chain runs over every event of the log,
    so a line after a gap (an export of one conflict) cannot be checked, and is refused. The
    first line continues from the genesis hash at position 1; a file that starts later (an
    export ``--after``) continues from ``anchor``, the hash the importing log holds at the
    position before, if it holds one. Each link is checked against the hash the line before it
    claims, so one changed line is one finding.
    """

    def __init__(self, anchor: bytes | None = None) -> None:
        self._anchor = anchor
        self._previous: bytes | None = None
        self._position = 0

    def check(self, line: ExportedEvent) -> str | None:
        """Why ``line`` (the next one of the file) breaks the chain; None when it holds."""
        claimed = bytes.fromhex(line.hash)
        try:
            return self._check(line, claimed)
        finally:
            self._previous, self._position = claimed, line.position

    def _check(self, line: ExportedEvent, claimed: bytes) -> str | None:
        if self._previous is None:
            if line.position == 1:
                previous = GENESIS_HASH
            elif self._anchor is not None:
                previous = self._anchor
            else:
                return (
                    f"the file starts at position {line.position}, but this log holds no event "
                    f"at {line.position - 1} for it to continue: its hashes cannot be checked"
                )
        elif line.position != self._position + 1:
            if line.position <= self._position:
                return f"position {line.position} after {self._position}: out of order"
            missing = (
                f"position {self._position + 1} is"
                if line.position == self._position + 2
                else f"positions {self._position + 1} to {line.position - 1} are"
            )
            return (
                f"{missing} missing: the chain cannot be checked across a gap (an export of "
                "one conflict cannot be imported)"
            )
        else:
            previous = self._previous
        if chain_hash(previous, line.content_hash()) != claimed:
            what = "the log it continues" if self._previous is None else "the line before it"
            return (
                f"hash does not match the line's content and {what}: its content or "
                "recording time was changed, or lines were moved"
            )
        return None


def export_line(row: Row[Any] | Any) -> str:
    """One stored ``events`` row as an export line (without the newline)."""
    line: dict[str, Any] = {
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
    }
    if row.key_id is not None:
        line["key_id"] = row.key_id
    return json.dumps(line, ensure_ascii=False, separators=(",", ":"))


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


async def stored_lines(store: EventStore, ids: Collection[UUID]) -> dict[UUID, ExportedEvent]:
    """The stored events with these ids (one query), each as its export line reads: every
    column of the row, key id and chain hash included, for an import to compare a line with."""
    with storage_errors():
        async with store.engine.connect() as conn:
            rows = list(await conn.execute(select(events).where(events.c.id.in_(list(ids)))))
    return {row.id: ExportedEvent.model_validate_json(export_line(row)) for row in rows}
