"""The event types: what a writer can record about a ceasefire.

Every event is a frozen pydantic model named in the past tense, with a ``type`` literal that is
also the string stored in the log. The stored type is never a Python path, so renaming a class
breaks nothing. All of them are gathered in one discriminated union, ``Event``, parsed through one
module-level ``TypeAdapter``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal, get_args
from uuid import UUID, uuid4

from pydantic import Field, TypeAdapter, model_validator

from events.model.agreement_data import (
    AgreementCollapsedData,
    AgreementExtendedData,
    AgreementRepudiatedData,
    AgreementSignedData,
    CeasefireDeclaredData,
    LullEndedData,
    LullObservedData,
    MilestoneExtendedData,
    MilestoneMetData,
    TalksData,
)
from events.model.allegation_data import (
    AllegationDeniedData,
    AllegationRetractedData,
    IncidentEndedData,
    ViolationAllegedData,
    ViolationsReportedData,
)
from events.model.conflict_data import ActorRegisteredData, ConflictDescribedData
from events.model.correction_data import EventCorrectedData
from events.model.mission_data import MissionDispatchedData, MissionEndedData
from events.model.values import ConflictSlug, Frozen, Instant, Source, offset_given

__all__ = [
    "EVENT_CLASSES",
    "EVENT_TYPES",
    "SCHEMA_VERSIONS",
    "ActorRegistered",
    "AgreementCollapsed",
    "AgreementExtended",
    "AgreementRepudiated",
    "AgreementSigned",
    "AllegationDenied",
    "AllegationRetracted",
    "CeasefireDeclared",
    "ConflictDescribed",
    "Event",
    "EventBase",
    "EventCorrected",
    "EventType",
    "IncidentEnded",
    "LullEnded",
    "LullObserved",
    "MilestoneExtended",
    "MilestoneMet",
    "MissionDispatched",
    "MissionEnded",
    "TalksResumed",
    "TalksSuspended",
    "ViolationAlleged",
    "ViolationsReported",
    "data_of",
    "event_adapter",
]


class EventBase(Frozen):
    """The envelope a writer submits. The store adds version, position and recorded_at."""

    id: UUID = Field(default_factory=uuid4)
    conflict: ConflictSlug
    occurred_at: Instant
    source: Source

    @model_validator(mode="before")
    @classmethod
    def _keep_utc_offset(cls, value: Any) -> Any:
        """``occurred_at`` is stored in UTC; the offset it was written with (``+03:00``) is
        kept as ``data.utc_offset`` (unless the data gives one), so views can show local time.
        UTC (``Z``, ``+00:00``) keeps nothing: the data stays as it always was."""
        if not isinstance(value, dict):
            return value
        data = value.get("data")
        if not isinstance(data, dict) or "utc_offset" in data:
            return value  # a decoded row's data is a model already: nothing to keep
        offset = offset_given(value.get("occurred_at"))
        if offset is None:
            return value
        return {**value, "data": {**data, "utc_offset": offset}}


class AgreementSigned(EventBase):
    type: Literal["agreement.signed"] = "agreement.signed"
    data: AgreementSignedData


class AgreementCollapsed(EventBase):
    type: Literal["agreement.collapsed"] = "agreement.collapsed"
    data: AgreementCollapsedData


class ViolationAlleged(EventBase):
    type: Literal["violation.alleged"] = "violation.alleged"
    data: ViolationAllegedData


class MissionDispatched(EventBase):
    type: Literal["mission.dispatched"] = "mission.dispatched"
    data: MissionDispatchedData


class CeasefireDeclared(EventBase):
    type: Literal["ceasefire.declared"] = "ceasefire.declared"
    data: CeasefireDeclaredData


class AgreementExtended(EventBase):
    type: Literal["agreement.extended"] = "agreement.extended"
    data: AgreementExtendedData


class AllegationDenied(EventBase):
    type: Literal["allegation.denied"] = "allegation.denied"
    data: AllegationDeniedData


class MissionEnded(EventBase):
    type: Literal["mission.ended"] = "mission.ended"
    data: MissionEndedData


class AllegationRetracted(EventBase):
    type: Literal["allegation.retracted"] = "allegation.retracted"
    data: AllegationRetractedData


class ActorRegistered(EventBase):
    type: Literal["actor.registered"] = "actor.registered"
    data: ActorRegisteredData


class EventCorrected(EventBase):
    type: Literal["event.corrected"] = "event.corrected"
    data: EventCorrectedData


class ConflictDescribed(EventBase):
    type: Literal["conflict.described"] = "conflict.described"
    data: ConflictDescribedData


class MilestoneExtended(EventBase):
    type: Literal["milestone.extended"] = "milestone.extended"
    data: MilestoneExtendedData


class MilestoneMet(EventBase):
    type: Literal["milestone.met"] = "milestone.met"
    data: MilestoneMetData


class AgreementRepudiated(EventBase):
    type: Literal["agreement.repudiated"] = "agreement.repudiated"
    data: AgreementRepudiatedData


class TalksSuspended(EventBase):
    type: Literal["talks.suspended"] = "talks.suspended"
    data: TalksData


class TalksResumed(EventBase):
    type: Literal["talks.resumed"] = "talks.resumed"
    data: TalksData


class IncidentEnded(EventBase):
    type: Literal["incident.ended"] = "incident.ended"
    data: IncidentEndedData


class ViolationsReported(EventBase):
    type: Literal["violations.reported"] = "violations.reported"
    data: ViolationsReportedData


class LullObserved(EventBase):
    type: Literal["lull.observed"] = "lull.observed"
    data: LullObservedData


class LullEnded(EventBase):
    type: Literal["lull.ended"] = "lull.ended"
    data: LullEndedData


Event = Annotated[
    AgreementSigned
    | AgreementCollapsed
    | ViolationAlleged
    | MissionDispatched
    | AllegationRetracted
    | EventCorrected
    | CeasefireDeclared
    | AgreementExtended
    | AllegationDenied
    | MissionEnded
    | ConflictDescribed
    | ActorRegistered
    | MilestoneExtended
    | MilestoneMet
    | AgreementRepudiated
    | TalksSuspended
    | TalksResumed
    | IncidentEnded
    | ViolationsReported
    | LullObserved
    | LullEnded,
    Field(discriminator="type"),
]
event_adapter: TypeAdapter[Event] = TypeAdapter(Event)

#: Each member of the union, in its order: what a list of every event type is derived from.
EVENT_CLASSES: tuple[type[EventBase], ...] = get_args(get_args(Event)[0])
#: Every stored type name, in the union's order: each class's ``type`` literal, not a list
#: written again beside it.
EVENT_TYPES: tuple[str, ...] = tuple(cls.model_fields["type"].default for cls in EVENT_CLASSES)

if TYPE_CHECKING:  # a type checker cannot derive a Literal; to it, a type name is a string
    EventType = str
else:
    #: The type names as one ``Literal`` (an ``enum`` in the OpenAPI document).
    EventType = Literal[EVENT_TYPES]

#: The schema version new events of each type are written with. Older stored versions are
#: turned into the current model on read by ``events.model.upcasting``.
SCHEMA_VERSIONS: dict[str, int] = {t: 1 for t in EVENT_TYPES} | {
    "violation.alleged": 2,  # casualties_claimed: one number -> {low, best, high}
}


def data_of(event: Event) -> dict[str, Any]:
    """The ``data`` object exactly as stored: JSON-ready, defaults included, ``None`` dropped."""
    return event.data.model_dump(mode="json", exclude_none=True)
