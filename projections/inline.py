"""The projection the store runs inside every append: what it loads, folds and checkpoints.

The store asks this module for a conflict's state (to check the rules and fold), then writes
the resulting row changes and this checkpoint in the same transaction as the events.
"""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import RowMapping, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from events.log.positions import stream_head
from events.log.tables import record_of
from events.model.actors import Actor, Actors, name_key
from events.model.milestones import MilestoneExtension, MilestoneMeeting, MilestoneState
from events.model.state import AgreementState, ConflictState, Departure, LullState
from projections.bitemporal import CONFLICT, by_knowledge, known_at_condition, read_params
from projections.tables import (
    actors,
    agreements,
    allegations,
    corrections,
    extensions,
    lulls,
    milestone_updates,
    milestones,
    mission_ends,
    missions,
)

__all__ = [
    "CHECKPOINT",
    "agreement_from_row",
    "departures_from_json",
    "load_actors",
    "load_agreements",
    "load_lulls",
    "load_milestones",
    "load_state",
]

#: The checkpoint row the inline projections advance with every append.
CHECKPOINT = "ceasefire"


def agreement_from_row(
    row: RowMapping,
    extensions: tuple[tuple[datetime, datetime], ...] = (),
    milestones: tuple[MilestoneState, ...] = (),
) -> AgreementState:
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
        expires_at=row["expires_at"],
        scope_level=row["scope_level"],
        scope_area=row["scope_area"],
        unilateral=bool(row["unilateral"]),
        declared_by=row["declared_by"],
        extensions=extensions,
        milestones=milestones,
        departures=departures_from_json(row["departures"]),
    )


def departures_from_json(text: str | None) -> tuple[Departure, ...]:
    """The ``departures`` column's JSON (``projections.rows.agreements.departures_json``) read
    back."""
    if not text:
        return ()
    return tuple(
        Departure(
            party=d["party"],
            never_agreed=d["never_agreed"],
            occurred_at=datetime.fromisoformat(d["occurred_at"]),
            statement=d["statement"],
        )
        for d in json.loads(text)
    )


_EXTENSIONS = by_knowledge(
    lambda known_at: (
        select(extensions.c.agreement_id, extensions.c.occurred_at, extensions.c.expires_at)
        .where(extensions.c.conflict == CONFLICT, known_at_condition(extensions, known_at))
        .order_by(extensions.c.version)
    )
)
_AGREEMENTS = by_knowledge(
    lambda known_at: select(agreements).where(
        agreements.c.conflict == CONFLICT, known_at_condition(agreements, known_at)
    )
)


async def load_agreements(
    conn: AsyncConnection,
    conflict: str,
    known_at: datetime | None = None,
    *,
    with_milestones: bool = True,
) -> dict[str, AgreementState]:
    """The conflict's agreements and declarations with their extensions and milestones, as the
    log held them at ``known_at`` (None: now). Three indexed lookups (four when it has
    milestones); a conflict has few agreements. ``with_milestones=False``: the caller knows it has
    none (``Glance.has_milestones``), which spares a lookup."""
    extended: dict[str, list[tuple[datetime, datetime]]] = {}
    params = read_params(conflict, known_at=known_at)
    for agreement_id, occurred_at, expires_at in await conn.execute(_EXTENSIONS(known_at), params):
        extended.setdefault(agreement_id, []).append((occurred_at, expires_at))
    agreement_rows = (await conn.execute(_AGREEMENTS(known_at), params)).mappings()
    deadlines = await load_milestones(conn, conflict, known_at) if with_milestones else {}
    return {
        row["agreement_id"]: agreement_from_row(
            row,
            tuple(extended.get(row["agreement_id"], ())),
            deadlines.get(row["agreement_id"], ()),
        )
        for row in agreement_rows
    }


async def load_milestones(
    conn: AsyncConnection, conflict: str, known_at: datetime | None = None
) -> dict[str, tuple[MilestoneState, ...]]:
    """Per agreement, its milestones with their extensions and meetings, as the log held them
    at ``known_at``: the updates are read only when there is a milestone to update."""
    rows = (
        await conn.execute(
            select(
                milestones.c.agreement_id,
                milestones.c.milestone_id,
                milestones.c.description,
                milestones.c.due_at,
            )
            .where(milestones.c.conflict == conflict, known_at_condition(milestones, known_at))
            .order_by(milestones.c.agreement_id, milestones.c.due_at, milestones.c.milestone_id)
        )
    ).all()
    if not rows:
        return {}
    extended: dict[tuple[str, str], list[MilestoneExtension]] = {}
    met: dict[tuple[str, str], MilestoneMeeting] = {}
    u = milestone_updates.c
    updates = await conn.execute(
        select(
            u.agreement_id,
            u.milestone_id,
            u.type,
            u.event_id,
            u.occurred_at,
            u.due_at,
            u.reason,
            u.statement,
        )
        .where(u.conflict == conflict, known_at_condition(milestone_updates, known_at))
        .order_by(u.version)
    )
    for agreement_id, milestone_id, kind, event_id, occurred_at, due_at, reason, said in updates:
        key = (agreement_id, milestone_id)
        if kind == "milestone.met":
            met[key] = MilestoneMeeting(event_id, occurred_at, said)
        else:
            extended.setdefault(key, []).append(
                MilestoneExtension(event_id, occurred_at, due_at, reason)
            )
    found: dict[str, list[MilestoneState]] = {}
    for agreement_id, milestone_id, description, due_at in rows:
        key = (agreement_id, milestone_id)
        found.setdefault(agreement_id, []).append(
            MilestoneState(
                milestone_id, description, due_at, tuple(extended.get(key, ())), met.get(key)
            )
        )
    return {agreement_id: tuple(listed) for agreement_id, listed in found.items()}


async def load_lulls(
    conn: AsyncConnection, conflict: str, known_at: datetime | None = None
) -> dict[str, LullState]:
    """The conflict's lulls as the log held them at ``known_at`` (None: now): one indexed
    lookup; a conflict has few."""
    rows = await conn.execute(
        select(lulls).where(lulls.c.conflict == conflict, known_at_condition(lulls, known_at))
    )
    return {
        row.lull_id: record_of(LullState, row, parties=tuple(json.loads(row.parties)))
        for row in rows
    }


async def load_actors(
    conn: AsyncConnection, conflict: str, known_at: datetime | None = None
) -> Actors:
    """The conflict's actors as the log held them at ``known_at`` (None: now)."""
    rows = await conn.execute(
        select(
            actors.c.name, actors.c.kind, actors.c.aliases, actors.c.since, actors.c.registered
        ).where(actors.c.conflict == conflict, known_at_condition(actors, known_at))
    )
    by_name: dict[str, Actor] = {}
    keys: dict[str, str] = {}
    for name, kind, aliases, since, registered in rows:
        actor = Actor(
            name=name,
            since=since,
            kind=kind,
            aliases=tuple(json.loads(aliases)),
            registered=bool(registered),
        )
        by_name[name] = actor
        keys[name_key(name)] = name
        for alias in actor.aliases:
            keys[name_key(alias)] = name
    return Actors(by_name, keys)


async def load_state(conn: AsyncConnection, conflict: str) -> ConflictState:
    head = await stream_head(conn, conflict)
    if head is None:
        return ConflictState(conflict=conflict)
    version = head[0]
    known = await load_agreements(conn, conflict)
    mission_ids = (
        await conn.execute(
            select(missions.c.mission_id).where(
                missions.c.conflict == conflict, missions.c.known_until.is_(None)
            )
        )
    ).scalars()
    ended = (
        await conn.execute(
            select(mission_ends.c.mission_id).where(
                mission_ends.c.conflict == conflict, mission_ends.c.known_until.is_(None)
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
    marked = (
        await conn.execute(
            select(
                allegations.c.event_id,
                allegations.c.retracted,
                allegations.c.retracted_at,
                allegations.c.known_from,
                allegations.c.denied_at,
                allegations.c.denied_by,
                allegations.c.ended_later,
                allegations.c.ended_at,
                allegations.c.occurred_at,
            ).where(
                allegations.c.conflict == conflict,
                allegations.c.known_until.is_(None),
                or_(
                    allegations.c.retracted.is_(True),
                    allegations.c.denied_at.is_not(None),
                    allegations.c.ended_later.is_(True),
                ),
            )
        )
    ).all()
    return ConflictState(
        conflict=conflict,
        version=version,
        agreements=known,
        missions=frozenset(mission_ids),
        revisions={row.event_id: row.correction_id for row in revisions},
        retracted=frozenset(row.event_id for row in marked if row.retracted),
        retracted_at={
            row.event_id: row.retracted_at or row.known_from for row in marked if row.retracted
        },
        denials={
            row.event_id: (row.denied_at, row.denied_by)
            for row in marked
            if row.denied_at is not None
        },
        mission_ends=frozenset(ended),
        actors=await load_actors(conn, conflict),
        incident_ends={
            row.event_id: (row.ended_at, row.occurred_at) for row in marked if row.ended_later
        },
        lulls=await load_lulls(conn, conflict),
    )
