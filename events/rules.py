"""The domain rules: whether an event may be appended to a conflict in a given state.

``check`` raises ``DomainRuleError`` naming the rule an event breaks; the API answers it as a
422 problem. It is pure, like the fold: the append path, ``load`` and ``import`` call it on the
same state the fold keeps.
"""

from __future__ import annotations

from uuid import UUID

from events.envelope import Recorded
from events.errors import DomainRuleError
from events.state import (
    ConflictState,
    Lookup,
    agreement_of,
    current_version,
    known_agreement,
    no_lookup,
    with_data,
)
from events.types import (
    CORRECTABLE_DATA,
    AgreementCollapsed,
    AgreementSigned,
    AllegationRetracted,
    Event,
    EventCorrected,
    MissionDispatched,
    ViolationAlleged,
    data_of,
)

__all__ = ["check"]


def check(state: ConflictState, event: Event, lookup: Lookup = no_lookup) -> None:
    """Raise ``DomainRuleError`` when ``event`` may not follow ``state``. ``lookup`` must find
    what ``references(state, event)`` names."""
    match event:
        case AgreementSigned(data=data):
            if data.agreement_id in state.agreements:
                raise DomainRuleError(
                    "agreement-exists",
                    f"agreement {data.agreement_id!r} is already recorded in {state.conflict!r}",
                )
            if data.effective_at is not None and data.effective_at < event.occurred_at:
                raise DomainRuleError(
                    "effective-before-signed",
                    "effective_at must not be earlier than the signing (occurred_at)",
                )
        case AgreementCollapsed(data=data):
            agreement = known_agreement(state, data.agreement_id)
            if agreement.collapsed_at is not None:
                raise DomainRuleError(
                    "agreement-already-collapsed",
                    f"agreement {data.agreement_id!r} collapsed at "
                    f"{agreement.collapsed_at.isoformat()}",
                )
            if event.occurred_at < agreement.signed_at:
                raise DomainRuleError(
                    "collapse-before-signing",
                    f"agreement {data.agreement_id!r} was signed at "
                    f"{agreement.signed_at.isoformat()}, after this collapse",
                )
        case ViolationAlleged():
            _check_allegation(state, event)
        case MissionDispatched(data=data):
            if data.mission_id in state.missions:
                raise DomainRuleError(
                    "mission-exists",
                    f"mission {data.mission_id!r} is already recorded in {state.conflict!r}",
                )
        case AllegationRetracted(data=data):
            target = _target(state, data.allegation_id, lookup)
            if not isinstance(target, ViolationAlleged):
                raise DomainRuleError(
                    "not-an-allegation",
                    f"event {target.id} is a {target.type}; only an allegation is retracted",
                )
            if target.id in state.retracted:
                raise DomainRuleError(
                    "already-retracted", f"allegation {target.id} is retracted already"
                )
            if data.retracted_by.casefold() != target.data.alleged_by.casefold():
                raise DomainRuleError(
                    "not-the-alleging-party",
                    f"allegation {target.id} was made by {target.data.alleged_by!r}; only that "
                    f"party may retract it, not {data.retracted_by!r}",
                )
        case EventCorrected(data=data):
            _check_correction(state, _target(state, data.event_id, lookup), event)


def _check_allegation(state: ConflictState, event: ViolationAlleged) -> None:
    agreement = agreement_of(state, event)
    if agreement.party(event.data.accused) is None:
        raise DomainRuleError(
            "accused-not-a-party",
            f"{event.data.accused!r} is not a party of agreement {agreement.agreement_id!r} "
            f"(parties: {', '.join(agreement.parties)})",
        )


def _check_correction(state: ConflictState, target: Recorded, event: EventCorrected) -> None:
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
        case AgreementSigned(data=old), AgreementSigned(data=new):
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
        case AgreementCollapsed(data=old), AgreementCollapsed(data=new):
            _same_identity(target, "agreement_id", old.agreement_id, new.agreement_id)
        case MissionDispatched(data=old), MissionDispatched(data=new):
            _same_identity(target, "mission_id", old.mission_id, new.mission_id)
        case _, ViolationAlleged():
            _check_allegation(state, corrected)


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
