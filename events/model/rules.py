"""The domain rules: whether an event may be appended to a conflict in a given state.

``check`` raises ``DomainRuleError`` naming the rule an event breaks; the API answers it as a
422 problem. It is pure, like the fold: the append path, ``load`` and ``import`` call it on the
same state the fold keeps.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from events.model import types
from events.model.actors import name_key
from events.model.agreement_data import Milestone, MilestoneExtendedData
from events.model.correction_data import CORRECTABLE_DATA
from events.model.envelope import Recorded
from events.model.errors import DomainRuleError
from events.model.milestones import MilestoneState
from events.model.state import (
    AgreementState,
    ConflictState,
    Lookup,
    current_version,
    known_agreement,
    known_lull,
    no_lookup,
    with_data,
)
from events.model.types import (
    ActorRegistered,
    Event,
    data_of,
)

__all__ = ["check"]


def check(state: ConflictState, event: Event, lookup: Lookup = no_lookup) -> None:
    """Raise ``DomainRuleError`` when ``event`` may not follow ``state``. ``lookup`` must find
    what ``references(state, event)`` names."""
    match event:
        case types.AgreementSigned(data=data):
            _check_new_agreement(state, event, data.agreement_id, data.effective_at)
            _check_term(event, data.effective_at, data.expires_at)
            _check_milestones(event, data.milestones)
        case types.CeasefireDeclared(data=declared):
            _check_new_agreement(state, event, declared.agreement_id, declared.effective_at)
            _check_term(event, declared.effective_at, declared.expires_at)
            _check_milestones(event, declared.milestones)
        case types.AgreementCollapsed(data=data):
            agreement = known_agreement(state, data.agreement_id)
            _check_not_ended(agreement)
            if event.occurred_at < agreement.signed_at:
                raise DomainRuleError(
                    "collapse-before-signing",
                    f"agreement {data.agreement_id!r} was signed at "
                    f"{agreement.signed_at.isoformat()}, after this collapse",
                )
        case types.AgreementExtended(data=extension):
            _check_extension(state, event, extension.agreement_id, extension.expires_at)
        case types.AgreementRepudiated():
            _check_repudiation(state, event)
        case types.ViolationAlleged():
            _check_allegation(state, event)
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
            milestone = _milestone(state, event, extension.agreement_id, extension.milestone_id)
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
            milestone = _milestone(state, event, met.agreement_id, met.milestone_id)
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
            _check_end(incident.occurred_at, ended.ended_at)
        case types.ViolationsReported():
            _check_report(state, event)
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


def _milestone(
    state: ConflictState, event: Event, agreement_id: str, milestone_id: str
) -> MilestoneState:
    """The milestone a ``milestone.*`` event names: of a known agreement signed by the event's
    occurred_at and not collapsed by then (an extension or a meeting may be recorded late, so
    only what occurred before it counts against it, whatever the order of recording)."""
    agreement = known_agreement(state, agreement_id)
    milestone = agreement.milestone(milestone_id)
    if milestone is None:
        known = ", ".join(m.milestone_id for m in agreement.milestones) or "none"
        raise DomainRuleError(
            "unknown-milestone",
            f"agreement {agreement_id!r} has no milestone {milestone_id!r} (its milestones: "
            f"{known})",
        )
    if event.occurred_at < agreement.signed_at:
        raise DomainRuleError(
            "milestone-before-signing",
            f"agreement {agreement_id!r} was signed at {agreement.signed_at.isoformat()}, "
            "after this event",
        )
    if agreement.collapsed_at is not None and agreement.collapsed_at <= event.occurred_at:
        raise DomainRuleError(
            "agreement-already-collapsed",
            f"agreement {agreement_id!r} collapsed at {agreement.collapsed_at.isoformat()}",
        )
    return milestone


def _check_milestones(event: Event, milestones: tuple[Milestone, ...] | None) -> None:
    for milestone in milestones or ():
        if milestone.due_at <= event.occurred_at:
            raise DomainRuleError(
                "milestone-due-before-signing",
                f"milestone {milestone.milestone_id!r} is due at "
                f"{milestone.due_at.isoformat()}, not later than the signing (occurred_at)",
            )


def _check_kept_milestones(
    state: ConflictState, agreement_id: str, milestones: tuple[Milestone, ...] | None
) -> None:
    """A correction of a signing may change its milestones, but not drop one that was
    extended or met: those events would name nothing."""
    agreement = state.agreements.get(agreement_id)
    kept = {m.milestone_id for m in milestones or ()}
    for milestone in () if agreement is None else agreement.milestones:
        if milestone.milestone_id not in kept and (milestone.extensions or milestone.met):
            raise DomainRuleError(
                "correction-drops-milestone",
                f"milestone {milestone.milestone_id!r} was extended or met; a correction keeps it",
            )


def _check_end(occurred_at: datetime, ended_at: datetime | None) -> None:
    """An ongoing violation ends at or after it began."""
    if ended_at is not None and ended_at < occurred_at:
        raise DomainRuleError(
            "ended-before-occurred",
            f"ended_at {ended_at.isoformat()} is before the violation occurred "
            f"({occurred_at.isoformat()})",
        )


def _check_report(state: ConflictState, event: types.ViolationsReported) -> None:
    """A report covers a period over by the time it is made; one naming an agreement is a
    non-party's, and attributes violations to its parties only."""
    data = event.data
    if data.period_to > event.occurred_at:
        raise DomainRuleError(
            "report-before-period-end",
            f"the period reported on ends at {data.period_to.isoformat()}, after the report "
            f"(occurred_at {event.occurred_at.isoformat()})",
        )
    if data.agreement_id is None:
        return
    agreement = known_agreement(state, data.agreement_id)
    if agreement.party(data.reported_by) is not None:
        raise DomainRuleError(
            "reporter-is-a-party",
            f"{data.reported_by!r} is a party of agreement {agreement.agreement_id!r}: a "
            "party's claims are violation.alleged",
        )
    for accused in data.by_party or {}:
        if agreement.party(accused) is None:
            raise DomainRuleError(
                "accused-not-a-party",
                f"{accused!r} is not a party of agreement {agreement.agreement_id!r} "
                f"(parties: {', '.join(agreement.parties)})",
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


def _check_new_agreement(
    state: ConflictState, event: Event, agreement_id: str, effective_at: datetime | None
) -> None:
    if agreement_id in state.agreements:
        raise DomainRuleError(
            "agreement-exists",
            f"agreement {agreement_id!r} is already recorded in {state.conflict!r}",
        )
    if effective_at is not None and effective_at < event.occurred_at:
        raise DomainRuleError(
            "effective-before-signed",
            "effective_at must not be earlier than the signing (occurred_at)",
        )


def _check_term(event: Event, effective_at: datetime | None, expires_at: datetime | None) -> None:
    if expires_at is not None and expires_at <= (effective_at or event.occurred_at):
        raise DomainRuleError(
            "expires-before-effective",
            "expires_at must be later than effective_at (or the signing when none is given)",
        )


def _check_extension(
    state: ConflictState, event: types.AgreementExtended, agreement_id: str, expires_at: datetime
) -> None:
    agreement = known_agreement(state, agreement_id)
    _check_not_ended(agreement)
    if event.occurred_at < agreement.signed_at:
        raise DomainRuleError(
            "extension-before-signing",
            f"agreement {agreement_id!r} was signed at {agreement.signed_at.isoformat()}, "
            "after this extension",
        )
    end = agreement.current_end()
    if end is None:
        raise DomainRuleError(
            "not-fixed-term", f"agreement {agreement_id!r} has no end (expires_at) to extend"
        )
    if expires_at <= end:
        raise DomainRuleError(
            "extension-not-later",
            f"agreement {agreement_id!r} runs until {end.isoformat()}; an extension must end later",
        )


def _check_not_ended(agreement: AgreementState) -> None:
    """An agreement that collapsed or that every party bound by it left is over: nothing
    more happens to it."""
    if agreement.collapsed_at is not None:
        raise DomainRuleError(
            "agreement-already-collapsed",
            f"agreement {agreement.agreement_id!r} collapsed at "
            f"{agreement.collapsed_at.isoformat()}",
        )
    withdrawn = agreement.withdrawn_at
    if withdrawn is not None:
        raise DomainRuleError(
            "agreement-withdrawn",
            f"agreement {agreement.agreement_id!r} ended at {withdrawn.isoformat()}: every "
            "party bound by it has withdrawn",
        )


def _check_repudiation(state: ConflictState, event: types.AgreementRepudiated) -> None:
    """Only a party still bound leaves, once, from an agreement that has not ended by then
    (collapsed, every party gone, or past its end); and another party must have been bound by
    what a party says it never agreed to, or it was never anything (a correction says that).
    Each holds whatever the order the departures are recorded in, as long as each comes after
    its agreement and not every party says it never agreed."""
    data = event.data
    agreement = known_agreement(state, data.agreement_id)
    party = agreement.party(data.party)
    if party is None:
        raise DomainRuleError(
            "not-a-party",
            f"{data.party!r} is not a party of agreement {agreement.agreement_id!r} "
            f"(parties: {', '.join(agreement.parties)})",
        )
    left = agreement.departed(party)
    if left is not None:
        raise DomainRuleError(
            "already-repudiated",
            f"{party!r} has "
            + ("said it never agreed to" if left.never_agreed else "withdrawn from")
            + f" agreement {agreement.agreement_id!r} already",
        )
    if party not in agreement.binding():
        raise DomainRuleError(
            "not-bound",
            f"{party!r} never bound itself by {agreement.agreement_id!r}: it is declared by "
            f"{agreement.declared_by!r} toward it",
        )
    _check_not_ended(agreement)
    if event.occurred_at < agreement.signed_at:
        raise DomainRuleError(
            "repudiation-before-signing",
            f"agreement {agreement.agreement_id!r} was signed at "
            f"{agreement.signed_at.isoformat()}, after this repudiation",
        )
    if agreement.state_at(event.occurred_at) == "expired":
        raise DomainRuleError(
            "agreement-ended",
            f"agreement {agreement.agreement_id!r} had ended by {event.occurred_at.isoformat()}",
        )
    if data.never_agreed and all(
        (other := agreement.departed(p)) is not None and other.never_agreed
        for p in agreement.binding()
        if p != party
    ):
        raise DomainRuleError(
            "nobody-bound",
            f"no party of {agreement.agreement_id!r} but {party!r} was ever bound by it: a "
            "commitment nobody made is not repudiated (correct the event that recorded it)",
        )


def _check_allegation(state: ConflictState, event: types.ViolationAlleged) -> None:
    """An allegation naming no agreement is always accepted: which agreement it belongs to
    (if any) is decided when a view is read. One naming an agreement must accuse a party."""
    _check_end(event.occurred_at, event.data.ended_at)
    if event.data.agreement_id is None:
        return
    agreement = known_agreement(state, event.data.agreement_id)
    if agreement.party(event.data.accused) is None:
        raise DomainRuleError(
            "accused-not-a-party",
            f"{event.data.accused!r} is not a party of agreement {agreement.agreement_id!r} "
            f"(parties: {', '.join(agreement.parties)})",
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
            _check_term(target, new.effective_at, new.expires_at)
            _check_milestones(target, new.milestones)
            _check_kept_milestones(state, new.agreement_id, new.milestones)
        case types.AgreementCollapsed(data=old), types.AgreementCollapsed(data=new):
            _same_identity(target, "agreement_id", old.agreement_id, new.agreement_id)
        case types.CeasefireDeclared(data=old), types.CeasefireDeclared(data=new):
            _same_identity(target, "agreement_id", old.agreement_id, new.agreement_id)
            if (old.declared_by, old.toward) != (new.declared_by, new.toward):
                raise DomainRuleError(
                    "correction-changes-parties",
                    "a correction keeps a declaration's parties; allegations are counted by them",
                )
            _check_term(target, new.effective_at, new.expires_at)
            _check_milestones(target, new.milestones)
            _check_kept_milestones(state, new.agreement_id, new.milestones)
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
            _check_allegation(state, corrected)
        case _, types.ViolationsReported():
            _check_report(state, corrected)


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
