"""Acceptance case 5 of issue 8 through the SQL views, on every database: the same history
recorded in two orders (into two conflicts) gives the same status and allegations at every
time asked, known_at left at now. (``tests/unit/test_standing.py`` holds the same property
over generated histories, with no database.)"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

from app.services.appending import Appender
from events.log.store import EventStore
from events.model.types import Event, event_adapter
from projections.queries.allegations import read_allegations
from projections.queries.status import read_status

WINDOW = timedelta(days=7)


def _history(conflict: str) -> list[dict[str, Any]]:
    """Agreements of every scope, a declaration, a fixed term, overlapping periods and
    allegations naming none: valid in every order of recording."""

    def event(kind: str, when: str, **data: Any) -> dict[str, Any]:
        return {
            "type": kind,
            "conflict": conflict,
            "occurred_at": when,
            "source": {"name": "desk"},
            "data": data,
        }

    return [
        event("agreement.signed", "2024-01-01T00:00:00Z", agreement_id="national",
              parties=["Gov", "Front"], expires_at="2024-01-20T00:00:00Z"),
        event("agreement.signed", "2024-01-05T00:00:00Z", agreement_id="harbour",
              parties=["Gov", "Front", "Militia"],
              scope={"level": "local", "area": "Harbour"}),
        event("ceasefire.declared", "2024-01-15T00:00:00Z", agreement_id="holiday",
              declared_by="Front", toward=["Gov"], effective_at="2024-01-16T00:00:00Z",
              expires_at="2024-01-25T00:00:00Z"),
        event("agreement.signed", "2024-01-10T00:00:00Z", agreement_id="north",
              parties=["Gov", "Militia"], scope={"level": "regional", "area": "North"}),
        *[
            event("violation.alleged", f"2024-01-{day:02d}T12:00:00Z", alleged_by=by,
                  accused=accused, incidents=day % 3 + 1)
            for day, by, accused in [
                (2, "Gov", "Front"), (6, "Militia", "Gov"), (8, "Front", "Militia"),
                (12, "Gov", "Militia"), (17, "Front", "Gov"), (21, "Gov", "Front"),
                (23, "Envoy", "Front"), (27, "Front", "Gov"),
            ]
        ],
    ]  # fmt: skip


def _actors(conflict: str) -> list[Event]:
    """The actors, registered before the history in either order: an allegation may name a
    party whose agreement is recorded later, and the Envoy is a third party."""
    return [
        event_adapter.validate_python(
            {
                "type": "actor.registered",
                "conflict": conflict,
                "occurred_at": "2024-01-01T00:00:00Z",
                "source": {"name": "desk"},
                "data": {"name": name, "kind": kind},
            }
        )
        for name, kind in [
            ("Gov", "state"),
            ("Front", "armed_group"),
            ("Militia", "armed_group"),
            ("Envoy", "international_organization"),
        ]
    ]


def _without_identity(view: Any) -> Any:
    """A view with what differs between two conflicts and two recordings taken out."""
    dumped = view.model_dump(mode="json", exclude={"conflict", "version", "position"})
    for section in dumped.get("agreements", []):
        for allegation in section.get("allegations", []):
            allegation.pop("id"), allegation.pop("version")
    for allegation in dumped.get("outside_agreements", {}).get("allegations", []):
        allegation.pop("id"), allegation.pop("version")
    return dumped


async def test_two_orders_of_recording_give_the_same_views(
    store: EventStore, conflict: str, appender: Appender
) -> None:
    first, second = f"{conflict}-a", f"{conflict}-b"
    in_order: list[Event] = [event_adapter.validate_python(e) for e in _history(first)]
    shuffled = [event_adapter.validate_python(e) for e in _history(second)]
    random.Random(8).shuffle(shuffled)
    in_order, shuffled = _actors(first) + in_order, _actors(second) + shuffled
    for event in in_order:
        await appender.append([event])
    for event in shuffled:
        await appender.append([event])
    async with store.engine.connect() as conn:
        for day in range(1, 31, 2):
            as_of = datetime.fromisoformat(f"2024-01-{day:02d}T18:00:00+00:00")
            views = []
            for name in (first, second):
                status = await read_status(conn, name, as_of=as_of, known_at=None, window=WINDOW)
                allegations = await read_allegations(conn, name, as_of=as_of, known_at=None)
                views.append((_without_identity(status), _without_identity(allegations)))
            assert views[0] == views[1], as_of
    assert views[0][0]["state"] == "expired"  # the 29th: every national commitment has ended
