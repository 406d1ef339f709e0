"""The pure fold of one conflict's events: rules, state and the row changes each event makes.

``check`` says whether an event may be appended to a conflict in a given state (the domain
rules, raised as ``DomainRuleError`` naming the rule). ``apply`` folds a recorded event into the
next state and returns the row changes it makes to the projection tables. Both are pure: the
append path and the replay call the same functions, so they cannot drift.

The state holds only what the rules need (agreements, mission ids, which events were corrected
and which allegations retracted), so it stays small and can be cached between appends;
allegations live only in the projection tables.

A retraction or a correction names an earlier event. The fold reads that event (and its latest
correction) through a ``Lookup``: a function from event id to the stored event. The log never
changes, so a fold that reads through it is still a function of the log alone. Callers fetch
what ``references`` names before folding: the store in one query per append, the replay once
per batch.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from uuid import UUID

from events.envelope import Recorded, RecordedMissionDispatched, RecordedViolationAlleged
from events.errors import DomainRuleError
from events.types import (
    CORRECTABLE_DATA,
    AgreementCollapsed,
    AgreementSigned,
    AllegationRetracted,
    Event,
    EventCorrected,
    MissionDispatched,
    Source,
    ViolationAlleged,
    data_of,
)
from projections.changes import Changes, Row

__all__ = [
    "NAMING_TYPES",
    "AgreementState",
    "ConflictState",
    "Lookup",
    "agreement_in_effect",
    "apply",
    "check",
    "current_version",
    "latest_signed",
    "no_lookup",
    "references",
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
    return _with_data(original, correction.data.data)


def _with_data(event: Recorded, data: Mapping[str, object]) -> Recorded:
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
    agreement = _agreement_of(state, event)
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
    corrected = _with_data(target, data.data)
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


def apply(
    state: ConflictState,
    event: Recorded,
    lookup: Lookup = no_lookup,
    *,
    into: Changes | None = None,
) -> tuple[ConflictState, Changes]:
    """Fold one recorded event (already checked) into the next state and its row changes.
    ``lookup`` must find what ``references(state, event)`` names.

    Given ``into``, the row changes are added to it and it is returned: what ``merge`` of this
    event's own changes would make of it (no event closes a row it inserts itself), without a
    ``Changes`` per event, for callers that fold thousands of events into one batch."""
    changes = Changes() if into is None else into
    known_from = event.recorded_at
    conflict = state.conflict
    match event:  # the commonest first: each case is an isinstance check through ABCMeta
        case ViolationAlleged():
            changes.insert("proj_allegations", _allegation_row(state, event, known_from))
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
        case MissionDispatched(data=data):
            changes.insert("proj_missions", _mission_row(conflict, event, known_from))
            state = replace(state, missions=state.missions | {data.mission_id})
        case AllegationRetracted(data=data):
            target = _required(state, data.allegation_id, lookup)
            assert isinstance(target, ViolationAlleged)
            changes.close("proj_allegations", {"event_id": target.id}, known_from)
            changes.insert(
                "proj_allegations", _allegation_row(state, target, known_from, retracted=True)
            )
            state = replace(state, retracted=state.retracted | {target.id})
        case EventCorrected(data=data):
            target = _required(state, data.event_id, lookup)
            state = _apply_correction(state, _with_data(target, data.data), known_from, changes)
            if target.id in state.revisions:
                changes.close("proj_corrections", {"event_id": target.id}, known_from)
            changes.insert(
                "proj_corrections",
                {
                    "event_id": target.id,
                    "conflict": conflict,
                    "correction_id": event.id,
                    "event_type": target.type,
                    "reason": data.reason,
                    "version": event.version,
                    "occurred_at": event.occurred_at,
                    "known_from": known_from,
                    "known_until": None,
                },
            )
            state = replace(state, revisions={**state.revisions, target.id: event.id})
    return _at_version(state, event.version), changes


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
    return following


_new_state = object.__new__
_set_conflict, _set_version, _set_agreements, _set_missions, _set_revisions, _set_retracted = (
    getattr(ConflictState, name).__set__
    for name in ("conflict", "version", "agreements", "missions", "revisions", "retracted")
)


def _apply_correction(
    state: ConflictState, corrected: Recorded, known_from: datetime, changes: Changes
) -> ConflictState:
    """Close the current row version of the corrected thing and insert one with the new data.
    The corrected event keeps its occurred_at, its version and its source."""
    conflict = state.conflict
    match corrected:
        case ViolationAlleged():
            changes.close("proj_allegations", {"event_id": corrected.id}, known_from)
            changes.insert("proj_allegations", _allegation_row(state, corrected, known_from))
        case MissionDispatched(data=data):
            key = {"conflict": conflict, "mission_id": data.mission_id}
            changes.close("proj_missions", key, known_from)
            changes.insert("proj_missions", _mission_row(conflict, corrected, known_from))
        case AgreementSigned(data=data):
            agreement = replace(
                state.agreements[data.agreement_id],
                mediators=data.mediators,
                kind=data.kind,
                terms=data.terms,
                effective_at=data.effective_at or corrected.occurred_at,
            )
            state = _replace_agreement(state, agreement, known_from, changes)
        case AgreementCollapsed(data=data):
            agreement = replace(state.agreements[data.agreement_id], collapse_reason=data.reason)
            state = _replace_agreement(state, agreement, known_from, changes)
    return state


def _replace_agreement(
    state: ConflictState, agreement: AgreementState, known_from: datetime, changes: Changes
) -> ConflictState:
    key = {"conflict": state.conflict, "agreement_id": agreement.agreement_id}
    changes.close("proj_agreements", key, known_from)
    changes.insert("proj_agreements", agreement.row(state.conflict, known_from))
    return replace(state, agreements={**state.agreements, agreement.agreement_id: agreement})


def _allegation_row(
    state: ConflictState,
    event: RecordedViolationAlleged,
    known_from: datetime,
    *,
    retracted: bool = False,
) -> Row:
    data = event.data
    # A retraction must always go through, so it files the allegation under the latest
    # agreement signed before it even when a corrected effective_at left none in effect.
    agreement = _agreement_of(state, event, lenient=retracted)
    return {
        "event_id": event.id,
        "conflict": state.conflict,
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
            None if data.casualties_claimed is None else data.casualties_claimed.model_dump_json()
        ),
        "source": _source_json(event.source),
        "retracted": retracted,
        "known_from": known_from,
        "known_until": None,
    }


def _mission_row(conflict: str, event: RecordedMissionDispatched, known_from: datetime) -> Row:
    data = event.data
    return {
        "conflict": conflict,
        "mission_id": data.mission_id,
        "organization": data.organization,
        "head": data.head,
        "purpose": data.purpose,
        "expected_arrival": data.expected_arrival,
        "dispatched_at": event.occurred_at,
        "version": event.version,
        "source": _source_json(event.source),
        "known_from": known_from,
        "known_until": None,
    }


#: The JSON of the last few ``Source`` objects seen, by identity (see ``_source_json``).
_SOURCE_JSON: dict[int, tuple[Source, str]] = {}
_SOURCE_JSON_SIZE = 1024


def _source_json(source: Source) -> str:
    """``source.model_dump_json(exclude_none=True)``, remembered for the very same object: a
    decoder of the log hands out one ``Source`` per distinct stored text (a log has few), so a
    replay dumps each once instead of once per event. The object is kept with its JSON, so its
    id cannot be reused while the entry exists."""
    entry = _SOURCE_JSON.get(id(source))
    if entry is not None and entry[0] is source:
        return entry[1]
    text = source.model_dump_json(exclude_none=True)
    if len(_SOURCE_JSON) >= _SOURCE_JSON_SIZE:
        _SOURCE_JSON.clear()
    _SOURCE_JSON[id(source)] = (source, text)
    return text


def _required(state: ConflictState, event_id: UUID, lookup: Lookup) -> Recorded:
    target = current_version(state, event_id, lookup)
    if target is None:
        raise LookupError(f"fold the event after fetching references(): {event_id} is missing")
    return target


def _known(state: ConflictState, agreement_id: str) -> AgreementState:
    agreement = state.agreements.get(agreement_id)
    if agreement is None:
        raise DomainRuleError(
            "unknown-agreement",
            f"no agreement {agreement_id!r} is recorded in conflict {state.conflict!r}",
        )
    return agreement


def _agreement_of(
    state: ConflictState, event: ViolationAlleged, *, lenient: bool = False
) -> AgreementState:
    """An allegation belongs to the agreement it names or, when it names none, to the one in
    effect when it occurred: by occurred_at, not by when it was recorded. ``lenient``: failing
    that, to the latest agreement signed before it."""
    if event.data.agreement_id is not None:
        return _known(state, event.data.agreement_id)
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
