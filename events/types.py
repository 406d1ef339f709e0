"""The event types: what a writer can record about a ceasefire.

Every event is a frozen pydantic model named in the past tense, with a ``type`` literal that is
also the string stored in the log. The stored type is never a Python path, so renaming a class
breaks nothing. All of them are gathered in one discriminated union, ``Event``, parsed through one
module-level ``TypeAdapter``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from uuid import UUID, uuid4

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

__all__ = [
    "CORRECTABLE_DATA",
    "EVENT_TYPES",
    "MAX_SAFE_INTEGER",
    "NO_NUL",
    "SCHEMA_VERSIONS",
    "SCOPE_RANK",
    "AgreementCollapsed",
    "AgreementCollapsedData",
    "AgreementExtended",
    "AgreementExtendedData",
    "AgreementKind",
    "AgreementSigned",
    "AgreementSignedData",
    "AllegationDenied",
    "AllegationDeniedData",
    "AllegationRetracted",
    "AllegationRetractedData",
    "CasualtyRange",
    "CeasefireDeclared",
    "CeasefireDeclaredData",
    "ConflictSlug",
    "CorrectableType",
    "Event",
    "EventCorrected",
    "EventCorrectedData",
    "EventType",
    "Instant",
    "MissionDispatched",
    "MissionDispatchedData",
    "MissionEnded",
    "MissionEndedData",
    "Scope",
    "ScopeLevel",
    "Slug",
    "Source",
    "ViolationAlleged",
    "ViolationAllegedData",
    "event_adapter",
]


#: The largest integer every JSON client holds exactly (2**53 - 1, JavaScript's
#: MAX_SAFE_INTEGER): the bound of every count, version and position a client sends, so the
#: OpenAPI document states it exactly too (a larger bound is rounded as a double).
MAX_SAFE_INTEGER = 2**53 - 1

#: asyncpg sends these two as -infinity and infinity: refused on every database alike.
_INFINITIES = (datetime.min.replace(tzinfo=UTC), datetime.max.replace(tzinfo=UTC))


def _utc(value: datetime) -> datetime:
    """Store and compare every instant in UTC; the offset the writer used carries no meaning."""
    try:
        utc = value.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00+01:00 has no UTC spelling
        raise ValueError("is out of range once converted to UTC") from None
    if utc in _INFINITIES:
        raise ValueError("is out of range: the first and last instants a datetime can hold")
    return utc


_DATE_START = re.compile(r"\d{4}-\d{2}-\d{2}")


def _rfc3339_only(value: Any) -> Any:
    """RFC 3339 text or a datetime only: pydantic would also take a number as Unix seconds or
    milliseconds, guessing which from its size."""
    if isinstance(value, int | float) or (isinstance(value, str) and not _DATE_START.match(value)):
        raise ValueError("must be an RFC 3339 date-time with an offset: 2022-09-23T03:40:00Z")
    return value


Instant = Annotated[AwareDatetime, BeforeValidator(_rfc3339_only), AfterValidator(_utc)]
ConflictSlug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")]
Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$")]
#: Text without NUL: PostgreSQL text cannot hold it, so it is refused on every database alike
#: (a pattern, so the OpenAPI schema says so too).
NO_NUL = r"^[^\x00]*$"
_NAME = r"^[^ \t\n\r\f\v\x00](?:[^\x00]*[^ \t\n\r\f\v\x00])?$"
#: A name neither starts nor ends with white space (it is refused, not trimmed), so what the
#: schema accepts is what is stored.
Name = Annotated[
    str,
    StringConstraints(min_length=1, max_length=200, pattern=_NAME),
]
Text = Annotated[str, StringConstraints(max_length=10_000, pattern=NO_NUL)]
AgreementKind = Literal["ceasefire", "humanitarian_truce", "cessation_of_hostilities", "armistice"]


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Source(Frozen):
    """Who said so. An allegation is a claim, not a fact: its source travels with it."""

    name: Name
    url: (
        Annotated[str, StringConstraints(pattern=r"^https?://[^\s\x00]+$", max_length=2000)] | None
    ) = None


ScopeLevel = Literal["national", "regional", "local"]

#: Broadest first: an allegation naming no agreement goes to the broadest one in effect.
SCOPE_RANK: dict[str, int] = {"national": 0, "regional": 1, "local": 2}


class Scope(Frozen):
    """Where an agreement applies. Only national ones set the conflict's state; regional and
    local ones have a state of their own."""

    level: ScopeLevel = "national"
    area: Name | None = Field(
        default=None, description="The region or place; required for regional and local."
    )

    @model_validator(mode="after")
    def _area_when_not_national(self) -> Scope:
        if self.level != "national" and self.area is None:
            raise ValueError(f"a {self.level} scope needs an area")
        return self


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
    ``events.upcasting``.)"""

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


CorrectableType = Literal[
    "agreement.signed",
    "agreement.collapsed",
    "violation.alleged",
    "mission.dispatched",
    "ceasefire.declared",
]

#: The data model of every event type a correction may supersede.
CORRECTABLE_DATA: dict[str, type[Frozen]] = {
    "agreement.signed": AgreementSignedData,
    "agreement.collapsed": AgreementCollapsedData,
    "violation.alleged": ViolationAllegedData,
    "mission.dispatched": MissionDispatchedData,
    "ceasefire.declared": CeasefireDeclaredData,
}


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


class EventBase(Frozen):
    """The envelope a writer submits. The store adds version, position and recorded_at."""

    id: UUID = Field(default_factory=uuid4)
    conflict: ConflictSlug
    occurred_at: Instant
    source: Source


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


class EventCorrected(EventBase):
    type: Literal["event.corrected"] = "event.corrected"
    data: EventCorrectedData


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
    | MissionEnded,
    Field(discriminator="type"),
]
event_adapter: TypeAdapter[Event] = TypeAdapter(Event)

EventType = Literal[
    "agreement.signed",
    "agreement.collapsed",
    "violation.alleged",
    "mission.dispatched",
    "allegation.retracted",
    "event.corrected",
    "ceasefire.declared",
    "agreement.extended",
    "allegation.denied",
    "mission.ended",
]
EVENT_TYPES: tuple[str, ...] = (
    "agreement.signed",
    "agreement.collapsed",
    "violation.alleged",
    "mission.dispatched",
    "allegation.retracted",
    "event.corrected",
    "ceasefire.declared",
    "agreement.extended",
    "allegation.denied",
    "mission.ended",
)

#: The schema version new events of each type are written with. Older stored versions are
#: turned into the current model on read by ``events.upcasting``.
SCHEMA_VERSIONS: dict[str, int] = {t: 1 for t in EVENT_TYPES} | {
    "violation.alleged": 2,  # casualties_claimed: one number -> {low, best, high}
}


def data_of(event: Event) -> dict[str, Any]:
    """The ``data`` object exactly as stored: JSON-ready, defaults included, ``None`` dropped."""
    return event.data.model_dump(mode="json", exclude_none=True)
