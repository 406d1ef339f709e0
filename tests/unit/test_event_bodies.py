"""The append route's body, validated once (by FastAPI) and turned into the event without a
second validation (``app.api.event_bodies.event_of``): the same event ``event_adapter`` makes of
the same JSON, for every example of every event type."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import TypeAdapter

from app.api.event_bodies import EventIn, event_of
from events.model.types import EVENT_TYPES, event_adapter

EXAMPLES = json.loads(
    (Path(__file__).resolve().parents[2] / "app" / "docs" / "examples.json").read_text()
)["requests"]["append_event"]
BODY = TypeAdapter(EventIn)


def _bodies() -> list[tuple[str, dict[str, Any]]]:
    cases = []
    for name, example in EXAMPLES.items():
        value = example["value"]
        cases.append((name, value))
        # no id (the model makes one), and a writer's expected_version beside the event
        cases.append((f"{name}, no id", {k: v for k, v in value.items() if k != "id"}))
        cases.append((f"{name}, expected_version", {**value, "expected_version": 3}))
    return cases


def test_every_event_type_has_an_example() -> None:
    assert {example["value"]["type"] for example in EXAMPLES.values()} == set(EVENT_TYPES)


@pytest.mark.parametrize(("name", "value"), _bodies(), ids=[n for n, _ in _bodies()])
def test_the_event_of_a_body_is_the_event_validated_from_its_json(
    name: str, value: dict[str, Any]
) -> None:
    body = BODY.validate_python(value)
    event = event_of(body)
    sent = {k: v for k, v in value.items() if k != "expected_version"}
    if "id" not in sent:
        sent["id"] = str(body.id)  # the body's generated id, as the route would have kept it
    expected = event_adapter.validate_python(sent)
    assert type(event) is type(expected)
    assert event == expected
    assert event.model_dump_json() == expected.model_dump_json()
    assert event.model_fields_set == expected.model_fields_set
    assert "expected_version" not in event.__dict__
