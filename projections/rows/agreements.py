"""The rows of agreements, their milestones and the lulls: a version of each, written when an
event makes or changes one, and replaced (closed, then inserted anew) when a later event or a
correction changes it.
"""

from __future__ import annotations

import json
from datetime import datetime

from events.model.agreement_data import MilestoneExtendedData, MilestoneMetData
from events.model.envelope import Recorded
from events.model.state import AgreementState, ConflictState, LullState
from projections.changes import Changes, Row

__all__ = [
    "agreement_row",
    "departures_json",
    "lull_row",
    "milestone_rows",
    "milestone_update_row",
    "replace_agreement",
    "replace_lull",
]


def replace_lull(
    state: ConflictState, lull: LullState, known_from: datetime, changes: Changes
) -> None:
    """Close the lull's current row version and insert its new one, known from ``known_from``."""
    changes.close("proj_lulls", {"conflict": state.conflict, "lull_id": lull.lull_id}, known_from)
    changes.insert("proj_lulls", lull_row(lull, state.conflict, known_from))


def lull_row(lull: LullState, conflict: str, known_from: datetime) -> Row:
    """A version of the lull's row, known from ``known_from``."""
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


def replace_agreement(
    state: ConflictState, agreement: AgreementState, known_from: datetime, changes: Changes
) -> None:
    """Close the agreement's current row version and insert its new one, known from
    ``known_from``."""
    key = {"conflict": state.conflict, "agreement_id": agreement.agreement_id}
    changes.close("proj_agreements", key, known_from)
    changes.insert("proj_agreements", agreement_row(agreement, state.conflict, known_from))


def milestone_rows(
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


def milestone_update_row(event: Recorded, conflict: str) -> Row:
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


def agreement_row(agreement: AgreementState, conflict: str, known_from: datetime) -> Row:
    """A version of the agreement's row, known from ``known_from``."""
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
