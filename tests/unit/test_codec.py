"""``RowDecoder``, the bulk decoder of chain verification, gives exactly what ``decode_row``
gives (no database: rows are built as the store writes them). Its upcasting and refusals are
tested beside the replay's decoder, in ``test_decoding.py``."""

from __future__ import annotations

import pytest

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
