"""A conflict's actors at ``as_of``: who they are (``proj_actors``: kind, aliases) and what
they are in it (the agreements they are parties to or mediate, the missions they run)."""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from events.model.actors import Actor, Actors
from projections.bitemporal import known_at_condition
from projections.inline import load_actors, load_agreements
from projections.queries.shared import conflict_head
from projections.tables import actors, missions
from projections.views import ActorRole, ActorsView, ActorView

__all__ = ["next_appearance", "read_actors"]


async def read_actors(
    conn: AsyncConnection, conflict: str, *, as_of: datetime, known_at: datetime | None
) -> ActorsView:
    """Every actor appearing by ``as_of`` as the log said at ``known_at``, with its roles
    then. A name an agreement or a mission gives resolves to its actor (an old log's spelling
    of it included)."""
    version, position = await conflict_head(conn, conflict, known_at)
    known = await load_actors(conn, conflict, known_at)
    agreements = await load_agreements(conn, conflict, known_at)
    mission_rows = await conn.execute(
        select(missions.c.mission_id, missions.c.organization, missions.c.organizations).where(
            missions.c.conflict == conflict,
            missions.c.dispatched_at <= as_of,
            known_at_condition(missions, known_at),
        )
    )
    roles: dict[str, dict[ActorRole, set[str]]] = {}

    def add(name: str, role: ActorRole, subject: str) -> None:
        actor = _resolved(known, name)
        roles.setdefault(actor, {}).setdefault(role, set()).add(subject)

    for agreement in agreements.values():
        if agreement.signed_at > as_of:
            continue
        for party in agreement.parties:
            add(party, "party", agreement.agreement_id)
        for mediator in agreement.mediators:
            add(mediator, "mediator", agreement.agreement_id)
    for mission_id, organization, others in mission_rows:
        for name in (organization, *json.loads(others or "[]")):
            add(name, "monitor", mission_id)
    views = []
    for name, actor in known.by_name.items():
        if actor.since > as_of:
            continue
        views.append(_view(actor, roles.pop(name, {})))
    for name, found in roles.items():  # named by as_of, yet after the actor's rows: none
        views.append(_view(Actor(name=name, since=as_of), found))
    views.sort(key=lambda v: (v.name.casefold(), v.name))
    return ActorsView(
        conflict=conflict,
        actors=views,
        version=version,
        position=position,
        as_of=as_of,
        known_at=known_at,
    )


def _resolved(actors: Actors, name: str) -> str:
    return actors.resolve(name) or name


def _view(actor: Actor, roles: dict[ActorRole, set[str]]) -> ActorView:
    order: tuple[ActorRole, ...] = ("party", "mediator", "monitor")
    return ActorView(
        name=actor.name,
        kind=actor.kind,
        aliases=list(actor.aliases),
        registered=actor.registered,
        since=actor.since,
        roles=[role for role in order if roles.get(role)],
        party_to=sorted(roles.get("party", ())),
        mediator_of=sorted(roles.get("mediator", ())),
        monitor_of=sorted(roles.get("monitor", ())),
    )


async def next_appearance(
    conn: AsyncConnection, conflict: str, *, after: datetime, known_at: datetime | None
) -> datetime | None:
    """When the next actor appears after ``after`` (None: none is due): a view of now
    changes then with no new event."""
    found: datetime | None = (
        await conn.execute(
            select(func.min(actors.c.since)).where(
                actors.c.conflict == conflict,
                actors.c.since > after,
                known_at_condition(actors, known_at),
            )
        )
    ).scalar_one_or_none()
    return found
