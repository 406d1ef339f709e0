"""The replay's bulk decoder gives exactly what ``decode_row`` gives, and refuses what it
refuses (no database: rows are built as the store writes them)."""

from __future__ import annotations

import json
from typing import Any
from uuid import uuid4

import pytest
from pydantic import ValidationError

from events.codec import RowDecoder
from events.store import decode_row
from events.types import Event
from tests.factories import alleged, corrected, retracted, seed_events
from tests.rows import as_tuple, stored_row


def _events() -> list[Event]:
    conflict = "codec"
    claim = alleged(conflict, casualties_claimed={"low": 1, "best": 2, "high": 3}, location="x")
    return [
        *seed_events(conflict),
        claim,
        retracted(conflict, claim.id),
        corrected(conflict, claim.id, "violation.alleged", {"alleged_by": "A", "accused": "B"}),
    ]


@pytest.mark.parametrize("index", range(len(_events())))
def test_bulk_decoding_equals_decode_row(index: int) -> None:
    row = stored_row(_events()[index], index + 1)
    decoded = RowDecoder().decode(as_tuple(row))
    expected = decode_row(row)
    assert decoded == expected
    assert type(decoded) is type(expected)
    assert decoded.model_dump() == expected.model_dump()
    assert decoded.model_copy(update={"position": 99}).position == 99


def test_an_old_schema_version_is_upcast_like_decode_row() -> None:
    claim = alleged("codec")
    data = json.loads(stored_row(claim, 1).data) | {"casualties_claimed": 4}
    row = stored_row(claim, 1, schema_version=1, data=json.dumps(data))
    decoded = RowDecoder().decode(as_tuple(row))
    assert decoded == decode_row(row)
    assert decoded.schema_version == 2
    assert decoded.data.casualties_claimed.model_dump() == {"low": 4, "best": 4, "high": 4}  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "override",
    [
        {"data": '{"alleged_by": "Armenia"}'},
        {"data": "{not json"},
        {"source": '{"name": ""}'},
        {"type": "violation.imagined"},
    ],
)
def test_a_row_decode_row_refuses_is_refused(override: dict[str, Any]) -> None:
    row = stored_row(alleged("codec"), 1, id=uuid4(), **override)
    with pytest.raises((ValidationError, ValueError, KeyError)):
        RowDecoder().decode(as_tuple(row))
    with pytest.raises((ValidationError, ValueError, KeyError)):
        decode_row(row)
