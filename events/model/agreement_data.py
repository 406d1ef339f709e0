"""The data of agreements and what happens to them: signed, declared, extended, collapsed,
repudiated, their milestones extended and met, the talks around them, and the lulls observed
where no agreement holds.

A family of its own because these are the events that make and unmake a ceasefire (a lull is
the calm that stands in for one); the helpers they share (a term that ends after it starts,
distinct milestones) live with them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import Field, StringConstraints, model_validator

from events.model.event_data import EventData
from events.model.values import AgreementKind, AsWritten, Frozen, Instant, Name, Scope, Slug, Text

__all__ = [
    "AgreementCollapsedData",
    "AgreementExtendedData",
    "AgreementRepudiatedData",
    "AgreementSignedData",
    "CeasefireDeclaredData",
    "LullEndedData",
    "LullObservedData",
    "Milestone",
    "MilestoneExtendedData",
    "MilestoneMetData",
    "TalksData",
]


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
