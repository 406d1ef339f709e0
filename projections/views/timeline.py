"""A conflict's story as the API returns it: its entries, each with the state of the conflict
it led to, and the notes (retractions, corrections) each one received.

A view module of its own, like the others here, so the story's shape is found beside the
other views; the entries are built in ``projections.timeline``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import Field

from events.model.milestones import MilestoneStateName
from projections.views.base import ConflictState, View

__all__ = [
    "TimelineEntry",
    "TimelineNote",
    "TimelineView",
]


class TimelineNote(View):
    """A retraction or a correction an entry received."""

    id: UUID
    type: Literal["allegation.retracted", "event.corrected"]
    summary: str = Field(
        default="", description="One sentence for a person to read, naming who did what when."
    )
    occurred_at: datetime
    recorded_at: datetime
    source: dict[str, Any]
    reason: str | None = None
    retracted_by: str | None = None
    data: dict[str, Any] | None = Field(
        default=None, description="For a correction: the data it set."
    )


EntryType = Literal[
    "agreement.signed",
    "ceasefire.declared",
    "agreement.extended",
    "agreement.collapsed",
    "violation.alleged",
    "allegation.denied",
    "mission.dispatched",
    "mission.ended",
    "conflict.described",
    "actor.registered",
    "milestone.extended",
    "milestone.met",
    "agreement.repudiated",
    "talks.suspended",
    "talks.resumed",
    "incident.ended",
    "violations.reported",
    "lull.observed",
    "lull.ended",
]


class TimelineEntry(View):
    """One event of the story, with the state of the conflict it led to."""

    id: UUID
    type: EntryType
    occurred_at: datetime
    occurred_at_local: datetime | None = Field(
        default=None,
        description="occurred_at in local time where it happened, at the event's `utc_offset` "
        "(null when it was given in UTC).",
    )
    recorded_at: datetime
    version: int
    position: int
    source: dict[str, Any]
    summary: str = Field(description="One sentence for a person to read.")
    data: dict[str, Any] = Field(description="The event's data, as corrected.")
    original_data: dict[str, Any] | None = Field(
        default=None, description="The data as first recorded, when a correction changed it."
    )
    retracted: bool = Field(description="True when its party withdrew this allegation by as_of.")
    notes: list[TimelineNote] = Field(
        description="Retractions (by as_of) and corrections of this event, in the order recorded."
    )
    agreement_id: str | None = Field(
        description="The agreement it concerns (for an allegation: the one it belongs to)."
    )
    state: ConflictState = Field(
        description="The state of the conflict at this event's occurred_at, this event counted."
    )
    milestone_state: MilestoneStateName | None = Field(
        default=None,
        description="For a `milestone.extended` or `milestone.met`: the state of its milestone "
        "at this event's occurred_at, this event counted (null for other events).",
    )


class TimelineView(View):
    """The conflict's story in order of occurrence."""

    conflict: str
    entries: list[TimelineEntry]
    version: int = Field(description="The conflict's stream version this story reflects.")
    position: int = Field(description="The global log position this story reflects.")
    as_of: datetime | None = Field(
        default=None, description="Only what occurred by then is told (null: everything)."
    )
    known_at: datetime | None = None
    next_after: int | None = Field(
        default=None,
        description="Pass as `after` for the next page of entries; null on the last page.",
    )
