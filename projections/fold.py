"""The pure fold of one conflict's events: rules, state and the row changes each event makes.

``check`` says whether an event may be appended to a conflict in a given state (the domain
rules, raised as ``DomainRuleError`` naming the rule). ``apply`` folds a recorded event into the
next state and returns the row changes it makes to the projection tables. Both are pure: the
append path and the replay call the same functions, so they cannot drift.

The state holds only what the rules need (agreements and mission ids), so it stays small and
can be cached between appends; allegations live only in the projection tables.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from uuid import UUID

from events.envelope import Recorded
from events.errors import DomainRuleError
from events.types import (
    AgreementCollapsed,
    AgreementSigned,
    Event,
    MissionDispatched,
    ViolationAlleged,
)
from projections.changes import Changes, Row

__all__ = [
    "AgreementState",
    "ConflictState",
    "agreement_in_effect",
    "apply",
    "check",
    "latest_signed",
]


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
        folded = name.casefold()
        return next((p for p in self.parties if p.casefold() == folded), None)

    def row(self, conflict: str, known_from: datetime) -> Row:
        return {
            "conflict": conflict,
            "agreement_id": self.agreement_id,
            "parties": json.dumps(list(self.parties), ensure_ascii=False),
            "mediators": json.dumps(list(self.mediators), ensure_ascii=False),
            "kind": self.kind,
            "terms": self.terms,
            "signed_at": self.signed_at,
            "effective_at": self.effective_at,
            "collapsed_at": self.collapsed_at,
            "collapse_reason": self.collapse_reason,
            "version": self.version,
            "event_id": self.event_id,
            "known_from": known_from,
            "known_until": None,
        }


@dataclass(frozen=True, slots=True)
class ConflictState:
    conflict: str
    version: int = 0
    agreements: Mapping[str, AgreementState] = field(default_factory=dict)
    missions: frozenset[str] = frozenset()


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
    signed = [a for a in agreements if a.signed_at <= at]
    return max(signed, key=lambda a: (a.signed_at, a.version), default=None)


def check(state: ConflictState, event: Event) -> None:
    """Raise ``DomainRuleError`` when ``event`` may not follow ``state``."""
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
            agreement = _known(state, data.agreement_id)
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
        case ViolationAlleged(data=data):
            agreement = _agreement_of(state, event)
            if agreement.party(data.accused) is None:
                raise DomainRuleError(
                    "accused-not-a-party",
                    f"{data.accused!r} is not a party of agreement {agreement.agreement_id!r} "
                    f"(parties: {', '.join(agreement.parties)})",
                )
        case MissionDispatched(data=data):
            if data.mission_id in state.missions:
                raise DomainRuleError(
                    "mission-exists",
                    f"mission {data.mission_id!r} is already recorded in {state.conflict!r}",
                )


def apply(state: ConflictState, event: Recorded) -> tuple[ConflictState, Changes]:
    """Fold one recorded event (already checked) into the next state and its row changes."""
    changes = Changes()
    known_from = event.recorded_at
    conflict = state.conflict
    match event:
        case AgreementSigned(data=data):
            agreement = AgreementState(
                agreement_id=data.agreement_id,
                parties=data.parties,
                mediators=data.mediators,
                kind=data.kind,
                terms=data.terms,
                signed_at=event.occurred_at,
                effective_at=data.effective_at or event.occurred_at,
                collapsed_at=None,
                collapse_reason=None,
                version=event.version,
                event_id=event.id,
            )
            changes.insert("proj_agreements", agreement.row(conflict, known_from))
            state = replace(state, agreements={**state.agreements, data.agreement_id: agreement})
        case AgreementCollapsed(data=data):
            agreement = replace(
                state.agreements[data.agreement_id],
                collapsed_at=event.occurred_at,
                collapse_reason=data.reason,
            )
            key = {"conflict": conflict, "agreement_id": data.agreement_id}
            changes.close("proj_agreements", key, known_from)
            changes.insert("proj_agreements", agreement.row(conflict, known_from))
            state = replace(state, agreements={**state.agreements, data.agreement_id: agreement})
        case ViolationAlleged(data=data):
            agreement = _agreement_of(state, event)
            changes.insert(
                "proj_allegations",
                {
                    "event_id": event.id,
                    "conflict": conflict,
                    "version": event.version,
                    "agreement_id": agreement.agreement_id,
                    "agreement_implicit": data.agreement_id is None,
                    "alleged_by": agreement.party(data.alleged_by) or data.alleged_by,
                    "accused": agreement.party(data.accused) or data.accused,
                    "incidents": data.incidents,
                    "occurred_at": event.occurred_at,
                    "location": data.location,
                    "description": data.description,
                    "casualties_claimed": (
                        None
                        if data.casualties_claimed is None
                        else json.dumps(data.casualties_claimed)
                    ),
                    "source": event.source.model_dump_json(exclude_none=True),
                    "retracted": False,
                    "known_from": known_from,
                    "known_until": None,
                },
            )
        case MissionDispatched(data=data):
            changes.insert(
                "proj_missions",
                {
                    "conflict": conflict,
                    "mission_id": data.mission_id,
                    "organization": data.organization,
                    "head": data.head,
                    "purpose": data.purpose,
                    "expected_arrival": data.expected_arrival,
                    "dispatched_at": event.occurred_at,
                    "version": event.version,
                    "source": event.source.model_dump_json(exclude_none=True),
                    "known_from": known_from,
                    "known_until": None,
                },
            )
            state = replace(state, missions=state.missions | {data.mission_id})
    return replace(state, version=event.version), changes


def _known(state: ConflictState, agreement_id: str) -> AgreementState:
    agreement = state.agreements.get(agreement_id)
    if agreement is None:
        raise DomainRuleError(
            "unknown-agreement",
            f"no agreement {agreement_id!r} is recorded in conflict {state.conflict!r}",
        )
    return agreement


def _agreement_of(state: ConflictState, event: ViolationAlleged) -> AgreementState:
    """An allegation belongs to the agreement it names or, when it names none, to the one in
    effect when it occurred: by occurred_at, not by when it was recorded."""
    if event.data.agreement_id is not None:
        return _known(state, event.data.agreement_id)
    agreement = agreement_in_effect(state.agreements, event.occurred_at)
    if agreement is None:
        raise DomainRuleError(
            "no-agreement-in-effect",
            f"no agreement was in effect in {state.conflict!r} at "
            f"{event.occurred_at.isoformat()}; name one with data.agreement_id",
        )
    return agreement
