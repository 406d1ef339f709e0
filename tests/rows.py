"""Event rows built as the store writes them, without a database: what the decoders read."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

from events.log.codec import columns_of
from events.log.store import event_row
from events.model.envelope import Recorded, recorded_adapter, to_recorded
from events.model.types import SCHEMA_VERSIONS, Event
from events.model.upcasting import upcast

__all__ = ["RECORDED", "as_tuple", "stored_row", "validated"]

RECORDED = datetime(2022, 10, 1, 12, 0, 0, 654321, tzinfo=UTC)


def stored_row(event: Event, position: int, **override: Any) -> SimpleNamespace:
    """The ``events`` row of ``event`` at ``position`` (recorded a second apart), overridden."""
    recorded = to_recorded(
        event,
        version=position,
        position=position,
        recorded_at=RECORDED + timedelta(seconds=position),
        schema_version=SCHEMA_VERSIONS[event.type],
    )
    row = event_row(recorded)
    row.pop("content_hash")
    return SimpleNamespace(**{**row, "conflict": event.conflict, "position": position, **override})


def as_tuple(row: SimpleNamespace) -> tuple[Any, ...]:
    """The row's columns in the order the bulk decoders read them."""
    return columns_of(row)


def validated(row: Any) -> Recorded:
    """The oracle the decoder is held to: the whole recorded event validated through the
    discriminated union, every field, as a client's event is."""
    return recorded_adapter.validate_python(
        {
            "id": row.id,
            "type": row.type,
            "conflict": row.conflict,
            "occurred_at": row.occurred_at,
            "source": json.loads(row.source),
            "data": upcast(row.type, row.schema_version, json.loads(row.data)),
            "version": row.version,
            "position": row.position,
            "recorded_at": row.recorded_at,
            "schema_version": SCHEMA_VERSIONS.get(row.type, row.schema_version),
        }
    )
