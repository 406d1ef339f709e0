"""The domain rules: whether an event may be appended to a conflict in a given state.

``check`` raises ``DomainRuleError`` naming the rule an event breaks; the API answers it as a
422 problem. It is pure, like the fold: the append path, ``load`` and ``import`` call it on the
same state the fold keeps.

This module holds ``check``, which dispatches on the event's type, the rules short enough to
stand in it (missions, denials, retractions, lulls, registrations) and those of a correction,
which stand above every family. The rules of agreements and of allegations, which a correction
applies again to the data it sets, live beside it: ``agreement_rules`` and ``allegation_rules``.
"""

from __future__ import annotations

from uuid import UUID

from events.model import types
from events.model.actors import name_key
from events.model.agreement_data import MilestoneExtendedData
from events.model.agreement_rules import (
    check_extension,
    check_kept_milestones,
    check_milestones,
    check_new_agreement,
    check_not_ended,
    check_repudiation,
    check_term,
    named_milestone,
)
from events.model.allegation_rules import check_allegation, check_end, check_report
from events.model.correction_data import CORRECTABLE_DATA
from events.model.envelope import Recorded
from events.model.errors import DomainRuleError
from events.model.state import (
    ConflictState,
    Lookup,
    current_version,
    known_agreement,
    known_lull,
    no_lookup,
    with_data,
)
from events.model.types import ActorRegistered, Event, data_of

__all__ = ["check"]


def check(state: ConflictState, event: Event, lookup: Lookup = no_lookup) -> None:
    """Raise ``DomainRuleError`` when ``event`` may not follow ``state``. ``lookup`` must find
    what ``references(state, event)`` names."""
    match event:
        case types.AgreementSigned(data=data):
            check_new_agreement(state, event, data.agreement_id, data.effective_at)
            check_term(event, data.effective_at, data.expires_at)
            check_milestones(event, data.milestones)
        case types.CeasefireDeclared(data=declared):
            check_new_agreement(state, event, declared.agreement_id, declared.effective_at)
            check_term(event, declared.effective_at, declared.expires_at)
            check_milestones(event, declared.milestones)
        case types.AgreementCollapsed(data=data):
            agreement = known_agreement(state, data.agreement_id)
            check_not_ended(agreement)
            if event.occurred_at < agreement.signed_at:
                raise DomainRuleError(
                    "collapse-before-signing",
                    f"agreement {data.agreement_id!r} was signed at "
                    f"{agreement.signed_at.isoformat()}, after this collapse",
                )
        case types.AgreementExtended(data=extension):
            check_extension(state, event, extension.agreement_id, extension.expires_at)
        case types.AgreementRepudiated():
            check_repudiation(state, event)
        case types.ViolationAlleged():
            check_allegation(state, event)
        case types.MissionDispatched(data=data):
            if data.mission_id in state.missions:
                raise DomainRuleError(
                    "mission-exists",
                    f"mission {data.mission_id!r} is already recorded in {state.conflict!r}",
                )
            if data.agreement_id is not None:
                known_agreement(state, data.agreement_id)
        case types.MissionEnded(data=ended):
            if ended.mission_id not in state.missions:
                raise DomainRuleError(
                    "unknown-mission",
                    f"no mission {ended.mission_id!r} is recorded in {state.conflict!r}",
                )
            if ended.mission_id in state.mission_ends:
                raise DomainRuleError(
                    "mission-already-ended", f"mission {ended.mission_id!r} has ended already"
                )
        case types.AllegationDenied(data=denial):
            denied = _allegation(state, denial.allegation_id, lookup, "denied")
            if denied.id in state.denials:
                raise DomainRuleError("already-denied", f"allegation {denied.id} is denied already")
            if name_key(denial.denied_by) != name_key(denied.data.accused):
                raise DomainRuleError(
                    "not-the-accused-party",
                    f"allegation {denied.id} accuses {denied.data.accused!r}; only that party "
                    f"may deny it, not {denial.denied_by!r}",
                )
        case types.AllegationRetracted(data=data):
            target = _allegation(state, data.allegation_id, lookup, "retracted")
            if target.id in state.retracted:
                raise DomainRuleError(
                    "already-retracted", f"allegation {target.id} is retracted already"
                )
            if name_key(data.retracted_by) != name_key(target.data.alleged_by):
                raise DomainRuleError(
                    "not-the-alleging-party",
                    f"allegation {target.id} was made by {target.data.alleged_by!r}; only that "
                    f"party may retract it, not {data.retracted_by!r}",
                )
        case types.EventCorrected(data=data):
            _check_correction(state, _target(state, data.event_id, lookup), event)
        case ActorRegistered():
            _check_registration(state, event)
        case types.MilestoneExtended(data=extension):
            milestone = named_milestone(
                state, event, extension.agreement_id, extension.milestone_id
            )
            if milestone.met is not None and milestone.met.occurred_at <= event.occurred_at:
                raise DomainRuleError(
                    "milestone-already-met",
                    f"milestone {milestone.milestone_id!r} was met at "
                    f"{milestone.met.occurred_at.isoformat()}, before this extension",
                )
            due = milestone.current_due()
            if extension.due_at <= due:
                raise DomainRuleError(
                    "milestone-extension-not-later",
                    f"milestone {milestone.milestone_id!r} is due at {due.isoformat()}; an "
                    "extension must make it due later",
                )
        case types.MilestoneMet(data=met):
            milestone = named_milestone(state, event, met.agreement_id, met.milestone_id)
            if milestone.met is not None:
                raise DomainRuleError(
                    "milestone-already-met",
                    f"milestone {milestone.milestone_id!r} was met at "
                    f"{milestone.met.occurred_at.isoformat()} already",
                )
        case types.IncidentEnded(data=ended):
            incident = _allegation(state, ended.allegation_id, lookup, "ended")
            if incident.data.ended_at is not None:
                raise DomainRuleError(
                    "end-given-in-allegation",
                    f"allegation {incident.id} gives its end already; correct the allegation "
                    "to change it",
                )
            check_end(incident.occurred_at, ended.ended_at)
        case types.ViolationsReported():
            check_report(state, event)
        case types.LullObserved(data=observed):
            if observed.lull_id in state.lulls:
                raise DomainRuleError(
                    "lull-exists",
                    f"lull {observed.lull_id!r} is already recorded in {state.conflict!r}",
                )
        case types.LullEnded(data=ended):
            lull = known_lull(state, ended.lull_id)
            if lull.ended_at is not None:
                raise DomainRuleError(
                    "lull-already-ended",
                    f"lull {ended.lull_id!r} ended at {lull.ended_at.isoformat()}",
                )
            if event.occurred_at < lull.observed_at:
                raise DomainRuleError(
                    "end-before-observation",
                    f"lull {ended.lull_id!r} was observed at {lull.observed_at.isoformat()}, "
                    "after this end",
                )


def _check_registration(state: ConflictState, event: ActorRegistered) -> None:
    """A registration names an actor (a new one, or one the conflict has: then it adds
    aliases); its kind may not contradict the one registered before, and an alias may not be
    another actor's name or alias."""
    data = event.data
    actors = state.actors
    actor = actors.resolve(data.name)
    if actor is not None:
        kind = actors.by_name[actor].kind
        if kind is not None and kind != data.kind:
            raise DomainRuleError(
                "actor-kind-differs",
                f"actor {actor!r} is registered as {kind!r}, not {data.kind!r}",
            )
    own = actor or data.name
    for alias in data.aliases:
        other = actors.resolve(alias)
        if other is not None and other != own:
            raise DomainRuleError(
                "alias-taken",
                f"{alias!r} spells actor {other!r} already; an alias belongs to one actor only",
            )


def _check_correction(state: ConflictState, target: Recorded, event: types.EventCorrected) -> None:
    data = event.data
    if target.type not in CORRECTABLE_DATA:
        raise DomainRuleError(
            "not-correctable", f"event {target.id} is a {target.type}, which is not corrected"
        )
    if target.type != data.event_type:
        raise DomainRuleError(
            "correction-type-mismatch",
            f"event {target.id} is a {target.type}, not a {data.event_type}",
        )
    if target.id in state.retracted:
        raise DomainRuleError(
            "already-retracted", f"allegation {target.id} is retracted; it is not corrected"
        )
    if data_of(target) == data.data:
        raise DomainRuleError(
            "correction-changes-nothing", f"event {target.id} has this data already"
        )
    corrected = with_data(target, data.data)
    match target, corrected:
        case types.AgreementSigned(data=old), types.AgreementSigned(data=new):
            _same_identity(target, "agreement_id", old.agreement_id, new.agreement_id)
            if old.parties != new.parties:
                raise DomainRuleError(
                    "correction-changes-parties",
                    "a correction keeps an agreement's parties; allegations are counted by them",
                )
            if new.effective_at is not None and new.effective_at < target.occurred_at:
                raise DomainRuleError(
                    "effective-before-signed",
                    "effective_at must not be earlier than the signing (occurred_at)",
                )
            check_term(target, new.effective_at, new.expires_at)
            check_milestones(target, new.milestones)
            check_kept_milestones(state, new.agreement_id, new.milestones)
        case types.AgreementCollapsed(data=old), types.AgreementCollapsed(data=new):
            _same_identity(target, "agreement_id", old.agreement_id, new.agreement_id)
        case types.CeasefireDeclared(data=old), types.CeasefireDeclared(data=new):
            _same_identity(target, "agreement_id", old.agreement_id, new.agreement_id)
            if (old.declared_by, old.toward) != (new.declared_by, new.toward):
                raise DomainRuleError(
                    "correction-changes-parties",
                    "a correction keeps a declaration's parties; allegations are counted by them",
                )
            check_term(target, new.effective_at, new.expires_at)
            check_milestones(target, new.milestones)
            check_kept_milestones(state, new.agreement_id, new.milestones)
        case types.MissionDispatched(data=old), types.MissionDispatched(data=new):
            _same_identity(target, "mission_id", old.mission_id, new.mission_id)
        case (types.MilestoneExtended(data=old), types.MilestoneExtended(data=new)) | (
            types.MilestoneMet(data=old),
            types.MilestoneMet(data=new),
        ):
            _same_identity(target, "agreement_id", old.agreement_id, new.agreement_id)
            _same_identity(target, "milestone_id", old.milestone_id, new.milestone_id)
            milestone = known_agreement(state, new.agreement_id).milestone(new.milestone_id)
            if (
                isinstance(new, MilestoneExtendedData)
                and milestone is not None
                and new.due_at <= milestone.due_at
            ):
                raise DomainRuleError(
                    "milestone-extension-not-later",
                    f"milestone {new.milestone_id!r} was signed due at "
                    f"{milestone.due_at.isoformat()}; an extension must make it due later",
                )
        case types.AgreementRepudiated(data=old), types.AgreementRepudiated(data=new):
            # Who left what, and how, is who is bound: another fact, not a correction.
            _same_identity(target, "agreement_id", old.agreement_id, new.agreement_id)
            _same_identity(target, "party", name_key(old.party), name_key(new.party))
            if old.never_agreed != new.never_agreed:
                raise DomainRuleError(
                    "correction-changes-identity",
                    f"a correction of event {target.id} must keep its never_agreed "
                    f"{str(old.never_agreed).lower()}",
                )
        case types.LullObserved(data=old), types.LullObserved(data=new):
            _same_identity(target, "lull_id", old.lull_id, new.lull_id)
        case types.LullEnded(data=old), types.LullEnded(data=new):
            _same_identity(target, "lull_id", old.lull_id, new.lull_id)
        case _, types.ViolationAlleged(data=new):
            if new.ended_at is not None and target.id in state.incident_ends:
                raise DomainRuleError(
                    "end-recorded-apart",
                    f"allegation {target.id} has its end from an incident.ended; record "
                    "another incident.ended to change it",
                )
            check_allegation(state, corrected)
        case _, types.ViolationsReported():
            check_report(state, corrected)


def _same_identity(target: Recorded, name: str, old: str, new: str) -> None:
    if old != new:
        raise DomainRuleError(
            "correction-changes-identity",
            f"a correction of event {target.id} must keep its {name} {old!r}",
        )


def _target(state: ConflictState, event_id: UUID, lookup: Lookup) -> Recorded:
    target = current_version(state, event_id, lookup)
    if target is None:
        raise DomainRuleError(
            "unknown-event", f"no event {event_id} is recorded in conflict {state.conflict!r}"
        )
    return target


def _allegation(
    state: ConflictState, event_id: UUID, lookup: Lookup, done: str
) -> types.ViolationAlleged:
    """The allegation a denial or a retraction names (``done``: what happens to it)."""
    target = _target(state, event_id, lookup)
    if not isinstance(target, types.ViolationAlleged):
        raise DomainRuleError(
            "not-an-allegation",
            f"event {target.id} is a {target.type}; only an allegation is {done}",
        )
    return target
