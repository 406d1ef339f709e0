"""Upcasters: stored events of an older schema version turned into the current model on read.

Old rows are never rewritten. Each upcaster takes the ``data`` of one (type, version) and
returns the ``data`` of the next version; ``upcast`` chains them until the current version.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from events.model.types import SCHEMA_VERSIONS

__all__ = ["UPCASTERS", "upcast"]

Data = dict[str, Any]


def _violation_alleged_1_to_2(data: Data) -> Data:
    """Version 1 claimed casualties as one number; version 2 as a range {low, best, high}.
    One number is the range that is that number three times."""
    claimed = data.get("casualties_claimed")
    if isinstance(claimed, int) and not isinstance(claimed, bool):
        return {**data, "casualties_claimed": {"low": claimed, "best": claimed, "high": claimed}}
    return data


#: (event type, stored version) -> function turning that version's data into the next one's.
UPCASTERS: dict[tuple[str, int], Callable[[Data], Data]] = {
    ("violation.alleged", 1): _violation_alleged_1_to_2,
}


def upcast(event_type: str, schema_version: int, data: Data) -> Data:
    current = SCHEMA_VERSIONS.get(event_type, schema_version)
    while schema_version < current:
        data = UPCASTERS[(event_type, schema_version)](data)
        schema_version += 1
    return data
