"""What the fold keeps of a conflict between events, and what it reads through the log.

The state holds only what the rules need (agreements, mission ids, which events were corrected
and which allegations retracted), so it stays small and can be cached between appends;
allegations live only in the projection tables.

A retraction or a correction names an earlier event. The rules and the fold read that event
(and its latest correction) through a ``Lookup``: a function from event id to the stored event.
The log never changes, so a fold that reads through it is still a function of the log alone.
Callers fetch what ``references`` names before folding: the store in one query per append, the
replay once per batch.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from uuid import UUID

from events.model.actors import Actors
from events.model.correction_data import CORRECTABLE_DATA
from events.model.envelope import Recorded
from events.model.errors import DomainRuleError
from events.model.milestones import MilestoneState
from events.model.types import (
    AllegationDenied,
    AllegationRetracted,
    Event,
    EventCorrected,
    IncidentEnded,
)
from events.model.values import SCOPE_RANK, STORED

__all__ = [
    "NAMING_TYPES",
    "AgreementState",
    "ConflictState",
    "Departure",
    "Lookup",
    "LullState",
    "current_version",
    "known_agreement",
    "known_lull",
    "no_lookup",
    "references",
    "target_of",
    "with_data",
]


#: Finds a stored event by id (None when there is none).
Lookup = Callable[[UUID], Recorded | None]


def no_lookup(_event_id: UUID) -> Recorded | None:
    """The lookup of a caller that folds no retraction or correction."""
    return None


@dataclass(frozen=True, slots=True)
class Departure:
    """A party leaving an agreement (``agreement.repudiated``): ``never_agreed``, it says it
    was never bound, which holds for every time; otherwise it withdrew at ``occurred_at``."""

    party: str
    never_agreed: bool
    occurred_at: datetime
    statement: str


@dataclass(frozen=True, slots=True)
class AgreementState:
    """An agreement or a unilateral declaration, as its events made it. ``extensions`` holds
    each ``agreement.extended`` as (occurred_at, new end): an extension takes effect at its own
    occurred_at, so a view of an earlier time still sees the end before it."""

    agreement_id: str
    parties: tuple[str, ...]
    mediators: tuple[str, ...]
    kind: str
    terms: str | None
    signed_at: datetime
    effective_at: datetime
    collapsed_at: datetime | None
    collapse_reason: str | None
    version: int
    event_id: UUID
    expires_at: datetime | None = None
    scope_level: str = "national"
    scope_area: str | None = None
    unilateral: bool = False
    declared_by: str | None = None
    extensions: tuple[tuple[datetime, datetime], ...] = ()
    #: Its deadlines (``events.model.milestones``), earliest due (as signed) first: they never
    #: change its own state.
    milestones: tuple[MilestoneState, ...] = ()

    def milestone(self, milestone_id: str) -> MilestoneState | None:
        return next((m for m in self.milestones if m.milestone_id == milestone_id), None)

    def with_milestone(self, milestone: MilestoneState) -> AgreementState:
        """This agreement with ``milestone`` in place of the one of the same id."""
        return replace(
            self,
            milestones=tuple(
                milestone if m.milestone_id == milestone.milestone_id else m
                for m in self.milestones
            ),
        )

    #: Each ``agreement.repudiated``, in the order recorded. Parties stay as signed: one that
    #: left is the one the others' commitment is toward, as a declaration's ``toward`` are.
    departures: tuple[Departure, ...] = ()

    def party(self, name: str) -> str | None:
        """The agreement's own spelling of a party, matched without regard to case."""
        # Parties are distinct without regard to case (``AgreementSignedData`` refuses others),
        # so a name spelled exactly as one of them is that one: the common case, in one step.
        if name in self.parties:
            return name
        folded = name.casefold()
        for party in self.parties:
            if party.casefold() == folded:
                return party
        return None

    @property
    def national(self) -> bool:
        return self.scope_level == "national"

    @property
    def rank(self) -> tuple[int, datetime, str]:
        """Which of several agreements in effect an allegation naming none belongs to: the
        broadest scope first, then the latest signed. Ties go by agreement id, never by the
        order of recording, so any order of recording gives the same filing."""
        return (-SCOPE_RANK[self.scope_level], self.signed_at, self.agreement_id)

    def binding(self) -> tuple[str, ...]:
        """Who committed to it, as made: every party of an agreement, a declaration's
        declarer only (those it is declared toward never bound themselves)."""
        if self.unilateral and self.declared_by is not None:
            return (self.declared_by,)
        return self.parties

    def bound_at(self, at: datetime) -> tuple[str, ...]:
        """The parties still bound at ``at``: those that made it, less those that say they
        never agreed (at every time) and those that withdrew by ``at``."""
        gone = {
            d.party.casefold() for d in self.departures if d.never_agreed or d.occurred_at <= at
        }
        return tuple(p for p in self.binding() if p.casefold() not in gone)

    def departed(self, party: str) -> Departure | None:
        """``party``'s repudiation or withdrawal, if it left (whenever that happened)."""
        folded = party.casefold()
        return next((d for d in self.departures if d.party.casefold() == folded), None)

    @property
    def withdrawn_at(self) -> datetime | None:
        """When the last party bound by it withdrew, so that none is bound: it ends then
        (state ``withdrawn``). None while one is still bound at every time."""
        if not self.departures:
            return None
        left = {d.party.casefold(): d for d in self.departures}
        if any(p.casefold() not in left for p in self.binding()):
            return None
        withdrawals = [d.occurred_at for d in self.departures if not d.never_agreed]
        return max(withdrawals, default=None)

    def declarer_at(self, at: datetime) -> str | None:
        """Whose unilateral commitment it is at ``at``: a declaration's declarer, or the one
        party still bound when the others repudiated it or withdrew (after its end, as it was
        just before). None while two or more are bound."""
        if self.unilateral:
            return self.declared_by
        end = self.withdrawn_at
        if end is not None and end <= at:
            at = end - _INSTANT
        bound = self.bound_at(at)
        return bound[0] if len(bound) == 1 else None

    def _ending(self) -> tuple[datetime, str] | None:
        """The event that ends it, the earlier of its collapse and its last withdrawal."""
        withdrawn = self.withdrawn_at
        collapsed = self.collapsed_at
        if withdrawn is None or (collapsed is not None and collapsed <= withdrawn):
            return None if collapsed is None else (collapsed, "collapsed")
        return (withdrawn, "withdrawn")

    def end_at(self, at: datetime) -> datetime | None:
        """The end as known at ``at``: as signed, moved by every extension that occurred by
        then. None for an agreement with no fixed term."""
        end = self.expires_at
        for occurred_at, new_end in self.extensions:
            if occurred_at <= at and (end is None or new_end > end):
                end = new_end
        return end

    def current_end(self) -> datetime | None:
        """The end with every extension recorded (what an extension must be later than)."""
        ends = [self.expires_at, *(end for _, end in self.extensions)]
        return max((e for e in ends if e is not None), default=None)

    def periods(self) -> list[tuple[datetime, datetime | None]]:
        """When it is in effect, as half-open spans [start, end) (end None: open-ended), cut
        at its collapse. An extension occurring after the old end renews it from then: the gap
        between is expired. Whatever the time of a view, a span starts no later than the event
        that opened it, so a view of time T filters them by start <= T and sees no later end."""
        spans: list[tuple[datetime, datetime | None]] = [(self.effective_at, self.expires_at)]
        for occurred_at, new_end in sorted(self.extensions):
            start, end = spans[-1]
            if end is None or occurred_at <= end:
                spans[-1] = (start, new_end if end is None or new_end > end else end)
            else:
                spans.append((max(occurred_at, self.effective_at), new_end))
        ending = self._ending()
        if ending is not None:
            cut = ending[0]
            spans = [
                (start, cut if end is None or end > cut else end)
                for start, end in spans
                if start < cut
            ]
        return [(start, end) for start, end in spans if end is None or start < end]

    def in_effect(self, at: datetime) -> bool:
        return any(start <= at and (end is None or at < end) for start, end in self.periods())

    def state_at(self, at: datetime) -> str:
        """``pending``, ``in_effect``, ``collapsed``, ``withdrawn`` or ``expired`` at ``at``
        (signed by then); the caller tells holding from contested."""
        ending = self._ending()
        if ending is not None and ending[0] <= at:
            cut, how = ending
            expired_first = not self.in_effect(cut - _INSTANT) and any(
                end is not None and end <= cut for _, end in self.periods()
            )
            if not expired_first:
                return how
        if self.effective_at > at:
            return "pending"
        if self.in_effect(at):
            return "in_effect"
        return "expired"

    def ended_at(self, at: datetime) -> datetime | None:
        """When it last stopped being in effect, by ``at``: its collapse, its last withdrawal
        or its end."""
        state = self.state_at(at)
        if state in ("collapsed", "withdrawn"):
            ending = self._ending()
            return None if ending is None else ending[0]
        if state != "expired":
            return None
        ends = [end for start, end in self.periods() if start <= at and end is not None]
        return max((e for e in ends if e <= at), default=self.effective_at)


@dataclass(frozen=True, slots=True)
class LullState:
    """A de facto calm as its events made it: observed at ``observed_at`` (the
    ``lull.observed``'s occurred_at), held until ``ended_at`` (the ``lull.ended``'s; None: not
    ended). Its span does not depend on the time of a view, so a view of T filters by it."""

    lull_id: str
    parties: tuple[str, ...]
    observed_by: str
    statement: str | None
    observed_at: datetime
    version: int
    event_id: UUID
    ended_at: datetime | None = None
    end_reason: str | None = None

    def observed(self, at: datetime) -> bool:
        """Observed and not ended at ``at``."""
        return self.observed_at <= at and (self.ended_at is None or at < self.ended_at)


#: The smallest step of a datetime: "just before" an instant.
_INSTANT = timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class ConflictState:
    conflict: str
    version: int = 0
    agreements: Mapping[str, AgreementState] = field(default_factory=dict)
    missions: frozenset[str] = frozenset()
    #: Each corrected event -> the correction whose data it carries now (the latest one).
    revisions: Mapping[UUID, UUID] = field(default_factory=dict)
    #: The allegations withdrawn by their party.
    retracted: frozenset[UUID] = frozenset()
    #: When each retraction occurred, and each denial (its time and the denying party), so a
    #: later row version of the allegation (a denial after a retraction, say) carries both.
    retracted_at: Mapping[UUID, datetime] = field(default_factory=dict)
    denials: Mapping[UUID, tuple[datetime, str]] = field(default_factory=dict)
    #: The missions ended.
    mission_ends: frozenset[str] = frozenset()
    #: Its actors: every name a new event gives resolves to one of them, or is a new one.
    actors: Actors = field(default_factory=Actors)
    #: Each allegation whose end an ``incident.ended`` gave: (its end, when it occurred). The
    #: latest one recorded stands, so later row versions of the allegation carry it.
    incident_ends: Mapping[UUID, tuple[datetime, datetime]] = field(default_factory=dict)
    #: Its lulls (de facto calms without an agreement), observed and ended.
    lulls: Mapping[str, LullState] = field(default_factory=dict)


def target_of(event: Event) -> UUID | None:
    """The earlier event a retraction or a correction names; None for other events."""
    if event.type not in NAMING_TYPES:  # the type string first: isinstance on a pydantic
        return None  # model class goes through ABCMeta, and this runs for every event folded
    match event:
        case AllegationRetracted(data=data):
            return data.allegation_id
        case AllegationDenied(data=denial):
            return denial.allegation_id
        case IncidentEnded(data=ended):
            return ended.allegation_id
        case EventCorrected(data=data):
            return data.event_id
    return None


#: The types of the events that name an earlier one (see ``references``).
NAMING_TYPES = frozenset(
    {"allegation.retracted", "allegation.denied", "event.corrected", "incident.ended"}
)


def references(state: ConflictState, event: Event) -> tuple[UUID, ...]:
    """The stored events ``check`` and ``apply`` read through their lookup for ``event``: the
    event it names and that event's latest correction."""
    target = target_of(event)
    if target is None:
        return ()
    revision = state.revisions.get(target)
    return (target,) if revision is None else (target, revision)


def current_version(state: ConflictState, event_id: UUID, lookup: Lookup) -> Recorded | None:
    """The event ``event_id`` of this conflict as the log says it is now: as recorded, with the
    data of its latest correction. None when this conflict has no such event."""
    original = lookup(event_id)
    if original is None or original.conflict != state.conflict:
        return None
    revision = state.revisions.get(event_id)
    if revision is None:
        return original
    correction = lookup(revision)
    if not isinstance(correction, EventCorrected):
        raise LookupError(f"the lookup lacks correction {revision} of event {event_id}")
    return with_data(original, correction.data.data)


def with_data(event: Recorded, data: Mapping[str, object]) -> Recorded:
    """``event`` carrying ``data`` (a correction's) in place of its own."""
    corrected = CORRECTABLE_DATA[event.type].model_validate(data, context=STORED)
    return event.model_copy(update={"data": corrected})


def known_lull(state: ConflictState, lull_id: str) -> LullState:
    """The lull ``lull_id`` of this conflict; the rule's problem when there is none."""
    lull = state.lulls.get(lull_id)
    if lull is None:
        raise DomainRuleError(
            "unknown-lull", f"no lull {lull_id!r} is recorded in conflict {state.conflict!r}"
        )
    return lull


def known_agreement(state: ConflictState, agreement_id: str) -> AgreementState:
    """The agreement ``agreement_id`` of this conflict; the rule's problem when there is none."""
    agreement = state.agreements.get(agreement_id)
    if agreement is None:
        raise DomainRuleError(
            "unknown-agreement",
            f"no agreement {agreement_id!r} is recorded in conflict {state.conflict!r}",
        )
    return agreement
