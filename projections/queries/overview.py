"""What the pages read beyond the API's views: a page of the conflict list (searched, in the
order asked, with when each last changed) and who accuses whom, pair by pair.

The list is one statement over ``streams`` (one row per conflict) and the descriptions, never
a read of each conflict's state: the page reads states only for the conflicts it shows, so
its cost grows with the page's length, not with the number of conflicts or of events.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import ColumnElement, Select, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from events.log.tables import events, streams
from projections.bitemporal import known_at_condition
from projections.queries.shared import standing_now
from projections.tables import allegations, descriptions

__all__ = ["ListOrder", "Listed", "accusations", "list_page"]

#: ``changed``: the conflict whose newest event was recorded last first; ``name``: by title
#: (a conflict never described by its slug).
ListOrder = Literal["changed", "name"]


@dataclass(frozen=True, slots=True)
class Listed:
    conflict: str
    #: When its newest event (known at ``known_at``) was recorded, and that event's position.
    changed_at: datetime
    position: int


def _search(text: str) -> ColumnElement[bool]:
    """A title, slug or region containing ``text`` (any case), or a country code equal to it."""
    text = text.strip()
    found = [
        descriptions.c.title.icontains(text, autoescape=True),
        descriptions.c.region.icontains(text, autoescape=True),
        streams.c.conflict.icontains(text, autoescape=True),
    ]
    if len(text) == 2 and text.isalpha():
        found.append(descriptions.c.countries.contains(f'"{text.upper()}"', autoescape=True))
    return or_(*found)


def _listing(known_at: datetime | None, search: str | None) -> Select[tuple[str, int, str]]:
    """Each conflict with the position of its newest event known at ``known_at`` (one indexed
    step back per conflict when ``known_at`` is given) and its title, when searched for."""
    newest: ColumnElement[Any]
    if known_at is None:
        newest = streams.c.position
    else:
        newest = (
            select(events.c.position)
            .where(events.c.conflict == streams.c.conflict, events.c.recorded_at <= known_at)
            .order_by(events.c.recorded_at.desc(), events.c.version.desc())
            .limit(1)
            .scalar_subquery()
        )
    title = func.coalesce(descriptions.c.title, streams.c.conflict)
    statement = select(streams.c.conflict, newest.label("newest"), title.label("title")).outerjoin(
        descriptions,
        and_(
            descriptions.c.conflict == streams.c.conflict,
            known_at_condition(descriptions, known_at),
        ),
    )
    if search:
        statement = statement.where(_search(search))
    return statement


async def list_page(
    conn: AsyncConnection,
    *,
    known_at: datetime | None,
    search: str | None,
    order: ListOrder,
    offset: int,
    limit: int,
) -> tuple[list[Listed], int]:
    """The conflicts of one page (``offset``, ``limit``) in ``order``, and how many there are
    in all: those of which something was recorded by ``known_at``, matching ``search``."""
    listing = _listing(known_at, search).subquery()
    known = listing.c.newest.is_not(None)
    total = int(
        (await conn.execute(select(func.count()).select_from(listing).where(known))).scalar_one()
    )
    ordering = (
        (listing.c.newest.desc(),)
        if order == "changed"
        else (func.lower(listing.c.title), listing.c.conflict)
    )
    page = (
        select(listing.c.conflict, listing.c.newest, events.c.recorded_at)
        .join(events, events.c.position == listing.c.newest)
        .where(known)
        .order_by(*ordering)
        .offset(offset)
        .limit(limit)
    )
    rows = await conn.execute(page)
    return [Listed(r.conflict, r.recorded_at, int(r.newest)) for r in rows], total


async def accusations(
    conn: AsyncConnection, conflict: str, *, as_of: datetime, known_at: datetime | None
) -> dict[tuple[str, str], int]:
    """Allegations standing at ``as_of`` per (who alleged, whom), over the whole conflict
    (every agreement and none): one grouped query on the (conflict, occurred_at) index."""
    a = allegations.c
    rows = await conn.execute(
        select(a.alleged_by, a.accused, func.count())
        .where(
            a.conflict == conflict,
            a.occurred_at <= as_of,
            standing_now(as_of),
            known_at_condition(allegations, known_at),
        )
        .group_by(a.alleged_by, a.accused)
    )
    return {(by, accused): int(n) for by, accused, n in rows}
