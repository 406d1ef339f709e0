"""What every read of a conflict starts with: its head (so the data is never older than the
position it is tagged with), the monitors of its agreements (whose findings are not a party's
claim) and its description (its title)."""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from events.log.positions import stream_head
from events.log.tables import events
from events.model.errors import UnknownConflictError
from projections.tables import descriptions, known_at_condition, missions
from projections.views import DescriptionView

__all__ = ["conflict_head", "read_description", "read_monitors"]


async def conflict_head(
    conn: AsyncConnection,
    conflict: str,
    known_at: datetime | None = None,
    *,
    head: tuple[int, int] | None = None,
) -> tuple[int, int]:
    """``(version, position)`` of the conflict's newest event known at ``known_at``.
    ``UnknownConflictError`` when the conflict has no events at all.

    The one lookup of a conflict's head inside a read's snapshot (``events.log.heads.Heads`` is
    the one outside it, for the ETag check). ``head``: the conflict's newest ``(version,
    position)`` already looked up in this snapshot, so a read that tags its body with it does
    not look it up again."""
    if head is None:
        head = await stream_head(conn, conflict)
        if head is None:
            raise UnknownConflictError(conflict)
    if known_at is None:
        return head
    known = (
        await conn.execute(
            select(events.c.version, events.c.position)
            .where(events.c.conflict == conflict, events.c.recorded_at <= known_at)
            .order_by(events.c.recorded_at.desc(), events.c.version.desc())
            .limit(1)
        )
    ).one_or_none()
    return (0, 0) if known is None else (int(known.version), int(known.position))


async def read_monitors(
    conn: AsyncConnection, conflict: str, as_of: datetime, known_at: datetime | None
) -> dict[str, list[str]]:
    """Per agreement, the organizations (every one, ``organizations`` too) of the missions
    dispatched to monitor it by ``as_of``:
    their findings count as a monitor's, not a party's claim."""
    rows = await conn.execute(
        select(missions.c.agreement_id, missions.c.organization, missions.c.organizations).where(
            missions.c.conflict == conflict,
            missions.c.agreement_id.is_not(None),
            missions.c.dispatched_at <= as_of,
            known_at_condition(missions, known_at),
        )
    )
    found: dict[str, list[str]] = {}
    for agreement_id, organization, others in rows:
        found.setdefault(agreement_id, []).append(organization)
        if others:
            found[agreement_id].extend(json.loads(others))
    return found


async def read_description(
    conn: AsyncConnection, conflict: str, known_at: datetime | None
) -> DescriptionView | None:
    """The conflict's description as the log held it at ``known_at`` (None: never described
    by then): one indexed lookup."""
    row = (
        await conn.execute(
            select(
                descriptions.c.title,
                descriptions.c.summary,
                descriptions.c.countries,
                descriptions.c.region,
            ).where(descriptions.c.conflict == conflict, known_at_condition(descriptions, known_at))
        )
    ).one_or_none()
    if row is None:
        return None
    return DescriptionView(
        title=row.title, summary=row.summary, countries=json.loads(row.countries), region=row.region
    )
