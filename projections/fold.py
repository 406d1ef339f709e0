"""The pure fold of one conflict's events: the next state and the row changes each makes.

``apply`` folds a recorded event (already checked by ``events.model.rules.check``) into the next
state and returns the row changes it makes to the projection tables. It is pure: the append
path and the replay call the same function, so they cannot drift. The state it folds into,
and the lookup through which it reads the events a retraction or a correction names, are in
``events.model.state``.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime
from uuid import UUID

from events.model.envelope import Recorded, RecordedMissionDispatched, RecordedViolationAlleged
from events.model.state import (
    AgreementState,
    ConflictState,
    Lookup,
    current_version,
    no_lookup,
    with_data,
)
from events.model.types import (
    AgreementCollapsed,
    AgreementExtended,
    AgreementSigned,
    AllegationDenied,
    AllegationRetracted,
    CeasefireDeclared,
    EventCorrected,
    MissionDispatched,
    MissionEnded,
    ViolationAlleged,
)
from events.model.values import Source
from projections.changes import Changes, Row

__all__ = ["apply"]


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
        case AgreementSigned() | CeasefireDeclared():
            agreement = _agreement_of_event(event)
            changes.insert("proj_agreements", _agreement_row(agreement, conflict, known_from))
            state = replace(
                state, agreements={**state.agreements, agreement.agreement_id: agreement}
            )
        case AgreementCollapsed(data=data):
            agreement = replace(
                state.agreements[data.agreement_id],
                collapsed_at=event.occurred_at,
                collapse_reason=data.reason,
            )
            key = {"conflict": conflict, "agreement_id": data.agreement_id}
            changes.close("proj_agreements", key, known_from)
            changes.insert("proj_agreements", _agreement_row(agreement, conflict, known_from))
            state = replace(state, agreements={**state.agreements, data.agreement_id: agreement})
        case AgreementExtended(data=extension):
            extended = state.agreements[extension.agreement_id]
            agreement = replace(
                extended,
                extensions=(*extended.extensions, (event.occurred_at, extension.expires_at)),
            )
            changes.insert(
                "proj_extensions",
                {
                    "event_id": event.id,
                    "conflict": conflict,
                    "agreement_id": extension.agreement_id,
                    "occurred_at": event.occurred_at,
                    "expires_at": extension.expires_at,
                    "reason": extension.reason,
                    "version": event.version,
                    "known_from": known_from,
                    "known_until": None,
                },
            )
            state = replace(
                state, agreements={**state.agreements, agreement.agreement_id: agreement}
            )
        case MissionDispatched(data=data):
            changes.insert("proj_missions", _mission_row(state, event, known_from))
            state = replace(state, missions=state.missions | {data.mission_id})
        case MissionEnded(data=ended):
            changes.insert(
                "proj_mission_ends",
                {
                    "event_id": event.id,
                    "conflict": conflict,
                    "mission_id": ended.mission_id,
                    "ended_at": event.occurred_at,
                    "reason": ended.reason,
                    "version": event.version,
                    "known_from": known_from,
                    "known_until": None,
                },
            )
            state = replace(state, mission_ends=state.mission_ends | {ended.mission_id})
        case AllegationRetracted(data=data):
            target = _required(state, data.allegation_id, lookup)
            assert isinstance(target, ViolationAlleged)
            state = replace(
                state,
                retracted=state.retracted | {target.id},
                retracted_at={**state.retracted_at, target.id: event.occurred_at},
            )
            changes.close("proj_allegations", {"event_id": target.id}, known_from)
            changes.insert("proj_allegations", _allegation_row(state, target, known_from))
        case AllegationDenied(data=denial):
            target = _required(state, denial.allegation_id, lookup)
            assert isinstance(target, ViolationAlleged)
            denials = {**state.denials, target.id: (event.occurred_at, denial.denied_by)}
            state = replace(state, denials=denials)
            changes.close("proj_allegations", {"event_id": target.id}, known_from)
            changes.insert("proj_allegations", _allegation_row(state, target, known_from))
        case EventCorrected(data=data):
            target = _required(state, data.event_id, lookup)
            state = _apply_correction(state, with_data(target, data.data), known_from, changes)
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
    _set_retracted_at(following, state.retracted_at)
    _set_denials(following, state.denials)
    _set_mission_ends(following, state.mission_ends)
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
    )
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
            changes.insert("proj_missions", _mission_row(state, corrected, known_from))
        case AgreementSigned() | CeasefireDeclared():
            fresh = _agreement_of_event(corrected)
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
    changes.insert("proj_agreements", _agreement_row(agreement, state.conflict, known_from))
    return replace(state, agreements={**state.agreements, agreement.agreement_id: agreement})


def _agreement_of_event(event: Recorded) -> AgreementState:
    """The agreement an ``agreement.signed`` or a ``ceasefire.declared`` makes."""
    declared_by: str | None
    match event:
        case CeasefireDeclared(data=declared):
            scope, parties = declared.scope, (declared.declared_by, *declared.toward)
            mediators: tuple[str, ...] = ()
            effective_at, expires_at = declared.effective_at, declared.expires_at
            kind, terms, declared_by = declared.kind, declared.terms, declared.declared_by
            agreement_id = declared.agreement_id
        case AgreementSigned(data=data):
            scope, parties, mediators = data.scope, data.parties, data.mediators
            effective_at, expires_at = data.effective_at, data.expires_at
            kind, terms, declared_by = data.kind, data.terms, None
            agreement_id = data.agreement_id
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
    )


def _agreement_row(agreement: AgreementState, conflict: str, known_from: datetime) -> Row:
    return {
        "conflict": conflict,
        "agreement_id": agreement.agreement_id,
        "parties": json.dumps(list(agreement.parties), ensure_ascii=False),
        "mediators": json.dumps(list(agreement.mediators), ensure_ascii=False),
        "kind": agreement.kind,
        "terms": agreement.terms,
        "signed_at": agreement.signed_at,
        "effective_at": agreement.effective_at,
        "collapsed_at": agreement.collapsed_at,
        "collapse_reason": agreement.collapse_reason,
        "version": agreement.version,
        "event_id": agreement.event_id,
        "known_from": known_from,
        "known_until": None,
        "expires_at": agreement.expires_at,
        "scope_level": agreement.scope_level,
        "scope_area": agreement.scope_area,
        "unilateral": agreement.unilateral,
        "declared_by": agreement.declared_by,
    }


def _allegation_row(
    state: ConflictState, event: RecordedViolationAlleged, known_from: datetime
) -> Row:
    """The allegation as recorded, with the agreement it names (if any). Which agreement one
    naming none belongs to is not decided here but when a view is read
    (``projections.standing``), so the order events were recorded in cannot change it."""
    data = event.data
    named = None if data.agreement_id is None else state.agreements.get(data.agreement_id)
    denial = state.denials.get(event.id)
    retracted_at = state.retracted_at.get(event.id)
    return {
        "event_id": event.id,
        "conflict": state.conflict,
        "version": event.version,
        "agreement_id": data.agreement_id,
        "agreement_implicit": data.agreement_id is None,
        "alleged_by": (named and named.party(data.alleged_by)) or data.alleged_by,
        "accused": (named and named.party(data.accused)) or data.accused,
        "incidents": data.incidents,
        "occurred_at": event.occurred_at,
        "location": data.location,
        "description": data.description,
        "casualties_claimed": (
            None if data.casualties_claimed is None else data.casualties_claimed.model_dump_json()
        ),
        "source": _source_json(event.source),
        "retracted": retracted_at is not None,
        "known_from": known_from,
        "known_until": None,
        "accused_key": data.accused.casefold(),
        "retracted_at": retracted_at,
        "denied_at": None if denial is None else denial[0],
        "denied_by": None if denial is None else denial[1],
    }


def _mission_row(
    state: ConflictState, event: RecordedMissionDispatched, known_from: datetime
) -> Row:
    data = event.data
    return {
        "conflict": state.conflict,
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
        "agreement_id": data.agreement_id,
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
