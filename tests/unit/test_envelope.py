"""The envelope's fast paths give exactly what the plain spelling gives: the content hash (every
stored chain rests on its bytes) and the recorded models built without validation."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter

from events.model.envelope import (
    content_hash,
    format_instant,
    recorded_adapter,
    to_recorded,
    with_position,
)
from events.model.types import SCHEMA_VERSIONS
from tests.factories import seed_events

RECORDED = datetime(2022, 10, 1, 12, 0, 0, 654321, tzinfo=UTC)


def _plain_content_hash(**fields: Any) -> bytes:
    """The content hash as first written: the canonical JSON of one dict of the fields."""
    canonical = json.dumps(
        {
            "id": fields["event_id"],
            "type": fields["type"],
            "conflict": fields["conflict"],
            "version": fields["version"],
            "schema_version": fields["schema_version"],
            "occurred_at": format_instant(fields["occurred_at"]),
            "recorded_at": format_instant(fields["recorded_at"]),
            "source": fields["source_json"],
            "data": fields["data_json"],
        }
        | ({} if fields.get("key_id") is None else {"key_id": fields["key_id"]}),
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode()).digest()


_text = st.text(alphabet=st.characters(codec="utf-8"), max_size=40)
_instants = st.datetimes(
    min_value=datetime(1, 1, 2),
    max_value=datetime(9999, 12, 30),
    timezones=st.sampled_from(
        [UTC, timezone(timedelta(hours=5, minutes=30)), timezone(-timedelta(hours=9))]
    ),
)


@given(
    event_id=_text,
    type_=_text,
    conflict=_text,
    version=st.integers(min_value=0, max_value=2**62),
    schema_version=st.integers(min_value=0, max_value=100),
    occurred_at=_instants,
    recorded_at=_instants,
    source_json=_text,
    data_json=_text,
    key_id=st.none() | _text,
)
def test_content_hash_is_the_hash_of_the_canonical_json_of_its_fields(
    event_id: str,
    type_: str,
    conflict: str,
    version: int,
    schema_version: int,
    occurred_at: datetime,
    recorded_at: datetime,
    source_json: str,
    data_json: str,
    key_id: str | None,
) -> None:
    fields: dict[str, Any] = {
        "event_id": event_id,
        "type": type_,
        "conflict": conflict,
        "version": version,
        "schema_version": schema_version,
        "occurred_at": occurred_at,
        "recorded_at": recorded_at,
        "source_json": source_json,
        "data_json": data_json,
        "key_id": key_id,
    }
    assert content_hash(**fields) == _plain_content_hash(**fields)
    if key_id is not None:  # who appended it is covered
        assert content_hash(**fields) != content_hash(**(fields | {"key_id": None}))


@given(instant=_instants)
def test_format_instant_is_the_instant_in_utc_to_the_microsecond(instant: datetime) -> None:
    """Its shortcut for a UTC instant (no conversion) spells what the conversion spells, for
    ``datetime.UTC`` and for the UTC pydantic gives a parsed instant."""
    plain = instant.astimezone(UTC).replace(tzinfo=None).isoformat("T", "microseconds") + "Z"
    assert format_instant(instant) == plain
    parsed = TypeAdapter(datetime).validate_python(instant.astimezone(UTC).isoformat())
    assert format_instant(parsed) == plain


def test_to_recorded_is_the_validated_model() -> None:
    for version, event in enumerate(seed_events(), start=1):
        recorded = to_recorded(
            event,
            version=version,
            position=version + 10,
            recorded_at=RECORDED,
            schema_version=SCHEMA_VERSIONS[event.type],
        )
        validated = recorded_adapter.validate_python(
            {
                **event.model_dump(),
                "version": version,
                "position": version + 10,
                "recorded_at": RECORDED,
                "schema_version": SCHEMA_VERSIONS[event.type],
            }
        )
        assert recorded == validated
        assert type(recorded) is type(validated)
        assert list(recorded.__dict__) == list(validated.__dict__)
        assert recorded.model_dump_json() == validated.model_dump_json()
        assert recorded.model_fields_set >= event.model_fields_set | {"version", "position"}


def test_with_position_changes_the_position_only() -> None:
    event = seed_events()[0]
    recorded = to_recorded(event, version=1, position=0, recorded_at=RECORDED, schema_version=1)
    placed = with_position(recorded, 42)
    assert placed.position == 42 and recorded.position == 0
    assert placed.model_dump(exclude={"position"}) == recorded.model_dump(exclude={"position"})
    assert placed.model_fields_set == recorded.model_fields_set
