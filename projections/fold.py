"""The projection rows each event makes: the read model's half of the fold.

The state transition is the domain's (``events.model.evolve.evolve``); this module derives the
row changes a transition makes to the projection tables, from the states before and after it.
``apply`` is both, for the replay (one event at a time into a batch's changes); the append
decides through ``events.model.decision.decide`` and collects the same rows with ``rows_into``.
Both are pure, and the append path and the replay call the same functions, so they cannot
drift.

This module holds the dispatch (``add_rows``: which tables an event touches, and how a
correction replaces a row version) with the rows small enough to stand in it; the row of each
projection with more to it is built in ``projections.rows`` (agreements, milestones and lulls;
allegations and reports; missions).
"""

from __future__ import annotations

import json
from datetime import datetime

from events.model.decision import Observer
from events.model.envelope import Recorded
from events.model.evolve import evolve, required
from events.model.state import ConflictState, Lookup, no_lookup, with_data
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
from projections.changes import Changes
from projections.rows.agreements import (
    agreement_row,
    lull_row,
    milestone_rows,
    milestone_update_row,
    replace_agreement,
    replace_lull,
)
from projections.rows.allegations import allegation_row, report_row
from projections.rows.missions import mission_row

__all__ = [
    "add_rows",
    "apply",
    "rows_into",
]


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
    """An observer of ``events.model.decision.decide`` that adds each transition's rows to
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
            changes.insert("proj_allegations", allegation_row(after, event, known_from))
        case AgreementSigned() | CeasefireDeclared():
            agreement = after.agreements[event.data.agreement_id]
            changes.insert("proj_agreements", agreement_row(agreement, conflict, known_from))
            milestone_rows(None, agreement, conflict, event, changes)
        case MilestoneExtended() | MilestoneMet():
            changes.insert("proj_milestone_updates", milestone_update_row(event, conflict))
        case AgreementCollapsed(data=data) | AgreementRepudiated(data=data):
            # A repudiation replaces the agreement's row version from its recording on, as a
            # correction does: known_at before it reads the agreement as it was.
            replace_agreement(after, after.agreements[data.agreement_id], known_from, changes)
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
            changes.insert("proj_missions", mission_row(after, event, known_from))
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
            changes.insert("proj_allegations", allegation_row(after, target, known_from))
        case AllegationDenied(data=denial):
            target = required(before, denial.allegation_id, lookup)
            assert isinstance(target, ViolationAlleged)
            changes.close("proj_allegations", {"event_id": target.id}, known_from)
            changes.insert("proj_allegations", allegation_row(after, target, known_from))
        case IncidentEnded(data=ended):
            target = required(before, ended.allegation_id, lookup)
            assert isinstance(target, ViolationAlleged)
            changes.close("proj_allegations", {"event_id": target.id}, known_from)
            changes.insert("proj_allegations", allegation_row(after, target, known_from))
        case ViolationsReported():
            changes.insert("proj_reports", report_row(conflict, event, known_from))
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
            changes.insert("proj_lulls", lull_row(lull, conflict, known_from))
        case LullEnded(data=ended):
            replace_lull(after, after.lulls[ended.lull_id], known_from, changes)
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
            changes.insert("proj_allegations", allegation_row(after, corrected, known_from))
        case MissionDispatched(data=data):
            key = {"conflict": after.conflict, "mission_id": data.mission_id}
            changes.close("proj_missions", key, known_from)
            changes.insert("proj_missions", mission_row(after, corrected, known_from))
        case AgreementSigned() | CeasefireDeclared() | AgreementCollapsed() | AgreementRepudiated():
            agreement = after.agreements[corrected.data.agreement_id]
            replace_agreement(after, agreement, known_from, changes)
            if not isinstance(corrected, AgreementCollapsed):
                was = before.agreements[agreement.agreement_id]
                milestone_rows(was, agreement, after.conflict, corrected, changes, known_from)
        case MilestoneExtended() | MilestoneMet():
            changes.close("proj_milestone_updates", {"event_id": corrected.id}, known_from)
            row = milestone_update_row(corrected, after.conflict) | {"known_from": known_from}
            changes.insert("proj_milestone_updates", row)
        case ViolationsReported():
            changes.close("proj_reports", {"event_id": corrected.id}, known_from)
            changes.insert("proj_reports", report_row(after.conflict, corrected, known_from))
        case LullObserved() | LullEnded():
            replace_lull(after, after.lulls[corrected.data.lull_id], known_from, changes)
