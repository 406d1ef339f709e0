"""The pure fold of one conflict's events: the next state and the row changes each makes.

``apply`` folds a recorded event (already checked by ``events.rules.check``) into the next
state and returns the row changes it makes to the projection tables. It is pure: the append
path and the replay call the same function, so they cannot drift. The state it folds into,
and the lookup through which it reads the events a retraction or a correction names, are in
``events.state``.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime
from uuid import UUID

from events.envelope import Recorded, RecordedMissionDispatched, RecordedViolationAlleged
from events.state import (
    AgreementState,
    ConflictState,
    Lookup,
    agreement_of,
    current_version,
    no_lookup,
    with_data,
)
from events.types import (
    AgreementCollapsed,
    AgreementSigned,
    AllegationRetracted,
    EventCorrected,
    MissionDispatched,
    Source,
    ViolationAlleged,
)
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
            changes.insert("proj_agreements", _agreement_row(agreement, conflict, known_from))
            state = replace(state, agreements={**state.agreements, data.agreement_id: agreement})
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
    changes.insert("proj_agreements", _agreement_row(agreement, state.conflict, known_from))
    return replace(state, agreements={**state.agreements, agreement.agreement_id: agreement})


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
    }


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
    agreement = agreement_of(state, event, lenient=retracted)
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
