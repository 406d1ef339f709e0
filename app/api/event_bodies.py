"""The bodies of ``/v1/events``: each event type as a writer sends it, and the answers (where
the log put an event, a page of the log, the log's head).

A writer's event is the event model of ``events.model.types`` plus an optional ``expected_version``;
``type`` is required here (it picks the schema), where the stored model defaults it.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal, Union
from uuid import UUID

from pydantic import BaseModel, Field, create_model

from events.model.envelope import Recorded, construct
from events.model.types import EVENT_CLASSES, Event, EventBase
from events.model.values import MAX_SAFE_INTEGER

__all__ = ["Appended", "EventIn", "EventPage", "LogHeadView", "event_of"]


class _Appendable(BaseModel):
    expected_version: int | None = Field(
        default=None,
        ge=0,
        le=MAX_SAFE_INTEGER,
        strict=True,
        description="The conflict's version the writer last saw (0: the conflict is new). "
        "When the conflict has moved on, nothing is written and the answer is 409.",
    )


def _as_sent(event_class: type[EventBase]) -> type[BaseModel]:
    """``event_class`` as a writer sends it: ``type`` required (it picks the schema), beside the
    optional ``expected_version``. Named ``<class>In`` in the OpenAPI document."""
    type_name = event_class.model_fields["type"].default
    bases: tuple[type[BaseModel], ...] = (event_class, _Appendable)
    required: Any = Literal[type_name]
    return _derived(
        create_model(
            f"{event_class.__name__}In",
            __base__=bases,
            __doc__=f"`{type_name}`, as a writer sends it.",
            __module__=__name__,
            type=(required, ...),
        ),
        event_class,
    )


def _derived(sent: type[BaseModel], event_class: type[EventBase]) -> type[BaseModel]:
    """``sent``, remembered as the body class of ``event_class`` (``event_of``)."""
    _EVENT_OF[sent] = event_class
    return sent


#: Each body class (``_as_sent``) -> the event class it was derived from.
_EVENT_OF: dict[type[BaseModel], type[EventBase]] = {}


def event_of(body: BaseModel) -> Event:
    """The event a writer's body holds, as ``events.model.types.event_adapter`` would make it
    from the body's fields. Not validated again: the body's class is the event's class plus
    ``expected_version`` (``_as_sent``), so FastAPI's validation of the body ran every check
    of the event's, and its fields are the event's values already."""
    cls = _EVENT_OF[type(body)]
    values = {name: getattr(body, name) for name in cls.model_fields}
    event: Event = construct(cls, values, cls.model_fields.keys())  # type: ignore[assignment]
    return event


if TYPE_CHECKING:  # to a type checker, what the route reads of it: a model with expected_version
    EventIn = _Appendable
else:
    #: One class per member of ``events.model.types.Event``, derived from it, in its order.
    EventIn = Annotated[
        Union[tuple(_as_sent(cls) for cls in EVENT_CLASSES)],  # noqa: UP007 (a tuple, built at run time)
        Field(discriminator="type"),
    ]


class Appended(BaseModel):
    """Where the log put the event."""

    id: UUID
    conflict: str
    version: int
    position: int
    recorded_at: datetime


class EventPage(BaseModel):
    """A page of the log, in position order."""

    events: list[Recorded]
    next_after: int = Field(
        description="Pass as `after` to read on: the position of the last event returned, or "
        "the given `after` when none was."
    )
    has_more: bool = Field(
        description="True when more events follow this page (read on with `after=next_after`); "
        "false at the end of the log as the page saw it."
    )


class LogHeadView(BaseModel):
    """The log's head: the pair that pins its whole history."""

    position: int = Field(description="The newest event's position (0: the log is empty).")
    hash: str = Field(
        description="Its chain hash, hex: sha256 over every event up to it. Keep the pair "
        "elsewhere; `ceasefire verify --expect POSITION:HASH` proves the log still extends it."
    )
