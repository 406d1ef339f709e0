"""The projection the store runs inside every append: what it loads, folds and checkpoints.

The store asks this module for a conflict's state (to check the rules and fold), then writes
the resulting row changes and this checkpoint in the same transaction as the events.
"""

from __future__ import annotations

import json

from sqlalchemy import RowMapping, select
from sqlalchemy.ext.asyncio import AsyncConnection

from events.state import AgreementState, ConflictState
from events.tables import streams
from projections.tables import agreements, allegations, corrections, missions

__all__ = ["CHECKPOINT", "agreement_from_row", "load_state"]

#: The checkpoint row the inline projections advance with every append.
CHECKPOINT = "ceasefire"


def agreement_from_row(row: RowMapping) -> AgreementState:
    return AgreementState(
        agreement_id=row["agreement_id"],
        parties=tuple(json.loads(row["parties"])),
        mediators=tuple(json.loads(row["mediators"])),
        kind=row["kind"],
        terms=row["terms"],
        signed_at=row["signed_at"],
        effective_at=row["effective_at"],
        collapsed_at=row["collapsed_at"],
        collapse_reason=row["collapse_reason"],
        version=row["version"],
        event_id=row["event_id"],
    )


async def load_state(conn: AsyncConnection, conflict: str) -> ConflictState:
    version = (
        await conn.execute(select(streams.c.version).where(streams.c.conflict == conflict))
    ).scalar_one_or_none()
    if version is None:
        return ConflictState(conflict=conflict)
    agreement_rows = (
        await conn.execute(
            select(agreements).where(
                agreements.c.conflict == conflict, agreements.c.known_until.is_(None)
            )
        )
    ).mappings()
    known = {row["agreement_id"]: agreement_from_row(row) for row in agreement_rows}
    mission_ids = (
        await conn.execute(
            select(missions.c.mission_id).where(
                missions.c.conflict == conflict, missions.c.known_until.is_(None)
            )
        )
    ).scalars()
    revisions = (
        await conn.execute(
            select(corrections.c.event_id, corrections.c.correction_id).where(
                corrections.c.conflict == conflict, corrections.c.known_until.is_(None)
            )
        )
    ).all()
    retracted = (
        await conn.execute(
            select(allegations.c.event_id).where(
                allegations.c.conflict == conflict,
                allegations.c.known_until.is_(None),
                allegations.c.retracted.is_(True),
            )
        )
    ).scalars()
    return ConflictState(
        conflict=conflict,
        version=version,
        agreements=known,
        missions=frozenset(mission_ids),
        revisions={row.event_id: row.correction_id for row in revisions},
        retracted=frozenset(retracted),
    )
