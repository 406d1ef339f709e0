"""Builders for events in tests: valid by default, every field overridable."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from uuid import UUID

from events.model.types import Event, event_adapter
from tests.conftest import SEED

__all__ = [
    "alleged",
    "collapsed",
    "corrected",
    "dispatched",
    "incident_ended",
    "registered",
    "retracted",
    "seed_events",
    "signed",
]

SOURCE = {"name": "test desk"}


def _event(
    type_: str, conflict: str, occurred_at: str | datetime, data: dict[str, Any], **extra: Any
) -> Event:
    if isinstance(occurred_at, datetime):
        occurred_at = occurred_at.isoformat()
    return event_adapter.validate_python(
        {
            "type": type_,
            "conflict": conflict,
            "occurred_at": occurred_at,
            "source": SOURCE,
            "data": data,
            **extra,
        }
    )


def signed(
    conflict: str,
    agreement_id: str = "cf-1",
    occurred_at: str | datetime = "2022-09-14T16:00:00Z",
    parties: tuple[str, ...] = ("Armenia", "Azerbaijan"),
    **data: Any,
) -> Event:
    return _event(
        "agreement.signed",
        conflict,
        occurred_at,
        {"agreement_id": agreement_id, "parties": list(parties), **data},
    )


def collapsed(
    conflict: str, agreement_id: str = "cf-1", occurred_at: str | datetime = "2022-09-20T00:00:00Z"
) -> Event:
    return _event("agreement.collapsed", conflict, occurred_at, {"agreement_id": agreement_id})


def alleged(
    conflict: str,
    alleged_by: str = "Armenia",
    accused: str = "Azerbaijan",
    occurred_at: str | datetime = "2022-09-23T03:40:00Z",
    **data: Any,
) -> Event:
    return _event(
        "violation.alleged",
        conflict,
        occurred_at,
        {"alleged_by": alleged_by, "accused": accused, **data},
    )


def dispatched(
    conflict: str, mission_id: str = "m-1", occurred_at: str | datetime = "2022-09-14T08:00:00Z"
) -> Event:
    return _event(
        "mission.dispatched",
        conflict,
        occurred_at,
        {"mission_id": mission_id, "organization": "CSTO"},
    )


def registered(
    conflict: str,
    name: str,
    kind: str = "armed_group",
    aliases: tuple[str, ...] = (),
    occurred_at: str | datetime = "2022-09-14T00:00:00Z",
) -> Event:
    return _event(
        "actor.registered",
        conflict,
        occurred_at,
        {"name": name, "kind": kind, "aliases": list(aliases)},
    )


def retracted(
    conflict: str,
    allegation_id: UUID,
    retracted_by: str = "Armenia",
    occurred_at: str | datetime = "2022-09-25T00:00:00Z",
    reason: str | None = "withdrawn",
) -> Event:
    data: dict[str, Any] = {"allegation_id": str(allegation_id), "retracted_by": retracted_by}
    if reason is not None:
        data["reason"] = reason
    return _event("allegation.retracted", conflict, occurred_at, data)


def incident_ended(
    conflict: str,
    allegation_id: UUID,
    ended_at: str | datetime,
    occurred_at: str | datetime | None = None,
) -> Event:
    """The end of an ongoing violation, reported when it ended unless ``occurred_at`` says."""
    if isinstance(ended_at, datetime):
        ended_at = ended_at.isoformat()
    return _event(
        "incident.ended",
        conflict,
        ended_at if occurred_at is None else occurred_at,
        {"allegation_id": str(allegation_id), "ended_at": ended_at},
    )


def corrected(
    conflict: str,
    event_id: UUID,
    event_type: str,
    data: dict[str, Any],
    occurred_at: str | datetime = "2022-09-25T00:00:00Z",
    reason: str = "corrected figures",
) -> Event:
    return _event(
        "event.corrected",
        conflict,
        occurred_at,
        {"event_id": str(event_id), "event_type": event_type, "data": data, "reason": reason},
    )


def seed_events(conflict: str | None = None) -> list[Event]:
    """The seed article's events; with ``conflict``, moved to that conflict with fresh ids."""
    out = []
    for line in SEED.read_text().splitlines():
        raw = json.loads(line)
        if conflict is not None:
            raw["conflict"] = conflict
            raw.pop("id")
        out.append(event_adapter.validate_python(raw))
    return out
