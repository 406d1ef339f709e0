"""Upcasters: stored events of an older schema version turned into the current model on read.

Old rows are never rewritten. Each upcaster takes the ``data`` of one (type, version) and
returns the ``data`` of the next version; ``upcast`` chains them until the current version.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from events.types import SCHEMA_VERSIONS

__all__ = ["UPCASTERS", "upcast"]

Data = dict[str, Any]

#: (event type, stored version) -> function turning that version's data into the next one's.
UPCASTERS: dict[tuple[str, int], Callable[[Data], Data]] = {}


def upcast(event_type: str, schema_version: int, data: Data) -> Data:
    current = SCHEMA_VERSIONS.get(event_type, schema_version)
    while schema_version < current:
        data = UPCASTERS[(event_type, schema_version)](data)
        schema_version += 1
    return data
