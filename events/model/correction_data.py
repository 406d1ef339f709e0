"""The data of a correction: ``EventCorrectedData``, with ``CORRECTABLE_DATA``, the data model
of each type a correction may supersede, against which the corrected data is checked.

Its own module because it names the models of every other family, so it stands above them all.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal
from uuid import UUID

from pydantic import Field, StringConstraints, ValidationError, ValidationInfo, field_validator

from events.model import agreement_data, allegation_data, mission_data
from events.model.event_data import EventData
from events.model.values import Frozen, Text

__all__ = [
    "CORRECTABLE_DATA",
    "CorrectableType",
    "EventCorrectedData",
]


#: The data model of every event type a correction may supersede.
CORRECTABLE_DATA: dict[str, type[Frozen]] = {
    "agreement.signed": agreement_data.AgreementSignedData,
    "agreement.collapsed": agreement_data.AgreementCollapsedData,
    "violation.alleged": allegation_data.ViolationAllegedData,
    "mission.dispatched": mission_data.MissionDispatchedData,
    "ceasefire.declared": agreement_data.CeasefireDeclaredData,
    "milestone.extended": agreement_data.MilestoneExtendedData,
    "milestone.met": agreement_data.MilestoneMetData,
    "agreement.repudiated": agreement_data.AgreementRepudiatedData,
    "talks.suspended": agreement_data.TalksData,
    "talks.resumed": agreement_data.TalksData,
    "violations.reported": allegation_data.ViolationsReportedData,
    "lull.observed": agreement_data.LullObservedData,
    "lull.ended": agreement_data.LullEndedData,
}

if TYPE_CHECKING:  # a type checker cannot derive a Literal; to it, a type name is a string
    CorrectableType = str
else:
    #: The correctable type names, derived from ``CORRECTABLE_DATA`` rather than listed again.
    CorrectableType = Literal[tuple(CORRECTABLE_DATA)]


class EventCorrectedData(EventData):
    """Supersedes the whole ``data`` of an earlier event of the same conflict. The corrected
    event keeps its id, its occurred_at and its place in the log; the views show the new data
    from the moment the correction is recorded.

    ``data`` is validated against the model of ``event_type`` (the current schema version of
    that type): when a correctable type's schema version moves on, ``event.corrected`` needs an
    upcaster of its own for the ``data`` it carries."""

    event_id: UUID = Field(description="The id of the event corrected.")
    event_type: CorrectableType = Field(description="The type of the event corrected.")
    data: dict[str, Any] = Field(
        description="The corrected event's complete new data, as its type defines it."
    )
    reason: Annotated[Text, StringConstraints(min_length=1)]

    @field_validator("data")
    @classmethod
    def _valid_for_its_type(cls, value: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        event_type = info.data.get("event_type")
        if event_type is None:  # event_type itself is invalid: that error is reported
            return value
        try:
            model = CORRECTABLE_DATA[event_type].model_validate(value, context=info.context)
        except ValidationError as error:
            first = error.errors()[0]
            where = ".".join(str(p) for p in first.get("loc", ()))
            raise ValueError(
                f"not valid {event_type} data ({where}: {first.get('msg')})"
                if where
                else f"not valid {event_type} data ({first.get('msg')})"
            ) from None
        return model.model_dump(mode="json", exclude_none=True)
