"""The rules of agreements and their milestones: a new agreement's identity and term, an
extension, a repudiation, and the milestones a signing sets and a ``milestone.*`` event names.

``events.model.rules`` calls them on a new event, and again on the data a correction of a
signing or a declaration sets.
"""

from __future__ import annotations

from datetime import datetime

from events.model import types
from events.model.agreement_data import Milestone
from events.model.errors import DomainRuleError
from events.model.milestones import MilestoneState
from events.model.state import AgreementState, ConflictState, known_agreement
from events.model.types import Event

__all__ = [
    "check_extension",
    "check_kept_milestones",
    "check_milestones",
    "check_new_agreement",
    "check_not_ended",
    "check_repudiation",
    "check_term",
    "named_milestone",
]


def named_milestone(
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


def check_milestones(event: Event, milestones: tuple[Milestone, ...] | None) -> None:
    """Every milestone a signing or a declaration sets is due after it."""
    for milestone in milestones or ():
        if milestone.due_at <= event.occurred_at:
            raise DomainRuleError(
                "milestone-due-before-signing",
                f"milestone {milestone.milestone_id!r} is due at "
                f"{milestone.due_at.isoformat()}, not later than the signing (occurred_at)",
            )


def check_kept_milestones(
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


def check_new_agreement(
    state: ConflictState, event: Event, agreement_id: str, effective_at: datetime | None
) -> None:
    """A new agreement's id is not taken in the conflict, and it binds no earlier than it is
    made."""
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


def check_term(event: Event, effective_at: datetime | None, expires_at: datetime | None) -> None:
    """A fixed term ends after it starts (its effective_at, or the signing when none is given)."""
    if expires_at is not None and expires_at <= (effective_at or event.occurred_at):
        raise DomainRuleError(
            "expires-before-effective",
            "expires_at must be later than effective_at (or the signing when none is given)",
        )


def check_extension(
    state: ConflictState, event: types.AgreementExtended, agreement_id: str, expires_at: datetime
) -> None:
    """An extension moves the end of a fixed term, still running, to a later one."""
    agreement = known_agreement(state, agreement_id)
    check_not_ended(agreement)
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


def check_not_ended(agreement: AgreementState) -> None:
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


def check_repudiation(state: ConflictState, event: types.AgreementRepudiated) -> None:
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
    check_not_ended(agreement)
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
