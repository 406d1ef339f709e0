"""The bodies of ``/v1/events``: each event type as a writer sends it, and the answers (where
the log put an event, a page of the log, the log's head).

A writer's event is the event model of ``events.model.types`` plus an optional ``expected_version``;
``type`` is required here (it picks the schema), where the stored model defaults it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, Field

from events.model.envelope import Recorded
from events.model.types import (
    ActorRegistered,
    AgreementCollapsed,
    AgreementExtended,
    AgreementSigned,
    AllegationDenied,
    AllegationRetracted,
    CeasefireDeclared,
    ConflictDescribed,
    EventCorrected,
    MissionDispatched,
    MissionEnded,
    ViolationAlleged,
)
from events.model.values import MAX_SAFE_INTEGER

__all__ = ["Appended", "EventIn", "EventPage", "LogHeadView"]


class _Appendable(BaseModel):
    expected_version: int | None = Field(
        default=None,
        ge=0,
        le=MAX_SAFE_INTEGER,
        strict=True,
        description="The conflict's version the writer last saw (0: the conflict is new). "
        "When the conflict has moved on, nothing is written and the answer is 409.",
    )


# Each event type as a writer sends it: ``type`` required (it picks the schema), beside the
# optional ``expected_version``.


class AgreementSignedIn(AgreementSigned, _Appendable):
    """`agreement.signed`, as a writer sends it."""

    type: Literal["agreement.signed"]


class AgreementCollapsedIn(AgreementCollapsed, _Appendable):
    """`agreement.collapsed`, as a writer sends it."""

    type: Literal["agreement.collapsed"]


class ViolationAllegedIn(ViolationAlleged, _Appendable):
    """`violation.alleged`, as a writer sends it."""

    type: Literal["violation.alleged"]


class MissionDispatchedIn(MissionDispatched, _Appendable):
    """`mission.dispatched`, as a writer sends it."""

    type: Literal["mission.dispatched"]


class AllegationRetractedIn(AllegationRetracted, _Appendable):
    """`allegation.retracted`, as a writer sends it."""

    type: Literal["allegation.retracted"]


class EventCorrectedIn(EventCorrected, _Appendable):
    """`event.corrected`, as a writer sends it."""

    type: Literal["event.corrected"]


class CeasefireDeclaredIn(CeasefireDeclared, _Appendable):
    """`ceasefire.declared`, as a writer sends it."""

    type: Literal["ceasefire.declared"]


class AgreementExtendedIn(AgreementExtended, _Appendable):
    """`agreement.extended`, as a writer sends it."""

    type: Literal["agreement.extended"]


class AllegationDeniedIn(AllegationDenied, _Appendable):
    """`allegation.denied`, as a writer sends it."""

    type: Literal["allegation.denied"]


class MissionEndedIn(MissionEnded, _Appendable):
    """`mission.ended`, as a writer sends it."""

    type: Literal["mission.ended"]


class ConflictDescribedIn(ConflictDescribed, _Appendable):
    """`conflict.described`, as a writer sends it."""

    type: Literal["conflict.described"]


class ActorRegisteredIn(ActorRegistered, _Appendable):
    """`actor.registered`, as a writer sends it."""

    type: Literal["actor.registered"]


EventIn = Annotated[
    AgreementSignedIn
    | AgreementCollapsedIn
    | ViolationAllegedIn
    | MissionDispatchedIn
    | AllegationRetractedIn
    | EventCorrectedIn
    | CeasefireDeclaredIn
    | AgreementExtendedIn
    | AllegationDeniedIn
    | MissionEndedIn
    | ConflictDescribedIn
    | ActorRegisteredIn,
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
