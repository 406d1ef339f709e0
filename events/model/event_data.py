"""The data of each event type: what was signed, alleged, dispatched, denied, corrected.

One frozen model per type (``AgreementSignedData``…), validated on write and on read. The event
types of ``events.model.types`` carry one of these as their ``data``; a correction names the type it
corrects and is checked against that type's model here.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal
from uuid import UUID

from pydantic import (
    Field,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from events.model.values import (
    MAX_SAFE_INTEGER,
    AgreementKind,
    Frozen,
    Instant,
    Name,
    Scope,
    Slug,
    Text,
)

__all__ = [
    "CORRECTABLE_DATA",
    "AgreementCollapsedData",
    "AgreementExtendedData",
    "AgreementSignedData",
    "AllegationDeniedData",
    "AllegationRetractedData",
    "CasualtyRange",
    "CeasefireDeclaredData",
    "CorrectableType",
    "EventCorrectedData",
    "MissionDispatchedData",
    "MissionEndedData",
    "ViolationAllegedData",
]


def _ends_after_start(effective_at: datetime | None, expires_at: datetime | None) -> None:
    if effective_at is not None and expires_at is not None and expires_at <= effective_at:
        raise ValueError("expires_at must be later than effective_at")


class AgreementSignedData(Frozen):
    """An agreement between two or more parties: what was signed, by whom, and from when it
    binds."""

    agreement_id: Slug
    parties: tuple[Name, ...] = Field(
        min_length=2,
        max_length=50,
        json_schema_extra={"uniqueItems": True},
        description="The parties bound by it, each named once (names are compared ignoring case).",
    )
    mediators: tuple[Name, ...] = ()
    effective_at: Instant | None = None
    expires_at: Instant | None = Field(
        default=None, description="The end of a fixed term (later than effective_at)."
    )
    scope: Scope | None = Field(default=None, description="Where it applies (default national).")
    kind: AgreementKind = "ceasefire"
    terms: Text | None = None

    @model_validator(mode="after")
    def _distinct_parties(self) -> AgreementSignedData:
        if len({p.casefold() for p in self.parties}) != len(self.parties):
            raise ValueError("parties must be distinct")
        _ends_after_start(self.effective_at, self.expires_at)
        return self


class CeasefireDeclaredData(Frozen):
    """A unilateral ceasefire: one side declares it, toward the others. Its parties are the
    declarer and those it is declared toward; it is listed and counted like an agreement."""

    agreement_id: Slug
    declared_by: Name
    toward: tuple[Name, ...] = Field(default=(), max_length=50)
    effective_at: Instant | None = None
    expires_at: Instant | None = None
    scope: Scope | None = None
    kind: AgreementKind = "ceasefire"
    terms: Text | None = None

    @model_validator(mode="after")
    def _distinct_parties(self) -> CeasefireDeclaredData:
        names = [self.declared_by, *self.toward]
        if len({p.casefold() for p in names}) != len(names):
            raise ValueError("declared_by and toward must be distinct")
        _ends_after_start(self.effective_at, self.expires_at)
        return self


class AgreementExtendedData(Frozen):
    """A fixed term moved to a later end, from the extension's own occurred_at on."""

    agreement_id: Slug
    expires_at: Instant = Field(description="The new end: later than the current one.")
    reason: Text | None = None


class AgreementCollapsedData(Frozen):
    """An agreement that no longer holds, and why."""

    agreement_id: Slug
    reason: Text | None = None


class CasualtyRange(Frozen):
    """A disputed toll the way conflict datasets record one: a low, a best and a high
    estimate. (Schema version 1 of ``violation.alleged`` had a single number; see
    ``events.model.upcasting``.)"""

    low: int = Field(ge=0, le=MAX_SAFE_INTEGER, strict=True)
    best: int = Field(ge=0, le=MAX_SAFE_INTEGER, strict=True)
    high: int = Field(ge=0, le=MAX_SAFE_INTEGER, strict=True)

    @model_validator(mode="after")
    def _ordered(self) -> CasualtyRange:
        if not self.low <= self.best <= self.high:
            raise ValueError("casualties must have low <= best <= high")
        return self


class ViolationAllegedData(Frozen):
    """One party accuses another of breaking an agreement: a claim, counted per party."""

    alleged_by: Name
    accused: Name
    agreement_id: Slug | None = None
    location: Text | None = None
    description: Text | None = None
    incidents: int = Field(default=1, ge=1, le=1_000_000, strict=True)
    casualties_claimed: CasualtyRange | None = None

    @model_validator(mode="after")
    def _not_self_accusation(self) -> ViolationAllegedData:
        if self.alleged_by.casefold() == self.accused.casefold():
            raise ValueError("accused must not be the same party as alleged_by")
        return self


class MissionDispatchedData(Frozen):
    """A monitoring or observer mission sent to the conflict."""

    mission_id: Slug
    agreement_id: Slug | None = Field(default=None, description="The agreement it monitors.")
    organization: Name
    head: Name | None = None
    purpose: Text | None = None
    expected_arrival: Instant | None = None


class MissionEndedData(Frozen):
    """A mission that has left or stopped its work."""

    mission_id: Slug
    reason: Text | None = None


class AllegationDeniedData(Frozen):
    """The accused party denies an allegation: it still counts, marked denied."""

    allegation_id: UUID = Field(description="The id of the violation.alleged event denied.")
    denied_by: Name = Field(description="The party denying it: the one accused.")
    statement: Text | None = None


class AllegationRetractedData(Frozen):
    """The alleging party withdraws an allegation. The allegation stays in the log; the views
    stop counting it from the moment the retraction is recorded."""

    allegation_id: UUID = Field(description="The id of the violation.alleged event withdrawn.")
    retracted_by: Name = Field(description="The party withdrawing it: the one that alleged it.")
    reason: Text | None = None


#: The data model of every event type a correction may supersede.
CORRECTABLE_DATA: dict[str, type[Frozen]] = {
    "agreement.signed": AgreementSignedData,
    "agreement.collapsed": AgreementCollapsedData,
    "violation.alleged": ViolationAllegedData,
    "mission.dispatched": MissionDispatchedData,
    "ceasefire.declared": CeasefireDeclaredData,
}

if TYPE_CHECKING:  # a type checker cannot derive a Literal; to it, a type name is a string
    CorrectableType = str
else:
    #: The correctable type names, derived from ``CORRECTABLE_DATA`` rather than listed again.
    CorrectableType = Literal[tuple(CORRECTABLE_DATA)]


class EventCorrectedData(Frozen):
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
            model = CORRECTABLE_DATA[event_type].model_validate(value)
        except ValidationError as error:
            first = error.errors()[0]
            where = ".".join(str(p) for p in first.get("loc", ()))
            raise ValueError(
                f"not valid {event_type} data ({where}: {first.get('msg')})"
                if where
                else f"not valid {event_type} data ({first.get('msg')})"
            ) from None
        return model.model_dump(mode="json", exclude_none=True)
