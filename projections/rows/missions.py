"""The row of a monitoring or observer mission, as dispatched or corrected."""

from __future__ import annotations

import json
from datetime import datetime

from events.model.envelope import RecordedMissionDispatched
from events.model.state import ConflictState
from projections.changes import Row
from projections.rows.sources import source_json

__all__ = ["mission_row"]


def mission_row(
    state: ConflictState, event: RecordedMissionDispatched, known_from: datetime
) -> Row:
    """The mission as dispatched (a corrected one: its data)."""
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
        "source": source_json(event.source),
        "known_from": known_from,
        "known_until": None,
        "agreement_id": data.agreement_id,
        "organizations": (
            None
            if data.organizations is None
            else json.dumps(list(data.organizations), ensure_ascii=False)
        ),
    }
