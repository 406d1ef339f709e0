"""The state transition: what each event makes of a conflict's state.

``evolve`` is the domain's one transition, pure and with no I/O: the append path, the replay
and the unit tests fold through it, so they cannot drift. The append decision that checks each
event and folds it through ``evolve`` is ``events.model.decision.decide``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from uuid import UUID

from events.model.actors import name_key
from events.model.envelope import Recorded
from events.model.milestones import MilestoneExtension, MilestoneMeeting, MilestoneState
from events.model.state import (
    AgreementState,
    ConflictState,
    Departure,
    Lookup,
    LullState,
    current_version,
    no_lookup,
    with_data,
)
from events.model.types import (
    ActorRegistered,
    AgreementCollapsed,
    AgreementExtended,
    AgreementRepudiated,
    AgreementSigned,
    AllegationDenied,
    AllegationRetracted,
    CeasefireDeclared,
    EventCorrected,
    IncidentEnded,
    LullEnded,
    LullObserved,
    MilestoneExtended,
    MilestoneMet,
    MissionDispatched,
    MissionEnded,
    TalksResumed,
    TalksSuspended,
    ViolationAlleged,
)

__all__ = [
    "agreement_of_event",
    "evolve",
    "lull_of_event",
    "required",
]


def evolve(state: ConflictState, event: Recorded, lookup: Lookup = no_lookup) -> ConflictState:
    """The state after one recorded event (already checked). ``lookup`` must find what
    ``references(state, event)`` names."""
    match event:  # the commonest first: each case is an isinstance check through ABCMeta
        case ViolationAlleged():
            pass  # an allegation lives only in the read models
        case AgreementSigned() | CeasefireDeclared():
            agreement = agreement_of_event(event)
            state = _with_agreement(state, agreement)
            state = _with_actors(state, (*agreement.parties, *agreement.mediators), event)
        case AgreementCollapsed(data=data):
            agreement = replace(
                state.agreements[data.agreement_id],
                collapsed_at=event.occurred_at,
                collapse_reason=data.reason,
            )
            state = _with_agreement(state, agreement)
        case AgreementExtended(data=extension):
            extended = state.agreements[extension.agreement_id]
            agreement = replace(
                extended,
                extensions=(*extended.extensions, (event.occurred_at, extension.expires_at)),
            )
            state = _with_agreement(state, agreement)
        case AgreementRepudiated(data=left):
            repudiated = state.agreements[left.agreement_id]
            departure = Departure(
                party=repudiated.party(left.party) or left.party,
                never_agreed=left.never_agreed,
                occurred_at=event.occurred_at,
                statement=left.statement,
            )
            agreement = replace(repudiated, departures=(*repudiated.departures, departure))
            state = _with_agreement(state, agreement)
        case TalksSuspended(data=talks) | TalksResumed(data=talks):
            state = _with_actors(state, talks.parties, event)
        case MissionDispatched(data=data):
            state = replace(state, missions=state.missions | {data.mission_id})
            state = _with_actors(state, data.monitors(), event)
        case ActorRegistered(data=registered):
            actors = state.actors.registered(
                registered.name, registered.kind, registered.aliases, event.occurred_at
            )
            state = replace(state, actors=actors)
        case MissionEnded(data=ended):
            state = replace(state, mission_ends=state.mission_ends | {ended.mission_id})
        case AllegationRetracted(data=data):
            target = required(state, data.allegation_id, lookup)
            state = replace(
                state,
                retracted=state.retracted | {target.id},
                retracted_at={**state.retracted_at, target.id: event.occurred_at},
            )
        case AllegationDenied(data=denial):
            target = required(state, denial.allegation_id, lookup)
            denials = {**state.denials, target.id: (event.occurred_at, denial.denied_by)}
            state = replace(state, denials=denials)
        case EventCorrected(data=data):
            target = required(state, data.event_id, lookup)
            state = _corrected(state, with_data(target, data.data))
            state = replace(state, revisions={**state.revisions, target.id: event.id})
        case MilestoneExtended() | MilestoneMet():
            state = _with_milestone_event(state, event)
        case IncidentEnded(data=ended):
            target = required(state, ended.allegation_id, lookup)
            ends = {**state.incident_ends, target.id: (ended.ended_at, target.occurred_at)}
            state = replace(state, incident_ends=ends)
        case LullObserved(data=observed):
            state = _with_lull(state, lull_of_event(event))
            state = _with_actors(state, (*observed.parties, observed.observed_by), event)
        case LullEnded(data=ended):
            lull = replace(
                state.lulls[ended.lull_id], ended_at=event.occurred_at, end_reason=ended.reason
            )
            state = _with_lull(state, lull)
    return _at_version(state, event.version)


def _with_milestone_event(state: ConflictState, event: Recorded) -> ConflictState:
    """What a ``milestone.extended`` or a ``milestone.met`` (or a correction of one, which
    keeps its id and occurred_at) makes of its milestone: an extension replaces the one with
    its id, if any, else is added; a meeting sets (or restates) ``met``."""
    match event:
        case MilestoneExtended(data=data):
            agreement = state.agreements[data.agreement_id]
            milestone = _required_milestone(agreement, data.milestone_id)
            extension = MilestoneExtension(event.id, event.occurred_at, data.due_at, data.reason)
            listed = milestone.extensions
            if any(e.event_id == event.id for e in listed):  # a correction: in its place
                listed = tuple(extension if e.event_id == event.id else e for e in listed)
            else:
                listed = (*listed, extension)
            milestone = replace(milestone, extensions=listed)
        case MilestoneMet(data=met):
            agreement = state.agreements[met.agreement_id]
            milestone = _required_milestone(agreement, met.milestone_id)
            milestone = replace(
                milestone, met=MilestoneMeeting(event.id, event.occurred_at, met.statement)
            )
        case _:
            return state
    return _with_agreement(state, agreement.with_milestone(milestone))


def _required_milestone(agreement: AgreementState, milestone_id: str) -> MilestoneState:
    milestone = agreement.milestone(milestone_id)
    if milestone is None:
        raise LookupError(f"{agreement.agreement_id} has no milestone {milestone_id}: check first")
    return milestone


def _with_lull(state: ConflictState, lull: LullState) -> ConflictState:
    return replace(state, lulls={**state.lulls, lull.lull_id: lull})


def lull_of_event(event: Recorded) -> LullState:
    """The lull a ``lull.observed`` makes (not ended)."""
    if not isinstance(event, LullObserved):
        raise TypeError(f"{event.type} makes no lull")
    data = event.data
    return LullState(
        lull_id=data.lull_id,
        parties=data.parties,
        observed_by=data.observed_by,
        statement=data.statement,
        observed_at=event.occurred_at,
        version=event.version,
        event_id=event.id,
    )


def _with_actors(state: ConflictState, names: Sequence[str], event: Recorded) -> ConflictState:
    """Every one of ``names`` an actor of the conflict, from ``event``'s occurred_at at the
    latest: parties, mediators, declarers and mission organizations are actors."""
    actors = state.actors.named(names, event.occurred_at)
    return state if actors is state.actors else replace(state, actors=actors)


def _with_agreement(state: ConflictState, agreement: AgreementState) -> ConflictState:
    return replace(state, agreements={**state.agreements, agreement.agreement_id: agreement})


def _corrected(state: ConflictState, corrected: Recorded) -> ConflictState:
    """What a correction changes of the state: an agreement's or a declaration's terms, a
    collapse's reason, a repudiation's statement, the actors a new mediator, mission
    organization or party to talks makes (an allegation's or a mission's other new data lives
    only in the read models).
    The corrected event keeps its occurred_at, its version and its source."""
    match corrected:
        case AgreementSigned() | CeasefireDeclared():
            fresh = agreement_of_event(corrected)
            agreement = replace(
                state.agreements[fresh.agreement_id],
                mediators=fresh.mediators,
                kind=fresh.kind,
                terms=fresh.terms,
                effective_at=fresh.effective_at,
                expires_at=fresh.expires_at,
                scope_level=fresh.scope_level,
                scope_area=fresh.scope_area,
            )
            agreement = replace(agreement, milestones=_kept(agreement, fresh.milestones))
            state = _with_agreement(state, agreement)
            return _with_actors(state, fresh.mediators, corrected)
        case MilestoneExtended() | MilestoneMet():
            return _with_milestone_event(state, corrected)
        case MissionDispatched(data=mission):
            return _with_actors(state, mission.monitors(), corrected)
        case AgreementCollapsed(data=data):
            agreement = replace(state.agreements[data.agreement_id], collapse_reason=data.reason)
            return _with_agreement(state, agreement)
        case AgreementRepudiated(data=left):
            repudiated = state.agreements[left.agreement_id]
            departures = tuple(
                replace(d, statement=left.statement)
                if name_key(d.party) == name_key(left.party)
                else d
                for d in repudiated.departures
            )
            return _with_agreement(state, replace(repudiated, departures=departures))
        case TalksSuspended(data=talks) | TalksResumed(data=talks):
            return _with_actors(state, talks.parties, corrected)
        case LullObserved(data=observed):
            lull = replace(
                state.lulls[observed.lull_id],
                parties=observed.parties,
                observed_by=observed.observed_by,
                statement=observed.statement,
            )
            state = _with_lull(state, lull)
            return _with_actors(state, (*observed.parties, observed.observed_by), corrected)
        case LullEnded(data=ended):
            lull = replace(state.lulls[ended.lull_id], end_reason=ended.reason)
            return _with_lull(state, lull)
    return state


def _kept(
    agreement: AgreementState, milestones: tuple[MilestoneState, ...]
) -> tuple[MilestoneState, ...]:
    """A corrected signing's milestones, each keeping the extensions and the meeting the
    one of its id had (``check`` refuses a correction that drops one that has either)."""
    return tuple(
        m
        if (before := agreement.milestone(m.milestone_id)) is None
        else replace(m, extensions=before.extensions, met=before.met)
        for m in milestones
    )


def agreement_of_event(event: Recorded) -> AgreementState:
    """The agreement an ``agreement.signed`` or a ``ceasefire.declared`` makes."""
    declared_by: str | None
    match event:
        case CeasefireDeclared(data=declared):
            scope, parties = declared.scope, (declared.declared_by, *declared.toward)
            mediators: tuple[str, ...] = ()
            effective_at, expires_at = declared.effective_at, declared.expires_at
            kind, terms, declared_by = declared.kind, declared.terms, declared.declared_by
            agreement_id, milestones = declared.agreement_id, declared.milestones
        case AgreementSigned(data=data):
            scope, parties, mediators = data.scope, data.parties, data.mediators
            effective_at, expires_at = data.effective_at, data.expires_at
            kind, terms, declared_by = data.kind, data.terms, None
            agreement_id, milestones = data.agreement_id, data.milestones
        case _:
            raise TypeError(f"{event.type} makes no agreement")
    return AgreementState(
        agreement_id=agreement_id,
        parties=parties,
        mediators=mediators,
        kind=kind,
        terms=terms,
        signed_at=event.occurred_at,
        effective_at=effective_at or event.occurred_at,
        collapsed_at=None,
        collapse_reason=None,
        version=event.version,
        event_id=event.id,
        expires_at=expires_at,
        scope_level="national" if scope is None else scope.level,
        scope_area=None if scope is None else scope.area,
        unilateral=declared_by is not None,
        declared_by=declared_by,
        milestones=tuple(
            MilestoneState(m.milestone_id, m.description, m.due_at)
            for m in sorted(milestones or (), key=lambda m: (m.due_at, m.milestone_id))
        ),
    )


def required(state: ConflictState, event_id: UUID, lookup: Lookup) -> Recorded:
    """The current version of the event a retraction, denial or correction names."""
    target = current_version(state, event_id, lookup)
    if target is None:
        raise LookupError(f"fold the event after fetching references(): {event_id} is missing")
    return target


def _at_version(state: ConflictState, version: int) -> ConflictState:
    """``replace(state, version=version)``, which every event folded makes, at less than half
    the cost of even a plain constructor call: a frozen dataclass's ``__init__`` sets each
    field through ``object.__setattr__``, these slot setters do it directly. A unit test holds
    it equal to ``replace`` and checks it carries every field."""
    following: ConflictState = _new_state(ConflictState)
    _set_conflict(following, state.conflict)
    _set_version(following, version)
    _set_agreements(following, state.agreements)
    _set_missions(following, state.missions)
    _set_revisions(following, state.revisions)
    _set_retracted(following, state.retracted)
    _set_retracted_at(following, state.retracted_at)
    _set_denials(following, state.denials)
    _set_mission_ends(following, state.mission_ends)
    _set_actors(following, state.actors)
    _set_incident_ends(following, state.incident_ends)
    _set_lulls(following, state.lulls)
    return following


_new_state = object.__new__
(
    _set_conflict,
    _set_version,
    _set_agreements,
    _set_missions,
    _set_revisions,
    _set_retracted,
    _set_retracted_at,
    _set_denials,
    _set_mission_ends,
    _set_actors,
    _set_incident_ends,
    _set_lulls,
) = (
    getattr(ConflictState, name).__set__
    for name in (
        "conflict",
        "version",
        "agreements",
        "missions",
        "revisions",
        "retracted",
        "retracted_at",
        "denials",
        "mission_ends",
        "actors",
        "incident_ends",
        "lulls",
    )
)
