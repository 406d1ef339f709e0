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

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from events.envelope import Recorded
from events.errors import DomainRuleError
from events.types import (
    CORRECTABLE_DATA,
    AllegationRetracted,
    Event,
    EventCorrected,
    ViolationAlleged,
)

__all__ = [
    "NAMING_TYPES",
    "AgreementState",
    "ConflictState",
    "Lookup",
    "agreement_in_effect",
    "agreement_of",
    "current_version",
    "known_agreement",
    "latest_signed",
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
class AgreementState:
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


def target_of(event: Event) -> UUID | None:
    """The earlier event a retraction or a correction names; None for other events."""
    if event.type not in NAMING_TYPES:  # the type string first: isinstance on a pydantic
        return None  # model class goes through ABCMeta, and this runs for every event folded
    match event:
        case AllegationRetracted(data=data):
            return data.allegation_id
        case EventCorrected(data=data):
            return data.event_id
    return None


#: The types of the events that name an earlier one (see ``references``).
NAMING_TYPES = frozenset({"allegation.retracted", "event.corrected"})


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
    return event.model_copy(update={"data": CORRECTABLE_DATA[event.type].model_validate(data)})


def agreement_in_effect(
    agreements: Mapping[str, AgreementState], at: datetime
) -> AgreementState | None:
    """The latest agreement signed at or before ``at``, if it is in effect then: effective
    and not yet collapsed. A later agreement still pending supersedes the earlier one."""
    latest = latest_signed(agreements.values(), at)
    if latest is None or latest.effective_at > at:
        return None
    if latest.collapsed_at is not None and latest.collapsed_at <= at:
        return None
    return latest


def latest_signed(agreements: Iterable[AgreementState], at: datetime) -> AgreementState | None:
    # A loop rather than max() over a filtered list: it runs for every allegation folded, over
    # a conflict's few agreements. Ties on signed_at go to the later version, as max() would.
    latest: AgreementState | None = None
    for agreement in agreements:
        if agreement.signed_at <= at and (
            latest is None
            or agreement.signed_at > latest.signed_at
            or (agreement.signed_at == latest.signed_at and agreement.version > latest.version)
        ):
            latest = agreement
    return latest


def known_agreement(state: ConflictState, agreement_id: str) -> AgreementState:
    """The agreement ``agreement_id`` of this conflict; the rule's problem when there is none."""
    agreement = state.agreements.get(agreement_id)
    if agreement is None:
        raise DomainRuleError(
            "unknown-agreement",
            f"no agreement {agreement_id!r} is recorded in conflict {state.conflict!r}",
        )
    return agreement


def agreement_of(
    state: ConflictState, event: ViolationAlleged, *, lenient: bool = False
) -> AgreementState:
    """An allegation belongs to the agreement it names or, when it names none, to the one in
    effect when it occurred: by occurred_at, not by when it was recorded. ``lenient``: failing
    that, to the latest agreement signed before it."""
    if event.data.agreement_id is not None:
        return known_agreement(state, event.data.agreement_id)
    agreement = agreement_in_effect(state.agreements, event.occurred_at)
    if agreement is None and lenient:
        agreement = latest_signed(state.agreements.values(), event.occurred_at)
    if agreement is None:
        raise DomainRuleError(
            "no-agreement-in-effect",
            f"no agreement was in effect in {state.conflict!r} at "
            f"{event.occurred_at.isoformat()}; name one with data.agreement_id",
        )
    return agreement
