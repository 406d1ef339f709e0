"""The rows of allegations and of aggregate reports, as recorded or corrected, each with its
source's JSON.
"""

from __future__ import annotations

import json
from datetime import datetime

from events.model.envelope import RecordedViolationAlleged, RecordedViolationsReported
from events.model.state import ConflictState
from projections.changes import Row
from projections.rows.sources import source_json

__all__ = [
    "allegation_row",
    "report_row",
]


def allegation_row(
    state: ConflictState, event: RecordedViolationAlleged, known_from: datetime
) -> Row:
    """The allegation as recorded, with the agreement it names (if any). Which agreement one
    naming none belongs to is not decided here but when a view is read
    (``projections.filing``), so the order events were recorded in cannot change it."""
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
        "source": source_json(event.source),
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


def report_row(conflict: str, event: RecordedViolationsReported, known_from: datetime) -> Row:
    """The aggregate report as recorded (a corrected one: its data)."""
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
        "source": source_json(event.source),
        "known_from": known_from,
        "known_until": None,
    }
