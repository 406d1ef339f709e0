"""``RowDecoder``, the one decoder of stored rows (the feed's ``decode_row``, the replay,
verification), gives exactly what validating the whole event through the discriminated union
gives, and upcasts and refuses as it does (no database: rows are built as the store writes
them)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import pytest
from pydantic import ValidationError

from events.log.codec import RowDecoder
from events.log.store import decode_row
from events.model.types import Event
from tests.factories import (
    alleged,
    collapsed,
    corrected,
    dispatched,
    retracted,
    seed_events,
    signed,
)
from tests.rows import as_tuple, stored_row, validated


def _events() -> list[Event]:
    """Every type, with every optional field of its data set (and left out)."""
    conflict = "decoding"
    claim = alleged(
        conflict,
        agreement_id="cf-2",
        casualties_claimed={"low": 1, "best": 2, "high": 3},
        location="x",
        description="y",
        incidents=3,
    )
    return [
        *seed_events(conflict),
        signed(
            conflict,
            "cf-2",
            mediators=["Russia"],
            terms="t",
            kind="armistice",
            effective_at="2022-09-15T01:02:03.000004+02:00",
        ),
        collapsed(conflict, "cf-2"),
        alleged(conflict),
        claim,
        dispatched(conflict),
        _event_with(
            dispatched(conflict, "m-2"),
            head="Head",
            purpose="p",
            expected_arrival="2022-09-16T00:00:00-05:00",
        ),
        retracted(conflict, claim.id),
        retracted(conflict, claim.id, reason=None),
        corrected(conflict, claim.id, "violation.alleged", {"alleged_by": "A", "accused": "B"}),
    ]


def _event_with(event: Event, **data: Any) -> Event:
    return type(event).model_validate(
        {**event.model_dump(mode="json"), "data": {**event.data.model_dump(mode="json"), **data}}
    )


@pytest.mark.parametrize("index", range(len(_events())))
def test_decoding_equals_validating_the_whole_event(index: int) -> None:
    row = stored_row(_events()[index], index + 1)
    decoded = RowDecoder().decode(as_tuple(row))
    assert decode_row(row) == decoded  # the store's decode_row is this decoder
    expected = validated(row)
    assert decoded == expected
    assert type(decoded) is type(expected)
    assert type(decoded.data) is type(expected.data)
    assert decoded.data.model_fields_set == expected.data.model_fields_set
    assert decoded.model_dump() == expected.model_dump()
    assert decoded.model_dump_json() == expected.model_dump_json()  # keys in the same order
    assert decoded.data.model_dump_json() == expected.data.model_dump_json()
    for name, value in expected.data:
        if isinstance(value, datetime):  # the same tzinfo, not just the same instant
            assert getattr(decoded.data, name).tzinfo is value.tzinfo is UTC
    assert decoded.model_copy(update={"position": 99}).position == 99


def test_an_old_schema_version_is_still_upcast() -> None:
    claim = alleged("decoding")
    data = json.loads(stored_row(claim, 1).data) | {"casualties_claimed": 4}
    row = stored_row(claim, 1, schema_version=1, data=json.dumps(data))
    decoded = RowDecoder().decode(as_tuple(row))
    assert decoded == validated(row)
    assert decoded.schema_version == 2
    assert decoded.data.casualties_claimed.model_dump() == {"low": 4, "best": 4, "high": 4}  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "override",
    [
        {"data": '{"alleged_by": "Armenia"}'},
        {"data": '{"alleged_by": "Armenia", "accused": "Azerbaijan", "extra": 1}'},
        {"data": '{"alleged_by": "Armenia", "accused": "armenia"}'},
        {"data": '{"alleged_by": "Armenia\\u0000", "accused": "Azerbaijan"}'},
        {"data": "{not json"},
        {"source": '{"name": ""}'},
        {"type": "violation.imagined"},
    ],
)
def test_a_row_validation_refuses_is_refused(override: dict[str, Any]) -> None:
    row = stored_row(alleged("decoding"), 1, id=uuid4(), **override)
    with pytest.raises((ValidationError, ValueError, KeyError)):
        RowDecoder().decode(as_tuple(row))
    with pytest.raises((ValidationError, ValueError, KeyError)):
        validated(row)
