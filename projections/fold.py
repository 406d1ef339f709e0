"""The projection rows each event makes: the read model's half of the fold.

The state transition is the domain's (``events.model.evolve.evolve``); this module derives the
row changes a transition makes to the projection tables, from the states before and after it.
``apply`` is both, for the replay (one event at a time into a batch's changes); the append
decides through ``events.model.evolve.decide`` and collects the same rows with ``rows_into``.
Both are pure, and the append path and the replay call the same functions, so they cannot
drift.
"""

from __future__ import annotations

import json
from datetime import datetime

from events.model.agreement_data import MilestoneExtendedData, MilestoneMetData
from events.model.envelope import (
    Recorded,
    RecordedMissionDispatched,
    RecordedViolationAlleged,
    RecordedViolationsReported,
)
from events.model.evolve import Observer, evolve, required
from events.model.state import (
    AgreementState,
    ConflictState,
    Lookup,
    LullState,
    no_lookup,
    with_data,
)
from events.model.types import (
    AgreementCollapsed,
    AgreementExtended,
    AgreementRepudiated,
    AgreementSigned,
    AllegationDenied,
    AllegationRetracted,
    CeasefireDeclared,
    ConflictDescribed,
    EventCorrected,
    IncidentEnded,
    LullEnded,
    LullObserved,
    MilestoneExtended,
    MilestoneMet,
    MissionDispatched,
    MissionEnded,
    ViolationAlleged,
    ViolationsReported,
)
from events.model.values import Source
from projections.changes import Changes, Row

__all__ = ["add_rows", "apply", "departures_json", "rows_into"]


def apply(
    state: ConflictState,
    event: Recorded,
    lookup: Lookup = no_lookup,
    *,
    into: Changes | None = None,
) -> tuple[ConflictState, Changes]:
    """Fold one recorded event (already checked) into the next state (``evolve``) and its row
    changes. ``lookup`` must find what ``references(state, event)`` names.

    Given ``into``, the row changes are added to it and it is returned: what ``merge`` of this
    event's own changes would make of it (no event closes a row it inserts itself), without a
    ``Changes`` per event, for callers that fold thousands of events into one batch."""
    changes = Changes() if into is None else into
    after = evolve(state, event, lookup)
    add_rows(state, event, after, lookup, changes)
    return after, changes


def rows_into(changes: Changes) -> Observer:
    """An observer of ``events.model.evolve.decide`` that adds each transition's rows to
    ``changes``: the append decides through the domain and collects its rows here."""

    def observe(
        before: ConflictState, event: Recorded, after: ConflictState, lookup: Lookup
    ) -> None:
        add_rows(before, event, after, lookup, changes)

    return observe


def add_rows(
    before: ConflictState,
    event: Recorded,
    after: ConflictState,
    lookup: Lookup,
    changes: Changes,
) -> None:
    """The row changes of one transition, from the states before and after ``event``."""
    known_from = event.recorded_at
    conflict = after.conflict
    if before.actors is not after.actors:
        _actor_rows(before, event, after, changes)
    match event:  # the commonest first: each case is an isinstance check through ABCMeta
        case ViolationAlleged():
            changes.insert("proj_allegations", _allegation_row(after, event, known_from))
        case AgreementSigned() | CeasefireDeclared():
            agreement = after.agreements[event.data.agreement_id]
            changes.insert("proj_agreements", _agreement_row(agreement, conflict, known_from))
            _milestone_rows(None, agreement, conflict, event, changes)
        case MilestoneExtended() | MilestoneMet():
            changes.insert("proj_milestone_updates", _milestone_update_row(event, conflict))
        case AgreementCollapsed(data=data) | AgreementRepudiated(data=data):
            # A repudiation replaces the agreement's row version from its recording on, as a
            # correction does: known_at before it reads the agreement as it was.
            _replace_agreement(after, after.agreements[data.agreement_id], known_from, changes)
        case AgreementExtended(data=extension):
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
        case MissionDispatched():
            changes.insert("proj_missions", _mission_row(after, event, known_from))
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
        case AllegationRetracted(data=retraction):
            target = required(before, retraction.allegation_id, lookup)
            assert isinstance(target, ViolationAlleged)
            changes.close("proj_allegations", {"event_id": target.id}, known_from)
            changes.insert("proj_allegations", _allegation_row(after, target, known_from))
        case AllegationDenied(data=denial):
            target = required(before, denial.allegation_id, lookup)
            assert isinstance(target, ViolationAlleged)
            changes.close("proj_allegations", {"event_id": target.id}, known_from)
            changes.insert("proj_allegations", _allegation_row(after, target, known_from))
        case IncidentEnded(data=ended):
            target = required(before, ended.allegation_id, lookup)
            assert isinstance(target, ViolationAlleged)
            changes.close("proj_allegations", {"event_id": target.id}, known_from)
            changes.insert("proj_allegations", _allegation_row(after, target, known_from))
        case ViolationsReported():
            changes.insert("proj_reports", _report_row(conflict, event, known_from))
        case ConflictDescribed(data=described):
            # A later description replaces the current one (closing none is a no-op).
            changes.close("proj_descriptions", {"conflict": conflict}, known_from)
            changes.insert(
                "proj_descriptions",
                {
                    "conflict": conflict,
                    "title": described.title,
                    "summary": described.summary,
                    "countries": json.dumps(list(described.countries)),
                    "region": described.region,
                    "event_id": event.id,
                    "version": event.version,
                    "known_from": known_from,
                    "known_until": None,
                },
            )
        case LullObserved(data=observed):
            lull = after.lulls[observed.lull_id]
            changes.insert("proj_lulls", _lull_row(lull, conflict, known_from))
        case LullEnded(data=ended):
            _replace_lull(after, after.lulls[ended.lull_id], known_from, changes)
        case EventCorrected(data=data):
            target = required(before, data.event_id, lookup)
            _correction_rows(before, after, with_data(target, data.data), known_from, changes)
            if target.id in before.revisions:
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


def _actor_rows(
    before: ConflictState, event: Recorded, after: ConflictState, changes: Changes
) -> None:
    """A row version for each actor ``event`` made or changed (named earlier, registered)."""
    was = before.actors.by_name
    for name, actor in after.actors.by_name.items():
        previous = was.get(name)
        if previous == actor:
            continue
        if previous is not None:
            changes.close(
                "proj_actors", {"conflict": after.conflict, "name": name}, event.recorded_at
            )
        changes.insert(
            "proj_actors",
            {
                "conflict": after.conflict,
                "name": name,
                "kind": actor.kind,
                "aliases": json.dumps(list(actor.aliases), ensure_ascii=False),
                "since": actor.since,
                "registered": actor.registered,
                "version": event.version,
                "event_id": event.id,
                "known_from": event.recorded_at,
                "known_until": None,
            },
        )


def _correction_rows(
    before: ConflictState,
    after: ConflictState,
    corrected: Recorded,
    known_from: datetime,
    changes: Changes,
) -> None:
    """Close the current row version of the corrected thing and insert one with the new data."""
    match corrected:
        case ViolationAlleged():
            changes.close("proj_allegations", {"event_id": corrected.id}, known_from)
            changes.insert("proj_allegations", _allegation_row(after, corrected, known_from))
        case MissionDispatched(data=data):
            key = {"conflict": after.conflict, "mission_id": data.mission_id}
            changes.close("proj_missions", key, known_from)
            changes.insert("proj_missions", _mission_row(after, corrected, known_from))
        case AgreementSigned() | CeasefireDeclared() | AgreementCollapsed() | AgreementRepudiated():
            agreement = after.agreements[corrected.data.agreement_id]
            _replace_agreement(after, agreement, known_from, changes)
            if not isinstance(corrected, AgreementCollapsed):
                was = before.agreements[agreement.agreement_id]
                _milestone_rows(was, agreement, after.conflict, corrected, changes, known_from)
        case MilestoneExtended() | MilestoneMet():
            changes.close("proj_milestone_updates", {"event_id": corrected.id}, known_from)
            row = _milestone_update_row(corrected, after.conflict) | {"known_from": known_from}
            changes.insert("proj_milestone_updates", row)
        case ViolationsReported():
            changes.close("proj_reports", {"event_id": corrected.id}, known_from)
            changes.insert("proj_reports", _report_row(after.conflict, corrected, known_from))
        case LullObserved() | LullEnded():
            _replace_lull(after, after.lulls[corrected.data.lull_id], known_from, changes)


def _replace_lull(
    state: ConflictState, lull: LullState, known_from: datetime, changes: Changes
) -> None:
    changes.close("proj_lulls", {"conflict": state.conflict, "lull_id": lull.lull_id}, known_from)
    changes.insert("proj_lulls", _lull_row(lull, state.conflict, known_from))


def _lull_row(lull: LullState, conflict: str, known_from: datetime) -> Row:
    return {
        "conflict": conflict,
        "lull_id": lull.lull_id,
        "parties": json.dumps(list(lull.parties), ensure_ascii=False),
        "observed_by": lull.observed_by,
        "statement": lull.statement,
        "observed_at": lull.observed_at,
        "ended_at": lull.ended_at,
        "end_reason": lull.end_reason,
        "version": lull.version,
        "event_id": lull.event_id,
        "known_from": known_from,
        "known_until": None,
    }


def _replace_agreement(
    state: ConflictState, agreement: AgreementState, known_from: datetime, changes: Changes
) -> None:
    key = {"conflict": state.conflict, "agreement_id": agreement.agreement_id}
    changes.close("proj_agreements", key, known_from)
    changes.insert("proj_agreements", _agreement_row(agreement, state.conflict, known_from))


def _milestone_rows(
    was: AgreementState | None,
    agreement: AgreementState,
    conflict: str,
    signing: Recorded,
    changes: Changes,
    known_from: datetime | None = None,
) -> None:
    """The agreement's milestones as its signing sets them: on a correction (``was``: the
    agreement before it) the earlier rows are closed and the corrected ones inserted."""
    known_from = signing.recorded_at if known_from is None else known_from
    for milestone in () if was is None else was.milestones:
        key = {
            "conflict": conflict,
            "agreement_id": agreement.agreement_id,
            "milestone_id": milestone.milestone_id,
        }
        changes.close("proj_milestones", key, known_from)
    for milestone in agreement.milestones:
        changes.insert(
            "proj_milestones",
            {
                "conflict": conflict,
                "agreement_id": agreement.agreement_id,
                "milestone_id": milestone.milestone_id,
                "description": milestone.description,
                "due_at": milestone.due_at,
                "version": signing.version,
                "event_id": signing.id,
                "known_from": known_from,
                "known_until": None,
            },
        )


def _milestone_update_row(event: Recorded, conflict: str) -> Row:
    """A ``milestone.extended`` or ``milestone.met`` as a row (a corrected one: its data)."""
    data = event.data
    assert isinstance(data, MilestoneExtendedData | MilestoneMetData)
    due_at: datetime | None = None
    reason: str | None = None
    statement: str | None = None
    if isinstance(data, MilestoneExtendedData):
        due_at, reason = data.due_at, data.reason
    else:
        statement = data.statement
    return {
        "event_id": event.id,
        "conflict": conflict,
        "agreement_id": data.agreement_id,
        "milestone_id": data.milestone_id,
        "type": event.type,
        "occurred_at": event.occurred_at,
        "due_at": due_at,
        "reason": reason,
        "statement": statement,
        "version": event.version,
        "known_from": event.recorded_at,
        "known_until": None,
    }


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
        "departures": departures_json(agreement),
        "departed_at": (agreement.departures[-1].occurred_at if agreement.departures else None),
    }


def departures_json(agreement: AgreementState) -> str | None:
    """The ``departures`` column: None when no party left, so every row an older log makes is
    what it always was."""
    if not agreement.departures:
        return None
    return json.dumps(
        [
            {
                "party": d.party,
                "never_agreed": d.never_agreed,
                "occurred_at": d.occurred_at.isoformat(),
                "statement": d.statement,
            }
            for d in agreement.departures
        ],
        ensure_ascii=False,
    )


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
    end = state.incident_ends.get(event.id)
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
            None
            if data.casualties_claimed is None
            else data.casualties_claimed.model_dump_json(exclude_none=True)
        ),
        "source": _source_json(event.source),
        "retracted": retracted_at is not None,
        "known_from": known_from,
        "known_until": None,
        "accused_key": data.accused.casefold(),
        "retracted_at": retracted_at,
        "denied_at": None if denial is None else denial[0],
        "denied_by": None if denial is None else denial[1],
        "ended_at": data.ended_at if end is None else end[0],
        "ended_later": end is not None,
        "ongoing": data.ongoing,
    }


def _report_row(conflict: str, event: RecordedViolationsReported, known_from: datetime) -> Row:
    data = event.data
    return {
        "event_id": event.id,
        "conflict": conflict,
        "version": event.version,
        "reported_by": data.reported_by,
        "period_from": data.period_from,
        "period_to": data.period_to,
        "count": data.count,
        "by_party": (
            None if data.by_party is None else json.dumps(data.by_party, ensure_ascii=False)
        ),
        "agreement_id": data.agreement_id,
        "statement": data.statement,
        "occurred_at": event.occurred_at,
        "source": _source_json(event.source),
        "known_from": known_from,
        "known_until": None,
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
        "organizations": (
            None
            if data.organizations is None
            else json.dumps(list(data.organizations), ensure_ascii=False)
        ),
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
