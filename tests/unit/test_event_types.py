"""Every list of event types is derived from the one union, ``events.model.types.Event``: the
type names, their ``Literal``, the recorded union and the bodies writers send."""

from __future__ import annotations

from typing import Any, get_args

from app.api.event_bodies import EventIn
from events.model.correction_data import CORRECTABLE_DATA, CorrectableType
from events.model.envelope import Recorded
from events.model.types import EVENT_CLASSES, EVENT_TYPES, SCHEMA_VERSIONS, Event, EventType


def _type_names(union: Any) -> tuple[str, ...]:
    return tuple(cls.model_fields["type"].default for cls in get_args(get_args(union)[0]))


def test_the_type_names_are_the_unions_discriminators_in_its_order() -> None:
    assert get_args(get_args(Event)[0]) == EVENT_CLASSES
    assert _type_names(Event) == EVENT_TYPES
    assert get_args(EventType) == EVENT_TYPES
    assert tuple(SCHEMA_VERSIONS) == EVENT_TYPES


def test_the_recorded_union_and_the_bodies_follow_the_event_union() -> None:
    assert _type_names(Recorded) == EVENT_TYPES
    bodies = get_args(get_args(EventIn)[0])
    assert [cls.__name__ for cls in bodies] == [f"{cls.__name__}In" for cls in EVENT_CLASSES]
    assert [get_args(cls.model_fields["type"].annotation) for cls in bodies] == [
        (name,) for name in EVENT_TYPES
    ]
    assert all(cls.model_fields["type"].is_required() for cls in bodies)


def test_the_correctable_types_are_the_keys_of_their_models() -> None:
    assert get_args(CorrectableType) == tuple(CORRECTABLE_DATA)
    assert set(CORRECTABLE_DATA) <= set(EVENT_TYPES)
