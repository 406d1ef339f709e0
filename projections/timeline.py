"""A conflict's story for a person to read: its events in order of occurrence, each with the
state it led to, and the retractions and corrections each one received.

Agreements, collapses, allegations and missions are entries; a retraction or a correction is
not an entry of its own but a note on the entry it changed, which shows its data as corrected
(and the original beside it) and whether it was withdrawn. Each entry carries the state of the
conflict at its occurred_at, counting everything the log knew (at ``known_at``) that occurred
by then: the same answer ``/status?as_of=<occurred_at>&known_at=...`` gives.

The story reads the conflict's events from the log, so its cost grows with that one
conflict's length (it lists all of it), never with the rest of the log.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Literal
from uuid import UUID

from pydantic import Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from events.envelope import Recorded
from events.state import AgreementState, latest_signed
from events.tables import events
from events.types import AllegationRetracted, EventCorrected, data_of
from projections.freshness import stream_position
from projections.inline import agreement_from_row
from projections.queries import conflict_head
from projections.tables import agreements, allegations
from projections.views import ConflictState, View, derive_state

__all__ = ["TimelineEntry", "TimelineNote", "TimelineView", "build_timeline", "read_timeline"]


class TimelineNote(View):
    """A retraction or a correction an entry received."""

    id: UUID
    type: Literal["allegation.retracted", "event.corrected"]
    occurred_at: datetime
    recorded_at: datetime
    source: dict[str, Any]
    reason: str | None = None
    retracted_by: str | None = None
    data: dict[str, Any] | None = Field(
        default=None, description="For a correction: the data it set."
    )


class TimelineEntry(View):
    id: UUID
    type: Literal[
        "agreement.signed", "agreement.collapsed", "violation.alleged", "mission.dispatched"
    ]
    occurred_at: datetime
    recorded_at: datetime
    version: int
    position: int
    source: dict[str, Any]
    summary: str = Field(description="One sentence for a person to read.")
    data: dict[str, Any] = Field(description="The event's data, as corrected.")
    original_data: dict[str, Any] | None = Field(
        default=None, description="The data as first recorded, when a correction changed it."
    )
    retracted: bool = Field(description="True when its party withdrew this allegation.")
    notes: list[TimelineNote] = Field(
        description="Retractions and corrections of this event, in the order recorded."
    )
    agreement_id: str | None = Field(
        description="The agreement it concerns (for an allegation: the one it is filed under)."
    )
    state: ConflictState = Field(
        description="The state of the conflict at this event's occurred_at, this event counted."
    )


class TimelineView(View):
    conflict: str
    entries: list[TimelineEntry]
    version: int = Field(description="The conflict's stream version this story reflects.")
    position: int = Field(description="The global log position this story reflects.")
    known_at: datetime | None = None
    next_after: int | None = Field(
        default=None,
        description="Pass as `after` for the next page of entries; null on the last page.",
    )


def _summary(event: Recorded, data: Mapping[str, Any], retracted: bool) -> str:
    match event.type:
        case "agreement.signed":
            text = f"{' and '.join(data['parties'])} signed {data['kind'].replace('_', ' ')} "
            text += f"{data['agreement_id']}"
            if data.get("mediators"):
                text += f", mediated by {', '.join(data['mediators'])}"
            if data.get("effective_at"):
                text += f", effective {data['effective_at']}"
            return text + "."
        case "agreement.collapsed":
            reason = f": {data['reason']}" if data.get("reason") else "."
            return f"Agreement {data['agreement_id']} collapsed{reason}"
        case "violation.alleged":
            n = data.get("incidents", 1)
            text = f"{data['alleged_by']} alleged {n} incident{'s' if n != 1 else ''} "
            text += f"by {data['accused']}"
            if data.get("location"):
                text += f" ({data['location']})"
            return text + (" — since retracted." if retracted else ".")
        case _:
            return f"{data['organization']} dispatched mission {data['mission_id']}."


def build_timeline(
    log: Iterable[Recorded],
    known_agreements: Sequence[AgreementState],
    filings: Mapping[UUID, tuple[str, bool]],
    window: timedelta,
) -> list[TimelineEntry]:
    """The entries, from the conflict's events (in version order), its agreements and each
    allegation's filing (agreement id, retracted) as the projection tables know them."""
    originals: list[Recorded] = []
    notes: dict[UUID, list[TimelineNote]] = {}
    corrected: dict[UUID, dict[str, Any]] = {}
    for event in log:
        match event:
            case AllegationRetracted(data=retraction):
                notes.setdefault(retraction.allegation_id, []).append(_note(event))
            case EventCorrected(data=correction):
                notes.setdefault(correction.event_id, []).append(_note(event))
                corrected[correction.event_id] = correction.data
            case _:
                originals.append(event)

    # Occurrence times of the allegations that count, per agreement, to find "the latest
    # allegation under this agreement by time T" with a binary search.
    under: dict[str, list[datetime]] = {}
    when = {e.id: e.occurred_at for e in originals}
    for event_id, (agreement_id, retracted) in filings.items():
        if not retracted and event_id in when:
            under.setdefault(agreement_id, []).append(when[event_id])
    for times in under.values():
        times.sort()

    def state_at(at: datetime) -> ConflictState:
        current = latest_signed(known_agreements, at)
        last = None
        if current is not None:
            times = under.get(current.agreement_id, [])
            i = bisect.bisect_right(times, at)
            last = times[i - 1] if i else None
        return derive_state(current, at, last, window)

    entries = []
    for event in sorted(originals, key=lambda e: (e.occurred_at, e.version)):
        original = data_of(event)
        data = corrected.get(event.id, original)
        filing = filings.get(event.id)
        retracted = filing is not None and filing[1]
        concerns: str | None = filing[0] if filing else data.get("agreement_id")
        entries.append(
            TimelineEntry(
                id=event.id,
                type=event.type,
                occurred_at=event.occurred_at,
                recorded_at=event.recorded_at,
                version=event.version,
                position=event.position,
                source=event.source.model_dump(mode="json", exclude_none=True),
                summary=_summary(event, data, retracted),
                data=data,
                original_data=original if event.id in corrected else None,
                retracted=retracted,
                notes=notes.get(event.id, []),
                agreement_id=concerns,
                state=state_at(event.occurred_at),
            )
        )
    return entries


def _note(event: Recorded) -> TimelineNote:
    data = data_of(event)
    return TimelineNote(
        id=event.id,
        type=event.type,
        occurred_at=event.occurred_at,
        recorded_at=event.recorded_at,
        source=event.source.model_dump(mode="json", exclude_none=True),
        reason=data.get("reason"),
        retracted_by=data.get("retracted_by"),
        data=data.get("data"),
    )


async def read_timeline(
    conn: AsyncConnection, conflict: str, *, known_at: datetime | None, window: timedelta
) -> tuple[TimelineView, int]:
    """The story as the log told it at ``known_at`` (now when None), and the position of the
    conflict's newest event (the view's validator)."""
    from events.store import decode_row  # the store imports the fold: import it late

    head = await stream_position(conn, conflict)
    version, position = await conflict_head(conn, conflict, known_at)
    statement = select(events).where(events.c.conflict == conflict, events.c.position <= head)
    if known_at is not None:
        statement = statement.where(events.c.recorded_at <= known_at)
    log = [decode_row(r) for r in await conn.execute(statement.order_by(events.c.version))]

    def known(table: Any) -> Any:
        if known_at is None:
            return table.c.known_until.is_(None)
        return (table.c.known_from <= known_at) & (
            table.c.known_until.is_(None) | (table.c.known_until > known_at)
        )

    agreement_rows = (
        await conn.execute(
            select(agreements).where(agreements.c.conflict == conflict, known(agreements))
        )
    ).mappings()
    known_agreements = [agreement_from_row(r) for r in agreement_rows]
    filing_rows = await conn.execute(
        select(allegations.c.event_id, allegations.c.agreement_id, allegations.c.retracted).where(
            allegations.c.conflict == conflict, known(allegations)
        )
    )
    filings = {r.event_id: (r.agreement_id, bool(r.retracted)) for r in filing_rows}
    view = TimelineView(
        conflict=conflict,
        entries=build_timeline(log, known_agreements, filings, window),
        version=version,
        position=position,
        known_at=known_at,
    )
    return view, head
