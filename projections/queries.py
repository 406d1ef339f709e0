"""Reads of the projection tables: a conflict's status, its allegations, the list of conflicts.

Every read takes ``as_of`` (the state of the world at that time, by occurred_at) and
``known_at`` (what the log said at that time, by recorded_at; None for now). Each is a handful
of indexed lookups on the projection tables, never a replay: their cost depends on the size of
one conflict's current agreement, not on the length of the log.

The head (version, position) is read first, so the data returned is never older than the
position it is tagged with.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from events.errors import UnknownConflictError
from events.state import AgreementState, latest_signed
from events.tables import events, streams
from projections.inline import agreement_from_row
from projections.tables import agreements, allegations, known_at_condition, missions
from projections.views import (
    AgreementAllegations,
    AgreementView,
    AllegationsView,
    AllegationView,
    ConflictSummary,
    MissionView,
    PartyCounts,
    StatusView,
    derive_state,
    tally,
)

__all__ = ["conflict_head", "list_conflicts", "read_allegations", "read_status"]


async def conflict_head(
    conn: AsyncConnection, conflict: str, known_at: datetime | None = None
) -> tuple[int, int]:
    """``(version, position)`` of the conflict's newest event known at ``known_at``.
    ``UnknownConflictError`` when the conflict has no events at all."""
    row = (
        await conn.execute(
            select(streams.c.version, streams.c.position).where(streams.c.conflict == conflict)
        )
    ).one_or_none()
    if row is None:
        raise UnknownConflictError(conflict)
    if known_at is None:
        return int(row.version), int(row.position)
    known = (
        await conn.execute(
            select(events.c.version, events.c.position)
            .where(events.c.conflict == conflict, events.c.recorded_at <= known_at)
            .order_by(events.c.recorded_at.desc(), events.c.version.desc())
            .limit(1)
        )
    ).one_or_none()
    return (0, 0) if known is None else (int(known.version), int(known.position))


async def _agreements(
    conn: AsyncConnection, conflict: str, known_at: datetime | None
) -> list[AgreementState]:
    rows = (
        await conn.execute(
            select(agreements).where(
                agreements.c.conflict == conflict, known_at_condition(agreements, known_at)
            )
        )
    ).mappings()
    return [agreement_from_row(r) for r in rows]


async def _counts(
    conn: AsyncConnection,
    conflict: str,
    agreement: AgreementState,
    as_of: datetime,
    known_at: datetime | None,
) -> tuple[dict[str, PartyCounts], datetime | None]:
    counts = {party: PartyCounts() for party in agreement.parties}
    rows = await conn.execute(
        select(
            allegations.c.alleged_by,
            allegations.c.accused,
            func.count(),
            func.sum(allegations.c.incidents),
            func.max(allegations.c.occurred_at),
        )
        .where(
            allegations.c.conflict == conflict,
            allegations.c.agreement_id == agreement.agreement_id,
            allegations.c.occurred_at <= as_of,
            allegations.c.retracted.is_(False),
            known_at_condition(allegations, known_at),
        )
        .group_by(allegations.c.alleged_by, allegations.c.accused)
    )
    last: datetime | None = None
    for alleged_by, accused, n, incidents, latest in rows:
        tally(counts, alleged_by, accused, int(n), int(incidents))
        last = latest if last is None or latest > last else last
    return counts, last


async def read_status(
    conn: AsyncConnection,
    conflict: str,
    *,
    as_of: datetime,
    known_at: datetime | None,
    window: timedelta,
) -> StatusView:
    version, position = await conflict_head(conn, conflict, known_at)
    current = latest_signed(await _agreements(conn, conflict, known_at), as_of)
    counts: dict[str, PartyCounts] = {}
    last: datetime | None = None
    if current is not None:
        counts, last = await _counts(conn, conflict, current, as_of, known_at)
    mission_rows = (
        await conn.execute(
            select(missions)
            .where(
                missions.c.conflict == conflict,
                missions.c.dispatched_at <= as_of,
                known_at_condition(missions, known_at),
            )
            .order_by(missions.c.dispatched_at, missions.c.version)
        )
    ).mappings()
    return StatusView(
        conflict=conflict,
        state=derive_state(current, as_of, last, window),
        agreement=None if current is None else AgreementView.of(current),
        allegations=counts,
        missions=[MissionView.model_validate(dict(r)) for r in mission_rows],
        last_allegation_at=last,
        version=version,
        position=position,
        as_of=as_of,
        known_at=known_at,
    )


def _allegation(row: Any) -> AllegationView:
    return AllegationView(
        id=row.event_id,
        agreement_id=row.agreement_id,
        agreement_implicit=row.agreement_implicit,
        alleged_by=row.alleged_by,
        accused=row.accused,
        incidents=row.incidents,
        occurred_at=row.occurred_at,
        location=row.location,
        description=row.description,
        casualties_claimed=(
            None if row.casualties_claimed is None else json.loads(row.casualties_claimed)
        ),
        source=json.loads(row.source),
        version=row.version,
    )


async def read_allegations(
    conn: AsyncConnection, conflict: str, *, as_of: datetime, known_at: datetime | None
) -> AllegationsView:
    version, position = await conflict_head(conn, conflict, known_at)
    known_agreements = sorted(
        (a for a in await _agreements(conn, conflict, known_at) if a.signed_at <= as_of),
        key=lambda a: (a.signed_at, a.version),
    )
    rows = await conn.execute(
        select(allegations)
        .where(
            allegations.c.conflict == conflict,
            allegations.c.occurred_at <= as_of,
            allegations.c.retracted.is_(False),
            known_at_condition(allegations, known_at),
        )
        .order_by(allegations.c.occurred_at, allegations.c.version)
    )
    per_agreement: dict[str, list[AllegationView]] = {a.agreement_id: [] for a in known_agreements}
    totals: dict[str, PartyCounts] = {}
    for agreement in known_agreements:
        for party in agreement.parties:
            totals.setdefault(party, PartyCounts())
    for row in rows:
        view = _allegation(row)
        per_agreement.setdefault(view.agreement_id, []).append(view)
        tally(totals, view.alleged_by, view.accused, 1, view.incidents)
    by_id = {a.agreement_id: a for a in known_agreements}
    sections = []
    for agreement_id, items in per_agreement.items():
        known = by_id.get(agreement_id)
        parties = list(known.parties) if known else []
        counts = {p: PartyCounts() for p in parties}
        for item in items:
            tally(counts, item.alleged_by, item.accused, 1, item.incidents)
        sections.append(
            AgreementAllegations(
                agreement_id=agreement_id, parties=parties, counts=counts, allegations=items
            )
        )
    return AllegationsView(
        conflict=conflict,
        totals=totals,
        agreements=sections,
        version=version,
        position=position,
        as_of=as_of,
        known_at=known_at,
    )


async def list_conflicts(
    conn: AsyncConnection,
    *,
    as_of: datetime,
    window: timedelta,
    after: str | None = None,
    limit: int | None = None,
) -> list[ConflictSummary]:
    """The conflicts in slug order (after ``after``, at most ``limit`` of them)."""
    listed = select(streams.c.conflict).order_by(streams.c.conflict).limit(limit)
    if after is not None:
        listed = listed.where(streams.c.conflict > after)
    names = (await conn.execute(listed)).scalars()
    summaries = []
    for name in list(names):
        status = await read_status(conn, name, as_of=as_of, known_at=None, window=window)
        summaries.append(
            ConflictSummary(
                conflict=name,
                state=status.state,
                agreement_id=status.agreement.agreement_id if status.agreement else None,
                last_allegation_at=status.last_allegation_at,
                version=status.version,
                position=status.position,
            )
        )
    return summaries
