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
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from events.model.actors import ActorKind, name_key
from events.model.countries import CountryCode
from events.model.values import (
    MAX_SAFE_INTEGER,
    AgreementKind,
    AsWritten,
    Frozen,
    Instant,
    Name,
    Scope,
    Slug,
    Text,
    UtcOffset,
)

__all__ = [
    "CORRECTABLE_DATA",
    "ActorRegisteredData",
    "AgreementCollapsedData",
    "AgreementExtendedData",
    "AgreementRepudiatedData",
    "AgreementSignedData",
    "AllegationDeniedData",
    "AllegationRetractedData",
    "CasualtiesClaimed",
    "CasualtyRange",
    "CeasefireDeclaredData",
    "ConflictDescribedData",
    "CorrectableType",
    "EventCorrectedData",
    "EventData",
    "IncidentEndedData",
    "LullEndedData",
    "LullObservedData",
    "Milestone",
    "MilestoneExtendedData",
    "MilestoneMetData",
    "MissionDispatchedData",
    "MissionEndedData",
    "TalksData",
    "ViolationAllegedData",
    "ViolationsReportedData",
    "killed_and_injured",
]


class EventData(Frozen):
    """What every event's data may carry: ``utc_offset``, the offset of local time where it
    happened. Absent in events recorded before it existed and in those given in UTC, so their
    stored data, and their hashes, are what they were."""

    utc_offset: UtcOffset | None = None


def _ends_after_start(effective_at: datetime | None, expires_at: datetime | None) -> None:
    if effective_at is not None and expires_at is not None and expires_at <= effective_at:
        raise ValueError("expires_at must be later than effective_at")


class Milestone(Frozen):
    """A deadline inside an agreement (a withdrawal, a handover, a prisoner exchange): what is
    to be done, and by when. It never ends the agreement: past its due time it is overdue."""

    milestone_id: Slug = Field(description="Names it within its agreement.")
    description: Annotated[Text, StringConstraints(min_length=1, max_length=1000)] = Field(
        description="What is to be done (an Israeli withdrawal from southern Lebanon, say)."
    )
    due_at: Instant = Field(description="When it is due, as signed (later than the signing).")


def _distinct_milestones(milestones: tuple[Milestone, ...] | None) -> None:
    if milestones is not None and len({m.milestone_id for m in milestones}) != len(milestones):
        raise ValueError("milestone ids must be distinct")


def _milestones_field() -> Any:
    return Field(
        default=None,
        max_length=50,
        description="Deadlines inside it (withdrawals, handovers, exchanges), each with its own "
        "`milestone_id` (distinct), `description` and `due_at`; extended with "
        "`milestone.extended`, met with `milestone.met`.",
    )


class ConflictDescribedData(EventData):
    """What a conflict is called and where it is: the name readers know it by, beside its
    slug. A later description replaces the whole of an earlier one from its recording on."""

    title: Name = Field(description="The conflict's name as readers know it.")
    summary: Text | None = None
    countries: tuple[CountryCode, ...] = Field(
        min_length=1,
        max_length=50,
        json_schema_extra={"uniqueItems": True},
        description="The countries it is fought in, as ISO 3166-1 alpha-2 codes, each once.",
    )
    region: Name = Field(description="The region it belongs to (e.g. Middle East).")

    @field_validator("countries")
    @classmethod
    def _distinct_countries(cls, countries: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(countries)) != len(countries):
            raise ValueError("countries must be distinct")
        return countries


class AgreementSignedData(EventData):
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
    as_written: AsWritten | None = None
    milestones: tuple[Milestone, ...] | None = _milestones_field()

    @model_validator(mode="after")
    def _distinct_parties(self) -> AgreementSignedData:
        if len({p.casefold() for p in self.parties}) != len(self.parties):
            raise ValueError("parties must be distinct")
        _ends_after_start(self.effective_at, self.expires_at)
        _distinct_milestones(self.milestones)
        return self


class CeasefireDeclaredData(EventData):
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
    as_written: AsWritten | None = None
    milestones: tuple[Milestone, ...] | None = _milestones_field()

    @model_validator(mode="after")
    def _distinct_parties(self) -> CeasefireDeclaredData:
        names = [self.declared_by, *self.toward]
        if len({p.casefold() for p in names}) != len(names):
            raise ValueError("declared_by and toward must be distinct")
        _ends_after_start(self.effective_at, self.expires_at)
        _distinct_milestones(self.milestones)
        return self


class AgreementExtendedData(EventData):
    """A fixed term moved to a later end, from the extension's own occurred_at on."""

    agreement_id: Slug
    expires_at: Instant = Field(description="The new end: later than the current one.")
    reason: Text | None = None


class MilestoneExtendedData(EventData):
    """A milestone's deadline moved to a later time, from the extension's own occurred_at on.
    It never ends the agreement, and an open-ended agreement's milestones are extended too."""

    agreement_id: Slug
    milestone_id: Slug = Field(description="A milestone of the agreement.")
    due_at: Instant = Field(description="The new due time: later than the current one.")
    reason: Text | None = None


class MilestoneMetData(EventData):
    """A milestone done: from this event's occurred_at on it is ``met``."""

    agreement_id: Slug
    milestone_id: Slug = Field(description="A milestone of the agreement, not yet met.")
    statement: Text | None = None


class AgreementCollapsedData(EventData):
    """An agreement that no longer holds, and why."""

    agreement_id: Slug
    reason: Text | None = None


class AgreementRepudiatedData(EventData):
    """A party of an agreement leaves it. ``never_agreed``: it says it was never bound, so the
    agreement was only ever a commitment of the others toward it (from this event's recording
    on, at every ``as_of``). Otherwise it withdraws, from this event's occurred_at on."""

    agreement_id: Slug
    party: Name = Field(
        description="The party leaving: one of the agreement's parties still bound by it (for "
        "a declaration, its declarer)."
    )
    never_agreed: bool = Field(
        description="true: the party says it never agreed (the agreement shows as the other "
        "parties' commitment toward it, marked `disputed_by`, from this event's recording on); "
        "false: it withdraws at this event's occurred_at."
    )
    statement: Annotated[Text, StringConstraints(min_length=1)] = Field(
        description="What the party said, in words."
    )
    as_written: AsWritten | None = None


class TalksData(EventData):
    """Talks between parties suspended or resumed: the process around a ceasefire, which
    newsrooms report beside it. They never change a state."""

    parties: tuple[Name, ...] = Field(
        min_length=2,
        max_length=50,
        json_schema_extra={"uniqueItems": True},
        description="The parties to the talks, each named once.",
    )
    venue: Text | None = Field(default=None, description="Where the talks are held.")
    statement: Text | None = Field(default=None, description="What was said, in words.")
    as_written: AsWritten | None = None

    @model_validator(mode="after")
    def _distinct_parties(self) -> TalksData:
        if len({p.casefold() for p in self.parties}) != len(self.parties):
            raise ValueError("parties must be distinct")
        return self


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


class CasualtiesClaimed(Frozen):
    """Killed and injured, each a range: the fuller shape of a claimed toll. Either part may be
    missing (the claim did not say). The bare range of ``CasualtyRange`` still stands and means
    killed, so stored allegations keep their bytes and their hashes."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        # What ``_says_something`` checks, for the document: killed or injured, not null.
        json_schema_extra={
            "minProperties": 1,
            "anyOf": [
                {"required": [part], "properties": {part: {"not": {"type": "null"}}}}
                for part in ("killed", "injured")
            ],
        },
    )

    killed: CasualtyRange | None = None
    injured: CasualtyRange | None = None

    @model_validator(mode="after")
    def _says_something(self) -> CasualtiesClaimed:
        if self.killed is None and self.injured is None:
            raise ValueError("casualties_claimed needs killed, injured or both")
        return self


def killed_and_injured(
    claimed: CasualtyRange | CasualtiesClaimed | None,
) -> tuple[CasualtyRange | None, CasualtyRange | None]:
    """(killed, injured) of a claim in either shape: a bare range is the killed."""
    if claimed is None:
        return None, None
    if isinstance(claimed, CasualtyRange):
        return claimed, None
    return claimed.killed, claimed.injured


class ViolationAllegedData(EventData):
    """One party accuses another of breaking an agreement: a claim, counted per party."""

    alleged_by: Name
    accused: Name
    agreement_id: Slug | None = None
    location: Text | None = None
    description: Text | None = None
    incidents: int = Field(default=1, ge=1, le=1_000_000, strict=True)
    casualties_claimed: CasualtyRange | CasualtiesClaimed | None = Field(
        default=None,
        description="The toll claimed: `{low, best, high}` (killed), or "
        "`{killed: {low, best, high}, injured: {low, best, high}}` (either part optional).",
    )
    as_written: AsWritten | None = None
    ended_at: Instant | None = Field(
        default=None,
        description="For an ongoing violation (a hostage held, a position occupied): when it "
        "ended, at or after occurred_at. It contests its agreement from occurred_at until the "
        "contested window after this end. An end learned later is an `incident.ended`.",
    )
    # Stored only when true, so allegations recorded before it existed keep their bytes.
    ongoing: bool = Field(
        default=False,
        strict=True,
        exclude_if=lambda ongoing: not ongoing,
        description="True for a violation still going on when recorded, its end not known yet "
        "(a hostage still held): it contests its agreement from occurred_at through every "
        "as_of until an `incident.ended` gives its end. Not with `ended_at`, which says it "
        "is over.",
    )

    @model_validator(mode="after")
    def _not_self_accusation(self) -> ViolationAllegedData:
        if self.alleged_by.casefold() == self.accused.casefold():
            raise ValueError("accused must not be the same party as alleged_by")
        return self

    @model_validator(mode="after")
    def _ongoing_or_ended(self) -> ViolationAllegedData:
        if self.ongoing and self.ended_at is not None:
            raise ValueError(
                "ongoing: true says the violation's end is not known yet and ended_at gives "
                "it: send ended_at alone for one that is over, ongoing alone for one that goes on"
            )
        return self


class MissionDispatchedData(EventData):
    """A monitoring or observer mission sent to the conflict."""

    mission_id: Slug
    agreement_id: Slug | None = Field(default=None, description="The agreement it monitors.")
    organization: Name = Field(description="The organization that leads it.")
    organizations: tuple[Name, ...] | None = Field(
        default=None,
        max_length=50,
        json_schema_extra={"uniqueItems": True},
        description="The other organizations that run it with `organization`, each named "
        "once; each is an actor of the conflict with the monitor role.",
    )
    head: Name | None = None
    purpose: Text | None = None
    expected_arrival: Instant | None = None
    as_written: AsWritten | None = None

    @model_validator(mode="after")
    def _distinct_organizations(self) -> MissionDispatchedData:
        names = [self.organization, *(self.organizations or ())]
        if len({n.casefold() for n in names}) != len(names):
            raise ValueError("organization and organizations must be distinct")
        return self

    def monitors(self) -> tuple[str, ...]:
        """Every organization running it, the leading one first."""
        return (self.organization, *(self.organizations or ()))


class MissionEndedData(EventData):
    """A mission that has left or stopped its work."""

    mission_id: Slug
    reason: Text | None = None


class AllegationDeniedData(EventData):
    """The accused party denies an allegation: it still counts, marked denied."""

    allegation_id: UUID = Field(description="The id of the violation.alleged event denied.")
    denied_by: Name = Field(description="The party denying it: the one accused.")
    statement: Text | None = None
    as_written: AsWritten | None = None


class AllegationRetractedData(EventData):
    """The alleging party withdraws an allegation. The allegation stays in the log; the views
    stop counting it from the moment the retraction is recorded."""

    allegation_id: UUID = Field(description="The id of the violation.alleged event withdrawn.")
    retracted_by: Name = Field(description="The party withdrawing it: the one that alleged it.")
    reason: Text | None = None
    as_written: AsWritten | None = None


class IncidentEndedData(EventData):
    """The end of an ongoing violation, learned after it was alleged: the allegation contests
    its agreement until the contested window after this end."""

    allegation_id: UUID = Field(description="The id of the violation.alleged event that ended.")
    ended_at: Instant = Field(
        description="When it ended: at or after the allegation's occurred_at."
    )
    statement: Text | None = Field(default=None, description="How the end was reported.")


ReportCount = Annotated[int, Field(ge=0, le=MAX_SAFE_INTEGER, strict=True)]


class ViolationsReportedData(EventData):
    """An aggregate report of violations by a monitor, a mediator or a third party (an envoy's
    briefing, a peacekeeping force's monthly figures): a count over a period, with no
    incident of its own. It is a finding about its period, known once the period is over."""

    reported_by: Name = Field(description="Who reports it: an actor of the conflict.")
    period_from: Instant = Field(
        alias="from", description="The start of the period it covers (inclusive)."
    )
    period_to: Instant = Field(
        alias="to",
        description="The end of the period it covers (exclusive; at or before occurred_at).",
    )
    count: ReportCount = Field(description="The violations it counts over the period.")
    by_party: dict[Name, ReportCount] | None = Field(
        default=None,
        max_length=50,
        description="The violations it attributes to each accused (each an actor of the "
        "conflict); they need not add up to `count`.",
    )
    agreement_id: Slug | None = Field(
        default=None,
        description="The agreement it reports on; none: those in effect in its period (with "
        "`by_party`, those whose parties include an accused).",
    )
    statement: Text | None = Field(default=None, description="What the report says, in words.")
    as_written: AsWritten | None = None

    model_config = ConfigDict(frozen=True, extra="forbid", serialize_by_alias=True)

    @model_validator(mode="after")
    def _period(self) -> ViolationsReportedData:
        if self.period_to <= self.period_from:
            raise ValueError("to must be later than from")
        if self.by_party is not None:
            keys = [name_key(n) for n in self.by_party]
            if len(set(keys)) != len(keys):
                raise ValueError("by_party must name each accused once")
        return self


class ActorRegisteredData(EventData):
    """An actor of the conflict, with its kind and the other spellings sources use for it.
    A later registration of the same actor (by its name or an alias) adds aliases."""

    name: Name = Field(description="Its name; the canonical one if it is an actor already.")
    kind: ActorKind = Field(
        description="What it is: state, armed_group, international_organization, ngo, media "
        "or other. A later registration of the actor must give the same."
    )
    aliases: tuple[Name, ...] = Field(
        default=(),
        max_length=50,
        json_schema_extra={"uniqueItems": True},
        description="Other spellings of its name (matched ignoring case and accents); an "
        "alias belongs to one actor only.",
    )
    as_written: AsWritten | None = None

    @model_validator(mode="after")
    def _distinct_aliases(self) -> ActorRegisteredData:
        if len({name_key(a) for a in self.aliases}) != len(self.aliases):
            raise ValueError("aliases must be distinct (ignoring case and accents)")
        return self


class LullObservedData(EventData):
    """A de facto calm between parties with no agreement behind it, as someone observed it:
    while no agreement or declaration is in effect, the conflict is in state ``lull`` from the
    observation (its occurred_at) until a ``lull.ended``."""

    lull_id: Slug
    parties: tuple[Name, ...] = Field(
        min_length=2,
        max_length=50,
        json_schema_extra={"uniqueItems": True},
        description="The sides keeping the calm, each named once.",
    )
    observed_by: Name = Field(
        description="Who observed it: a mediator, a monitor, a newsroom (an actor of the "
        "conflict from then on)."
    )
    statement: Text | None = None
    as_written: AsWritten | None = None

    @model_validator(mode="after")
    def _distinct_parties(self) -> LullObservedData:
        if len({p.casefold() for p in self.parties}) != len(self.parties):
            raise ValueError("parties must be distinct")
        return self


class LullEndedData(EventData):
    """A lull that no longer holds (fighting resumed, or an agreement took its place), from
    the event's occurred_at."""

    lull_id: Slug
    reason: Text | None = None


#: The data model of every event type a correction may supersede.
CORRECTABLE_DATA: dict[str, type[Frozen]] = {
    "agreement.signed": AgreementSignedData,
    "agreement.collapsed": AgreementCollapsedData,
    "violation.alleged": ViolationAllegedData,
    "mission.dispatched": MissionDispatchedData,
    "ceasefire.declared": CeasefireDeclaredData,
    "milestone.extended": MilestoneExtendedData,
    "milestone.met": MilestoneMetData,
    "agreement.repudiated": AgreementRepudiatedData,
    "talks.suspended": TalksData,
    "talks.resumed": TalksData,
    "violations.reported": ViolationsReportedData,
    "lull.observed": LullObservedData,
    "lull.ended": LullEndedData,
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
